/*
 * X.509 fields from DER (certder.h).
 */
#include <string.h>

#include "proto/err.h"
#include "certder.h"
#include "der.h"

/* The cursor over a span's contents. */
static struct smime_der_cur
cur_of(struct smime_span s)
{
	struct smime_der_cur c = {s.p, s.len};

	return c;
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
	struct smime_der_cur c = cur_of(ext), in;
	struct smime_span oid, val, kid;
	uint8_t tag;
	int r;

	if ((r = smime_der_expect(&c, 0x06, NULL, &oid)) != 0 ||
	    (r = smime_der_next(&c, &tag, NULL, &val)) != 0)
		return r;
	if (tag == 0x01 &&
	    (r = smime_der_next(&c, &tag, NULL, &val)) != 0) /* critical */
		return r;
	if (tag != 0x04)
		return P11A_E_FORMAT;
	in = cur_of(val);
	if (oid_is(oid, oid_skid, sizeof(oid_skid))) {
		if ((r = smime_der_expect(&in, 0x04, NULL, &kid)) != 0)
			return r;
		out->skid = kid;
	} else if (oid_is(oid, oid_akid, sizeof(oid_akid))) {
		/* SEQUENCE { [0] keyIdentifier OPTIONAL, ... } */
		if ((r = smime_der_expect(&in, 0x30, NULL, &val)) != 0)
			return r;
		in = cur_of(val);
		if (in.len > 0 && in.p[0] == 0x80 &&
		    (r = smime_der_next(&in, &tag, NULL, &kid)) == 0)
			out->akid = kid;
		return r;
	}
	return 0;
}

static int
read_extensions(struct smime_span exts, struct smime_certder *out)
{
	struct smime_der_cur c = cur_of(exts), seq;
	struct smime_span body, ext;
	int r;

	/* [3] EXPLICIT SEQUENCE OF Extension */
	if ((r = smime_der_expect(&c, 0x30, NULL, &body)) != 0)
		return r;
	seq = cur_of(body);
	while (seq.len > 0) {
		if ((r = smime_der_expect(&seq, 0x30, NULL, &ext)) != 0 ||
		    (r = read_extension(ext, out)) != 0)
			return r;
	}
	return 0;
}

int
smime_certder_parse(const uint8_t *der, size_t len, struct smime_certder *out)
{
	struct smime_der_cur c = {der, len}, tbs, spki;
	struct smime_span body, alg;
	uint8_t tag;
	int r;

	memset(out, 0, sizeof(*out));
	/* Certificate SEQUENCE, then tbsCertificate SEQUENCE. */
	if ((r = smime_der_expect(&c, 0x30, NULL, &body)) != 0)
		return r;
	if (c.len != 0)
		return P11A_E_FORMAT; /* bytes after the certificate */
	c = cur_of(body);
	if ((r = smime_der_expect(&c, 0x30, NULL, &body)) != 0)
		return r;
	tbs = cur_of(body);
	if ((r = smime_der_next(&tbs, &tag, &out->serial, NULL)) != 0)
		return r;
	if (tag == 0xa0 &&
	    (r = smime_der_next(&tbs, &tag, &out->serial, NULL)) != 0)
		return r; /* [0] version, then the serial */
	if (tag != 0x02 ||
	    (r = smime_der_expect(&tbs, 0x30, NULL, NULL)) != 0 ||
	    (r = smime_der_expect(&tbs, 0x30, &out->issuer, NULL)) != 0 ||
	    (r = smime_der_expect(&tbs, 0x30, NULL, NULL)) != 0 ||
	    (r = smime_der_expect(&tbs, 0x30, &out->subject, NULL)) != 0 ||
	    (r = smime_der_expect(&tbs, 0x30, NULL, &body)) != 0)
		return r != 0 ? r : P11A_E_FORMAT;
	spki = cur_of(body);
	if ((r = smime_der_expect(&spki, 0x30, NULL, &alg)) != 0 ||
	    (r = smime_der_expect(&spki, 0x03, NULL, &out->spki_key)) != 0)
		return r;
	spki = cur_of(alg);
	if ((r = smime_der_expect(&spki, 0x06, &out->spki_alg, NULL)) != 0)
		return r;
	/* issuerUniqueID [1], subjectUniqueID [2], extensions [3] */
	while (tbs.len > 0) {
		if ((r = smime_der_next(&tbs, &tag, NULL, &body)) != 0)
			return r;
		if (tag == 0xa3)
			return read_extensions(body, out);
	}
	return 0;
}

int
smime_certder_rsa_modulus_len(struct smime_span spki_key, size_t *len)
{
	struct smime_der_cur c = cur_of(spki_key);
	struct smime_span key, n;
	int r;

	/* No unused bits, then RSAPublicKey { modulus, publicExponent }. */
	if (c.len < 1 || c.p[0] != 0)
		return P11A_E_FORMAT;
	c.p++;
	c.len--;
	if ((r = smime_der_expect(&c, 0x30, NULL, &key)) != 0)
		return r;
	c = cur_of(key);
	if ((r = smime_der_expect(&c, 0x02, NULL, &n)) != 0)
		return r;
	while (n.len > 0 && n.p[0] == 0) {
		n.p++;
		n.len--;
	}
	if (n.len == 0)
		return P11A_E_FORMAT;
	*len = n.len;
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
