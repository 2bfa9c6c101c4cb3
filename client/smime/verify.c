/*
 * Verification (smime.h).
 *
 * A multipart/signed message is read once: the first part is hashed line
 * by line in its canonical form with every digest micalg names (all the
 * SHA family when it names none we know), nothing of it is kept in
 * memory, and only the small signature part is decoded.  The SignerInfo
 * is then checked with OpenSSL (signature over the signed attributes)
 * and the messageDigest attribute compared here with what was computed.
 * An opaque message (or a bare CMS file) is read once the same way: its
 * content is hashed as the BER streams by, and the rest is checked as a
 * detached signature.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "proto/err.h"
#include "ber.h"
#include "canon.h"
#include "der.h"
#include "internal.h"
#include "part.h"
#include "smime.h"
#include "store.h"

/*
 * Largest signature part decoded into memory; also the bound of what an
 * opaque message keeps besides its content (the same fields).
 */
#define SIG_MAX (16 * 1024 * 1024)

const char *
smime_vstatus_name(enum smime_vstatus s)
{
	switch (s) {
	case SMIME_V_VALID:
		return "valid";
	case SMIME_V_BAD_SIGNATURE:
		return "bad-signature";
	case SMIME_V_UNTRUSTED:
		return "untrusted";
	case SMIME_V_EXPIRED:
		return "expired";
	case SMIME_V_REVOKED:
		return "revoked";
	case SMIME_V_SENDER_MISMATCH:
		return "sender-mismatch";
	case SMIME_V_NOT_SIGNED:
		return "not-signed";
	default:
		return "malformed";
	}
}

void
smime_signer_info_cleanup(struct smime_signer_info *si)
{
	if (si == NULL)
		return;
	X509_free(si->cert);
	memset(si, 0, sizeof(*si));
}

static void
name_str(const X509_NAME *n, char *buf, size_t len)
{
	BIO *b;
	int got;

	buf[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0,
	                       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (got = BIO_read(b, buf, (int)len - 1)) > 0)
		buf[got] = '\0';
	BIO_free(b);
}

static void
time_str(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	buf[0] = '\0';
	if (t != NULL && ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
fill_signer(struct smime_signer_info *si, X509 *cert)
{
	smime_cert_first_email(cert, si->email, sizeof(si->email));
	name_str(X509_get_subject_name(cert), si->subject, sizeof(si->subject));
	name_str(X509_get_issuer_name(cert), si->issuer, sizeof(si->issuer));
	smime_cert_fingerprint(cert, si->fingerprint);
	time_str(X509_get0_notAfter(cert), si->not_after,
	         sizeof(si->not_after));
	if (si->cert == NULL && X509_up_ref(cert))
		si->cert = cert;
}

static void
md_name(int nid, char *buf, size_t len)
{
	const char *sn = OBJ_nid2sn(nid);
	size_t i;

	buf[0] = '\0';
	if (sn == NULL)
		return;
	for (i = 0; sn[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)sn[i]);
	buf[i] = '\0';
}

/* Revocation from the CRLs at hand, for every link of chain. */
static bool
is_revoked(STACK_OF(X509) * chain, STACK_OF(X509_CRL) * crls)
{
	X509_REVOKED *rev;
	X509_CRL *crl;
	EVP_PKEY *ik;
	X509 *x, *issuer;
	int i, j;

	for (i = 0; i + 1 < sk_X509_num(chain); i++) {
		x = sk_X509_value(chain, i);
		issuer = sk_X509_value(chain, i + 1);
		if ((ik = X509_get0_pubkey(issuer)) == NULL)
			continue;
		for (j = 0; j < sk_X509_CRL_num(crls); j++) {
			crl = sk_X509_CRL_value(crls, j);
			if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
			                  X509_get_issuer_name(x)) != 0 ||
			    X509_CRL_verify(crl, ik) != 1)
				continue;
			if (X509_CRL_get0_by_cert(crl, &rev, x) == 1)
				return true;
		}
	}
	ERR_clear_error();
	return false;
}

static void
load_crls_file(const char *path, STACK_OF(X509_CRL) * sk)
{
	X509_CRL *crl;
	BIO *b;

	if (path == NULL || (b = BIO_new_file(path, "r")) == NULL)
		return;
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_CRL_push(sk, crl))
			X509_CRL_free(crl);
	}
	BIO_free(b);
	ERR_clear_error();
}

/*
 * The system store as OpenSSL's defaults name it (SSL_CERT_DIR /
 * SSL_CERT_FILE honoured).  The hashed directory is read lazily, one file
 * per issuer looked up; the bundle file is parsed whole (~140 roots, tens
 * of milliseconds), so it is only added when the directory had no issuer.
 */
static void
add_system_trust(X509_STORE *xs, bool bundle)
{
	const char *dir = getenv(X509_get_default_cert_dir_env());
	const char *file = getenv(X509_get_default_cert_file_env());

	if (!bundle)
		X509_STORE_load_path(
		    xs, dir != NULL ? dir : X509_get_default_cert_dir());
	else
		X509_STORE_load_file(
		    xs, file != NULL ? file : X509_get_default_cert_file());
	ERR_clear_error();
}

static bool
issuer_missing(int err)
{
	return err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	       err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	       err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
	       err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
}

/* One chain build; X509_V_OK or the verification error. */
static int
build_chain(X509_STORE *xs, X509 *signer, STACK_OF(X509) * untrusted,
            const struct smime_verify_opts *o, STACK_OF(X509) * *chain)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err = X509_V_ERR_OUT_OF_MEM;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, xs, signer, untrusted) != 1)
		goto out;
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_SIGN);
	if (o->now != 0)
		X509_STORE_CTX_set_time(ctx, 0, o->now);
	if (X509_verify_cert(ctx) == 1) {
		err = X509_V_OK;
		*chain = X509_STORE_CTX_get1_chain(ctx);
	} else {
		err = X509_STORE_CTX_get_error(ctx);
	}
out:
	X509_STORE_CTX_free(ctx);
	return err;
}

