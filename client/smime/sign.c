/*
 * Signing (smime.h): multipart/signed and opaque signed-data, streamed.
 *
 * The entity is written once while its digest is computed; the SignedData
 * is built afterwards with OpenSSL's CMS objects, but signed here: the
 * DER of the signed attributes is hashed and the digest handed to the
 * key (the agent), so any struct smime_key can sign.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "proto/err.h"
#include "canon.h"
#include "der.h"
#include "internal.h"
#include "smime.h"

static int
cmp_der(const void *a, const void *b)
{
	const struct {
		uint8_t *p;
		size_t n;
	} *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, n);

	if (c != 0)
		return c;
	return x->n < y->n ? -1 : x->n > y->n;
}

/*
 * The DER of the signed attributes as signed (a SET OF, sorted): what
 * the signature covers (RFC 5652 5.4).
 */
static int
signed_attrs_der(CMS_SignerInfo *si, uint8_t **out, size_t *outlen)
{
	struct {
		uint8_t *p;
		size_t n;
	} *v = NULL;
	int i, n = CMS_signed_get_attr_count(si), l;
	size_t total = 0, o, hl;
	uint8_t *buf = NULL, *q, hdr[6];
	int r = P11A_E_NOMEM;

	*out = NULL;
	if (n <= 0)
		return P11A_E_INTERNAL;
	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		v[i].p = NULL;
		if ((l = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i),
		                            &v[i].p)) <= 0)
			goto out;
		v[i].n = (size_t)l;
		total += (size_t)l;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_der);
	hdr[0] = 0x31;
	hl = 1 + smime_der_len(hdr + 1, total);
	if ((buf = malloc(hl + total)) == NULL)
		goto out;
	memcpy(buf, hdr, hl);
	q = buf + hl;
	for (i = 0, o = 0; i < n; i++) {
		memcpy(q + o, v[i].p, v[i].n);
		o += v[i].n;
	}
	*out = buf;
	*outlen = hl + total;
	buf = NULL;
	r = 0;
out:
	for (i = 0; v != NULL && i < n; i++)
		OPENSSL_free(v[i].p);
	free(v);
	free(buf);
	return r;
}

static int
set_pss_alg(CMS_SignerInfo *si, const EVP_MD *md)
{
	RSA_PSS_PARAMS *pp = NULL;
	ASN1_STRING *mgfp = NULL, *ps = NULL;
	X509_ALGOR *psig = NULL;
	int r = P11A_E_NOMEM;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &psig);
	if ((pp = RSA_PSS_PARAMS_new()) == NULL ||
	    (pp->hashAlgorithm = X509_ALGOR_new()) == NULL ||
	    (pp->maskGenAlgorithm = X509_ALGOR_new()) == NULL ||
	    (pp->saltLength = ASN1_INTEGER_new()) == NULL)
		goto out;
	X509_ALGOR_set_md(pp->hashAlgorithm, md);
	if ((mgfp = ASN1_item_pack(pp->hashAlgorithm,
	                           ASN1_ITEM_rptr(X509_ALGOR), NULL)) == NULL ||
	    !X509_ALGOR_set0(pp->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1),
	                     V_ASN1_SEQUENCE, mgfp))
		goto out;
	mgfp = NULL;
	if (!ASN1_INTEGER_set(pp->saltLength, EVP_MD_get_size(md)))
		goto out;
	if ((ps = ASN1_item_pack(pp, ASN1_ITEM_rptr(RSA_PSS_PARAMS), NULL)) ==
	        NULL ||
	    !X509_ALGOR_set0(psig, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE,
	                     ps))
		goto out;
	ps = NULL;
	r = 0;
out:
	ASN1_STRING_free(mgfp);
	ASN1_STRING_free(ps);
	RSA_PSS_PARAMS_free(pp);
	return r;
}

