/*
 * Header sections and structured fields (mime.h).
 */
#include <ctype.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "proto/err.h"
#include "mime.h"

int
smime_strcasecmp(const char *a, const char *b)
{
	int ca, cb;

	for (;; a++, b++) {
		ca = tolower((unsigned char)*a);
		cb = tolower((unsigned char)*b);
		if (ca != cb || ca == 0)
			return ca - cb;
	}
}

void
smime_hdrs_init(struct smime_hdrs *h)
{
	memset(h, 0, sizeof(*h));
}

static void
hdr_free(struct smime_hdr *f)
{
	free(f->name);
	free(f->raw);
	free(f->value);
}

void
smime_hdrs_cleanup(struct smime_hdrs *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++)
		hdr_free(&h->v[i]);
	free(h->v);
	memset(h, 0, sizeof(*h));
}

int
smime_hdrs_add(struct smime_hdrs *h, const char *raw)
{
	struct smime_hdr f, *nv;
	const char *colon, *p;
	size_t ncap, i, o;

	memset(&f, 0, sizeof(f));
	if ((colon = strchr(raw, ':')) == NULL || colon == raw)
		return P11A_E_FORMAT;
	for (p = raw; p < colon; p++) {
		/* RFC 5322 ftext: printable ASCII except ':'. */
		if (*p <= ' ' || *p > '~')
			return P11A_E_FORMAT;
	}
	if (h->n == SMIME_HDR_MAX_FIELDS ||
	    strlen(raw) > SMIME_HDR_MAX_BYTES - h->bytes)
		return P11A_E_TOO_LARGE;
	if (h->n == h->cap) {
		ncap = h->cap == 0 ? 16 : h->cap * 2;
		if ((nv = realloc(h->v, ncap * sizeof(*nv))) == NULL)
			return P11A_E_NOMEM;
		h->v = nv;
		h->cap = ncap;
	}
	f.name = strndup(raw, (size_t)(colon - raw));
	f.raw = strdup(raw);
	f.value = malloc(strlen(colon) + 1);
	if (f.name == NULL || f.raw == NULL || f.value == NULL) {
		hdr_free(&f);
		return P11A_E_NOMEM;
	}
	/* Unfold: drop the line breaks, keep the blanks after them. */
	p = colon + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	for (i = 0, o = 0; p[i] != '\0'; i++) {
		if (p[i] != '\n' && p[i] != '\r')
			f.value[o++] = p[i];
	}
	while (o > 0 && (f.value[o - 1] == ' ' || f.value[o - 1] == '\t'))
		o--;
	f.value[o] = '\0';
	h->bytes += strlen(raw);
	h->v[h->n++] = f;
	return 0;
}

void
smime_hdrs_remove(struct smime_hdrs *h, const char *name)
{
	size_t i, o;

	for (i = 0, o = 0; i < h->n; i++) {
		if (smime_strcasecmp(h->v[i].name, name) == 0) {
			hdr_free(&h->v[i]);
			continue;
		}
		h->v[o++] = h->v[i];
	}
	h->n = o;
}

const struct smime_hdr *
smime_hdrs_get(const struct smime_hdrs *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (smime_strcasecmp(h->v[i].name, name) == 0)
			return &h->v[i];
	}
	return NULL;
}

const char *
smime_hdrs_value(const struct smime_hdrs *h, const char *name)
{
	const struct smime_hdr *f = smime_hdrs_get(h, name);

	return f != NULL ? f->value : NULL;
}

bool
smime_hdr_is_content(const char *name)
{
	return strncasecmp(name, "Content-", 8) == 0 ||
	       smime_strcasecmp(name, "MIME-Version") == 0;
}