/* Chain, purpose, validity and revocation of the signer certificate. */
static enum smime_vstatus
check_cert(X509 *signer, STACK_OF(X509) * untrusted, STACK_OF(X509_CRL) * crls,
           const struct smime_verify_opts *o, char *detail, size_t dlen)
{
	enum smime_vstatus st = SMIME_V_UNTRUSTED;
	X509_STORE *xs = NULL;
	STACK_OF(X509) *chain = NULL;
	int err, i;

	if ((xs = X509_STORE_new()) == NULL)
		goto out;
	if (!o->no_system_trust)
		add_system_trust(xs, false);
	if (o->store != NULL)
		smime_store_load_trust(o->store, xs);
	if (o->ca_file != NULL && X509_STORE_load_file(xs, o->ca_file) != 1) {
		snprintf(detail, dlen, "cannot read the CA file");
		goto out;
	}
	ERR_clear_error();
	err = build_chain(xs, signer, untrusted, o, &chain);
	if (err != X509_V_OK && issuer_missing(err) && !o->no_system_trust) {
		add_system_trust(xs, true);
		err = build_chain(xs, signer, untrusted, o, &chain);
	}
	if (err != X509_V_OK) {
		snprintf(detail, dlen, "%s",
		         X509_verify_cert_error_string(err));
		switch (err) {
		case X509_V_ERR_CERT_HAS_EXPIRED:
		case X509_V_ERR_CERT_NOT_YET_VALID:
			st = SMIME_V_EXPIRED;
			break;
		case X509_V_ERR_CERT_REVOKED:
			st = SMIME_V_REVOKED;
			break;
		case X509_V_ERR_INVALID_PURPOSE:
			snprintf(detail, dlen,
			         "certificate not for e-mail signing (key "
			         "usage or extended key usage)");
			/* FALLTHROUGH */
		default:
			st = SMIME_V_UNTRUSTED;
		}
		goto out;
	}
	if (is_revoked(chain, crls)) {
		snprintf(detail, dlen, "certificate revoked");
		st = SMIME_V_REVOKED;
		goto out;
	}
	st = SMIME_V_VALID;
	/* Keep the intermediates: later mail may come without them. */
	for (i = 1; o->store != NULL && i < sk_X509_num(chain); i++) {
		X509 *ca = sk_X509_value(chain, i);

		if (X509_check_issued(ca, ca) != X509_V_OK)
			smime_store_add(o->store, ca, 0, "chain");
	}
out:
	ERR_clear_error();
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_free(xs);
	return st;
}

static const uint8_t *
find_digest(const struct smime_digests *dg, int nid, unsigned *len)
{
	int i;

	for (i = 0; dg != NULL && i < dg->n; i++) {
		if (dg->nid[i] == nid) {
			*len = dg->len[i];
			return dg->md[i];
		}
	}
	return NULL;
}

/* Checks one SignerInfo; returns its verdict. */
static enum smime_vstatus
check_signer(CMS_ContentInfo *cms, CMS_SignerInfo *si, bool detached,
             const struct smime_digests *dg, STACK_OF(X509) * untrusted,
             STACK_OF(X509_CRL) * crls, const struct smime_verify_opts *o,
             struct smime_signer_info *info, unsigned *caps)
{
	X509 *signer = NULL;
	X509_ALGOR *pdig, *psig;
	const ASN1_OBJECT *dobj;
	ASN1_OCTET_STRING *mdattr, **content;
	ASN1_STRING *capstr;
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	uint8_t own[EVP_MAX_MD_SIZE];
	const uint8_t *want;
	unsigned wantlen = 0;
	const EVP_MD *md;
	int nid, i;
	enum smime_vstatus st;

	CMS_SignerInfo_get0_algs(si, NULL, &signer, &pdig, &psig);
	if (signer == NULL) {
		snprintf(info->detail, sizeof(info->detail),
		         "the signer's certificate is not in the message nor "
		         "in the store");
		return SMIME_V_UNTRUSTED;
	}
	fill_signer(info, signer);
	X509_ALGOR_get0(&dobj, NULL, NULL, pdig);
	nid = OBJ_obj2nid(dobj);
	md_name(nid, info->digest, sizeof(info->digest));
	if ((nid == NID_sha1 && !o->allow_sha1) || nid == NID_md5 ||
	    nid == NID_undef) {
		snprintf(info->detail, sizeof(info->detail),
		         nid == NID_sha1 ? "SHA-1 signatures are refused "
		                           "(--allow-sha1)"
		                         : "unsupported digest");
		return SMIME_V_BAD_SIGNATURE;
	}
	if (detached) {
		want = find_digest(dg, nid, &wantlen);
		if (want == NULL) {
			snprintf(info->detail, sizeof(info->detail),
			         dg != NULL && dg->from_digest_algs
			             ? "the signer's digest algorithm is not "
			               "announced in digestAlgorithms"
			             : "digest algorithm differs from micalg");
			return SMIME_V_BAD_SIGNATURE;
		}
	} else {
		if ((md = EVP_get_digestbynid(nid)) == NULL ||
		    (content = CMS_get0_content(cms)) == NULL ||
		    *content == NULL ||
		    EVP_Digest(ASN1_STRING_get0_data(*content),
		               (size_t)ASN1_STRING_length(*content), own,
		               &wantlen, md, NULL) != 1) {
			snprintf(info->detail, sizeof(info->detail),
			         "no content to check");
			return SMIME_V_BAD_SIGNATURE;
		}
		want = own;
	}
	/* Signing time, for the record. */
	if ((i = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1)) >=
	        0 &&
	    (a = CMS_signed_get_attr(si, i)) != NULL &&
	    (t = X509_ATTRIBUTE_get0_type(a, 0)) != NULL &&
	    (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME))
		time_str((ASN1_TIME *)t->value.asn1_string, info->signing_time,
		         sizeof(info->signing_time));
	if (CMS_signed_get_attr_count(si) < 0) {
		/* No signed attributes: rare; only PKCS #1 v1.5 and ECDSA. */
		EVP_PKEY_CTX *pc;
		ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
		int ok;

		pc = EVP_PKEY_CTX_new(X509_get0_pubkey(signer), NULL);
		ok = pc != NULL && EVP_PKEY_verify_init(pc) > 0 &&
		     EVP_PKEY_CTX_set_signature_md(
		         pc, EVP_get_digestbynid(nid)) > 0 &&
		     EVP_PKEY_verify(pc, ASN1_STRING_get0_data(sig),
		                     (size_t)ASN1_STRING_length(sig), want,
		                     wantlen) == 1;
		EVP_PKEY_CTX_free(pc);
		ERR_clear_error();
		if (!ok) {
			snprintf(info->detail, sizeof(info->detail),
			         "signature does not match");
			return SMIME_V_BAD_SIGNATURE;
		}
	} else {
		mdattr = CMS_signed_get0_data_by_OBJ(
		    si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3,
		    V_ASN1_OCTET_STRING);
		if (mdattr == NULL ||
		    (unsigned)ASN1_STRING_length(mdattr) != wantlen ||
		    CRYPTO_memcmp(ASN1_STRING_get0_data(mdattr), want,
		                  wantlen) != 0) {
			snprintf(info->detail, sizeof(info->detail),
			         "content does not match the signature "
			         "(modified)");
			return SMIME_V_BAD_SIGNATURE;
		}
		if (CMS_SignerInfo_verify(si) != 1) {
			ERR_clear_error();
			snprintf(info->detail, sizeof(info->detail),
			         "signature does not match");
			return SMIME_V_BAD_SIGNATURE;
		}
		capstr = CMS_signed_get0_data_by_OBJ(
		    si, OBJ_nid2obj(NID_SMIMECapabilities), -3,
		    V_ASN1_SEQUENCE);
		if (capstr != NULL)
			*caps = smime_caps_parse(ASN1_STRING_get0_data(capstr),
			                         ASN1_STRING_length(capstr));
	}
	st = check_cert(signer, untrusted, crls, o, info->detail,
	                sizeof(info->detail));
	if (st != SMIME_V_VALID)
		return st;
	if (o->from != NULL && o->from[0] != '\0' &&
	    !smime_cert_has_email(signer, o->from)) {
		snprintf(info->detail, sizeof(info->detail),
		         "From: address is not in the signer's certificate");
		return SMIME_V_SENDER_MISMATCH;
	}
	return SMIME_V_VALID;
}

