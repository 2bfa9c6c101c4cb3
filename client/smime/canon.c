/*
 * Canonical MIME entities (canon.h).
 *
 * The body is processed line by line.  Multiparts are followed (up to
 * SMIME_MAX_DEPTH levels) so that each leaf part can be checked or
 * re-encoded on its own; boundary lines of every enclosing multipart end
 * a body, so that a malformed inner part cannot swallow the outer ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#include "proto/err.h"
#include "canon.h"

enum body_mode {
	BODY_PASS,  /* lines as they are */
	BODY_CHECK, /* lines as they are; SMIME_AGAIN on 8-bit data */
	BODY_QP,    /* encode lines as quoted-printable */
	BODY_B64,   /* encode the raw bytes as base64 */
};

struct canon {
	struct smime_rd *rd;
	enum smime_canon_mode mode;
	struct smime_lineout *lo;
	int depth;
	char *bnd[SMIME_MAX_DEPTH];
	size_t blen[SMIME_MAX_DEPTH];
	/* The boundary line that ended the last body, if any. */
	int hit_level; /* -1: end of input */
	int hit_kind;  /* 1 delimiter, 2 close delimiter */
	char hit_line[1024];
	size_t hit_len;
	/* base64 state */
	uint8_t b64[57];
	size_t b64len;
};

int
smime_emit(struct smime_lineout *lo, const char *p, size_t n, bool eol)
{
	int r = 0;

	if (lo->hash != NULL) {
		smime_put(lo->hash, p, n);
		if (eol)
			smime_put(lo->hash, "\r\n", 2);
		r = lo->hash->err;
	}
	if (lo->out != NULL && r == 0) {
		smime_put(lo->out, p, n);
		if (eol)
			smime_puts(lo->out, lo->out_eol);
		r = lo->out->err;
	}
	return r;
}

/* Does a line need a transfer encoding (8-bit, NUL, bare CR, > 998)? */
static bool
needs_encoding(const char *p, size_t n)
{
	const uint8_t *u = (const uint8_t *)p;
	uint64_t w, hi = 0, zero = 0;
	size_t i = 0;

	if (n > 998)
		return true;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, u + i, 8);
		hi |= w;
		/* Any byte that is 0 or '\r' (0x0d). */
		zero |= (w - 0x0101010101010101ULL) & ~w;
		w ^= 0x0d0d0d0d0d0d0d0dULL;
		zero |= (w - 0x0101010101010101ULL) & ~w;
	}
	if (((hi | zero) & 0x8080808080808080ULL) != 0)
		return true;
	for (; i < n; i++) {
		if (u[i] >= 0x80 || u[i] == 0 || u[i] == '\r')
			return true;
	}
	return false;
}

static int
emit_hdrs(struct canon *c, const struct smime_hdrs *h)
{
	const char *p, *nl;
	size_t i;
	int r;

	for (i = 0; i < h->n; i++) {
		for (p = h->v[i].raw;; p = nl + 1) {
			nl = strchr(p, '\n');
			if ((r = smime_emit(c->lo, p,
			                    nl != NULL ? (size_t)(nl - p)
			                               : strlen(p),
			                    true)) != 0)
				return r;
			if (nl == NULL)
				break;
		}
	}
	return smime_emit(c->lo, "", 0, true);
}

/* Quoted-printable (RFC 2045 6.7) of one line; soft: no hard break. */
static int
emit_qp(struct canon *c, const char *p, size_t n, bool hard)
{
	static const char hex[] = "0123456789ABCDEF";
	char out[80];
	size_t o = 0, i;
	uint8_t b;
	bool lit;
	int r;

	for (i = 0; i < n; i++) {
		b = (uint8_t)p[i];
		lit = (b >= 33 && b <= 126 && b != '=') ||
		      ((b == ' ' || b == '\t') && (i + 1 < n || !hard));
		/* "From " at the start of a line trips mbox readers. */
		if (i == 0 && n >= 5 && memcmp(p, "From ", 5) == 0)
			lit = false;
		if (o + (lit ? 1 : 3) > 75) {
			out[o++] = '=';
			if ((r = smime_emit(c->lo, out, o, true)) != 0)
				return r;
			o = 0;
		}
		if (lit) {
			out[o++] = (char)b;
		} else {
			out[o++] = '=';
			out[o++] = hex[b >> 4];
			out[o++] = hex[b & 15];
		}
	}
	if (!hard)
		out[o++] = '=';
	return smime_emit(c->lo, out, o, true);
}

