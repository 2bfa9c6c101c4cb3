/*
 * Reading BER as it streams (ber.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "proto/err.h"
#include "ber.h"
#include "der.h"

/*
 * One base64 line of the reader's window (64 KiB) decodes to 48 KiB at
 * most; the pending buffer takes it whole.
 */
#define PEND_CAP (128 * 1024)

/* Nesting followed in indefinite lengths: more is no CMS anyone made. */
#define DEPTH_MAX 32

/* Where smime_ber_src is in a PEM block. */
enum pem_state {
	PEM_BEGIN = 0, /* before the BEGIN line */
	PEM_FIRST,     /* the line after it: data, or a header field */
	PEM_HEADERS,   /* header fields, up to an empty line */
	PEM_DATA,      /* base64 lines, up to the END line */
};

/* Decoded bytes. */

static int
pend_write(struct smime_sink *base, const void *p, size_t n)
{
	struct smime_ber_pend *s = (struct smime_ber_pend *)base;

	if (n > PEND_CAP - s->len)
		return P11A_E_TOO_LARGE;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	if (s->len > s->touched)
		s->touched = s->len;
	return 0;
}

/* Notes a failure of the decoder: the input is not what it claims. */
static int
decoded(struct smime_ber_src *s, int r)
{
	if (r == P11A_E_FORMAT)
		s->bad_encoding = true;
	return r;
}

static int
bad_framing(struct smime_ber_src *s)
{
	s->bad_encoding = true;
	return P11A_E_FORMAT;
}

/* A line without the white space at its end. */
static size_t
trimmed(const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
	                   line[len - 1] == '\r'))
		len--;
	return len;
}

static bool
has_prefix(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(line, prefix, n) == 0;
}

/* "-----BEGIN label-----": keeps the label for the END line. */
static int
pem_begin(struct smime_ber_src *s, const char *line, size_t len)
{
	size_t n;

	len = trimmed(line, len);
	if (!has_prefix(line, len, "-----BEGIN ") || len < 16 ||
	    memcmp(line + len - 5, "-----", 5) != 0)
		return bad_framing(s);
	n = len - 16;
	if (n >= sizeof(s->label))
		return bad_framing(s);
	memcpy(s->label, line + 11, n);
	s->label[n] = '\0';
	s->pem = PEM_FIRST;
	return 0;
}

/* "-----END label-----" with BEGIN's label. */
static bool
is_pem_end(const struct smime_ber_src *s, const char *line, size_t len)
{
	size_t n = strlen(s->label);

	len = trimmed(line, len);
	return len == 9 + n + 5 && memcmp(line + 9, s->label, n) == 0 &&
	       memcmp(line + 9 + n, "-----", 5) == 0;
}

/*
 * One line (or the first chunk of an overlong one) of a PEM block.  As
 * PEM_read_bio() does, header fields ("Proc-Type: ...") right after the
 * BEGIN line are skipped up to the empty line that ends them.
 */
static int
pem_line(struct smime_ber_src *s, const char *line, size_t len)
{
	if (s->pem == PEM_BEGIN)
		return pem_begin(s, line, len);
	if (has_prefix(line, len, "-----END ")) {
		if (!is_pem_end(s, line, len))
			return bad_framing(s);
		s->done = true;
		return decoded(s, smime_finish(&s->dec.base));
	}
	if (s->pem == PEM_FIRST)
		s->pem =
		    memchr(line, ':', len) != NULL ? PEM_HEADERS : PEM_DATA;
	if (s->pem == PEM_HEADERS) {
		if (trimmed(line, len) == 0)
			s->pem = PEM_DATA;
		return 0;
	}
	return decoded(s, smime_put(&s->dec.base, line, len));
}

/* Decodes the next line of the input into the pending buffer. */
static int
src_next_line(struct smime_ber_src *s)
{
	enum smime_eol eol;
	const char *line;
	size_t len;
	bool at_start;
	int r;

	r = smime_rd_line(s->lines, &line, &len, &eol);
	if (r == SMIME_EOF) {
		if (s->enc == SMIME_BER_PEM)
			return bad_framing(s); /* no END line */
		s->done = true;
		return decoded(s, smime_finish(&s->dec.base));
	}
	if (r != 0)
		return r;
	if (s->enc == SMIME_BER_PEM) {
		at_start = s->at_start;
		s->at_start = eol != SMIME_EOL_NONE;
		if (at_start)
			return pem_line(s, line, len);
		if (s->pem != PEM_DATA)
			return bad_framing(s); /* an overlong BEGIN line */
	}
	return decoded(s, smime_put(&s->dec.base, line, len));
}