/* Does a signer of cms have no certificate yet? */
static bool
signer_missing(CMS_ContentInfo *cms)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	X509 *signer;
	int i;

	for (i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
		CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(sis, i), NULL,
		                         &signer, NULL, NULL);
		if (signer == NULL)
			return true;
	}
	return false;
}

/*
 * A message without its signer's certificate: the one kept from earlier
 * mail, looked up among every stored certificate.
 */
static void
add_store_signers(CMS_ContentInfo *cms, struct smime_store *store)
{
	STACK_OF(X509) *all = sk_X509_new_null();

	if (all != NULL && smime_store_load_certs(store, all) == 0)
		CMS_set1_signers_certs(cms, all, CMS_NOINTERN);
	sk_X509_pop_free(all, X509_free);
}

int
smime_verify_cms(const uint8_t *der, size_t derlen, bool detached,
                 const struct smime_digests *dg,
                 const struct smime_verify_opts *o, enum smime_vstatus *status,
                 struct smime_signer_info *info)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) * sis;
	STACK_OF(X509) *untrusted = NULL, *extra = NULL;
	STACK_OF(X509_CRL) *crls = NULL, *cmscrls = NULL;
	struct smime_signer_info cur;
	const unsigned char *p = der;
	enum smime_vstatus st, best = SMIME_V_MALFORMED;
	unsigned caps = 0;
	int i, r = 0;
	bool have = false;

	memset(&cur, 0, sizeof(cur));
	*status = SMIME_V_MALFORMED;
	if (derlen > LONG_MAX ||
	    (cms = d2i_CMS_ContentInfo(NULL, &p, (long)derlen)) == NULL ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		snprintf(info->detail, sizeof(info->detail),
		         "the signature is not a CMS SignedData");
		goto out;
	}
	if (detached && CMS_is_detached(cms) == 0) {
		/* A detached signature that brings its own content signs
		 * something else than the part next to it. */
		*status = SMIME_V_BAD_SIGNATURE;
		snprintf(info->detail, sizeof(info->detail),
		         "detached signature carries content of its own");
		goto out;
	}
	if (!detached && CMS_is_detached(cms) == 1) {
		snprintf(info->detail, sizeof(info->detail),
		         "signed-data without content");
		goto out;
	}
	if ((untrusted = CMS_get1_certs(cms)) == NULL &&
	    (untrusted = sk_X509_new_null()) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	if ((extra = sk_X509_new_null()) == NULL ||
	    (crls = sk_X509_CRL_new_null()) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	if (o->store != NULL) {
		/* Intermediates only: the correspondents' own certificates
		 * (most of a grown store) are read below if a signer needs
		 * one. */
		smime_store_load_chain_certs(o->store, extra);
		smime_store_load_crls(o->store, crls);
	}
	for (i = 0; i < sk_X509_num(extra); i++) {
		X509 *x = sk_X509_value(extra, i);

		if (X509_up_ref(x) && !sk_X509_push(untrusted, x))
			X509_free(x);
	}
	if ((cmscrls = CMS_get1_crls(cms)) != NULL) {
		while (sk_X509_CRL_num(cmscrls) > 0)
			sk_X509_CRL_push(crls, sk_X509_CRL_pop(cmscrls));
	}
	load_crls_file(o->ca_file, crls);
	/* The message's own certificates first, then the store's. */
	CMS_set1_signers_certs(cms, NULL, 0);
	CMS_set1_signers_certs(cms, extra, CMS_NOINTERN);
	if (o->store != NULL && signer_missing(cms))
		add_store_signers(cms, o->store);
	ERR_clear_error();
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) <= 0) {
		*status = SMIME_V_NOT_SIGNED;
		snprintf(info->detail, sizeof(info->detail), "no signers");
		goto out;
	}
	/* The message is good when one signer is (RFC 5652 5.1). */
	for (i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
		caps = 0;
		smime_signer_info_cleanup(&cur);
		st =
		    check_signer(cms, sk_CMS_SignerInfo_value(sis, i), detached,
		                 dg, untrusted, crls, o, &cur, &caps);
		if (!have || st < best) {
			smime_signer_info_cleanup(info);
			*info = cur;
			memset(&cur, 0, sizeof(cur));
			best = st;
			have = true;
		}
		if (st == SMIME_V_VALID) {
			errno = 0;
			if (o->store != NULL && info->cert != NULL &&
			    smime_store_add(o->store, info->cert, caps,
			                    "verified") != 0)
				info->store_errno = errno != 0 ? errno : EIO;
			break;
		}
	}
	*status = best;
out:
	ERR_clear_error();
	smime_signer_info_cleanup(&cur);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	sk_X509_CRL_pop_free(cmscrls, X509_CRL_free);
	sk_X509_pop_free(untrusted, X509_free);
	sk_X509_pop_free(extra, X509_free);
	CMS_ContentInfo_free(cms);
	return r;
}

/* Streaming reading of a signed message. */