int
smime_hdrs_read(struct smime_hdrs *h, struct smime_rd *rd)
{
	enum smime_eol eol;
	char *cur = NULL, *n;
	size_t curlen = 0, len;
	const char *line;
	bool first = true;
	int r;

	for (;;) {
		r = smime_rd_line(rd, &line, &len, &eol);
		if (r == SMIME_EOF)
			break;
		if (r != 0)
			goto out;
		if (first) {
			h->eol = eol;
			first = false;
			if (len >= 5 && memcmp(line, "From ", 5) == 0)
				continue;
		}
		if (eol == SMIME_EOL_NONE && !rd->eof) {
			r = P11A_E_TOO_LARGE; /* a header line over 64 KiB */
			goto out;
		}
		if (len == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t') {
			if (cur == NULL) {
				r = P11A_E_FORMAT;
				goto out;
			}
			if (curlen + len + 2 > SMIME_HDR_MAX_BYTES) {
				r = P11A_E_TOO_LARGE;
				goto out;
			}
			if ((n = realloc(cur, curlen + len + 2)) == NULL) {
				r = P11A_E_NOMEM;
				goto out;
			}
			cur = n;
			cur[curlen++] = '\n';
			memcpy(cur + curlen, line, len);
			curlen += len;
			cur[curlen] = '\0';
			continue;
		}
		if (cur != NULL) {
			if ((r = smime_hdrs_add(h, cur)) != 0)
				goto out;
			free(cur);
			cur = NULL;
		}
		if (memchr(line, ':', len) == NULL) {
			r = P11A_E_FORMAT;
			goto out;
		}
		if ((cur = strndup(line, len)) == NULL) {
			r = P11A_E_NOMEM;
			goto out;
		}
		curlen = len;
		if (strlen(cur) != len) {
			r = P11A_E_FORMAT; /* NUL in a header */
			goto out;
		}
	}
	if (cur != NULL && (r = smime_hdrs_add(h, cur)) != 0)
		goto out;
	r = 0;
out:
	free(cur);
	return r;
}

int
smime_hdrs_write(const struct smime_hdrs *h, struct smime_sink *s,
                 const char *eol)
{
	const char *p, *nl;
	size_t i;

	for (i = 0; i < h->n; i++) {
		for (p = h->v[i].raw;; p = nl + 1) {
			nl = strchr(p, '\n');
			smime_put(s, p,
			          nl != NULL ? (size_t)(nl - p) : strlen(p));
			smime_puts(s, eol);
			if (nl == NULL)
				break;
		}
	}
	return s->err;
}

/* Content-Type. */

static const char *
skip_cfws(const char *p)
{
	int depth;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		for (depth = 0; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

static bool
is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL || c <= ' ' || c > '~';
}

static size_t
token_len(const char *p)
{
	size_t n = 0;

	while (p[n] != '\0' && !is_tspecial(p[n]))
		n++;
	return n;
}

void
smime_ct_parse(struct smime_ct *ct, const char *value)
{
	const char *p = value;
	size_t n, i, o;
	char *v;

	memset(ct, 0, sizeof(*ct));
	strcpy(ct->type, "text/plain");
	if (value == NULL)
		return;
	p = skip_cfws(p);
	n = token_len(p);
	if (n == 0 || p[n] != '/')
		return;
	i = n + 1;
	i += token_len(p + i);
	if (i == n + 1 || i >= sizeof(ct->type))
		return;
	for (o = 0; o < i; o++)
		ct->type[o] = (char)tolower((unsigned char)p[o]);
	ct->type[i] = '\0';
	p += i;
	while (ct->nparams < 16) {
		p = skip_cfws(p);
		if (*p != ';')
			break;
		p = skip_cfws(p + 1);
		n = token_len(p);
		if (n == 0 || n >= sizeof(ct->params[0].name))
			break;
		for (o = 0; o < n; o++)
			ct->params[ct->nparams].name[o] =
			    (char)tolower((unsigned char)p[o]);
		ct->params[ct->nparams].name[n] = '\0';
		p = skip_cfws(p + n);
		if (*p != '=')
			break;
		p = skip_cfws(p + 1);
		if ((v = malloc(strlen(p) + 1)) == NULL)
			break;
		o = 0;
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				v[o++] = *p;
			}
			if (*p == '"')
				p++;
		} else {
			n = token_len(p);
			memcpy(v, p, n);
			o = n;
			p += n;
		}
		v[o] = '\0';
		ct->params[ct->nparams++].value = v;
	}
}