static int
src_fill(struct smime_rd *rd, uint8_t *p, size_t cap, size_t *got)
{
	struct smime_ber_src *s = rd->ctx;
	size_t n;
	int r;

	*got = 0;
	if (s->enc == SMIME_BER_RAW)
		return smime_rd_read(s->lines, p, cap, got);
	if (s->held_err != 0)
		return s->held_err;
	/*
	 * As many lines as fit (one line, 57 bytes, a call costs), but an
	 * error waits until the bytes before it were read: a reader that
	 * stops early must not see a decoding error further on.
	 */
	while (*got < cap) {
		if (s->pend.pos == s->pend.len) {
			if (s->done)
				break;
			s->pend.pos = s->pend.len = 0;
			if ((r = src_next_line(s)) == 0)
				continue;
			if (*got == 0)
				return r;
			s->held_err = r;
			break;
		}
		n = s->pend.len - s->pend.pos;
		if (n > cap - *got)
			n = cap - *got;
		memcpy(p + *got, s->pend.buf + s->pend.pos, n);
		s->pend.pos += n;
		*got += n;
	}
	return 0;
}

int
smime_ber_src_open(struct smime_ber_src *src, struct smime_rd *lines,
                   enum smime_ber_enc enc)
{
	memset(src, 0, sizeof(*src));
	src->lines = lines;
	src->enc = enc;
	src->at_start = true;
	src->pend.base.write = pend_write;
	if ((src->pend.buf = malloc(PEND_CAP)) == NULL)
		return P11A_E_NOMEM;
	smime_b64dec_init(&src->dec, &src->pend.base);
	return smime_rd_init_fn(&src->rd, src_fill, src);
}

void
smime_ber_src_close(struct smime_ber_src *src)
{
	if (src == NULL)
		return;
	smime_rd_cleanup(&src->rd);
	if (src->pend.buf != NULL)
		OPENSSL_cleanse(src->pend.buf, src->pend.touched);
	free(src->pend.buf);
	src->pend.buf = NULL;
}

/* Headers and whole TLVs. */

int
smime_ber_get(struct smime_rd *d, uint8_t *p, size_t n)
{
	size_t got, off = 0;
	int r;

	while (off < n) {
		if ((r = smime_rd_read(d, p + off, n - off, &got)) != 0)
			return r;
		if (got == 0)
			return P11A_E_FORMAT;
		off += got;
	}
	return 0;
}

int
smime_ber_hdr_read(struct smime_rd *d, struct smime_ber_hdr *h)
{
	uint8_t l, b[4];
	size_t n, i;
	int r;

	memset(h, 0, sizeof(*h));
	if ((r = smime_ber_get(d, h->raw, 2)) != 0)
		return r;
	h->tag = h->raw[0];
	l = h->raw[1];
	h->rawlen = 2;
	if ((h->tag & 0x1f) == 0x1f)
		return P11A_E_FORMAT;
	if (l == 0x80) {
		if ((h->tag & 0x20) == 0)
			return P11A_E_FORMAT;
		h->indef = true;
	} else if (l < 0x80) {
		h->len = l;
	} else {
		n = l & 0x7f;
		if (n > 4)
			return P11A_E_FORMAT;
		if ((r = smime_ber_get(d, b, n)) != 0)
			return r;
		for (i = 0; i < n; i++) {
			h->len = (h->len << 8) | b[i];
			h->raw[h->rawlen++] = b[i];
		}
	}
	return 0;
}

bool
smime_ber_is_eoc(const struct smime_ber_hdr *h)
{
	return h->tag == 0 && !h->indef && h->len == 0;
}

static int
read_tlv_at(struct smime_rd *d, const struct smime_ber_hdr *h,
            struct smime_memsink *out, int depth)
{
	struct smime_ber_hdr c;
	uint8_t buf[4096];
	size_t left, n;
	int r;