static int
add_md(struct smime_hashsink *hs, struct smime_digests *dg, int nid)
{
	int i;

	for (i = 0; i < dg->n; i++) {
		if (dg->nid[i] == nid)
			return 0;
	}
	if (dg->n == 4)
		return 0;
	dg->nid[dg->n++] = nid;
	return smime_hashsink_add(hs, nid);
}

/* The digests micalg names, or every SHA when it names none we know. */
static int
micalg_mds(const char *micalg, struct smime_hashsink *hs,
           struct smime_digests *dg)
{
	static const struct {
		const char *name;
		int nid;
	} names[] = {
	    {"sha-1", NID_sha1},     {"sha1", NID_sha1},
	    {"sha-256", NID_sha256}, {"sha256", NID_sha256},
	    {"sha-384", NID_sha384}, {"sha384", NID_sha384},
	    {"sha-512", NID_sha512}, {"sha512", NID_sha512},
	};
	char buf[128], *tok, *save = NULL;
	size_t i;
	int r;

	if (micalg != NULL && strlen(micalg) < sizeof(buf)) {
		strcpy(buf, micalg);
		for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
		     tok = strtok_r(NULL, ", \t", &save)) {
			for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
				if (smime_strcasecmp(tok, names[i].name) == 0 &&
				    (r = add_md(hs, dg, names[i].nid)) != 0)
					return r;
			}
		}
	}
	if (dg->n > 0)
		return 0;
	if ((r = add_md(hs, dg, NID_sha256)) != 0 ||
	    (r = add_md(hs, dg, NID_sha384)) != 0 ||
	    (r = add_md(hs, dg, NID_sha512)) != 0 ||
	    (r = add_md(hs, dg, NID_sha1)) != 0)
		return r;
	return 0;
}

/*
 * Reads a body up to the boundary b, or the end: base64-decoded (b64)
 * or raw, into mem.  *kind is 1 or 2 after a delimiter, 0 at the end.
 */
static int
read_part(struct smime_rd *rd, const char *b, bool b64,
          struct smime_memsink *mem, int *kind)
{
	struct smime_b64dec dec;
	const char *line;
	enum smime_eol eol;
	size_t len;
	bool at_start = true, pending = false;
	int r;

	*kind = 0;
	smime_b64dec_init(&dec, &mem->base);
	for (;;) {
		r = smime_rd_line(rd, &line, &len, &eol);
		if (r == SMIME_EOF)
			break;
		if (r != 0)
			return r;
		if (at_start && b != NULL &&
		    (*kind = smime_boundary_match(line, len, b, strlen(b))) !=
		        0)
			break;
		at_start = eol != SMIME_EOL_NONE;
		if (b64) {
			if ((r = smime_put(&dec.base, line, len)) != 0)
				return r;
			continue;
		}
		if (pending && (r = smime_put(&mem->base, "\r\n", 2)) != 0)
			return r;
		if ((r = smime_put(&mem->base, line, len)) != 0)
			return r;
		pending = eol != SMIME_EOL_NONE;
	}
	if (b64)
		return smime_finish(&dec.base);
	if (pending && b == NULL)
		return smime_put(&mem->base, "\r\n", 2);
	return 0;
}

static int
verify_multipart(struct smime_rd *rd, const char *b, const char *micalg,
                 int content_fd, const struct smime_verify_opts *o,
                 enum smime_vstatus *status, struct smime_signer_info *si)
{
	struct smime_hashsink hs;
	struct smime_fdsink cs;
	struct smime_digests dg;
	struct smime_memsink sig;
	struct smime_hdrs ph;
	struct smime_ct ct;
	enum smime_eol eol, pending = SMIME_EOL_NONE;
	const char *line;
	size_t len, blen = strlen(b);
	bool at_start = true, in_content = false, done = false;
	int i, kind, r;

	memset(&dg, 0, sizeof(dg));
	memset(&cs, 0, sizeof(cs));
	memset(&ct, 0, sizeof(ct));
	smime_hdrs_init(&ph);
	smime_memsink_init(&sig, SIG_MAX);
	if ((r = smime_hashsink_init(&hs)) != 0 ||
	    (r = micalg_mds(micalg, &hs, &dg)) != 0)
		goto out;
	if (content_fd >= 0 && (r = smime_fdsink_init(&cs, content_fd)) != 0)
		goto out;
	*status = SMIME_V_MALFORMED;
	for (;;) {
		r = smime_rd_line(rd, &line, &len, &eol);
		if (r == SMIME_EOF)
			break;
		if (r != 0)
			goto out;
		if (at_start &&
		    (kind = smime_boundary_match(line, len, b, blen)) != 0) {
			if (in_content || kind == 2) {
				done = kind == 1;
				break;
			}
			in_content = true;
			at_start = true;
			continue;
		}
		at_start = eol != SMIME_EOL_NONE;
		if (!in_content)
			continue;
		/* The line ending before the boundary is not content. */
		if (pending != SMIME_EOL_NONE) {
			smime_put(&hs.base, "\r\n", 2);
			if (content_fd >= 0)
				smime_put(&cs.base, "\r\n", 2);
		}
		smime_put(&hs.base, line, len);
		if (content_fd >= 0)
			smime_put(&cs.base, line, len);
		pending = eol;
		if (hs.base.err != 0 || cs.base.err != 0) {
			r = hs.base.err != 0 ? hs.base.err : cs.base.err;
			goto out;
		}
	}
	if (!done) {
		snprintf(si->detail, sizeof(si->detail),
		         "multipart/signed without its two parts");
		r = 0;
		goto out;
	}
	if ((r = smime_finish(&hs.base)) != 0 ||
	    (content_fd >= 0 && (r = smime_finish(&cs.base)) != 0))
		goto out;
	for (i = 0; i < dg.n; i++) {
		if ((r = smime_hashsink_final(&hs, i, dg.md[i], &dg.len[i])) !=
		    0)
			goto out;
	}
	/* The signature part. */
	if ((r = smime_hdrs_read(&ph, rd)) != 0) {
		r = 0;
		snprintf(si->detail, sizeof(si->detail),
		         "bad header in the signature part");
		goto out;
	}
	smime_ct_parse(&ct, smime_hdrs_value(&ph, "Content-Type"));
	r = read_part(rd, b,
	              smime_cte_parse(
	                  smime_hdrs_value(&ph, "Content-Transfer-Encoding")) ==
	                  SMIME_CTE_BASE64,
	              &sig, &kind);
	if (r == P11A_E_FORMAT || r == P11A_E_TOO_LARGE) {
		snprintf(si->detail, sizeof(si->detail),
		         "the signature part does not decode");
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	/*
	 * multipart/signed has exactly two parts and ends with the close
	 * delimiter: anything else was cut short or had parts added.
	 */
	if (kind != 2) {
		snprintf(si->detail, sizeof(si->detail),
		         kind == 0
		             ? "the message ends before its closing "
		               "boundary"
		             : "multipart/signed with more than two parts");
		goto out;
	}
	if (!smime_ct_is(&ct, "application/pkcs7-signature") &&
	    !smime_ct_is(&ct, "application/x-pkcs7-signature")) {
		snprintf(si->detail, sizeof(si->detail),
		         "the second part is not an S/MIME signature");
		goto out;
	}
	r = smime_verify_cms(sig.buf, sig.len, true, &dg, o, status, si);
out:
	smime_ct_cleanup(&ct);
	smime_hdrs_cleanup(&ph);
	smime_memsink_cleanup(&sig);
	smime_hashsink_cleanup(&hs);
	smime_fdsink_cleanup(&cs);
	return r;
}

bool
smime_is_pkcs7_mime(const struct smime_ct *ct)
{
	const char *name = smime_ct_param(ct, "name");
	size_t n;

	if (smime_ct_is(ct, "application/pkcs7-mime") ||
	    smime_ct_is(ct, "application/x-pkcs7-mime"))
		return true;
	if (!smime_ct_is(ct, "application/octet-stream") || name == NULL)
		return false;
	n = strlen(name);
	return n > 4 && smime_strcasecmp(name + n - 4, ".p7m") == 0;
}

enum smime_ber_enc
smime_body_enc(const struct smime_hdrs *h)
{
	return smime_cte_parse(smime_hdrs_value(
	           h, "Content-Transfer-Encoding")) == SMIME_CTE_BASE64
	           ? SMIME_BER_BASE64
	           : SMIME_BER_RAW;
}

int
smime_read_body(struct smime_rd *rd, const struct smime_hdrs *h,
                struct smime_memsink *mem)
{
	int kind;