static int
b64_flush(struct canon *c, bool all)
{
	char out[BASE64_ENCODE_RAW_LENGTH(sizeof(c->b64))];
	size_t len;

	if (c->b64len == 0 || (!all && c->b64len < sizeof(c->b64)))
		return 0;
	len = BASE64_ENCODE_RAW_LENGTH(c->b64len);
	base64_encode_raw(out, c->b64len, c->b64);
	c->b64len = 0;
	return smime_emit(c->lo, out, len, true);
}

static int
b64_add(struct canon *c, const char *p, size_t n)
{
	size_t take;
	int r;

	while (n > 0) {
		take = sizeof(c->b64) - c->b64len;
		if (take > n)
			take = n;
		memcpy(c->b64 + c->b64len, p, take);
		c->b64len += take;
		p += take;
		n -= take;
		if ((r = b64_flush(c, false)) != 0)
			return r;
	}
	return 0;
}

/* Which boundary, if any, does a line start?  Sets c->hit_*. */
static bool
is_boundary(struct canon *c, const char *line, size_t len)
{
	int lvl, k;

	if (c->depth == 0 || len < 2 || line[0] != '-' || line[1] != '-')
		return false;
	for (lvl = c->depth - 1; lvl >= 0; lvl--) {
		k = smime_boundary_match(line, len, c->bnd[lvl], c->blen[lvl]);
		if (k == 0)
			continue;
		if (len >= sizeof(c->hit_line))
			return false;
		c->hit_level = lvl;
		c->hit_kind = k;
		memcpy(c->hit_line, line, len);
		c->hit_len = len;
		return true;
	}
	return false;
}

/*
 * Copies body lines up to a boundary of an enclosing multipart (or the
 * end of the input), in the given mode.
 */
static int
body(struct canon *c, enum body_mode mode)
{
	static const char *const eols[] = {"", "\n", "\r\n"};
	enum smime_eol eol, pending = SMIME_EOL_NONE;
	bool at_start = true;
	const char *line;
	size_t len;
	int r;

	c->hit_level = -1;
	c->b64len = 0;
	for (;;) {
		r = smime_rd_line(c->rd, &line, &len, &eol);
		if (r == SMIME_EOF)
			break;
		if (r != 0)
			return r;
		if (at_start && is_boundary(c, line, len))
			return mode == BODY_B64 ? b64_flush(c, true) : 0;
		/* A chunk of an overlong line goes on in the next one. */
		at_start = eol != SMIME_EOL_NONE || c->rd->eof;
		switch (mode) {
		case BODY_CHECK:
			if (needs_encoding(line, len))
				return SMIME_AGAIN;
			/* FALLTHROUGH */
		case BODY_PASS:
			r = smime_emit(c->lo, line, len, eol != SMIME_EOL_NONE);
			break;
		case BODY_QP:
			r = emit_qp(c, line, len, at_start);
			break;
		case BODY_B64:
			/* The line ending before a boundary is not content. */
			if ((r = b64_add(c, eols[pending],
			                 pending == SMIME_EOL_CRLF ? 2
			                 : pending == SMIME_EOL_LF ? 1
			                                           : 0)) != 0)
				return r;
			pending = eol;
			r = b64_add(c, line, len);
			break;
		}
		if (r != 0)
			return r;
	}
	if (mode == BODY_B64) {
		if ((r = b64_add(c, eols[pending],
		                 pending == SMIME_EOL_CRLF ? 2
		                 : pending == SMIME_EOL_LF ? 1
		                                           : 0)) != 0)
			return r;
		return b64_flush(c, true);
	}
	return 0;
}