	if (depth > DEPTH_MAX)
		return P11A_E_FORMAT;
	if ((r = smime_put(&out->base, h->raw, h->rawlen)) != 0)
		return r;
	if (!h->indef) {
		for (left = h->len; left > 0; left -= n) {
			n = left < sizeof(buf) ? left : sizeof(buf);
			if ((r = smime_ber_get(d, buf, n)) != 0 ||
			    (r = smime_put(&out->base, buf, n)) != 0)
				return r;
		}
		return 0;
	}
	for (;;) {
		if ((r = smime_ber_hdr_read(d, &c)) != 0)
			return r;
		if (smime_ber_is_eoc(&c))
			return smime_put(&out->base, "\0\0", 2);
		if ((r = read_tlv_at(d, &c, out, depth + 1)) != 0)
			return r;
	}
}

int
smime_ber_read_tlv(struct smime_rd *d, const struct smime_ber_hdr *h,
                   struct smime_memsink *out)
{
	return read_tlv_at(d, h, out, 0);
}

/* One BER TLV at p (len bytes) with DER-style definite lengths into out. */
static int
norm1(const uint8_t *p, size_t len, size_t *used, struct smime_memsink *out,
      int depth)
{
	struct smime_memsink inner;
	size_t hl = 2, clen = 0, off, u, n, i;
	uint8_t hdr[8];
	bool indef = false;
	int r;

	if (len < 2 || depth > DEPTH_MAX || (p[0] & 0x1f) == 0x1f)
		return P11A_E_FORMAT;
	if (p[1] == 0x80) {
		if ((p[0] & 0x20) == 0)
			return P11A_E_FORMAT;
		indef = true;
	} else if (p[1] < 0x80) {
		clen = p[1];
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || len - 2 < n)
			return P11A_E_FORMAT;
		for (i = 0; i < n; i++)
			clen = (clen << 8) | p[2 + i];
		hl += n;
	}
	if (!indef && clen > len - hl)
		return P11A_E_FORMAT;
	if ((p[0] & 0x20) == 0) {
		/* Primitive: as it is. */
		*used = hl + clen;
		return smime_put(&out->base, p, hl + clen);
	}
	smime_memsink_init(&inner, SMIME_BER_SMALL_MAX);
	for (off = hl;;) {
		if (indef) {
			if (len - off < 2) {
				r = P11A_E_FORMAT;
				goto out;
			}
			if (p[off] == 0 && p[off + 1] == 0) {
				off += 2;
				break;
			}
		} else if (off == hl + clen) {
			break;
		}
		if ((r = norm1(p + off, indef ? len - off : hl + clen - off, &u,
		               &inner, depth + 1)) != 0)
			goto out;
		off += u;
	}
	hdr[0] = p[0];
	n = 1 + smime_der_len(hdr + 1, inner.len);
	if ((r = smime_put(&out->base, hdr, n)) != 0 ||
	    (r = smime_put(&out->base, inner.buf, inner.len)) != 0)
		goto out;
	*used = off;
	r = 0;
out:
	smime_memsink_cleanup(&inner);
	return r;
}

int
smime_ber_read_small(struct smime_rd *d, const struct smime_ber_hdr *h,
                     struct smime_memsink *out)
{
	struct smime_memsink raw;
	size_t used;
	int r;

	smime_memsink_init(&raw, SMIME_BER_SMALL_MAX);
	if ((r = smime_ber_read_tlv(d, h, &raw)) == 0)
		r = norm1(raw.buf, raw.len, &used, out, 0);
	if (r == 0 && used != raw.len)
		r = P11A_E_FORMAT;
	smime_memsink_cleanup(&raw);
	return r;
}

/* Reads and forgets n bytes. */
static int
discard(struct smime_rd *d, uint64_t n)
{
	uint8_t buf[16384];
	size_t take;
	int r;

	while (n > 0) {
		take = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		if ((r = smime_ber_get(d, buf, take)) != 0)
			return r;
		n -= take;
	}
	return 0;
}

