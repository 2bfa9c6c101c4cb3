/*
 * Signing (smime.h): multipart/signed and opaque signed-data, streamed.
 *
 * The entity is written once while its digest is computed; the SignedData
 * is then built here in DER, by hand, from the signer's certificate:
 * issuer and serial number, key type and the signed attributes of
 * RFC 8551 come from our own small DER reader and writer, the digests
 * from Nettle.  No CMS, X509 or ASN1 code and no libcrypto at all, so
 * that `p11 sign` runs without loading it (it costs more than the rest
 * of a signature through the agent).  The DER of the signed attributes
 * is hashed and the digest handed to the signer's callback (the agent),
 * so anything that signs a digest can sign here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/obj_mac.h>

#include "proto/err.h"
#include "canon.h"
#include "certder.h"
#include "der.h"
#include "digest.h"
#include "internal.h"
#include "smime.h"

/* A DER writer: a growing buffer with a sticky error, checked once. */
struct dbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void
db_put(struct dbuf *b, const void *p, size_t n)
{
	size_t ncap;
	uint8_t *np;

	if (b->err != 0 || n == 0)
		return;
	if (n > SIZE_MAX / 4 - b->len) {
		b->err = P11A_E_TOO_LARGE;
		return;
	}
	if (n > b->cap - b->len) {
		ncap = b->cap < 256 ? 256 : b->cap;
		while (ncap - b->len < n)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->err = P11A_E_NOMEM;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Appends a TLV: tag, the DER length of n, the n bytes at p. */
static void
db_tlv(struct dbuf *b, uint8_t tag, const void *p, size_t n)
{
	uint8_t hdr[6];

	hdr[0] = tag;
	db_put(b, hdr, 1 + smime_der_len(hdr + 1, n));
	db_put(b, p, n);
}

static void
db_free(struct dbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Makes what b holds the content of one TLV of tag. */
static void
db_wrap(struct dbuf *b, uint8_t tag)
{
	struct dbuf w;

	if (b->err != 0)
		return;
	memset(&w, 0, sizeof(w));
	db_tlv(&w, tag, b->p, b->len);
	db_free(b);
	*b = w;
}

/* Appends part (and its error) to b, and frees part. */
static void
db_cat(struct dbuf *b, struct dbuf *part)
{
	if (b->err == 0)
		b->err = part->err;
	db_put(b, part->p, part->len);
	db_free(part);
}

/* Object identifiers, as DER TLVs. */
static const uint8_t oid_data[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                   0xf7, 0x0d, 0x01, 0x07, 0x01};
static const uint8_t oid_signed_data[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                          0xf7, 0x0d, 0x01, 0x07, 0x02};
static const uint8_t oid_content_type[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                           0xf7, 0x0d, 0x01, 0x09, 0x03};
static const uint8_t oid_message_digest[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                             0xf7, 0x0d, 0x01, 0x09, 0x04};
static const uint8_t oid_signing_time[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                           0xf7, 0x0d, 0x01, 0x09, 0x05};
static const uint8_t oid_smime_caps[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x09, 0x0f};
/* id-aa-signingCertificate (RFC 2634) and -V2 (RFC 5035). */
static const uint8_t oid_signing_cert[] = {0x06, 0x0b, 0x2a, 0x86, 0x48,
                                           0x86, 0xf7, 0x0d, 0x01, 0x09,
                                           0x10, 0x02, 0x0c};
static const uint8_t oid_signing_cert_v2[] = {0x06, 0x0b, 0x2a, 0x86, 0x48,
                                              0x86, 0xf7, 0x0d, 0x01, 0x09,
                                              0x10, 0x02, 0x2f};
static const uint8_t oid_rsa[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x01};
static const uint8_t oid_mgf1[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                   0xf7, 0x0d, 0x01, 0x01, 0x08};
static const uint8_t oid_rsa_pss[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                      0xf7, 0x0d, 0x01, 0x01, 0x0a};
static const uint8_t oid_ec_public_key[] = {0x06, 0x07, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x02, 0x01};
/* RFC 8551 2.5.2: what we can decrypt, preferred first (AES-256-GCM,
 * AES-128-GCM, AES-256-CBC, AES-128-CBC), each without parameters. */
static const uint8_t caps_arcs[] = {0x2e, 0x06, 0x2a, 0x02};
static const uint8_t oid_aes_prefix[] = {0x06, 0x09, 0x60, 0x86, 0x48,
                                         0x01, 0x65, 0x03, 0x04, 0x01};

/* The digests we sign with: their OIDs and ECDSA's with them. */
struct md_info {
	int nid;
	uint8_t oid[11];   /* DER TLV */
	uint8_t ecdsa[10]; /* ecdsa-with-..., DER TLV */
};

static const struct md_info mds[] = {
    {NID_sha1,
     {0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a},
     {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01}},
    {NID_sha224,
     {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04},
     {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x01}},
    {NID_sha256,
     {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01},
     {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}},
    {NID_sha384,
     {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02},
     {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}},
    {NID_sha512,
     {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03},
     {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}},
};

static const struct md_info *
md_info(int nid)
{
	size_t i;

	for (i = 0; i < sizeof(mds) / sizeof(mds[0]); i++) {
		if (mds[i].nid == nid)
			return &mds[i];
	}
	return NULL;
}

/* The size of an OID TLV of the tables above. */
static size_t
oid_len(const uint8_t *oid)
{
	return 2 + (size_t)oid[1];
}

/* An AlgorithmIdentifier of a digest: parameters absent (RFC 5754). */
static void
db_md_alg(struct dbuf *b, const struct md_info *mi)
{
	db_tlv(b, 0x30, mi->oid, oid_len(mi->oid));
}

/* Reading the signer's certificate. */

enum key_type { KEY_RSA = 1, KEY_EC };

struct cert_info {
	const uint8_t *issuer, *serial; /* TLVs inside the certificate */
	size_t issuer_len, serial_len;
	enum key_type type;
	size_t rsa_len; /* RSA: the modulus size in bytes */
};

/*
 * Picks what the SignerInfo needs out of the certificate (RFC 5280
 * 4.1): serialNumber, issuer and the algorithm of the public key.
 */
static int
parse_cert(const uint8_t *der, size_t len, struct cert_info *ci)
{
	struct smime_certder f;
	struct smime_span rsa = {oid_rsa, sizeof(oid_rsa)};
	struct smime_span ec = {oid_ec_public_key, sizeof(oid_ec_public_key)};

	memset(ci, 0, sizeof(*ci));
	if (smime_certder_parse(der, len, &f) != 0)
		return P11A_E_FORMAT;
	ci->serial = f.serial.p;
	ci->serial_len = f.serial.len;
	ci->issuer = f.issuer.p;
	ci->issuer_len = f.issuer.len;
	if (smime_span_eq(f.spki_alg, rsa)) {
		ci->type = KEY_RSA;
		return smime_certder_rsa_modulus_len(f.spki_key, &ci->rsa_len);
	}
	if (smime_span_eq(f.spki_alg, ec)) {
		ci->type = KEY_EC;
		return 0;
	}
	/* Ed25519, RSA-PSS-only keys...: CMS with a digest we cannot sign. */
	return P11A_E_KEY_TYPE;
}

/* The signed attributes. */

/* Appends an Attribute: SEQUENCE { type, SET { val } }; frees val. */
static void
db_attr(struct dbuf *b, const uint8_t *oid, struct dbuf *val)
{
	struct dbuf a;

	memset(&a, 0, sizeof(a));
	db_put(&a, oid, oid_len(oid));
	db_wrap(val, 0x31);
	db_cat(&a, val);
	db_wrap(&a, 0x30);
	db_cat(b, &a);
}

/*
 * signingTime: UTCTime through 2049, GeneralizedTime from 2050 on
 * (RFC 5652 11.3).
 */
static int
attr_signing_time(struct dbuf *b)
{
	struct dbuf t;
	struct tm tm;
	time_t now = time(NULL);
	char s[64];
	bool utc;
	int year, n;

	memset(&t, 0, sizeof(t));
	if (gmtime_r(&now, &tm) == NULL)
		return P11A_E_INTERNAL;
	year = tm.tm_year + 1900;
	utc = year >= 1950 && year < 2050;
	n = snprintf(s, sizeof(s), "%0*d%02d%02d%02d%02d%02dZ", utc ? 2 : 4,
	             utc ? year % 100 : year, tm.tm_mon + 1, tm.tm_mday,
	             tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n <= 0 || (size_t)n >= sizeof(s))
		return P11A_E_INTERNAL;
	db_tlv(&t, utc ? 0x17 : 0x18, s, (size_t)n);
	db_attr(b, oid_signing_time, &t);
	return 0;
}

/* SMIMECapabilities: a SEQUENCE of SEQUENCE { OID } (RFC 8551 2.5.2). */
static void
attr_smime_caps(struct dbuf *b)
{
	struct dbuf caps, one;
	size_t i;

	memset(&caps, 0, sizeof(caps));
	for (i = 0; i < sizeof(caps_arcs); i++) {
		memset(&one, 0, sizeof(one));
		db_put(&one, oid_aes_prefix, sizeof(oid_aes_prefix));
		db_put(&one, &caps_arcs[i], 1);
		db_wrap(&one, 0x30);
		db_cat(&caps, &one);
	}
	db_wrap(&caps, 0x30);
	db_attr(b, oid_smime_caps, &caps);
}

/*
 * ESS signing-certificate (RFC 5035): the hash of the signer's
 * certificate under the signing digest, and its issuer and serial
 * number.  SHA-1 makes the first version (RFC 2634) with its ESSCertID;
 * the rest signingCertificateV2, whose hashAlgorithm is left out when it
 * is the default, SHA-256 (as OpenSSL's CMS_CADES does).
 */
static int
attr_signing_cert(struct dbuf *b, const struct md_info *mi,
                  const struct smime_signer *sg, const struct cert_info *ci)
{
	struct dbuf id, is;
	uint8_t h[SMIME_DIGEST_MAX];
	size_t hlen;
	int r;

	memset(&id, 0, sizeof(id));
	memset(&is, 0, sizeof(is));
	if ((r = smime_digest(mi->nid, sg->cert, sg->cert_len, h, &hlen)) != 0)
		return r;
	if (mi->nid != NID_sha1 && mi->nid != NID_sha256)
		db_md_alg(&id, mi);
	db_tlv(&id, 0x04, h, hlen);
	/* IssuerSerial: GeneralNames { [4] directoryName }, serial. */
	db_tlv(&is, 0xa4, ci->issuer, ci->issuer_len);
	db_wrap(&is, 0x30);
	db_put(&is, ci->serial, ci->serial_len);
	db_wrap(&is, 0x30);
	db_cat(&id, &is);
	db_wrap(&id, 0x30); /* ESSCertID(v2) */
	db_wrap(&id, 0x30); /* certs: SEQUENCE OF */
	db_wrap(&id, 0x30); /* SigningCertificate(V2) */
	db_attr(b, mi->nid == NID_sha1 ? oid_signing_cert : oid_signing_cert_v2,
	        &id);
	return 0;
}

/* Byte strings in DER order, for the SET OFs. */
struct der_view {
	const uint8_t *p;
	size_t n;
};

static int
cmp_der(const void *a, const void *b)
{
	const struct der_view *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, n);

	if (c != 0)
		return c;
	return x->n < y->n ? -1 : x->n > y->n;
}

#define NATTRS 5

/*
 * The signed attributes as signed: a SET OF in DER order (RFC 5652 5.4),
 * tag 0x31.  The SignerInfo carries the same content under [0].
 */
static int
signed_attrs(struct dbuf *out, const struct md_info *mi,
             const struct smime_signer *sg, const struct cert_info *ci,
             const uint8_t *dg, size_t dglen)
{
	struct dbuf a[NATTRS], v;
	struct der_view view[NATTRS];
	size_t i;
	int r;

	memset(a, 0, sizeof(a));
	memset(&v, 0, sizeof(v));
	db_tlv(&v, 0x06, oid_data + 2, sizeof(oid_data) - 2);
	db_attr(&a[0], oid_content_type, &v);
	if ((r = attr_signing_time(&a[1])) != 0)
		goto out;
	db_tlv(&v, 0x04, dg, dglen);
	db_attr(&a[2], oid_message_digest, &v);
	attr_smime_caps(&a[3]);
	if ((r = attr_signing_cert(&a[4], mi, sg, ci)) != 0)
		goto out;
	for (i = 0; i < NATTRS; i++) {
		if ((r = a[i].err) != 0)
			goto out;
		view[i].p = a[i].p;
		view[i].n = a[i].len;
	}
	qsort(view, NATTRS, sizeof(view[0]), cmp_der);
	for (i = 0; i < NATTRS; i++)
		db_put(out, view[i].p, view[i].n);
	db_wrap(out, 0x31);
	r = out->err;
out:
	for (i = 0; i < NATTRS; i++)
		db_free(&a[i]);
	db_free(&v);
	return r;
}

/* signatureAlgorithm of the SignerInfo. */
static void
db_sig_alg(struct dbuf *b, const struct md_info *mi, enum key_type type,
           bool pss)
{
	static const uint8_t null[] = {0x05, 0x00};
	struct dbuf alg, p, t;
	uint8_t salt[3];

	memset(&alg, 0, sizeof(alg));
	memset(&p, 0, sizeof(p));
	memset(&t, 0, sizeof(t));
	if (type == KEY_EC) {
		db_put(&alg, mi->ecdsa, oid_len(mi->ecdsa));
	} else if (!pss) {
		db_put(&alg, oid_rsa, sizeof(oid_rsa));
		db_put(&alg, null, sizeof(null));
	} else {
		/* RSASSA-PSS-params (RFC 4055 3.1), every field explicit:
		 * the hash, MGF1 with the same hash, a salt as long as the
		 * digest (trailerField default). */
		db_put(&alg, oid_rsa_pss, sizeof(oid_rsa_pss));
		db_md_alg(&t, mi);
		db_wrap(&t, 0xa0);
		db_cat(&p, &t);
		db_put(&t, oid_mgf1, sizeof(oid_mgf1));
		db_md_alg(&t, mi);
		db_wrap(&t, 0x30);
		db_wrap(&t, 0xa1);
		db_cat(&p, &t);
		salt[0] = 0x02;
		salt[1] = 0x01;
		salt[2] = (uint8_t)smime_digest_size(mi->nid); /* < 0x80 */
		db_tlv(&p, 0xa2, salt, sizeof(salt));
		db_wrap(&p, 0x30);
		db_cat(&alg, &p);
	}
	db_wrap(&alg, 0x30);
	db_cat(b, &alg);
}

/*
 * Is sig what a key of this type makes: an RSA signature as long as the
 * modulus, or a DER SEQUENCE of two INTEGERs?  Catches a signer that
 * returned raw r||s or a truncated value before anyone else sees it.
 */
static bool
sig_plausible(const struct cert_info *ci, const uint8_t *sig, size_t len)
{
	struct smime_der_cur it = {sig, len}, seq;
	struct smime_span body;

	if (ci->type == KEY_RSA)
		return len == ci->rsa_len;
	if (smime_der_expect(&it, 0x30, NULL, &body) != 0 || it.len != 0)
		return false;
	seq.p = body.p;
	seq.len = body.len;
	return smime_der_expect(&seq, 0x02, NULL, NULL) == 0 &&
	       smime_der_expect(&seq, 0x02, NULL, NULL) == 0 && seq.len == 0;
}

/* The INTEGER of an unsigned big-endian number (n > 0); its size. */
static size_t
der_uint(const uint8_t *v, size_t n, uint8_t *out)
{
	uint8_t hdr[6];
	size_t hl, pad;

	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	pad = (v[0] & 0x80) != 0;
	hdr[0] = 0x02;
	hl = 1 + smime_der_len(hdr + 1, n + pad);
	if (out != NULL) {
		memcpy(out, hdr, hl);
		if (pad)
			out[hl] = 0;
		memcpy(out + hl + pad, v, n);
	}
	return hl + pad + n;
}

int
smime_ecdsa_sig_der(const uint8_t *rs, size_t rslen, uint8_t *out,
                    size_t *outlen)
{
	size_t half = rslen / 2, rl, sl, hl;
	uint8_t hdr[6];

	if (rslen == 0 || rslen % 2 != 0 || rslen > 1024)
		return P11A_E_FORMAT;
	rl = der_uint(rs, half, NULL);
	sl = der_uint(rs + half, half, NULL);
	hdr[0] = 0x30;
	hl = 1 + smime_der_len(hdr + 1, rl + sl);
	if (hl + rl + sl > *outlen)
		return P11A_E_TOO_LARGE;
	memcpy(out, hdr, hl);
	der_uint(rs, half, out + hl);
	der_uint(rs + half, half, out + hl + rl);
	*outlen = hl + rl + sl;
	return 0;
}

/* Room for any signature: RSA up to 8192 bits, every ECDSA curve. */
#define SIG_ROOM 1024

int
smime_build_signed_data(const struct smime_signer *sg, int md_nid, bool pss,
                        const uint8_t *dg, size_t dglen, uint8_t **der,
                        size_t *derlen)
{
	const struct md_info *mi = md_info(md_nid);
	struct dbuf attrs, si, sd, certs, t;
	struct der_view *cv = NULL;
	struct cert_info ci;
	uint8_t h[SMIME_DIGEST_MAX], sig[SIG_ROOM];
	size_t hlen, siglen = sizeof(sig), ncv, i;
	int r;

	*der = NULL;
	*derlen = 0;
	memset(&attrs, 0, sizeof(attrs));
	memset(&si, 0, sizeof(si));
	memset(&sd, 0, sizeof(sd));
	memset(&certs, 0, sizeof(certs));
	memset(&t, 0, sizeof(t));
	if (mi == NULL || sg == NULL || sg->cert == NULL || sg->sign == NULL)
		return P11A_E_ARGS;
	if ((r = parse_cert(sg->cert, sg->cert_len, &ci)) != 0)
		return r;
	if (pss && ci.type != KEY_RSA)
		return P11A_E_KEY_TYPE;
	/* What the signature covers. */
	if ((r = signed_attrs(&attrs, mi, sg, &ci, dg, dglen)) != 0)
		goto out;
	if ((r = smime_digest(md_nid, attrs.p, attrs.len, h, &hlen)) != 0)
		goto out;
	if ((r = sg->sign(sg->ctx, md_nid, pss, h, hlen, sig, &siglen)) != 0)
		goto out;
	if (siglen == 0 || siglen > sizeof(sig) ||
	    !sig_plausible(&ci, sig, siglen)) {
		r = P11A_E_SIGNATURE;
		goto out;
	}
	/* Only now: sign() may have filled the chain in (smime.h). */
	if (sg->nchain > 0 && (sg->chain == NULL || sg->chain_len == NULL)) {
		r = P11A_E_ARGS;
		goto out;
	}
	/* SignerInfo (RFC 5652 5.3): version 1, issuerAndSerialNumber. */
	db_tlv(&si, 0x02, "\x01", 1);
	db_put(&t, ci.issuer, ci.issuer_len);
	db_put(&t, ci.serial, ci.serial_len);
	db_wrap(&t, 0x30);
	db_cat(&si, &t);
	db_md_alg(&si, mi);
	/* The signed attributes again, [0] IMPLICIT instead of SET. */
	if (attrs.err == 0)
		attrs.p[0] = 0xa0;
	db_cat(&si, &attrs);
	db_sig_alg(&si, mi, ci.type, pss);
	db_tlv(&si, 0x04, sig, siglen);
	db_wrap(&si, 0x30);
	/* SignedData: version 1, digestAlgorithms, encapContentInfo
	 * (detached: id-data alone), certificates, signerInfos. */
	db_tlv(&sd, 0x02, "\x01", 1);
	db_md_alg(&t, mi);
	db_wrap(&t, 0x31);
	db_cat(&sd, &t);
	db_tlv(&sd, 0x30, oid_data, sizeof(oid_data));
	/* certificates: a SET OF, so in DER order; each one once. */
	if ((cv = calloc(sg->nchain + 1, sizeof(*cv))) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	cv[0].p = sg->cert;
	cv[0].n = sg->cert_len;
	for (i = 0; i < sg->nchain; i++) {
		cv[i + 1].p = sg->chain[i];
		cv[i + 1].n = sg->chain_len[i];
	}
	qsort(cv, sg->nchain + 1, sizeof(*cv), cmp_der);
	for (i = 0, ncv = sg->nchain + 1; i < ncv; i++) {
		if (i == 0 || cmp_der(&cv[i - 1], &cv[i]) != 0)
			db_put(&certs, cv[i].p, cv[i].n);
	}
	db_wrap(&certs, 0xa0);
	db_cat(&sd, &certs);
	db_wrap(&si, 0x31);
	db_cat(&sd, &si);
	db_wrap(&sd, 0x30);
	/* ContentInfo { id-signedData, [0] EXPLICIT SignedData } */
	db_wrap(&sd, 0xa0);
	db_put(&t, oid_signed_data, sizeof(oid_signed_data));
	db_cat(&t, &sd);
	db_wrap(&t, 0x30);
	if ((r = t.err) != 0)
		goto out;
	*der = t.p;
	*derlen = t.len;
	memset(&t, 0, sizeof(t));
out:
	free(cv);
	db_free(&attrs);
	db_free(&si);
	db_free(&sd);
	db_free(&certs);
	db_free(&t);
	return r;
}

/*
 * From a detached ContentInfo/SignedData in DER, the bytes after
 * encapContentInfo (certificates, crls, signerInfos).
 */
static int
signed_data_tail(const uint8_t *der, size_t len, const uint8_t **tail,
                 size_t *tlen)
{
	size_t hdr, clen, off;
	uint8_t tag;
	int r, n;

	/* ContentInfo SEQUENCE, contentType, [0], SignedData SEQUENCE. */
	if ((r = smime_der_tlv(der, len, &tag, &hdr, &clen)) != 0 ||
	    tag != 0x30)
		return P11A_E_FORMAT;
	der += hdr;
	len = clen;
	if ((r = smime_der_tlv(der, len, &tag, &hdr, &clen)) != 0 ||
	    tag != 0x06)
		return P11A_E_FORMAT;
	der += hdr + clen;
	len -= hdr + clen;
	if ((r = smime_der_tlv(der, len, &tag, &hdr, &clen)) != 0 ||
	    tag != 0xa0)
		return P11A_E_FORMAT;
	der += hdr;
	len = clen;
	if ((r = smime_der_tlv(der, len, &tag, &hdr, &clen)) != 0 ||
	    tag != 0x30)
		return P11A_E_FORMAT;
	der += hdr;
	len = clen;
	/* version, digestAlgorithms, encapContentInfo */
	for (n = 0, off = 0; n < 3; n++) {
		if ((r = smime_der_tlv(der + off, len - off, &tag, &hdr,
		                       &clen)) != 0)
			return r;
		off += hdr + clen;
	}
	*tail = der + off;
	*tlen = len - off;
	return 0;
}

static const char *
micalg_name(int nid)
{
	switch (nid) {
	case NID_sha384:
		return "sha-384";
	case NID_sha512:
		return "sha-512";
	case NID_sha1:
		return "sha-1";
	default:
		return "sha-256";
	}
}

struct sign_run {
	const struct smime_sign_opts *o;
	struct smime_rd rd;
	struct smime_fdsink out;
	struct smime_hashsink hs;
	struct smime_hdrs hdrs, outer, entity;
	const char *eol;
	char boundary[64];
};

/* Splits the message's fields into the outer ones and the entity's. */
int
smime_split_hdrs(const struct smime_hdrs *all, struct smime_hdrs *outer,
                 struct smime_hdrs *entity)
{
	size_t i;
	int r;

	for (i = 0; i < all->n; i++) {
		if (smime_hdr_is_content(all->v[i].name)) {
			if (entity != NULL &&
			    (r = smime_hdrs_add(entity, all->v[i].raw)) != 0)
				return r;
		} else if (outer != NULL &&
		           (r = smime_hdrs_add(outer, all->v[i].raw)) != 0) {
			return r;
		}
	}
	return 0;
}

static int
write_signature_part(struct sign_run *s, const uint8_t *der, size_t len)
{
	struct smime_sink *o = &s->out.base;
	struct smime_b64sink b64;

	smime_puts(o, s->eol);
	smime_puts(o, "--");
	smime_puts(o, s->boundary);
	smime_puts(o, s->eol);
	smime_puts(o, "Content-Type: application/pkcs7-signature; "
	              "name=\"smime.p7s\"");
	smime_puts(o, s->eol);
	smime_puts(o, "Content-Transfer-Encoding: base64");
	smime_puts(o, s->eol);
	smime_puts(o, "Content-Disposition: attachment; "
	              "filename=\"smime.p7s\"");
	smime_puts(o, s->eol);
	smime_puts(o, "Content-Description: S/MIME Cryptographic Signature");
	smime_puts(o, s->eol);
	smime_puts(o, s->eol);
	smime_b64sink_init(&b64, o, s->eol);
	smime_put(&b64.base, der, len);
	smime_finish(&b64.base);
	if (b64.base.err != 0)
		return b64.base.err;
	smime_puts(o, s->eol);
	smime_puts(o, "--");
	smime_puts(o, s->boundary);
	smime_puts(o, "--");
	smime_puts(o, s->eol);
	return o->err;
}

static int
sign_detached(struct sign_run *s, enum smime_canon_mode mode)
{
	struct smime_sink *o = &s->out.base;
	struct smime_lineout lo;
	uint8_t dg[SMIME_DIGEST_MAX], *der = NULL;
	unsigned dglen;
	size_t derlen;
	int r;

	if ((r = smime_boundary_new(s->boundary, sizeof(s->boundary))) != 0)
		return r;
	if (s->o->inner != NULL)
		smime_hdrs_write(s->o->inner, o, s->eol);
	if (!s->o->entity_only) {
		smime_puts(o, "MIME-Version: 1.0");
		smime_puts(o, s->eol);
	}
	smime_puts(o, "Content-Type: multipart/signed; "
	              "protocol=\"application/pkcs7-signature\";");
	smime_puts(o, s->eol);
	smime_puts(o, "\tmicalg=");
	smime_puts(o, micalg_name(s->o->md_nid));
	smime_puts(o, "; boundary=\"");
	smime_puts(o, s->boundary);
	smime_puts(o, s->o->inner != NULL ? "\"; hp=\"cipher\"" : "\"");
	smime_puts(o, s->eol);
	smime_puts(o, s->eol);
	smime_puts(o, "This is a cryptographically signed message in MIME "
	              "format.");
	smime_puts(o, s->eol);
	smime_puts(o, s->eol);
	smime_puts(o, "--");
	smime_puts(o, s->boundary);
	smime_puts(o, s->eol);
	if (o->err != 0)
		return o->err;
	lo.hash = &s->hs.base;
	lo.out = o;
	lo.out_eol = s->eol;
	if ((r = smime_canon_entity(&s->rd, &s->entity, mode, &lo)) != 0)
		return r;
	if ((r = smime_hashsink_final(&s->hs, 0, dg, &dglen)) != 0)
		return r;
	if ((r = smime_build_signed_data(s->o->signer, s->o->md_nid, s->o->pss,
	                                 dg, dglen, &der, &derlen)) != 0)
		return r;
	r = write_signature_part(s, der, derlen);
	free(der);
	return r;
}

static int
sign_opaque(struct sign_run *s, enum smime_canon_mode mode)
{
	/* ContentInfo, [0], SignedData (all indefinite), version 1. */
	static const uint8_t head[] = {0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48,
	                               0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0,
	                               0x80, 0x30, 0x80, 0x02, 0x01, 0x01};
	/* encapContentInfo: id-data, [0], constructed OCTET STRING. */
	static const uint8_t encap[] = {0x30, 0x80, 0x06, 0x09, 0x2a, 0x86,
	                                0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07,
	                                0x01, 0xa0, 0x80, 0x24, 0x80};
	static const uint8_t eoc3[] = {0, 0, 0, 0, 0, 0};
	struct smime_sink *o = &s->out.base;
	struct smime_b64sink b64;
	struct smime_bersink ber;
	struct smime_lineout lo;
	struct dbuf algs;
	uint8_t dg[SMIME_DIGEST_MAX], *der = NULL;
	const uint8_t *tail;
	size_t derlen, tlen;
	unsigned dglen;
	int r;

	memset(&ber, 0, sizeof(ber));
	memset(&algs, 0, sizeof(algs));
	if (s->o->inner != NULL)
		smime_hdrs_write(s->o->inner, o, s->eol);
	if (!s->o->entity_only) {
		smime_puts(o, "MIME-Version: 1.0");
		smime_puts(o, s->eol);
	}
	smime_puts(o, "Content-Type: application/pkcs7-mime; "
	              "smime-type=signed-data; name=\"smime.p7m\"");
	if (s->o->inner != NULL)
		smime_puts(o, "; hp=\"cipher\"");
	smime_puts(o, s->eol);
	smime_puts(o, "Content-Transfer-Encoding: base64");
	smime_puts(o, s->eol);
	smime_puts(o, "Content-Disposition: attachment; "
	              "filename=\"smime.p7m\"");
	smime_puts(o, s->eol);
	smime_puts(o, "Content-Description: S/MIME Cryptographic Signature");
	smime_puts(o, s->eol);
	smime_puts(o, s->eol);
	smime_b64sink_init(&b64, o, s->eol);
	/* digestAlgorithms: a SET of the one algorithm. */
	db_md_alg(&algs, md_info(s->o->md_nid));
	db_wrap(&algs, 0x31);
	if ((r = algs.err) != 0)
		goto out;
	smime_put(&b64.base, head, sizeof(head));
	smime_put(&b64.base, algs.p, algs.len);
	smime_put(&b64.base, encap, sizeof(encap));
	if ((r = smime_bersink_init(&ber, &b64.base)) != 0)
		goto out;
	lo.hash = &s->hs.base;
	lo.out = &ber.base;
	lo.out_eol = "\r\n";
	if ((r = smime_canon_entity(&s->rd, &s->entity, mode, &lo)) != 0)
		goto out;
	if ((r = smime_finish(&ber.base)) != 0)
		goto out;
	smime_put(&b64.base, eoc3, sizeof(eoc3));
	if ((r = smime_hashsink_final(&s->hs, 0, dg, &dglen)) != 0)
		goto out;
	if ((r = smime_build_signed_data(s->o->signer, s->o->md_nid, s->o->pss,
	                                 dg, dglen, &der, &derlen)) != 0)
		goto out;
	if ((r = signed_data_tail(der, derlen, &tail, &tlen)) != 0)
		goto out;
	smime_put(&b64.base, tail, tlen);
	smime_put(&b64.base, eoc3, sizeof(eoc3));
	smime_finish(&b64.base);
	r = b64.base.err != 0 ? b64.base.err : o->err;
out:
	smime_bersink_cleanup(&ber);
	db_free(&algs);
	free(der);
	return r;
}

static int
sign_once(struct sign_run *s, int in_fd, int out_fd, enum smime_canon_mode mode)
{
	const struct smime_sign_opts *o = s->o;
	int r;

	if ((r = smime_rd_init_fd(&s->rd, in_fd)) != 0 ||
	    (r = smime_fdsink_init(&s->out, out_fd)) != 0 ||
	    (r = smime_hashsink_init(&s->hs)) != 0 ||
	    (r = smime_hashsink_add(&s->hs, o->md_nid)) != 0)
		return r;
	if ((r = smime_hdrs_read(&s->hdrs, &s->rd)) != 0)
		return r;
	if ((r = smime_split_hdrs(&s->hdrs, &s->outer, &s->entity)) != 0)
		return r;
	s->eol =
	    (o->entity_only || s->hdrs.eol == SMIME_EOL_CRLF) ? "\r\n" : "\n";
	if (!o->entity_only &&
	    (r = smime_hdrs_write(&s->outer, &s->out.base, s->eol)) != 0)
		return r;
	r = o->opaque ? sign_opaque(s, mode) : sign_detached(s, mode);
	if (r != 0)
		return r;
	return smime_finish(&s->out.base);
}

static void
sign_run_cleanup(struct sign_run *s)
{
	smime_rd_cleanup(&s->rd);
	smime_fdsink_cleanup(&s->out);
	smime_hashsink_cleanup(&s->hs);
	smime_hdrs_cleanup(&s->hdrs);
	smime_hdrs_cleanup(&s->outer);
	smime_hdrs_cleanup(&s->entity);
	memset(s, 0, sizeof(*s));
}

int
smime_sign(int in_fd, int out_fd, const struct smime_sign_opts *o)
{
	struct smime_sign_opts oo = *o;
	struct sign_run s;
	off_t in0, out0;
	int r;

	memset(&s, 0, sizeof(s));
	if (oo.md_nid == 0)
		oo.md_nid = NID_sha256;
	if (md_info(oo.md_nid) == NULL || oo.signer == NULL)
		return P11A_E_ARGS;
	if ((in0 = lseek(in_fd, 0, SEEK_CUR)) < 0 ||
	    (out0 = lseek(out_fd, 0, SEEK_CUR)) < 0)
		return P11A_E_IO;
	s.o = &oo;
	r = sign_once(&s, in_fd, out_fd, SMIME_CANON_CHECK);
	sign_run_cleanup(&s);
	if (r != SMIME_AGAIN)
		return r;
	/* A part needs a transfer encoding: start again, encoding it. */
	if (lseek(in_fd, in0, SEEK_SET) < 0 || ftruncate(out_fd, out0) != 0 ||
	    lseek(out_fd, out0, SEEK_SET) < 0)
		return P11A_E_IO;
	s.o = &oo;
	r = sign_once(&s, in_fd, out_fd, SMIME_CANON_TRANSFORM);
	sign_run_cleanup(&s);
	return r;
}