	return read_part(rd, NULL, smime_body_enc(h) == SMIME_BER_BASE64, mem,
	                 &kind);
}

/*
 * Opaque signed-data, streamed.  ContentInfo -> [0] -> SignedData is
 * walked as it is read: the content (eContent) goes through the digests
 * that digestAlgorithms announces and on to the content output, while
 * the small fields around it (version, digestAlgorithms, eContentType,
 * certificates, CRLs, signerInfos) are kept as a SignedData without
 * eContent.  That detached form is then checked by smime_verify_cms()
 * like the signature part of a multipart/signed, with the digests
 * computed here, so memory does not depend on the size of the content.
 */

/* Another content type is read whole, up to this. */
#define OTHER_MAX ((size_t)1024 * 1024 * 1024)
/* Room in front of the kept fields for the headers that wrap them. */
#define HDR_ROOM 32
/* An eContentType or digest algorithm OID. */
#define OID_MAX 64
/* Constructed strings inside constructed strings: as OpenSSL's d2i. */
#define STRING_NEST 5

/* How a failure is worded, as the CMS came as mail or as a bare file. */
struct opaque_words {
	const char *undecodable; /* the base64 or PEM around it is broken */
	const char *not_signed;  /* another content type */
	const char *no_content;  /* a detached signature */
};

static const struct opaque_words mail_words = {
    "the body does not decode",
    "encrypted, not signed (p11 decrypt --verify)",
    "signed-data without content",
};

static const struct opaque_words bare_words = {
    "the CMS does not decode",
    "not a signed-data",
    "a detached signature without its content",
};

/* Content bytes to the digests, and to the content output when wanted. */
struct teesink {
	struct smime_sink base;
	struct smime_sink *digests;
	struct smime_sink *content; /* or NULL */
};

static int
tee_write(struct smime_sink *base, const void *p, size_t n)
{
	struct teesink *t = (struct teesink *)base;
	int r;

	if ((r = smime_put(t->digests, p, n)) != 0)
		return r;
	return t->content != NULL ? smime_put(t->content, p, n) : 0;
}

struct opaque {
	struct smime_rd *d; /* the decoded CMS */
	const struct smime_verify_opts *o;
	struct smime_hashsink hs;
	struct smime_fdsink cs; /* the content output, when wanted */
	struct teesink tee;
	struct smime_digests dg;
	/* HDR_ROOM bytes, then the SignedData fields without eContent. */
	struct smime_memsink kept;
	struct smime_memsink small; /* one field, for a closer look */
	/* ContentInfo, [0], SignedData, encapContentInfo, [0] eContent */
	struct smime_ber_lvl lv[5];
	bool is_signed, have_content;
};

static int
opaque_init(struct opaque *op, struct smime_rd *d, int content_fd,
            const struct smime_verify_opts *o)
{
	static const uint8_t room[HDR_ROOM];
	int r;

	memset(op, 0, sizeof(*op));
	op->d = d;
	op->o = o;
	op->dg.from_digest_algs = true;
	smime_memsink_init(&op->kept, SIG_MAX);
	smime_memsink_init(&op->small, SMIME_BER_SMALL_MAX);
	op->tee.base.write = tee_write;
	op->tee.digests = &op->hs.base;
	if ((r = smime_hashsink_init(&op->hs)) != 0 ||
	    (r = smime_put(&op->kept.base, room, sizeof(room))) != 0)
		return r;
	if (content_fd < 0)
		return 0;
	op->tee.content = &op->cs.base;
	return smime_fdsink_init(&op->cs, content_fd);
}

static void
opaque_cleanup(struct opaque *op)
{
	smime_hashsink_cleanup(&op->hs);
	smime_fdsink_cleanup(&op->cs);
	smime_memsink_cleanup(&op->kept);
	smime_memsink_cleanup(&op->small);
}

/* The next field of level i, which must be there with tag. */
static int
next_field(struct opaque *op, int i, uint8_t tag, struct smime_ber_hdr *h)
{
	bool end;
	int r;

	if ((r = smime_ber_next(op->d, &op->lv[i], h, &end)) != 0)
		return r;
	return !end && h->tag == tag ? 0 : P11A_E_FORMAT;
}

/* The next field as a new level i + 1. */
static int
open_level(struct opaque *op, int i, uint8_t tag)
{
	struct smime_ber_hdr h;
	int r;

	if ((r = next_field(op, i, tag, &h)) != 0)
		return r;
	smime_ber_lvl_set(&op->lv[i + 1], op->d, &h);
	return 0;
}

/*
 * ContentInfo { contentType: is it signed-data?  The bytes read stay in
 * op->small, for read_other().
 */
static int
read_content_type(struct opaque *op)
{
	static const uint8_t signed_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
	                                      0x0d, 0x01, 0x07, 0x02};
	struct smime_ber_hdr h;
	uint8_t oid[OID_MAX];
	int r;

