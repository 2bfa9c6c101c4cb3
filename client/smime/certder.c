/*
 * X.509 fields from DER (certder.h).
 */
#include <string.h>

#include "proto/err.h"
#include "certder.h"
#include "der.h"

/* A cursor over the contents of one constructed TLV. */
struct cur {
	const uint8_t *p;
	size_t len;
};

/* Takes the next TLV off c: *whole is it all, *body its contents. */
static int
next(struct cur *c, uint8_t *tag, struct smime_span *whole,
     struct smime_span *body)
{
	size_t hdr, clen;
	int r;

	if ((r = smime_der_tlv(c->p, c->len, tag, &hdr, &clen)) != 0)
		return r;
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

/* Like next(), failing unless the tag is want. */
static int
expect(struct cur *c, uint8_t want, struct smime_span *whole,
       struct smime_span *body)
{
	uint8_t tag;
	int r;

	if ((r = next(c, &tag, whole, body)) != 0)
		return r;
	return tag == want ? 0 : P11A_E_FORMAT;
}

/* id-ce-subjectKeyIdentifier and id-ce-authorityKeyIdentifier. */
static const uint8_t oid_skid[] = {0x55, 0x1d, 0x0e};
static const uint8_t oid_akid[] = {0x55, 0x1d, 0x23};

static bool
oid_is(struct smime_span oid, const uint8_t *want, size_t n)
{
	return oid.len == n && memcmp(oid.p, want, n) == 0;
}

/* One Extension: keeps the key identifiers. */
static int
read_extension(struct smime_span ext, struct smime_certder *out)
{
	struct cur c = {ext.p, ext.len}, in;
	struct smime_span oid, val, kid;
	uint8_t tag;
	int r;

	if ((r = expect(&c, 0x06, NULL, &oid)) != 0 ||
	    (r = next(&c, &tag, NULL, &val)) != 0)
		return r;
	if (tag == 0x01 && (r = next(&c, &tag, NULL, &val)) != 0) /* critical */
		return r;
	if (tag != 0x04)
		return P11A_E_FORMAT;
	in.p = val.p;
	in.len = val.len;
	if (oid_is(oid, oid_skid, sizeof(oid_skid))) {
		if ((r = expect(&in, 0x04, NULL, &kid)) != 0)
			return r;
		out->skid = kid;
	} else if (oid_is(oid, oid_akid, sizeof(oid_akid))) {
		/* SEQUENCE { [0] keyIdentifier OPTIONAL, ... } */
		if ((r = expect(&in, 0x30, NULL, &val)) != 0)
			return r;
		in.p = val.p;
		in.len = val.len;
		if (in.len > 0 && in.p[0] == 0x80 &&
		    (r = next(&in, &tag, NULL, &kid)) == 0)
			out->akid = kid;
		return r;
	}
	return 0;
}

static int
read_extensions(struct smime_span exts, struct smime_certder *out)
{
	struct cur c = {exts.p, exts.len}, seq;
	struct smime_span body, ext;
	int r;

	/* [3] EXPLICIT SEQUENCE OF Extension */
	if ((r = expect(&c, 0x30, NULL, &body)) != 0)
		return r;
	seq.p = body.p;
	seq.len = body.len;
	while (seq.len > 0) {
		if ((r = expect(&seq, 0x30, NULL, &ext)) != 0 ||
		    (r = read_extension(ext, out)) != 0)
			return r;
	}
	return 0;
}

int
smime_certder_parse(const uint8_t *der, size_t len, struct smime_certder *out)
{
	struct cur c = {der, len}, tbs, spki;
	struct smime_span body, alg;
	uint8_t tag;
	int r;

	memset(out, 0, sizeof(*out));
	/* Certificate SEQUENCE, then tbsCertificate SEQUENCE. */
	if ((r = expect(&c, 0x30, NULL, &body)) != 0)
		return r;
	c.p = body.p;
	c.len = body.len;
	if ((r = expect(&c, 0x30, NULL, &body)) != 0)
		return r;
	tbs.p = body.p;
	tbs.len = body.len;
	if ((r = next(&tbs, &tag, &out->serial, NULL)) != 0)
		return r;
	if (tag == 0xa0 && (r = next(&tbs, &tag, &out->serial, NULL)) != 0)
		return r; /* [0] version, then the serial */
	if (tag != 0x02 || (r = expect(&tbs, 0x30, NULL, NULL)) != 0 ||
	    (r = expect(&tbs, 0x30, &out->issuer, NULL)) != 0 ||
	    (r = expect(&tbs, 0x30, NULL, NULL)) != 0 ||
	    (r = expect(&tbs, 0x30, &out->subject, NULL)) != 0 ||
	    (r = expect(&tbs, 0x30, NULL, &body)) != 0)
		return r != 0 ? r : P11A_E_FORMAT;
	spki.p = body.p;
	spki.len = body.len;
	if ((r = expect(&spki, 0x30, NULL, &alg)) != 0)
		return r;
	spki.p = alg.p;
	spki.len = alg.len;
	if ((r = expect(&spki, 0x06, NULL, &out->spki_alg)) != 0)
		return r;
	/* issuerUniqueID [1], subjectUniqueID [2], extensions [3] */
	while (tbs.len > 0) {
		if ((r = next(&tbs, &tag, NULL, &body)) != 0)
			return r;
		if (tag == 0xa3)
			return read_extensions(body, out);
	}
	return 0;
}

bool
smime_span_eq(struct smime_span a, struct smime_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool
smime_certder_issued(const struct smime_certder *ca,
                     const struct smime_certder *c)
{
	if (!smime_span_eq(ca->subject, c->issuer))
		return false;
	if (ca->skid.p != NULL && c->akid.p != NULL)
		return smime_span_eq(ca->skid, c->akid);
	return true;
}

bool
smime_certder_self_issued(const struct smime_certder *c)
{
	return smime_certder_issued(c, c);
}
