/*
 * Pure helpers of p11: no I/O beyond the FILE they are handed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "p11agent.h"
#include "exit.h"
#include "text.h"
#include "util.h"

/* JSON. */

/* Appends to dst like snprintf() does: counts everything, writes what fits. */
struct sink {
	char *dst;
	size_t cap, len;
};

static void
sink_put(struct sink *k, const char *p, size_t n)
{
	size_t room;

	if (k->cap > 0 && k->len < k->cap - 1) {
		room = k->cap - 1 - k->len;
		memcpy(k->dst + k->len, p, n < room ? n : room);
	}
	k->len += n;
}

size_t
cli_json_escape(char *dst, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	struct sink k = {dst, cap, 0};
	char esc[7];
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = clib_utf8_seq(u + i, len - i, &cp);
		if (n == 0) {
			sink_put(&k, "\\ufffd", 6);
			i++;
			continue;
		}
		switch (cp) {
		case '"':
			sink_put(&k, "\\\"", 2);
			break;
		case '\\':
			sink_put(&k, "\\\\", 2);
			break;
		case '\b':
			sink_put(&k, "\\b", 2);
			break;
		case '\f':
			sink_put(&k, "\\f", 2);
			break;
		case '\n':
			sink_put(&k, "\\n", 2);
			break;
		case '\r':
			sink_put(&k, "\\r", 2);
			break;
		case '\t':
			sink_put(&k, "\\t", 2);
			break;
		case 0x2028:
			sink_put(&k, "\\u2028", 6);
			break;
		case 0x2029:
			sink_put(&k, "\\u2029", 6);
			break;
		default:
			if (cp < 0x20 || cp == 0x7f) {
				esc[0] = '\\';
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[cp >> 4];
				esc[5] = hex[cp & 0xf];
				sink_put(&k, esc, 6);
			} else {
				sink_put(&k, s + i, n);
			}
			break;
		}
		i += n;
	}
	if (cap > 0)
		dst[k.len < cap ? k.len : cap - 1] = '\0';
	return k.len;
}

void
cli_json_string(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n, len;
	char esc[16];
	uint32_t cp;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	/* One character at a time: no allocation, whatever the length. */
	len = strlen(s);
	fputc('"', f);
	while (i < len) {
		n = clib_utf8_seq(u + i, len - i, &cp);
		if (n == 0)
			n = 1;
		cli_json_escape(esc, sizeof(esc), s + i, n);
		fputs(esc, f);
		i += n;
	}
	fputc('"', f);
}

/* Terminal text. */

char *
cli_safe(char *dst, size_t cap, const char *s)
{
	if (cap == 0)
		return dst;
	if (s == NULL)
		s = "";
	clib_text_sanitize(dst, cap, s, strlen(s));
	return dst;
}

size_t
cli_text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

/* Dates and durations. */

char *
cli_fmt_duration(char *dst, size_t cap, uint64_t secs)
{
	uint64_t d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60,
	         s = secs % 60;

	if (d > 0)
		snprintf(dst, cap, "%llud %lluh", (unsigned long long)d,
		         (unsigned long long)h);
	else if (h > 0)
		snprintf(dst, cap, "%lluh %llum", (unsigned long long)h,
		         (unsigned long long)m);
	else if (m > 0)
		snprintf(dst, cap, "%llum %llus", (unsigned long long)m,
		         (unsigned long long)s);
	else
		snprintf(dst, cap, "%llus", (unsigned long long)s);
	return dst;
}

char *
cli_fmt_time(char *dst, size_t cap, uint64_t t, int utc)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((uint64_t)tt != t || t > INT64_MAX ||
	    (utc ? gmtime_r(&tt, &tm) : localtime_r(&tt, &tm)) == NULL ||
	    strftime(dst, cap, utc ? "%Y-%m-%d %H:%M:%SZ" : "%Y-%m-%d %H:%M:%S",
	             &tm) == 0)
		snprintf(dst, cap, "-");
	return dst;
}

/* Exit codes. */

int
cli_exit_code(int err)
{
	switch (err) {
	case P11AGENT_OK:
		return P11_EXIT_OK;
	case P11AGENT_E_NO_AGENT:
		return P11_EXIT_NO_AGENT;
	case P11AGENT_E_PIN_INCORRECT:
	case P11AGENT_E_PIN_INVALID:
		return P11_EXIT_PIN_INCORRECT;
	case P11AGENT_E_KEY_NOT_FOUND:
		return P11_EXIT_KEY_NOT_FOUND;
	case P11AGENT_E_AGENT_LOCKED:
		return P11_EXIT_AGENT_LOCKED;
	case P11AGENT_E_LOGIN_REQUIRED:
	case P11AGENT_E_PIN_EXPIRED:
		return P11_EXIT_LOGIN_REQUIRED;
	case P11AGENT_E_PIN_LOCKED:
		return P11_EXIT_PIN_LOCKED;
	case P11AGENT_E_TOKEN_ABSENT:
		return P11_EXIT_TOKEN_ABSENT;
	case P11AGENT_E_CANCELLED:
		return P11_EXIT_CANCELLED;
	case P11AGENT_E_MECH_UNSUPPORTED:
	case P11AGENT_E_UNKNOWN_REQUEST:
	case P11AGENT_E_KEY_TYPE:
		return P11_EXIT_UNSUPPORTED;
	case P11AGENT_E_DENIED:
		return P11_EXIT_DENIED;
	default:
		return P11_EXIT_ERROR;
	}
}