	op->small.len = 0;
	if ((r = smime_ber_hdr_read(op->d, &h)) != 0)
		return r;
	if (h.tag != 0x30)
		return P11A_E_FORMAT;
	smime_ber_lvl_set(&op->lv[0], op->d, &h);
	if ((r = smime_put(&op->small.base, h.raw, h.rawlen)) != 0 ||
	    (r = next_field(op, 0, 0x06, &h)) != 0)
		return r;
	if (h.len > sizeof(oid))
		return P11A_E_FORMAT;
	if ((r = smime_ber_get(op->d, oid, h.len)) != 0 ||
	    (r = smime_put(&op->small.base, h.raw, h.rawlen)) != 0 ||
	    (r = smime_put(&op->small.base, oid, h.len)) != 0)
		return r;
	op->is_signed = h.len == sizeof(signed_data) &&
	                memcmp(oid, signed_data, h.len) == 0;
	return 0;
}

/*
 * Another content type (enveloped, most likely): not signed.  It is
 * read whole and parsed first, as before streaming, so that a damaged
 * CMS stays malformed; this is no signed message, so its size is not
 * what verification is for.
 */
static int
read_other(struct opaque *op, const struct opaque_words *w,
           enum smime_vstatus *status, struct smime_signer_info *si)
{
	struct smime_memsink whole;
	CMS_ContentInfo *cms = NULL;
	const unsigned char *p;
	uint8_t buf[16384];
	size_t got;
	int r;

	smime_memsink_init(&whole, OTHER_MAX);
	if ((r = smime_put(&whole.base, op->small.buf, op->small.len)) != 0)
		goto out;
	do {
		if ((r = smime_rd_read(op->d, buf, sizeof(buf), &got)) != 0 ||
		    (r = smime_put(&whole.base, buf, got)) != 0)
			goto out;
	} while (got > 0);
	p = whole.buf;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)whole.len)) == NULL) {
		snprintf(si->detail, sizeof(si->detail), "not CMS");
		goto out;
	}
	*status = SMIME_V_NOT_SIGNED;
	snprintf(si->detail, sizeof(si->detail), "%s", w->not_signed);
out:
	if (r == P11A_E_TOO_LARGE) {
		snprintf(si->detail, sizeof(si->detail), "%s", w->undecodable);
		r = 0;
	}
	CMS_ContentInfo_free(cms);
	smime_memsink_cleanup(&whole);
	return r;
}

/*
 * Starts the digest one AlgorithmIdentifier names (its OID, DER at p),
 * unless no signer could use it: unknown, XOF, or refused by
 * check_signer() before any digest is looked at.
 */
static int
announce_digest(struct opaque *op, const uint8_t *p, size_t len)
{
	const unsigned char *cp = p;
	ASN1_OBJECT *obj;
	const EVP_MD *md;
	int nid;

	if ((obj = d2i_ASN1_OBJECT(NULL, &cp, (long)len)) == NULL) {
		ERR_clear_error();
		return P11A_E_FORMAT;
	}
	nid = OBJ_obj2nid(obj);
	ASN1_OBJECT_free(obj);
	/* Only digests digest.h computes (the SHA-2 and SHA-3 families). */
	if (nid == NID_undef || nid == NID_md5 || smime_digest_size(nid) == 0 ||
	    (nid == NID_sha1 && !op->o->allow_sha1) ||
	    (md = EVP_get_digestbynid(nid)) == NULL ||
	    (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF) != 0 ||
	    EVP_MD_get_size(md) > (int)sizeof(op->dg.md[0]))
		return 0;
	return add_md(&op->hs, &op->dg, nid);
}

/* digestAlgorithms (DER in op->small): SET OF AlgorithmIdentifier. */
static int
announce_digests(struct opaque *op)
{
	const uint8_t *p = op->small.buf;
	size_t n = op->small.len, hdr, clen, ohdr, olen;
	uint8_t tag, otag;
	int r;

	if (smime_der_tlv(p, n, &tag, &hdr, &clen) != 0 || tag != 0x31 ||
	    hdr + clen != n)
		return P11A_E_FORMAT;
	p += hdr;
	for (n = clen; n > 0; p += hdr + clen, n -= hdr + clen) {
		if (smime_der_tlv(p, n, &tag, &hdr, &clen) != 0 ||
		    tag != 0x30 ||
		    smime_der_tlv(p + hdr, clen, &otag, &ohdr, &olen) != 0 ||
		    otag != 0x06 || ohdr + olen > OID_MAX)
			return P11A_E_FORMAT;
		if ((r = announce_digest(op, p + hdr, ohdr + olen)) != 0)
			return r;
	}
	return 0;
}

/* [0] { SignedData { version, digestAlgorithms: kept, digests started. */
static int
read_signed_head(struct opaque *op)
{
	struct smime_ber_hdr h;
	int r;

	op->small.len = 0;
	if ((r = open_level(op, 0, 0xa0)) != 0 ||
	    (r = open_level(op, 1, 0x30)) != 0 ||
	    (r = next_field(op, 2, 0x02, &h)) != 0 ||
	    (r = smime_ber_read_tlv(op->d, &h, &op->kept)) != 0 ||
	    (r = next_field(op, 2, 0x31, &h)) != 0 ||
	    (r = smime_ber_read_small(op->d, &h, &op->small)) != 0 ||
	    (r = announce_digests(op)) != 0)
		return r;
	return smime_put(&op->kept.base, op->small.buf, op->small.len);
}

/*
 * encapContentInfo { eContentType, [0] EXPLICIT OCTET STRING OPTIONAL }:
 * the content streamed through the digests, and kept without it.
 */