void
smime_ct_cleanup(struct smime_ct *ct)
{
	size_t i;

	for (i = 0; i < ct->nparams; i++)
		free(ct->params[i].value);
	ct->nparams = 0;
}

const char *
smime_ct_param(const struct smime_ct *ct, const char *name)
{
	size_t i;

	for (i = 0; i < ct->nparams; i++) {
		if (strcmp(ct->params[i].name, name) == 0)
			return ct->params[i].value;
	}
	return NULL;
}

bool
smime_ct_is(const struct smime_ct *ct, const char *type)
{
	return strcmp(ct->type, type) == 0;
}

bool
smime_ct_is_multipart(const struct smime_ct *ct)
{
	return strncmp(ct->type, "multipart/", 10) == 0;
}

enum smime_cte
smime_cte_parse(const char *value)
{
	char buf[32];
	size_t n;

	if (value == NULL)
		return SMIME_CTE_7BIT;
	value = skip_cfws(value);
	n = token_len(value);
	if (n == 0 || n >= sizeof(buf))
		return SMIME_CTE_OTHER;
	memcpy(buf, value, n);
	buf[n] = '\0';
	if (smime_strcasecmp(buf, "7bit") == 0)
		return SMIME_CTE_7BIT;
	if (smime_strcasecmp(buf, "8bit") == 0)
		return SMIME_CTE_8BIT;
	if (smime_strcasecmp(buf, "binary") == 0)
		return SMIME_CTE_BINARY;
	if (smime_strcasecmp(buf, "quoted-printable") == 0)
		return SMIME_CTE_QP;
	if (smime_strcasecmp(buf, "base64") == 0)
		return SMIME_CTE_BASE64;
	return SMIME_CTE_OTHER;
}

/* Addresses. */

static bool
addr_char(char c)
{
	return c > ' ' && c <= '~' && strchr("<>()[],;:\\\"", c) == NULL;
}

bool
smime_addr_first(const char *value, char *buf, size_t len)
{
	const char *p, *lt, *at, *s, *e;
	size_t n, i;
	bool quoted = false;

	if (value == NULL || len == 0)
		return false;
	/* Prefer an angle-addr outside quoted strings. */
	lt = NULL;
	for (p = value; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '<' && !quoted) {
			lt = p;
			break;
		}
	}
	if (lt != NULL) {
		s = lt + 1;
		e = strchr(s, '>');
		if (e == NULL)
			return false;
	} else {
		/* A bare addr-spec: the run of address characters round
		 * the first '@'. */
		if ((at = strchr(value, '@')) == NULL)
			return false;
		s = at;
		while (s > value && addr_char(s[-1]))
			s--;
		e = at + 1;
		while (addr_char(*e))
			e++;
	}
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - s);
	if (n == 0 || n >= len || memchr(s, '@', n) == NULL)
		return false;
	for (i = 0; i < n; i++) {
		if (!addr_char(s[i]))
			return false;
		buf[i] = (char)tolower((unsigned char)s[i]);
	}
	buf[n] = '\0';
	return true;
}

int
smime_boundary_match(const char *line, size_t len, const char *b, size_t blen)
{
	size_t i;
	int kind = 1;

	if (len < blen + 2 || line[0] != '-' || line[1] != '-' ||
	    memcmp(line + 2, b, blen) != 0)
		return 0;
	i = blen + 2;
	if (len - i >= 2 && line[i] == '-' && line[i + 1] == '-') {
		kind = 2;
		i += 2;
	}
	for (; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t')
			return 0;
	}
	return kind;
}

int
smime_boundary_new(char *buf, size_t len)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[24];
	size_t i;

	if (len < sizeof(rnd) + 8)
		return P11A_E_ARGS;
	/* Unique, not secret: the kernel's generator spares OpenSSL's DRBG
	 * set-up, a noticeable part of a one-signature process. */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return P11A_E_INTERNAL;
	memcpy(buf, "p11a-", 5);
	for (i = 0; i < sizeof(rnd); i++)
		buf[5 + i] = set[rnd[i] % (sizeof(set) - 1)];
	buf[5 + sizeof(rnd)] = '\0';
	return 0;
}