static int
skip_at(struct smime_rd *d, const struct smime_ber_hdr *h, int depth)
{
	struct smime_ber_hdr c;
	int r;

	if (depth > DEPTH_MAX)
		return P11A_E_FORMAT;
	if (!h->indef)
		return discard(d, h->len);
	for (;;) {
		if ((r = smime_ber_hdr_read(d, &c)) != 0)
			return r;
		if (smime_ber_is_eoc(&c))
			return 0;
		if ((r = skip_at(d, &c, depth + 1)) != 0)
			return r;
	}
}

int
smime_ber_skip(struct smime_rd *d, const struct smime_ber_hdr *h)
{
	return skip_at(d, h, 0);
}

/* Strings. */

/* Hands n content bytes of d on to sink. */
static int
copy_to_sink(struct smime_rd *d, size_t n, struct smime_sink *sink)
{
	uint8_t buf[16384];
	size_t take;
	int r;

	/* Ciphertext or signed content: nothing secret to wipe. */
	while (n > 0) {
		take = n < sizeof(buf) ? n : sizeof(buf);
		if ((r = smime_ber_get(d, buf, take)) != 0 ||
		    (r = smime_put(sink, buf, take)) != 0)
			return r;
		n -= take;
	}
	return 0;
}

int
smime_ber_string_stream(struct smime_rd *d, const struct smime_ber_hdr *h,
                        uint8_t prim, int nest, struct smime_sink *sink)
{
	struct smime_ber_lvl v;
	struct smime_ber_hdr ch;
	bool end;
	int r;

	if (h->tag == prim)
		return copy_to_sink(d, h->len, sink);
	if (h->tag != (prim | 0x20))
		return P11A_E_FORMAT;
	smime_ber_lvl_set(&v, d, h);
	for (;;) {
		if ((r = smime_ber_next(d, &v, &ch, &end)) != 0)
			return r;
		if (end)
			return 0;
		if (ch.tag == 0x04)
			r = copy_to_sink(d, ch.len, sink);
		else if (ch.tag == 0x24 && nest > 0)
			r = smime_ber_string_stream(d, &ch, 0x04, nest - 1,
			                            sink);
		else
			r = P11A_E_FORMAT;
		if (r != 0)
			return r;
	}
}

/* Levels. */

void
smime_ber_lvl_set(struct smime_ber_lvl *v, const struct smime_rd *d,
                  const struct smime_ber_hdr *h)
{
	v->indef = h->indef;
	v->end = d->offset + h->len;
}

int
smime_ber_next(struct smime_rd *d, const struct smime_ber_lvl *v,
               struct smime_ber_hdr *h, bool *end)
{
	int r;

	*end = false;
	if (!v->indef) {
		if (d->offset > v->end)
			return P11A_E_FORMAT;
		if (d->offset == v->end) {
			*end = true;
			return 0;
		}
	}
	if ((r = smime_ber_hdr_read(d, h)) != 0)
		return r;
	if (v->indef) {
		*end = smime_ber_is_eoc(h);
		return 0;
	}
	if (d->offset > v->end || (!h->indef && h->len > v->end - d->offset))
		return P11A_E_FORMAT;
	return 0;
}

int
smime_ber_lvl_end(struct smime_rd *d, const struct smime_ber_lvl *v)
{
	struct smime_ber_hdr h;
	bool end;
	int r;

	if ((r = smime_ber_next(d, v, &h, &end)) != 0)
		return r;
	return end ? 0 : P11A_E_FORMAT;
}

int
smime_ber_lvl_close(struct smime_rd *d, const struct smime_ber_lvl *v,
                    struct smime_memsink *skip)
{
	struct smime_ber_hdr h;
	int r;

	if (v->indef) {
		for (;;) {
			if ((r = smime_ber_hdr_read(d, &h)) != 0)
				return r;
			if (smime_ber_is_eoc(&h))
				return 0;
			if (skip == NULL) {
				r = smime_ber_skip(d, &h);
			} else {
				skip->len = 0;
				r = smime_ber_read_tlv(d, &h, skip);
			}
			if (r != 0)
				return r;
		}
	}
	if (d->offset > v->end)
		return P11A_E_FORMAT;
	return discard(d, v->end - d->offset);
}

int
smime_ber_drain(struct smime_rd *d)
{
	uint8_t buf[4096];
	size_t got;
	int r;

	do {
		if ((r = smime_rd_read(d, buf, sizeof(buf), &got)) != 0)
			return r;
	} while (got > 0);
	return 0;
}