static int
read_encap(struct opaque *op)
{
	struct smime_ber_hdr h;
	uint8_t len[5];
	size_t n;
	bool end;
	int r;

	op->small.len = 0;
	if ((r = open_level(op, 2, 0x30)) != 0 ||
	    (r = next_field(op, 3, 0x06, &h)) != 0)
		return r;
	if (h.len > OID_MAX)
		return P11A_E_FORMAT;
	if ((r = smime_ber_read_tlv(op->d, &h, &op->small)) != 0 ||
	    (r = smime_ber_next(op->d, &op->lv[3], &h, &end)) != 0)
		return r;
	if (!end) {
		if (h.tag != 0xa0)
			return P11A_E_FORMAT;
		smime_ber_lvl_set(&op->lv[4], op->d, &h);
		if ((r = smime_ber_next(op->d, &op->lv[4], &h, &end)) != 0)
			return r;
		if (end)
			return P11A_E_FORMAT;
		if ((r = smime_ber_string_stream(op->d, &h, 0x04, STRING_NEST,
		                                 &op->tee.base)) != 0 ||
		    (r = smime_ber_lvl_end(op->d, &op->lv[4])) != 0 ||
		    (r = smime_ber_lvl_end(op->d, &op->lv[3])) != 0)
			return r;
		op->have_content = true;
	}
	n = smime_der_len(len, op->small.len);
	if ((r = smime_put(&op->kept.base, "\x30", 1)) != 0 ||
	    (r = smime_put(&op->kept.base, len, n)) != 0)
		return r;
	return smime_put(&op->kept.base, op->small.buf, op->small.len);
}

/*
 * certificates [0], crls [1], signerInfos: kept as they come (OpenSSL
 * parses them later); then every level must close and the input end
 * cleanly.
 */
static int
read_rest(struct opaque *op)
{
	struct smime_ber_hdr h;
	bool end;
	int r;

	for (;;) {
		if ((r = smime_ber_next(op->d, &op->lv[2], &h, &end)) != 0)
			return r;
		if (end)
			break;
		if ((r = smime_ber_read_tlv(op->d, &h, &op->kept)) != 0)
			return r;
	}
	if ((r = smime_ber_lvl_end(op->d, &op->lv[1])) != 0 ||
	    (r = smime_ber_lvl_end(op->d, &op->lv[0])) != 0)
		return r;
	/* Bytes after the ContentInfo were always let be; base64 errors
	 * were not. */
	return smime_ber_drain(op->d);
}

/* A tag and DER length written just before buf[*pos]. */
static void
put_hdr_before(uint8_t *buf, size_t *pos, uint8_t tag, size_t len)
{
	uint8_t l[5];
	size_t n = smime_der_len(l, len);

	*pos -= n;
	memcpy(buf + *pos, l, n);
	buf[--*pos] = tag;
}

/*
 * Wraps the kept fields in the room left in front of them: ContentInfo {
 * signedData, [0] { SignedData { ... } } }, as DER lengths.
 */