static int
add_attrs(CMS_SignerInfo *si, const uint8_t *dg, unsigned dglen)
{
	STACK_OF(X509_ALGOR) *caps = NULL;
	ASN1_TIME *now = NULL;
	int r = P11A_E_NOMEM;

	if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType,
	                                V_ASN1_OBJECT,
	                                OBJ_nid2obj(NID_pkcs7_data), -1) <= 0 ||
	    (now = X509_gmtime_adj(NULL, 0)) == NULL ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, now->type,
	                                now, -1) <= 0 ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest,
	                                V_ASN1_OCTET_STRING, dg,
	                                (int)dglen) <= 0)
		goto out;
	/* RFC 8551 2.5.2: what we can decrypt, preferred first. */
	if (!CMS_add_simple_smimecap(&caps, NID_aes_256_gcm, -1) ||
	    !CMS_add_simple_smimecap(&caps, NID_aes_128_gcm, -1) ||
	    !CMS_add_simple_smimecap(&caps, NID_aes_256_cbc, -1) ||
	    !CMS_add_simple_smimecap(&caps, NID_aes_128_cbc, -1) ||
	    !CMS_add_smimecap(si, caps))
		goto out;
	r = 0;
out:
	sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
	ASN1_TIME_free(now);
	return r;
}

/*
 * OpenSSL 3.0's encoder does not report every allocation failure: the
 * DER of a SET OF can come out unsorted or unwritten with a length that
 * says it is fine (found by tests/unit/smime/test_smime_alloc.c).  A
 * message whose signed attributes (same content, tag [0] instead of SET)
 * or signature are not in it as signed must not leave this process.
 */
static bool
carries_signed_parts(const uint8_t *der, size_t len, const uint8_t *attrs,
                     size_t attrslen, const uint8_t *sig, size_t siglen)
{
	return attrslen > 1 &&
	       memmem(der, len, attrs + 1, attrslen - 1) != NULL &&
	       memmem(der, len, sig, siglen) != NULL;
}

int
smime_build_signed_data(struct smime_key *key, int md_nid, bool pss,
                        const uint8_t *dg, unsigned dglen, uint8_t **der,
                        size_t *derlen)
{
	CMS_ContentInfo *cms = NULL, *cms2 = NULL;
	STACK_OF(CMS_SignerInfo) * sis;
	CMS_SignerInfo *si;
	STACK_OF(X509) *chain = smime_key_get0_chain(key);
	X509 *cert = smime_key_get0_cert(key);
	const EVP_MD *md = EVP_get_digestbynid(md_nid);
	uint8_t *attrs = NULL, *buf = NULL, *sig = NULL;
	const unsigned char *cp;
	uint8_t h[EVP_MAX_MD_SIZE];
	size_t attrslen = 0, siglen = 0;
	unsigned hlen;
	int i, len, r = P11A_E_NOMEM;

	*der = NULL;
	*derlen = 0;
	if (md == NULL || cert == NULL)
		return P11A_E_ARGS;
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL,
	                    CMS_PARTIAL | CMS_DETACHED | CMS_BINARY)) == NULL)
		goto out;
	/* The public key stands in for the private one: CMS_PARTIAL makes
	 * OpenSSL set everything up but sign; we sign below. */
	/* The certificates join after the round trip below: parsing one
	 * costs a decoder set-up in OpenSSL 3.0, and they need none. */
	if ((si = CMS_add1_signer(cms, cert, X509_get0_pubkey(cert), md,
	                          CMS_PARTIAL | CMS_CADES | CMS_NOSMIMECAP |
	                              CMS_NOCERTS)) == NULL) {
		r = P11A_E_KEY_TYPE;
		goto out;
	}
	if ((r = add_attrs(si, dg, dglen)) != 0)
		goto out;
	if (pss && (r = set_pss_alg(si, md)) != 0)
		goto out;
	/* Encode and parse again: the signed attributes then sit in DER
	 * order, the order in which they are signed and verified. */
	r = P11A_E_NOMEM;
	if ((len = i2d_CMS_ContentInfo(cms, &buf)) <= 0)
		goto out;
	cp = buf;
	if ((cms2 = d2i_CMS_ContentInfo(NULL, &cp, len)) == NULL)
		goto out;
	OPENSSL_free(buf);
	buf = NULL;
	if ((sis = CMS_get0_SignerInfos(cms2)) == NULL ||
	    (si = sk_CMS_SignerInfo_value(sis, 0)) == NULL ||
	    CMS_add1_cert(cms2, cert) <= 0)
		goto out;
	for (i = 0; i < sk_X509_num(chain); i++) {
		if (CMS_add1_cert(cms2, sk_X509_value(chain, i)) <= 0)
			goto out;
	}
	if ((r = signed_attrs_der(si, &attrs, &attrslen)) != 0)
		goto out;
	if (EVP_Digest(attrs, attrslen, h, &hlen, md, NULL) != 1) {
		r = P11A_E_INTERNAL;
		goto out;
	}
	siglen = 1024;
	if ((sig = malloc(siglen)) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	if ((r = smime_key_sign(key, md_nid, pss, h, hlen, sig, &siglen)) != 0)
		goto out;
	if (!ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig,
	                     (int)siglen)) {
		r = P11A_E_NOMEM;
		goto out;
	}
	/* Check what the key made before anyone else sees it. */
	CMS_SignerInfo_set1_signer_cert(si, cert);
	if (CMS_SignerInfo_verify(si) != 1) {
		ERR_clear_error();
		r = P11A_E_SIGNATURE;
		goto out;
	}
	if ((len = i2d_CMS_ContentInfo(cms2, &buf)) <= 0) {
		r = P11A_E_NOMEM;
		goto out;
	}
	if (!carries_signed_parts(buf, (size_t)len, attrs, attrslen, sig,
	                          siglen)) {
		r = P11A_E_NOMEM;
		goto out;
	}
	*der = buf;
	*derlen = (size_t)len;
	buf = NULL;
	r = 0;
