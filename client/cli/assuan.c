/*
 * Assuan escaping and response parsing (see assuan.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "p11agent.h"
#include "assuan.h"

/* libgpg-error codes (gpg-error.h), low 16 bits of an Assuan ERR code. */
#define GPG_ERR_TIMEOUT 62
#define GPG_ERR_CANCELED 99
#define GPG_ERR_FULLY_CANCELED 198
#define GPG_ERR_CODE_MASK 0xffffUL

/*
 * When line starts with the keyword kw followed by a space or the end,
 * points *arg past it (and the space) and returns true.
 */
static bool
keyword(const char *line, size_t len, const char *kw, const char **arg,
        size_t *arg_len)
{
	size_t n = strlen(kw);

	if (len < n || memcmp(line, kw, n) != 0)
		return false;
	if (len == n) {
		*arg = line + n;
		*arg_len = 0;
		return true;
	}
	if (line[n] != ' ')
		return false;
	*arg = line + n + 1;
	*arg_len = len - n - 1;
	return true;
}

int
cli_assuan_parse(const char *line, size_t len, struct cli_assuan_line *out)
{
	struct cli_assuan_line l;
	unsigned long code = 0;
	size_t i;

	memset(out, 0, sizeof(*out));
	memset(&l, 0, sizeof(l));
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > CLI_ASSUAN_LINE_MAX)
		return P11AGENT_E_FORMAT;
	if (keyword(line, len, "OK", &l.arg, &l.arg_len))
		l.kind = CLI_ASSUAN_OK;
	else if (keyword(line, len, "D", &l.arg, &l.arg_len))
		l.kind = CLI_ASSUAN_DATA;
	else if (keyword(line, len, "S", &l.arg, &l.arg_len))
		l.kind = CLI_ASSUAN_STATUS;
	else if (keyword(line, len, "INQUIRE", &l.arg, &l.arg_len))
		l.kind = CLI_ASSUAN_INQUIRE;
	else if (len > 0 && line[0] == '#') {
		l.kind = CLI_ASSUAN_COMMENT;
		l.arg = line + 1;
		l.arg_len = len - 1;
	} else if (keyword(line, len, "ERR", &l.arg, &l.arg_len)) {
		l.kind = CLI_ASSUAN_ERR;
		/* A decimal code, then optionally a space and a text. */
		for (i = 0; i < l.arg_len && l.arg[i] >= '0' && l.arg[i] <= '9';
		     i++) {
			if (code > (0xffffffffUL - 9) / 10)
				return P11AGENT_E_FORMAT;
			code = code * 10 + (unsigned long)(l.arg[i] - '0');
		}
		if (i == 0 || (i < l.arg_len && l.arg[i] != ' '))
			return P11AGENT_E_FORMAT;
		l.err = code;
		if (i < l.arg_len)
			i++;
		l.arg += i;
		l.arg_len -= i;
	} else {
		return P11AGENT_E_FORMAT;
	}
	*out = l;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
cli_assuan_unescape(const char *in, size_t len, char *out, size_t cap,
                    size_t *out_len)
{
	size_t i = 0, o = *out_len;
	int hi, lo;
	char c;

	while (i < len) {
		c = in[i];
		if (c == '%') {
			if (len - i < 3 || (hi = hexval(in[i + 1])) < 0 ||
			    (lo = hexval(in[i + 2])) < 0)
				return P11AGENT_E_FORMAT;
			c = (char)(hi << 4 | lo);
			i += 3;
		} else {
			i++;
		}
		if (o >= cap)
			return P11AGENT_E_TOO_LARGE;
		out[o++] = c;
		*out_len = o;
	}
	return 0;
}

int
cli_assuan_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	const char *rep;

	if (cap == 0)
		return P11AGENT_E_TOO_LARGE;
	for (; *s != '\0'; s++) {
		rep = *s == '%'    ? "%25"
		      : *s == '\n' ? "%0A"
		      : *s == '\r' ? "%0D"
		                   : NULL;
		if (rep != NULL) {
			if (cap - o < 4)
				goto full;
			memcpy(out + o, rep, 3);
			o += 3;
		} else {
			if (cap - o < 2)
				goto full;
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return 0;
full:
	if (cap > 0)
		out[0] = '\0';
	return P11AGENT_E_TOO_LARGE;
}

bool
cli_assuan_err_cancelled(unsigned long err)
{
	switch (err & GPG_ERR_CODE_MASK) {
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
	case GPG_ERR_TIMEOUT:
		return true;
	default:
		return false;
	}
}