static void
assemble(struct opaque *op, const uint8_t **der, size_t *len)
{
	static const uint8_t signed_data[] = {
	    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
	uint8_t *buf = op->kept.buf;
	size_t pos = HDR_ROOM, fields = op->kept.len - HDR_ROOM;

	put_hdr_before(buf, &pos, 0x30, fields);
	put_hdr_before(buf, &pos, 0xa0, op->kept.len - pos);
	pos -= sizeof(signed_data);
	memcpy(buf + pos, signed_data, sizeof(signed_data));
	put_hdr_before(buf, &pos, 0x30, op->kept.len - pos);
	*der = buf + pos;
	*len = op->kept.len - pos;
}

static bool
parses_as_cms(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	bool ok = cms != NULL && p == der + len;

	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return ok;
}

static int
finish_digests(struct opaque *op)
{
	int i, r;

	for (i = 0; i < op->dg.n; i++) {
		if ((r = smime_hashsink_final(&op->hs, i, op->dg.md[i],
		                              &op->dg.len[i])) != 0)
			return r;
	}
	return 0;
}

/*
 * A failure while walking the CMS.  The reader's own errors (I/O,
 * memory) stay errors; the rest makes the message malformed, worded as
 * when the whole transfer encoding was decoded before the CMS was looked
 * at: a broken base64 or PEM anywhere says so, else the CMS is wrong.
 */
static int
walk_failed(struct smime_ber_src *src, int r, const struct opaque_words *w,
            struct smime_signer_info *si)
{
	int dr;

	if (r != P11A_E_FORMAT && r != P11A_E_TOO_LARGE)
		return r;
	if (!src->bad_encoding && (dr = smime_ber_drain(&src->rd)) != 0 &&
	    dr != P11A_E_FORMAT)
		return dr;
	if (src->bad_encoding)
		snprintf(si->detail, sizeof(si->detail), "%s", w->undecodable);
	else if (r == P11A_E_TOO_LARGE)
		snprintf(si->detail, sizeof(si->detail),
		         "certificates, CRLs or signer infos too large");
	else
		snprintf(si->detail, sizeof(si->detail), "not CMS");
	return 0;
}

/* The signed-data is whole and parsed: the verdict. */
static int
check_opaque(struct opaque *op, const struct opaque_words *w,
             enum smime_vstatus *status, struct smime_signer_info *si)
{
	const uint8_t *der;
	size_t len;
	int r;

	assemble(op, &der, &len);
	if (!parses_as_cms(der, len)) {
		snprintf(si->detail, sizeof(si->detail), "not CMS");
		return 0;
	}
	if (!op->have_content) {
		snprintf(si->detail, sizeof(si->detail), "%s", w->no_content);
		return 0;
	}
	if ((r = finish_digests(op)) != 0 ||
	    (r = smime_verify_cms(der, len, true, &op->dg, op->o, status,
	                          si)) != 0)
		return r;
	return op->tee.content != NULL ? smime_finish(op->tee.content) : 0;
}

/*
 * Verifies the opaque signed-data that lines holds in encoding enc (a
 * mail body, or a bare CMS file); the content goes to content_fd as it
 * is read when that is >= 0.  Another content type is not signed (when
 * it parses).
 */
static int
verify_opaque(struct smime_rd *lines, enum smime_ber_enc enc, int content_fd,
              const struct smime_verify_opts *o, const struct opaque_words *w,
              enum smime_vstatus *status, struct smime_signer_info *si)
{
	struct smime_ber_src src;
	struct opaque op;
	int r;

	*status = SMIME_V_MALFORMED;
	memset(&src, 0, sizeof(src));
	memset(&op, 0, sizeof(op));
	if ((r = smime_ber_src_open(&src, lines, enc)) != 0 ||
	    (r = opaque_init(&op, &src.rd, content_fd, o)) != 0)
		goto out;
	if ((r = read_content_type(&op)) != 0)
		goto bad;
	if (!op.is_signed) {
		if ((r = read_other(&op, w, status, si)) != 0)
			goto bad;
		goto out;
	}
	if ((r = read_signed_head(&op)) != 0 || (r = read_encap(&op)) != 0 ||
	    (r = read_rest(&op)) != 0)
		goto bad;
	r = check_opaque(&op, w, status, si);
	goto out;
bad:
	r = walk_failed(&src, r, w, si);
out:
	ERR_clear_error();
	opaque_cleanup(&op);
	smime_ber_src_close(&src);
	return r;
}

/* Bare CMS input (DER or PEM) instead of mail: 1 when the input is mail. */
static int
verify_bare(struct smime_rd *rd, int content_fd,
            const struct smime_verify_opts *o, enum smime_vstatus *status,
            struct smime_signer_info *si)
{
	const uint8_t *p;
	size_t avail;
	int r;

	if ((r = smime_rd_peek(rd, 11, &p, &avail)) != 0)
		return r;
	/* A SEQUENCE longer than 127 bytes: no header field starts so. */
	if (avail >= 2 && p[0] == 0x30 && (p[1] == 0x80 || p[1] >= 0x81))
		return verify_opaque(rd, SMIME_BER_RAW, content_fd, o,
		                     &bare_words, status, si);
	if (avail >= 11 && memcmp(p, "-----BEGIN ", 11) == 0)
		return verify_opaque(rd, SMIME_BER_PEM, content_fd, o,
		                     &bare_words, status, si);
	return 1;
}
int
smime_verify(struct smime_rd *rd, int content_fd,
             const struct smime_verify_opts *o, enum smime_vstatus *status,
             struct smime_signer_info *si)
{
	struct smime_hdrs h;
	int r;

	memset(si, 0, sizeof(*si));
	*status = SMIME_V_MALFORMED;
	smime_hdrs_init(&h);
	if ((r = verify_bare(rd, content_fd, o, status, si)) != 1)
		goto out;
	if ((r = smime_hdrs_read(&h, rd)) != 0) {
		if (r == P11A_E_FORMAT || r == P11A_E_TOO_LARGE) {
			snprintf(si->detail, sizeof(si->detail),
			         "not a mail message");
			r = 0;
		}
		goto out;
	}
	r = smime_verify_entity(rd, &h, content_fd, o, status, si);
out:
	smime_hdrs_cleanup(&h);
	return r;
}

/* Multiparts are searched one level deep for a signed part. */
static bool
depth_ok(const struct smime_verify_opts *o)
{
	return !o->in_part;
}

static bool
is_signed_part(const struct smime_ct *ct)
{
	return smime_ct_is(ct, "multipart/signed") || smime_is_pkcs7_mime(ct);
}

/* The first signed part, read only up to its own end. */
static int
verify_in_multipart(struct smime_rd *rd, const char *b, int content_fd,
                    const struct smime_verify_opts *o,
                    enum smime_vstatus *status, struct smime_signer_info *si)
{
	struct smime_verify_opts oo = *o;
	struct smime_part_src src;
	struct smime_rd part;
	struct smime_hdrs ph;
	struct smime_ct ct;
	bool found;
	int r;

	*status = SMIME_V_NOT_SIGNED;
	snprintf(si->detail, sizeof(si->detail), "no S/MIME signature");
	oo.in_part = true;
	smime_hdrs_init(&ph);
	memset(&ct, 0, sizeof(ct));
	memset(&part, 0, sizeof(part));
	memset(&src, 0, sizeof(src));
	r = smime_part_find(rd, b, is_signed_part, &ph, &ct, &part, &src,
	                    &found);
	if (r == 0 && found)
		r = smime_verify_entity(&part, &ph, content_fd, &oo, status,
		                        si);
	smime_part_rd_cleanup(&part, &src);
	smime_ct_cleanup(&ct);
	smime_hdrs_cleanup(&ph);
	return r;
}

int
smime_verify_entity(struct smime_rd *rd, const struct smime_hdrs *hh,
                    int content_fd, const struct smime_verify_opts *o,
                    enum smime_vstatus *status, struct smime_signer_info *si)
{
	const struct smime_hdrs *h = hh;
	struct smime_verify_opts oo = *o;
	struct smime_ct ct;
	const char *b, *proto;
	char from[256];
	int r = 0;

	*status = SMIME_V_MALFORMED;
	memset(&ct, 0, sizeof(ct));
	if (oo.from == NULL &&
	    smime_addr_first(smime_hdrs_value(h, "From"), from, sizeof(from)))
		oo.from = from;
	smime_ct_parse(&ct, smime_hdrs_value(h, "Content-Type"));
	if (smime_ct_is(&ct, "multipart/signed")) {
		b = smime_ct_param(&ct, "boundary");
		proto = smime_ct_param(&ct, "protocol");
		if (proto != NULL &&
		    smime_strcasecmp(proto, "application/pkcs7-signature") !=
		        0 &&
		    smime_strcasecmp(proto, "application/x-pkcs7-signature") !=
		        0) {
			*status = SMIME_V_NOT_SIGNED;
			snprintf(si->detail, sizeof(si->detail),
			         "signed with another protocol (%.64s)", proto);
			goto out;
		}
		if (b == NULL || b[0] == '\0') {
			snprintf(si->detail, sizeof(si->detail),
			         "multipart/signed without a boundary");
			goto out;
		}
		r = verify_multipart(rd, b, smime_ct_param(&ct, "micalg"),
		                     content_fd, &oo, status, si);
		goto out;
	}
	if (smime_ct_is_multipart(&ct) && smime_ct_param(&ct, "boundary") &&
	    depth_ok(o)) {
		/* A signed part inside a multipart (a mailing list footer
		 * added after signing): the first one is checked. */
		r = verify_in_multipart(rd, smime_ct_param(&ct, "boundary"),
		                        content_fd, &oo, status, si);
		goto out;
	}
	if (!smime_is_pkcs7_mime(&ct)) {
		*status = SMIME_V_NOT_SIGNED;
		snprintf(si->detail, sizeof(si->detail), "no S/MIME signature");
		goto out;
	}
	r = verify_opaque(rd, smime_body_enc(h), content_fd, &oo, &mail_words,
	                  status, si);
out:
	smime_ct_cleanup(&ct);
	return r;
}