out:
	OPENSSL_free(buf);
	free(attrs);
	free(sig);
	CMS_ContentInfo_free(cms);
	CMS_ContentInfo_free(cms2);
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
digest_final(struct smime_hashsink *hs, uint8_t *dg, unsigned *dglen)
{
	int r;

	if ((r = smime_finish(&hs->base)) != 0)
		return r;
	if (EVP_DigestFinal_ex(hs->md[0], dg, dglen) != 1)
		return P11A_E_INTERNAL;
	return 0;
}

static int
sign_detached(struct sign_run *s, enum smime_canon_mode mode)
{
	struct smime_sink *o = &s->out.base;
	struct smime_lineout lo;
	uint8_t dg[EVP_MAX_MD_SIZE], *der = NULL;
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
	if ((r = digest_final(&s->hs, dg, &dglen)) != 0)
		return r;
	if ((r = smime_build_signed_data(s->o->key, s->o->md_nid, s->o->pss, dg,
	                                 dglen, &der, &derlen)) != 0)
		return r;
	r = write_signature_part(s, der, derlen);
	OPENSSL_free(der);
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
	X509_ALGOR *alg = NULL;
	uint8_t dg[EVP_MAX_MD_SIZE], *der = NULL, *adr = NULL, set[8];
	const uint8_t *tail;
	size_t derlen, tlen, sl;
	unsigned dglen;
	int alen, r;

	memset(&ber, 0, sizeof(ber));
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
	if ((alg = X509_ALGOR_new()) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	X509_ALGOR_set_md(alg, EVP_get_digestbynid(s->o->md_nid));
	if ((alen = i2d_X509_ALGOR(alg, &adr)) <= 0) {
		r = P11A_E_NOMEM;
		goto out;
	}
	set[0] = 0x31;
	sl = 1 + smime_der_len(set + 1, (size_t)alen);
	smime_put(&b64.base, head, sizeof(head));
	smime_put(&b64.base, set, sl);
	smime_put(&b64.base, adr, (size_t)alen);
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
	if ((r = digest_final(&s->hs, dg, &dglen)) != 0)
		goto out;
	if ((r = smime_build_signed_data(s->o->key, s->o->md_nid, s->o->pss, dg,
	                                 dglen, &der, &derlen)) != 0)
		goto out;
	if ((r = signed_data_tail(der, derlen, &tail, &tlen)) != 0)
		goto out;
	smime_put(&b64.base, tail, tlen);
	smime_put(&b64.base, eoc3, sizeof(eoc3));
	smime_finish(&b64.base);
	r = b64.base.err != 0 ? b64.base.err : o->err;
out:
	smime_bersink_cleanup(&ber);
	OPENSSL_free(adr);
	OPENSSL_free(der);
	X509_ALGOR_free(alg);
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
	    (r = smime_hashsink_add(&s->hs, EVP_get_digestbynid(o->md_nid))) !=
	        0)
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
	if (EVP_get_digestbynid(oo.md_nid) == NULL || oo.key == NULL)
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