static int entity(struct canon *c, struct smime_hdrs *h);

static int
multipart(struct canon *c, struct smime_hdrs *h, const char *boundary)
{
	struct smime_hdrs ph;
	int me, r;

	if ((r = emit_hdrs(c, h)) != 0)
		return r;
	me = c->depth;
	if ((c->bnd[me] = strdup(boundary)) == NULL)
		return P11A_E_NOMEM;
	c->blen[me] = strlen(boundary);
	c->depth++;
	smime_hdrs_init(&ph);
	/* The preamble. */
	if ((r = body(c, BODY_PASS)) != 0)
		goto out;
	while (c->hit_level == me) {
		if ((r = smime_emit(c->lo, c->hit_line, c->hit_len, true)) != 0)
			goto out;
		if (c->hit_kind == 2) {
			/* The epilogue, up to an outer boundary. */
			c->depth--;
			r = body(c, BODY_PASS);
			c->depth++;
			break;
		}
		smime_hdrs_cleanup(&ph);
		if ((r = smime_hdrs_read(&ph, c->rd)) != 0)
			goto out;
		if ((r = entity(c, &ph)) != 0)
			goto out;
	}
out:
	smime_hdrs_cleanup(&ph);
	c->depth = me;
	free(c->bnd[me]);
	c->bnd[me] = NULL;
	return r;
}

static int
entity(struct canon *c, struct smime_hdrs *h)
{
	struct smime_ct ct;
	enum smime_cte cte;
	const char *b;
	bool text;
	int r;

	smime_ct_parse(&ct, smime_hdrs_value(h, "Content-Type"));
	cte = smime_cte_parse(smime_hdrs_value(h, "Content-Transfer-Encoding"));
	b = smime_ct_param(&ct, "boundary");
	if (smime_ct_is_multipart(&ct) && b != NULL && b[0] != '\0' &&
	    strlen(b) <= 200 && c->depth < SMIME_MAX_DEPTH &&
	    (cte == SMIME_CTE_7BIT || cte == SMIME_CTE_8BIT ||
	     cte == SMIME_CTE_BINARY)) {
		r = multipart(c, h, b);
		goto out;
	}
	if (c->mode == SMIME_CANON_TRANSFORM && cte != SMIME_CTE_QP &&
	    cte != SMIME_CTE_BASE64) {
		text = strncmp(ct.type, "text/", 5) == 0;
		smime_hdrs_remove(h, "Content-Transfer-Encoding");
		if ((r = smime_hdrs_add(h, text ? "Content-Transfer-Encoding: "
		                                  "quoted-printable"
		                                : "Content-Transfer-Encoding: "
		                                  "base64")) != 0 ||
		    (r = emit_hdrs(c, h)) != 0)
			goto out;
		r = body(c, text ? BODY_QP : BODY_B64);
		goto out;
	}
	if ((r = emit_hdrs(c, h)) != 0)
		goto out;
	r = body(c, c->mode == SMIME_CANON_CHECK && cte != SMIME_CTE_QP &&
	                    cte != SMIME_CTE_BASE64
	                ? BODY_CHECK
	                : BODY_PASS);
out:
	smime_ct_cleanup(&ct);
	return r;
}

int
smime_canon_entity(struct smime_rd *rd, struct smime_hdrs *hdrs,
                   enum smime_canon_mode mode, struct smime_lineout *lo)
{
	struct canon *c;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return P11A_E_NOMEM;
	c->rd = rd;
	c->mode = mode;
	c->lo = lo;
	smime_hdrs_remove(hdrs, "MIME-Version");
	if (smime_hdrs_get(hdrs, "Content-Type") == NULL &&
	    (r = smime_hdrs_add(hdrs, mode == SMIME_CANON_CHECK
	                                  ? "Content-Type: text/plain; "
	                                    "charset=us-ascii"
	                                  : "Content-Type: text/plain; "
	                                    "charset=utf-8")) != 0)
		goto out;
	r = entity(c, hdrs);
out:
	smime_wipe(c, sizeof(*c));
	free(c);
	return r;
}
