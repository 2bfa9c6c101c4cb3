/*
 * DER helpers (der.h).
 */
#include "proto/err.h"
#include "der.h"

int
smime_der_tlv(const uint8_t *p, size_t len, uint8_t *tag, size_t *hdr,
              size_t *clen)
{
	size_t n, i, l = 0;

	if (len < 2 || (p[0] & 0x1f) == 0x1f)
		return P11A_E_FORMAT;
	*tag = p[0];
	if (p[1] < 0x80) {
		*hdr = 2;
		l = p[1];
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || len - 2 < n)
			return P11A_E_FORMAT;
		for (i = 0; i < n; i++)
			l = (l << 8) | p[2 + i];
		*hdr = 2 + n;
	}
	if (l > len - *hdr)
		return P11A_E_FORMAT;
	*clen = l;
	return 0;
}

int
smime_der_next(struct smime_der_cur *c, uint8_t *tag, struct smime_span *whole,
               struct smime_span *body)
{
	size_t hdr, clen;
	uint8_t t;
	int r;

	if ((r = smime_der_tlv(c->p, c->len, &t, &hdr, &clen)) != 0)
		return r;
	if (tag != NULL)
		*tag = t;
	if (whole != NULL) {
		whole->p = c->p;
		whole->len = hdr + clen;
	}
	if (body != NULL) {
		body->p = c->p + hdr;
		body->len = clen;
	}
	c->p += hdr + clen;
	c->len -= hdr + clen;
	return 0;
}

int
smime_der_expect(struct smime_der_cur *c, uint8_t want,
                 struct smime_span *whole, struct smime_span *body)
{
	struct smime_der_cur at = *c;
	uint8_t tag;
	int r;

	if ((r = smime_der_next(&at, &tag, whole, body)) != 0)
		return r;
	if (tag != want)
		return P11A_E_FORMAT;
	*c = at;
	return 0;
}

size_t
smime_der_len(uint8_t *out, size_t len)
{
	if (len < 0x80) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len < 0x100) {
		out[0] = 0x81;
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len < 0x10000) {
		out[0] = 0x82;
		out[1] = (uint8_t)(len >> 8);
		out[2] = (uint8_t)len;
		return 3;
	}
	if (len < 0x1000000) {
		out[0] = 0x83;
		out[1] = (uint8_t)(len >> 16);
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[0] = 0x84;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
	return 5;
}
