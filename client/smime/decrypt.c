/*
 * Decryption (smime.h): EnvelopedData and AuthEnvelopedData with RSA key
 * transport (PKCS #1 v1.5, OAEP with any hash and label) and ECDH key
 * agreement (RFC 5753: the key derives the shared secret, the X9.63 KDF
 * and the AES key unwrap run here), then any nesting of signed and
 * enveloped layers down to the innermost MIME entity.
 *
 * OpenSSL parses the BER and re-encodes it as DER; the fields the public
 * CMS API does not reach (the encrypted keys) are then read from that DER
 * with der.h, and the content is decrypted with EVP here, so that every
 * private-key operation goes through struct smime_key.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/err.h"
#include "ber.h"
#include "der.h"
#include "internal.h"
#include "part.h"
#include "smime.h"

#define MSG_MAX ((size_t)1024 * 1024 * 1024)
#define MAX_LAYERS 8

const char *
smime_dstatus_name(enum smime_dstatus s)
{
	switch (s) {
	case SMIME_D_OK:
		return "ok";
	case SMIME_D_NOT_A_RECIPIENT:
		return "not-a-recipient";
	case SMIME_D_UNSUPPORTED:
		return "unsupported";
	case SMIME_D_INTEGRITY_FAILURE:
		return "integrity-failure";
	case SMIME_D_LOGIN_REQUIRED:
		return "login-required";
	default:
		return "malformed";
	}
}

void
smime_decrypt_result_cleanup(struct smime_decrypt_result *res)
{
	if (res == NULL)
		return;
	smime_signer_info_cleanup(&res->signer);
}

/* A TLV view. */
struct tlv {
	uint8_t tag;
	const uint8_t *p; /* whole TLV */
	size_t len;       /* whole TLV */
	const uint8_t *c; /* contents */
	size_t clen;
};

static int
tlv_get(const uint8_t **p, size_t *len, struct tlv *t)
{
	size_t hdr, clen;
	int r;

	if ((r = smime_der_tlv(*p, *len, &t->tag, &hdr, &clen)) != 0)
		return r;
	t->p = *p;
	t->len = hdr + clen;
	t->c = *p + hdr;
	t->clen = clen;
	*p += t->len;
	*len -= t->len;
	return 0;
}

/* Contents of t as a cursor. */
static void
tlv_in(const struct tlv *t, const uint8_t **p, size_t *len)
{
	*p = t->c;
	*len = t->clen;
}

struct env {
	bool aead;
	struct tlv ris;    /* SET OF RecipientInfo */
	struct tlv calg;   /* contentEncryptionAlgorithm */
	struct tlv ectype; /* contentType of the encrypted content */
	struct tlv ec;     /* [0] encryptedContent (primitive after DER) */
	bool have_ec;
	struct tlv aattrs; /* [1] authAttrs (AuthEnvelopedData) */
	bool have_aattrs;
	struct tlv mac;
};

/* Walks ContentInfo -> (Auth)EnvelopedData of a DER encoding. */
static int
parse_env(const uint8_t *der, size_t len, struct env *e)
{
	const uint8_t *p = der, *q;
	size_t n = len, m;
	struct tlv t, ci, eci;
	ASN1_OBJECT *obj = NULL;
	const unsigned char *op;
	int nid;

	memset(e, 0, sizeof(*e));
	if (tlv_get(&p, &n, &ci) != 0 || ci.tag != 0x30)
		return P11A_E_FORMAT;
	tlv_in(&ci, &p, &n);
	if (tlv_get(&p, &n, &t) != 0 || t.tag != 0x06)
		return P11A_E_FORMAT;
	op = t.p;
	if ((obj = d2i_ASN1_OBJECT(NULL, &op, (long)t.len)) == NULL)
		return P11A_E_FORMAT;
	nid = OBJ_obj2nid(obj);
	ASN1_OBJECT_free(obj);
	if (nid == NID_id_smime_ct_authEnvelopedData)
		e->aead = true;
	else if (nid != NID_pkcs7_enveloped)
		return P11A_E_FORMAT;
	if (tlv_get(&p, &n, &t) != 0 || t.tag != 0xa0)
		return P11A_E_FORMAT;
	tlv_in(&t, &p, &n);
	if (tlv_get(&p, &n, &t) != 0 || t.tag != 0x30)
		return P11A_E_FORMAT;
	tlv_in(&t, &p, &n);
	if (tlv_get(&p, &n, &t) != 0 || t.tag != 0x02) /* version */
		return P11A_E_FORMAT;
	if (tlv_get(&p, &n, &t) != 0)
		return P11A_E_FORMAT;
	if (t.tag == 0xa0 && tlv_get(&p, &n, &t) != 0) /* originatorInfo */
		return P11A_E_FORMAT;
	if (t.tag != 0x31)
		return P11A_E_FORMAT;
	e->ris = t;
	if (tlv_get(&p, &n, &eci) != 0 || eci.tag != 0x30)
		return P11A_E_FORMAT;
	tlv_in(&eci, &q, &m);
	if (tlv_get(&q, &m, &e->ectype) != 0 || e->ectype.tag != 0x06 ||
	    tlv_get(&q, &m, &e->calg) != 0 || e->calg.tag != 0x30)
		return P11A_E_FORMAT;
	if (m > 0) {
		if (tlv_get(&q, &m, &e->ec) != 0 || e->ec.tag != 0x80)
			return P11A_E_FORMAT;
		e->have_ec = true;
	}
	if (!e->aead)
		return 0;
	if (tlv_get(&p, &n, &t) != 0)
		return P11A_E_FORMAT;
	if (t.tag == 0xa1) {
		e->aattrs = t;
		e->have_aattrs = true;
		if (tlv_get(&p, &n, &t) != 0)
			return P11A_E_FORMAT;
	}
	if (t.tag != 0x04)
		return P11A_E_FORMAT;
	e->mac = t;
	return 0;
}

static X509_ALGOR *
algor_of(const struct tlv *t)
{
	const unsigned char *p = t->p;

	return d2i_X509_ALGOR(NULL, &p, (long)t->len);
}

/* Does a RecipientIdentifier (issuerAndSerial or [0] SKI) name cert? */
static bool
rid_matches(const struct tlv *rid, X509 *cert, bool rkeyid)
{
	const ASN1_OCTET_STRING *ski;
	const uint8_t *p;
	size_t n;
	struct tlv t, u;
	X509_NAME *name = NULL;
	ASN1_INTEGER *serial = NULL;
	const unsigned char *op;
	bool ok = false;

	if (rid->tag == 0x30) {
		tlv_in(rid, &p, &n);
		if (tlv_get(&p, &n, &t) != 0 || tlv_get(&p, &n, &u) != 0 ||
		    u.tag != 0x02)
			return false;
		op = t.p;
		name = d2i_X509_NAME(NULL, &op, (long)t.len);
		op = u.p;
		serial = d2i_ASN1_INTEGER(NULL, &op, (long)u.len);
		ok =
		    name != NULL && serial != NULL &&
		    X509_NAME_cmp(name, X509_get_issuer_name(cert)) == 0 &&
		    ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(cert)) == 0;
		X509_NAME_free(name);
		ASN1_INTEGER_free(serial);
		return ok;
	}
	if (rid->tag != (rkeyid ? 0xa0 : 0x80))
		return false;
	if (rkeyid) {
		/* RecipientKeyIdentifier: SEQUENCE { ski, ... } */
		tlv_in(rid, &p, &n);
		if (tlv_get(&p, &n, &t) != 0 || t.tag != 0x04)
			return false;
	} else {
		t = *rid;
	}
	if ((ski = X509_get0_subject_key_id(cert)) == NULL)
		return false;
	return (size_t)ASN1_STRING_length(ski) == t.clen &&
	       memcmp(ASN1_STRING_get0_data(ski), t.c, t.clen) == 0;
}

static int
md_nid_of(const X509_ALGOR *a, int dflt)
{
	const ASN1_OBJECT *obj;

	if (a == NULL)
		return dflt;
	X509_ALGOR_get0(&obj, NULL, NULL, a);
	return OBJ_obj2nid(obj);
}

/* RSA key transport: the CEK into cek (room *ceklen). */
static int
ktri_decrypt(struct smime_key *key, const struct tlv *kalg,
             const struct tlv *ek, uint8_t *cek, size_t *ceklen,
             enum smime_dstatus *st)
{
	X509_ALGOR *alg = NULL, *mgfhash = NULL;
	RSA_OAEP_PARAMS *op = NULL;
	const ASN1_OBJECT *obj;
	const void *pv;
	int ptype, nid, r, md = NID_sha1, mgf = NID_sha1;
	const uint8_t *label = NULL;
	size_t label_len = 0;
	const unsigned char *p;

	if ((alg = algor_of(kalg)) == NULL) {
		*st = SMIME_D_MALFORMED;
		return P11A_E_FORMAT;
	}
	X509_ALGOR_get0(&obj, &ptype, &pv, alg);
	nid = OBJ_obj2nid(obj);
	if (nid == NID_rsaEncryption) {
		r = smime_key_decrypt(key, 0, 0, 0, NULL, 0, ek->c, ek->clen,
		                      cek, ceklen);
		goto out;
	}
	if (nid != NID_rsaesOaep) {
		*st = SMIME_D_UNSUPPORTED;
		r = P11A_E_MECH_UNSUPPORTED;
		goto out;
	}
	if (ptype == V_ASN1_SEQUENCE) {
		const ASN1_STRING *s = pv;

		p = ASN1_STRING_get0_data(s);
		if ((op = d2i_RSA_OAEP_PARAMS(NULL, &p,
		                              ASN1_STRING_length(s))) == NULL) {
			*st = SMIME_D_MALFORMED;
			r = P11A_E_FORMAT;
			goto out;
		}
		md = md_nid_of(op->hashFunc, NID_sha1);
		mgf = md;
		if (op->maskGenFunc != NULL) {
			const ASN1_OBJECT *mo;
			const void *mv;
			int mt;

			X509_ALGOR_get0(&mo, &mt, &mv, op->maskGenFunc);
			if (OBJ_obj2nid(mo) != NID_mgf1 ||
			    mt != V_ASN1_SEQUENCE) {
				*st = SMIME_D_UNSUPPORTED;
				r = P11A_E_MECH_UNSUPPORTED;
				goto out;
			}
			p = ASN1_STRING_get0_data(mv);
			mgfhash =
			    d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(mv));
			mgf = md_nid_of(mgfhash, NID_undef);
		} else {
			mgf = NID_sha1;
		}
		if (op->pSourceFunc != NULL) {
			const ASN1_OBJECT *so;
			const void *sv;
			int stype;

			X509_ALGOR_get0(&so, &stype, &sv, op->pSourceFunc);
			if (OBJ_obj2nid(so) != NID_pSpecified ||
			    stype != V_ASN1_OCTET_STRING) {
				*st = SMIME_D_UNSUPPORTED;
				r = P11A_E_MECH_UNSUPPORTED;
				goto out;
			}
			label = ASN1_STRING_get0_data(sv);
			label_len = (size_t)ASN1_STRING_length(sv);
		}
	}
	if (EVP_get_digestbynid(md) == NULL ||
	    EVP_get_digestbynid(mgf) == NULL) {
		*st = SMIME_D_UNSUPPORTED;
		r = P11A_E_MECH_UNSUPPORTED;
		goto out;
	}
	r = smime_key_decrypt(key, 1, md, mgf, label, label_len, ek->c,
	                      ek->clen, cek, ceklen);
out:
	X509_ALGOR_free(mgfhash);
	RSA_OAEP_PARAMS_free(op);
	X509_ALGOR_free(alg);
	return r;
}

static int
kdf_md_of(int nid)
{
	switch (nid) {
	case NID_dhSinglePass_stdDH_sha1kdf_scheme:
	case NID_dhSinglePass_cofactorDH_sha1kdf_scheme:
		return NID_sha1;
	case NID_dhSinglePass_stdDH_sha224kdf_scheme:
	case NID_dhSinglePass_cofactorDH_sha224kdf_scheme:
		return NID_sha224;
	case NID_dhSinglePass_stdDH_sha256kdf_scheme:
	case NID_dhSinglePass_cofactorDH_sha256kdf_scheme:
		return NID_sha256;
	case NID_dhSinglePass_stdDH_sha384kdf_scheme:
	case NID_dhSinglePass_cofactorDH_sha384kdf_scheme:
		return NID_sha384;
	case NID_dhSinglePass_stdDH_sha512kdf_scheme:
	case NID_dhSinglePass_cofactorDH_sha512kdf_scheme:
		return NID_sha512;
	default:
		return NID_undef;
	}
}

/* ECC-CMS-SharedInfo (RFC 5753 7.2) into out (room outlen). */
static int
shared_info(const struct tlv *wrap, const struct tlv *ukm, size_t kekbits,
            uint8_t *out, size_t *outlen)
{
	uint8_t body[1024], l[5];
	size_t o = 0, ll, need;

	if (wrap->len > 512 || (ukm != NULL && ukm->len > 400))
		return P11A_E_TOO_LARGE;
	memcpy(body, wrap->p, wrap->len);
	o = wrap->len;
	if (ukm != NULL) {
		/* [0] EXPLICIT OCTET STRING: the ukm field as sent. */
		body[o++] = 0xa0;
		ll = smime_der_len(l, ukm->len);
		memcpy(body + o, l, ll);
		o += ll;
		memcpy(body + o, ukm->p, ukm->len);
		o += ukm->len;
	}
	/* [2] EXPLICIT OCTET STRING (4 bytes): the KEK size in bits. */
	body[o++] = 0xa2;
	body[o++] = 6;
	body[o++] = 0x04;
	body[o++] = 4;
	body[o++] = (uint8_t)(kekbits >> 24);
	body[o++] = (uint8_t)(kekbits >> 16);
	body[o++] = (uint8_t)(kekbits >> 8);
	body[o++] = (uint8_t)kekbits;
	ll = smime_der_len(l, o);
	need = 1 + ll + o;
	if (need > *outlen)
		return P11A_E_TOO_LARGE;
	out[0] = 0x30;
	memcpy(out + 1, l, ll);
	memcpy(out + 1 + ll, body, o);
	*outlen = need;
	return 0;
}

static int
x963_kdf(int md_nid, const uint8_t *z, size_t zlen, const uint8_t *info,
         size_t infolen, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[4];
	int r = P11A_E_INTERNAL;

	if ((kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL)) == NULL)
		return P11A_E_MECH_UNSUPPORTED;
	if ((kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_KDF_PARAM_DIGEST, (char *)OBJ_nid2sn(md_nid), 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	                                              (void *)z, zlen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	                                              (void *)info, infolen);
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, outlen, params) == 1)
		r = 0;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

/* Key unwrap: AES (RFC 3394) or Triple-DES (RFC 3217). */
static int
key_unwrap(int wrap_nid, const uint8_t *kek, const uint8_t *in, size_t inlen,
           uint8_t *out, size_t *outlen)
{
	const EVP_CIPHER *c = EVP_get_cipherbynid(wrap_nid);
	EVP_CIPHER_CTX *ctx;
	uint8_t buf[512];
	int l1 = 0, l2 = 0, r = P11A_E_DECRYPT;

	if (c == NULL)
		return P11A_E_MECH_UNSUPPORTED;
	if (inlen < 16 || inlen > 256)
		return P11A_E_FORMAT;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return P11A_E_NOMEM;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_DecryptInit_ex(ctx, c, NULL, kek, NULL) == 1 &&
	    EVP_DecryptUpdate(ctx, buf, &l1, in, (int)inlen) == 1 &&
	    EVP_DecryptFinal_ex(ctx, buf + l1, &l2) == 1 &&
	    (size_t)(l1 + l2) <= *outlen) {
		memcpy(out, buf, (size_t)(l1 + l2));
		*outlen = (size_t)(l1 + l2);
		r = 0;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* ECDH key agreement for one RecipientEncryptedKey. */
static int
kari_decrypt(struct smime_key *key, const struct tlv *orig,
             const struct tlv *ukm, const struct tlv *kalg,
             const struct tlv *ek, uint8_t *cek, size_t *ceklen,
             enum smime_dstatus *st)
{
	X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj;
	struct tlv pk, palg, bits, wrap, inner;
	const uint8_t *p;
	size_t n, zlen, infolen, keklen;
	uint8_t z[133], info[1100], kek[32];
	const EVP_CIPHER *wc;
	int kdfmd, wnid, r;

	/* originator [0] { originatorKey [1] { alg, BIT STRING } } */
	tlv_in(orig, &p, &n);
	if (tlv_get(&p, &n, &pk) != 0 || pk.tag != 0xa1) {
		*st = SMIME_D_UNSUPPORTED;
		return P11A_E_MECH_UNSUPPORTED;
	}
	tlv_in(&pk, &p, &n);
	if (tlv_get(&p, &n, &palg) != 0 || tlv_get(&p, &n, &bits) != 0 ||
	    bits.tag != 0x03 || bits.clen < 2 || bits.c[0] != 0) {
		*st = SMIME_D_MALFORMED;
		return P11A_E_FORMAT;
	}
	if ((alg = algor_of(kalg)) == NULL) {
		*st = SMIME_D_MALFORMED;
		return P11A_E_FORMAT;
	}
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	kdfmd = kdf_md_of(OBJ_obj2nid(obj));
	X509_ALGOR_free(alg);
	if (kdfmd == NID_undef) {
		*st = SMIME_D_UNSUPPORTED;
		return P11A_E_MECH_UNSUPPORTED;
	}
	/* The parameters: the key-wrap AlgorithmIdentifier. */
	tlv_in(kalg, &p, &n);
	if (tlv_get(&p, &n, &inner) != 0 || tlv_get(&p, &n, &wrap) != 0 ||
	    wrap.tag != 0x30) {
		*st = SMIME_D_MALFORMED;
		return P11A_E_FORMAT;
	}
	if ((alg = algor_of(&wrap)) == NULL) {
		*st = SMIME_D_MALFORMED;
		return P11A_E_FORMAT;
	}
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	wnid = OBJ_obj2nid(obj);
	X509_ALGOR_free(alg);
	if ((wc = EVP_get_cipherbynid(wnid)) == NULL ||
	    (wnid != NID_id_aes128_wrap && wnid != NID_id_aes192_wrap &&
	     wnid != NID_id_aes256_wrap &&
	     wnid != NID_id_smime_alg_CMS3DESwrap)) {
		*st = SMIME_D_UNSUPPORTED;
		return P11A_E_MECH_UNSUPPORTED;
	}
	keklen = (size_t)EVP_CIPHER_get_key_length(wc);
	zlen = sizeof(z);
	if ((r = smime_key_derive(key, bits.c + 1, bits.clen - 1, z, &zlen)) !=
	    0)
		return r;
	infolen = sizeof(info);
	if ((r = shared_info(&wrap, ukm, keklen * 8, info, &infolen)) != 0 ||
	    (r = x963_kdf(kdfmd, z, zlen, info, infolen, kek, keklen)) != 0)
		goto out;
	r = key_unwrap(wnid, kek, ek->c, ek->clen, cek, ceklen);
out:
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(kek, sizeof(kek));
	return r;
}

/*
 * Tries each of our keys on each RecipientInfo that names its
 * certificate.  Sets res->status on failure.
 */
static int
find_cek(const struct env *e, const struct smime_decrypt_opts *o, uint8_t *cek,
         size_t *ceklen, struct smime_decrypt_result *res)
{
	const uint8_t *p, *q, *s;
	size_t n, m, k, room = *ceklen;
	struct tlv ri, ver, rid, kalg, ek, orig, ukm, reks, rek;
	enum smime_dstatus st = SMIME_D_NOT_A_RECIPIENT;
	bool have_ukm, matched = false, supported = false;
	size_t i;
	int r;

	tlv_in(&e->ris, &p, &n);
	while (n > 0) {
		if (tlv_get(&p, &n, &ri) != 0) {
			res->status = SMIME_D_MALFORMED;
			return P11A_E_FORMAT;
		}
		tlv_in(&ri, &q, &m);
		if (ri.tag == 0x30) {
			/* KeyTransRecipientInfo */
			if (tlv_get(&q, &m, &ver) != 0 ||
			    tlv_get(&q, &m, &rid) != 0 ||
			    tlv_get(&q, &m, &kalg) != 0 ||
			    tlv_get(&q, &m, &ek) != 0 || ek.tag != 0x04) {
				res->status = SMIME_D_MALFORMED;
				return P11A_E_FORMAT;
			}
			supported = true;
			for (i = 0; i < o->nkeys; i++) {
				if (!rid_matches(
				        &rid, smime_key_get0_cert(o->keys[i]),
				        false))
					continue;
				matched = true;
				*ceklen = room;
				r = ktri_decrypt(o->keys[i], &kalg, &ek, cek,
				                 ceklen, &st);
				if (r == 0)
					return 0;
				res->key_error = r;
			}
		} else if (ri.tag == 0xa1) {
			/* KeyAgreeRecipientInfo */
			have_ukm = false;
			if (tlv_get(&q, &m, &ver) != 0 ||
			    tlv_get(&q, &m, &orig) != 0 || orig.tag != 0xa0 ||
			    tlv_get(&q, &m, &kalg) != 0) {
				res->status = SMIME_D_MALFORMED;
				return P11A_E_FORMAT;
			}
			if (kalg.tag == 0xa1) {
				/* ukm [1] EXPLICIT OCTET STRING */
				s = kalg.c;
				k = kalg.clen;
				if (tlv_get(&s, &k, &ukm) != 0 ||
				    ukm.tag != 0x04 ||
				    tlv_get(&q, &m, &kalg) != 0) {
					res->status = SMIME_D_MALFORMED;
					return P11A_E_FORMAT;
				}
				have_ukm = true;
			}
			if (tlv_get(&q, &m, &reks) != 0 || reks.tag != 0x30) {
				res->status = SMIME_D_MALFORMED;
				return P11A_E_FORMAT;
			}
			supported = true;
			tlv_in(&reks, &s, &k);
			while (k > 0) {
				const uint8_t *t;
				size_t tl;

				if (tlv_get(&s, &k, &rek) != 0) {
					res->status = SMIME_D_MALFORMED;
					return P11A_E_FORMAT;
				}
				tlv_in(&rek, &t, &tl);
				if (tlv_get(&t, &tl, &rid) != 0 ||
				    tlv_get(&t, &tl, &ek) != 0 ||
				    ek.tag != 0x04)
					continue;
				for (i = 0; i < o->nkeys; i++) {
					if (!rid_matches(
					        &rid,
					        smime_key_get0_cert(o->keys[i]),
					        true))
						continue;
					matched = true;
					*ceklen = room;
					r = kari_decrypt(o->keys[i], &orig,
					                 have_ukm ? &ukm : NULL,
					                 &kalg, &ek, cek,
					                 ceklen, &st);
					if (r == 0)
						return 0;
					res->key_error = r;
				}
			}
		}
		/* kekri, pwri, ori: not ours. */
	}
	if (!supported && !matched)
		st = SMIME_D_UNSUPPORTED;
	if (st == SMIME_D_UNSUPPORTED && res->detail[0] == '\0')
		snprintf(res->detail, sizeof(res->detail),
		         "key transport or agreement algorithm not supported");
	if (st == SMIME_D_NOT_A_RECIPIENT && res->detail[0] == '\0')
		snprintf(res->detail, sizeof(res->detail),
		         "none of the agent's keys is a recipient");
	if (matched && res->key_error == P11A_E_LOGIN_REQUIRED)
		st = SMIME_D_LOGIN_REQUIRED;
	if (matched && st == SMIME_D_NOT_A_RECIPIENT &&
	    res->key_error != P11A_E_DECRYPT && res->key_error != 0)
		snprintf(res->detail, sizeof(res->detail), "the key failed: %d",
		         res->key_error);
	res->status = st;
	return P11A_E_DECRYPT;
}

/*
 * A decryption context for contentEncryptionAlgorithm calg with the CEK:
 * AES-CBC (or another CBC cipher OpenSSL knows) with its IV, or AES-GCM
 * with GCMParameters (aead).  Sets res on failure.
 */
static int
cipher_init(const struct tlv *calg, bool aead, const uint8_t *cek,
            size_t ceklen, EVP_CIPHER_CTX **out, size_t *icvlen,
            struct smime_decrypt_result *res)
{
	X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj;
	const ASN1_STRING *ps;
	const void *pv;
	const EVP_CIPHER *c;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t iv[16];
	const uint8_t *p;
	size_t ivlen = 0, n;
	struct tlv seq, nonce, icv;
	int ptype, r = P11A_E_FORMAT;

	*out = NULL;
	*icvlen = 12;
	res->status = SMIME_D_MALFORMED;
	if ((alg = algor_of(calg)) == NULL)
		return P11A_E_FORMAT;
	X509_ALGOR_get0(&obj, &ptype, &pv, alg);
	if ((c = EVP_get_cipherbyobj(obj)) == NULL ||
	    (EVP_CIPHER_get_mode(c) != EVP_CIPH_CBC_MODE &&
	     EVP_CIPHER_get_mode(c) != EVP_CIPH_GCM_MODE) ||
	    (EVP_CIPHER_get_mode(c) == EVP_CIPH_GCM_MODE) != aead) {
		res->status = SMIME_D_UNSUPPORTED;
		snprintf(res->detail, sizeof(res->detail),
		         "content encryption algorithm not supported");
		r = P11A_E_MECH_UNSUPPORTED;
		goto out;
	}
	if ((size_t)EVP_CIPHER_get_key_length(c) != ceklen) {
		/* A wrong key length is what a wrong RSA key gives. */
		res->status = SMIME_D_NOT_A_RECIPIENT;
		r = P11A_E_DECRYPT;
		goto out;
	}
	if (ptype != V_ASN1_OCTET_STRING && ptype != V_ASN1_SEQUENCE)
		goto out;
	ps = pv;
	if (!aead) {
		if (ptype != V_ASN1_OCTET_STRING ||
		    ASN1_STRING_length(ps) != EVP_CIPHER_get_iv_length(c) ||
		    (size_t)ASN1_STRING_length(ps) > sizeof(iv))
			goto out;
		ivlen = (size_t)ASN1_STRING_length(ps);
		memcpy(iv, ASN1_STRING_get0_data(ps), ivlen);
	} else {
		/* GCMParameters ::= SEQUENCE { nonce, icvLen DEFAULT 12 } */
		if (ptype != V_ASN1_SEQUENCE)
			goto out;
		p = ASN1_STRING_get0_data(ps);
		n = (size_t)ASN1_STRING_length(ps);
		if (tlv_get(&p, &n, &seq) != 0 || seq.tag != 0x30)
			goto out;
		tlv_in(&seq, &p, &n);
		if (tlv_get(&p, &n, &nonce) != 0 || nonce.tag != 0x04 ||
		    nonce.clen == 0 || nonce.clen > sizeof(iv))
			goto out;
		ivlen = nonce.clen;
		memcpy(iv, nonce.c, ivlen);
		if (n > 0) {
			if (tlv_get(&p, &n, &icv) != 0 || icv.tag != 0x02 ||
			    icv.clen != 1 || icv.c[0] < 12 || icv.c[0] > 16)
				goto out;
			*icvlen = icv.c[0];
		}
	}
	r = P11A_E_NOMEM;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_DecryptInit_ex(ctx, c, NULL, NULL, NULL) != 1 ||
	    (aead && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN,
	                                 (int)ivlen, NULL) != 1) ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, cek, iv) != 1) {
		r = P11A_E_INTERNAL;
		goto out;
	}
	*out = ctx;
	ctx = NULL;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	X509_ALGOR_free(alg);
	ERR_clear_error();
	return r;
}

/* The authenticated attributes as AAD: a SET (RFC 5083 2.2). */
static int
aead_aad(EVP_CIPHER_CTX *ctx, const struct tlv *aattrs)
{
	uint8_t *aad;
	int l, r = 0;

	if (aattrs->len > INT_MAX || (aad = malloc(aattrs->len)) == NULL)
		return P11A_E_NOMEM;
	memcpy(aad, aattrs->p, aattrs->len);
	aad[0] = 0x31;
	if (EVP_DecryptUpdate(ctx, NULL, &l, aad, (int)aattrs->len) != 1)
		r = P11A_E_INTERNAL;
	free(aad);
	return r;
}

static void
integrity_failure(struct smime_decrypt_result *res, bool aead)
{
	res->status = SMIME_D_INTEGRITY_FAILURE;
	snprintf(res->detail, sizeof(res->detail),
	         aead ? "the authentication tag does not match (modified)"
	              : "bad padding after decryption (modified or damaged)");
}

/* Decrypts the content with the CEK. */
static int
decrypt_content(const struct env *e, const uint8_t *cek, size_t ceklen,
                struct smime_memsink *pt, struct smime_decrypt_result *res)
{
	EVP_CIPHER_CTX *ctx = NULL;
	size_t icvlen;
	int l1 = 0, l2 = 0, r;

	res->status = SMIME_D_MALFORMED;
	if (!e->have_ec || e->ec.clen > INT_MAX - 64)
		return P11A_E_FORMAT;
	if ((r = cipher_init(&e->calg, e->aead, cek, ceklen, &ctx, &icvlen,
	                     res)) != 0)
		return r;
	r = P11A_E_FORMAT;
	res->status = SMIME_D_MALFORMED;
	if (e->aead && e->mac.clen != icvlen)
		goto out;
	if (e->aead && e->have_aattrs && (r = aead_aad(ctx, &e->aattrs)) != 0)
		goto out;
	r = P11A_E_TOO_LARGE;
	if (pt->max < e->ec.clen + 32)
		goto out;
	r = P11A_E_NOMEM;
	if ((pt->buf = OPENSSL_malloc(e->ec.clen + 32)) == NULL)
		goto out;
	pt->cap = e->ec.clen + 32;
	r = P11A_E_INTERNAL;
	if (EVP_DecryptUpdate(ctx, pt->buf, &l1, e->ec.c, (int)e->ec.clen) !=
	        1 ||
	    (e->aead &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)icvlen,
	                         (void *)e->mac.c) != 1))
		goto out;
	if (EVP_DecryptFinal_ex(ctx, pt->buf + l1, &l2) != 1) {
		OPENSSL_cleanse(pt->buf, pt->cap);
		integrity_failure(res, e->aead);
		r = P11A_E_DECRYPT;
		goto out;
	}
	pt->len = (size_t)(l1 + l2);
	res->status = SMIME_D_OK;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* Opens one enveloped layer: der -> plaintext in pt. */
static int
open_envelope(const uint8_t *der, size_t len,
              const struct smime_decrypt_opts *o, struct smime_memsink *pt,
              struct smime_decrypt_result *res)
{
	CMS_ContentInfo *cms = NULL;
	const unsigned char *p = der;
	unsigned char *norm = NULL;
	struct env e;
	uint8_t cek[64];
	size_t ceklen = sizeof(cek);
	int nlen, r;

	/* BER (indefinite lengths, chunked strings) to DER. */
	if (len > LONG_MAX ||
	    (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    (nlen = i2d_CMS_ContentInfo(cms, &norm)) <= 0) {
		res->status = SMIME_D_MALFORMED;
		snprintf(res->detail, sizeof(res->detail), "not CMS");
		r = P11A_E_FORMAT;
		goto out;
	}
	CMS_ContentInfo_free(cms);
	cms = NULL;
	if (parse_env(norm, (size_t)nlen, &e) != 0) {
		res->status = SMIME_D_MALFORMED;
		snprintf(res->detail, sizeof(res->detail),
		         "not an enveloped-data");
		r = P11A_E_FORMAT;
		goto out;
	}
	if ((r = find_cek(&e, o, cek, &ceklen, res)) != 0)
		goto out;
	if ((r = decrypt_content(&e, cek, ceklen, pt, res)) != 0)
		goto out;
	res->encrypted = true;
	if (e.aead)
		res->authenticated = true;
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	OPENSSL_free(norm);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return r;
}

/*
 * Streaming of enveloped layers: the base64 body is decoded and the BER
 * read as it comes (ber.h); the recipient infos (small) are kept, the
 * encrypted content goes through the cipher into a temporary file
 * (AES-GCM: first into a spool file, as the authenticated attributes that
 * are its AAD come after it).  Memory use does not depend on the message
 * size.
 */

/* Decryption as a sink: ciphertext in, plaintext to out. */
struct ciphersink {
	struct smime_sink base;
	EVP_CIPHER_CTX *ctx;
	struct smime_sink *out;
};

static int
cipher_write(struct smime_sink *base, const void *vp, size_t n)
{
	struct ciphersink *c = (struct ciphersink *)base;
	const uint8_t *p = vp;
	uint8_t buf[16384 + 64];
	size_t take;
	int l, r;

	while (n > 0) {
		take = n < 16384 ? n : 16384;
		if (EVP_DecryptUpdate(c->ctx, buf, &l, p, (int)take) != 1)
			return P11A_E_INTERNAL;
		r = smime_put(c->out, buf, (size_t)l);
		OPENSSL_cleanse(buf, (size_t)l);
		if (r != 0)
			return r;
		p += take;
		n -= take;
	}
	return 0;
}

static void
ciphersink_init(struct ciphersink *c, EVP_CIPHER_CTX *ctx,
                struct smime_sink *out)
{
	memset(c, 0, sizeof(*c));
	c->base.write = cipher_write;
	c->ctx = ctx;
	c->out = out;
}

static void
tlv_of(const struct smime_memsink *m, struct tlv *t)
{
	const uint8_t *p = m->buf;
	size_t n = m->len;

	if (tlv_get(&p, &n, t) != 0)
		memset(t, 0, sizeof(*t));
}

static bool
is_enveloped_part(const struct smime_ct *ct)
{
	const char *t = smime_ct_param(ct, "smime-type");

	return t != NULL && (smime_strcasecmp(t, "enveloped-data") == 0 ||
	                     smime_strcasecmp(t, "authenveloped-data") == 0);
}

static int
stream_envelope(struct smime_rd *rd, const struct smime_hdrs *h,
                const struct smime_decrypt_opts *o, int pt_fd,
                struct smime_decrypt_result *res)
{
	static const uint8_t oid_env[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
	                                  0x0d, 0x01, 0x07, 0x03};
	static const uint8_t oid_auth[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
	                                   0x01, 0x09, 0x10, 0x01, 0x17};
	struct smime_ber_src src;
	struct smime_rd *d = &src.rd;
	struct smime_memsink ris, calg, aattrs, skip;
	struct smime_fdsink out, spool;
	struct ciphersink cipher;
	struct smime_sink *sink;
	struct smime_ber_hdr bh, eci;
	struct smime_ber_lvl lv[4];
	struct env e;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t oid[16], cek[64], mac[16], buf[16384 + 64];
	size_t ceklen = sizeof(cek), icvlen = 12, got;
	int spool_fd = -1, l, r;

	memset(&src, 0, sizeof(src));
	memset(&out, 0, sizeof(out));
	memset(&spool, 0, sizeof(spool));
	memset(&e, 0, sizeof(e));
	smime_memsink_init(&ris, SMIME_BER_SMALL_MAX);
	smime_memsink_init(&calg, SMIME_BER_SMALL_MAX);
	smime_memsink_init(&aattrs, SMIME_BER_SMALL_MAX);
	smime_memsink_init(&skip, SMIME_BER_SMALL_MAX);
	res->status = SMIME_D_MALFORMED;
	if ((r = smime_ber_src_open(&src, rd, smime_body_enc(h))) != 0)
		goto out;
	/* ContentInfo { contentType, [0] { (Auth)EnvelopedData { */
	if ((r = smime_ber_hdr_read(d, &bh)) != 0 || bh.tag != 0x30)
		goto format;
	smime_ber_lvl_set(&lv[0], d, &bh);
	if ((r = smime_ber_hdr_read(d, &bh)) != 0 || bh.tag != 0x06 ||
	    bh.indef || bh.len > sizeof(oid) ||
	    (r = smime_ber_get(d, oid, bh.len)) != 0)
		goto format;
	if (bh.len == sizeof(oid_auth) && memcmp(oid, oid_auth, bh.len) == 0)
		e.aead = true;
	else if (bh.len != sizeof(oid_env) || memcmp(oid, oid_env, bh.len) != 0)
		goto format;
	if ((r = smime_ber_hdr_read(d, &bh)) != 0 || bh.tag != 0xa0)
		goto format;
	smime_ber_lvl_set(&lv[1], d, &bh);
	if ((r = smime_ber_hdr_read(d, &bh)) != 0 || bh.tag != 0x30)
		goto format;
	smime_ber_lvl_set(&lv[2], d, &bh);
	/* version, [0] originatorInfo OPTIONAL, recipientInfos */
	if ((r = smime_ber_hdr_read(d, &bh)) != 0 || bh.tag != 0x02 ||
	    (r = smime_ber_read_tlv(d, &bh, &skip)) != 0 ||
	    (r = smime_ber_hdr_read(d, &bh)) != 0)
		goto format;
	if (bh.tag == 0xa0 && ((r = smime_ber_read_tlv(d, &bh, &skip)) != 0 ||
	                       (r = smime_ber_hdr_read(d, &bh)) != 0))
		goto format;
	if (bh.tag != 0x31 || (r = smime_ber_read_small(d, &bh, &ris)) != 0)
		goto format;
	tlv_of(&ris, &e.ris);
	/* EncryptedContentInfo { contentType, algorithm, [0] content } */
	if ((r = smime_ber_hdr_read(d, &eci)) != 0 || eci.tag != 0x30)
		goto format;
	smime_ber_lvl_set(&lv[3], d, &eci);
	if ((r = smime_ber_hdr_read(d, &bh)) != 0 || bh.tag != 0x06 ||
	    (r = smime_ber_read_tlv(d, &bh, &skip)) != 0 ||
	    (r = smime_ber_hdr_read(d, &bh)) != 0 || bh.tag != 0x30 ||
	    (r = smime_ber_read_small(d, &bh, &calg)) != 0)
		goto format;
	tlv_of(&calg, &e.calg);
	if ((r = find_cek(&e, o, cek, &ceklen, res)) != 0) {
		r = 0;
		goto out; /* res says why */
	}
	if ((r = cipher_init(&e.calg, e.aead, cek, ceklen, &ctx, &icvlen,
	                     res)) != 0) {
		r = 0;
		goto out;
	}
	res->status = SMIME_D_MALFORMED;
	if ((r = smime_fdsink_init(&out, pt_fd)) != 0)
		goto out;
	if (e.aead) {
		if ((r = smime_tmpfile(o->tmpdir, &spool_fd)) != 0 ||
		    (r = smime_fdsink_init(&spool, spool_fd)) != 0)
			goto out;
		sink = &spool.base;
	} else {
		ciphersink_init(&cipher, ctx, &out.base);
		sink = &cipher.base;
	}
	/* [0] IMPLICIT: primitive, or chunks of primitive OCTET STRING. */
	if ((r = smime_ber_hdr_read(d, &bh)) != 0 ||
	    (r = smime_ber_string_stream(d, &bh, 0x80, 0, sink)) != 0 ||
	    (r = smime_ber_lvl_close(d, &lv[3], &skip)) != 0)
		goto format;
	if (!e.aead) {
		/* Whatever follows (unprotectedAttrs) must be complete. */
		if ((r = smime_ber_lvl_close(d, &lv[2], &skip)) != 0 ||
		    (r = smime_ber_lvl_close(d, &lv[1], &skip)) != 0 ||
		    (r = smime_ber_lvl_close(d, &lv[0], &skip)) != 0 ||
		    (r = smime_ber_drain(d)) != 0)
			goto format;
		if (EVP_DecryptFinal_ex(ctx, buf, &l) != 1) {
			integrity_failure(res, false);
			r = 0;
			goto out;
		}
		if ((r = smime_put(&out.base, buf, (size_t)l)) != 0 ||
		    (r = smime_finish(&out.base)) != 0)
			goto out;
		res->status = SMIME_D_OK;
		res->encrypted = true;
		goto out;
	}
	/* AuthEnvelopedData: [1] authAttrs OPTIONAL and the MAC. */
	if ((r = smime_ber_hdr_read(d, &bh)) != 0)
		goto format;
	if (bh.tag == 0xa1) {
		if ((r = smime_ber_read_small(d, &bh, &aattrs)) != 0 ||
		    (r = smime_ber_hdr_read(d, &bh)) != 0)
			goto format;
		tlv_of(&aattrs, &e.aattrs);
		if ((r = aead_aad(ctx, &e.aattrs)) != 0)
			goto out;
	}
	if (bh.tag != 0x04 || bh.indef || bh.len != icvlen ||
	    (r = smime_ber_get(d, mac, bh.len)) != 0 ||
	    (r = smime_ber_lvl_close(d, &lv[2], &skip)) != 0 ||
	    (r = smime_ber_lvl_close(d, &lv[1], &skip)) != 0 ||
	    (r = smime_ber_lvl_close(d, &lv[0], &skip)) != 0 ||
	    (r = smime_ber_drain(d)) != 0)
		goto format;
	if ((r = smime_finish(&spool.base)) != 0 ||
	    lseek(spool_fd, 0, SEEK_SET) != 0) {
		r = r != 0 ? r : P11A_E_IO;
		goto out;
	}
	ciphersink_init(&cipher, ctx, &out.base);
	for (;;) {
		ssize_t n = read(spool_fd, buf, 16384);

		if (n < 0) {
			r = P11A_E_IO;
			goto out;
		}
		if (n == 0)
			break;
		got = (size_t)n;
		if ((r = smime_put(&cipher.base, buf, got)) != 0)
			goto out;
	}
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)icvlen, mac) !=
	    1) {
		r = P11A_E_INTERNAL;
		goto out;
	}
	if (EVP_DecryptFinal_ex(ctx, buf, &l) != 1) {
		integrity_failure(res, true);
		r = 0;
		goto out;
	}
	if ((r = smime_finish(&out.base)) != 0)
		goto out;
	res->status = SMIME_D_OK;
	res->encrypted = true;
	res->authenticated = true;
	goto out;
format:
	res->status = SMIME_D_MALFORMED;
	if (res->detail[0] == '\0')
		snprintf(res->detail, sizeof(res->detail),
		         "the enveloped data is malformed or truncated");
	if (r == 0 || r == P11A_E_FORMAT || r == P11A_E_TOO_LARGE)
		r = 0;
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_CIPHER_CTX_free(ctx);
	if (spool_fd >= 0)
		close(spool_fd);
	smime_fdsink_cleanup(&spool);
	smime_fdsink_cleanup(&out);
	smime_ber_src_close(&src);
	smime_memsink_cleanup(&ris);
	smime_memsink_cleanup(&calg);
	smime_memsink_cleanup(&aattrs);
	smime_memsink_cleanup(&skip);
	return r;
}

/* Records the verdict of a signed layer (the worst one wins). */
static void
note_signature(struct smime_decrypt_result *res, enum smime_vstatus st,
               struct smime_signer_info *si)
{
	if (st != SMIME_V_BAD_SIGNATURE && st != SMIME_V_MALFORMED &&
	    st != SMIME_V_NOT_SIGNED)
		res->authenticated = true;
	if (!res->signed_layer || st > res->sig_status ||
	    (st == res->sig_status)) {
		smime_signer_info_cleanup(&res->signer);
		res->signer = *si;
		memset(si, 0, sizeof(*si));
		res->sig_status = st;
	}
	res->signed_layer = true;
}

/* Writes the header section and the rest of rd, with line ending eol. */
static int
write_entity(struct smime_rd *rd, const struct smime_hdrs *h,
             const struct smime_hdrs *outer, const struct smime_hdrs *prot,
             int out_fd, const char *eol)
{
	struct smime_fdsink out;
	struct smime_hdrs first;
	enum smime_eol e;
	const char *line;
	size_t len, i;
	int r;

	smime_hdrs_init(&first);
	if ((r = smime_fdsink_init(&out, out_fd)) != 0)
		goto out;
	/* The outer message's fields (From, To, Subject...), unless a
	 * protected copy (RFC 9788) inside replaces them, then the
	 * protected fields of an inner layer, then the entity's own. */
	for (i = 0; i < outer->n; i++) {
		if (smime_hdrs_get(h, outer->v[i].name) == NULL &&
		    smime_hdrs_get(prot, outer->v[i].name) == NULL &&
		    (r = smime_hdrs_add(&first, outer->v[i].raw)) != 0)
			goto out;
	}
	for (i = 0; i < prot->n; i++) {
		if (smime_hdrs_get(h, prot->v[i].name) == NULL &&
		    (r = smime_hdrs_add(&first, prot->v[i].raw)) != 0)
			goto out;
	}
	if (smime_hdrs_get(h, "MIME-Version") == NULL &&
	    (r = smime_hdrs_add(&first, "MIME-Version: 1.0")) != 0)
		goto out;
	smime_hdrs_write(&first, &out.base, eol);
	smime_hdrs_write(h, &out.base, eol);
	smime_puts(&out.base, eol);
	for (;;) {
		r = smime_rd_line(rd, &line, &len, &e);
		if (r == SMIME_EOF)
			break;
		if (r != 0)
			goto out;
		smime_put(&out.base, line, len);
		if (e != SMIME_EOL_NONE)
			smime_puts(&out.base, eol);
	}
	r = smime_finish(&out.base);
out:
	smime_hdrs_cleanup(&first);
	smime_fdsink_cleanup(&out);
	return r;
}

/* Does rd start with a header field (or an empty header section)? */
static bool
looks_like_mime(struct smime_rd *rd)
{
	const uint8_t *p;
	size_t avail, i;

	if (smime_rd_peek(rd, 1024, &p, &avail) != 0 || avail == 0)
		return false;
	if (p[0] == '\n' || (avail > 1 && p[0] == '\r' && p[1] == '\n'))
		return true;
	for (i = 0; i < avail; i++) {
		if (p[i] == ':')
			return i > 0;
		if (p[i] <= ' ' || p[i] > '~')
			return false;
	}
	return false;
}

static int
write_raw(struct smime_rd *rd, int out_fd)
{
	struct smime_fdsink out;
	uint8_t buf[16384];
	size_t got;
	int r;

	if ((r = smime_fdsink_init(&out, out_fd)) != 0)
		goto out;
	for (;;) {
		if ((r = smime_rd_read(rd, buf, sizeof(buf), &got)) != 0)
			goto out;
		if (got == 0)
			break;
		if ((r = smime_put(&out.base, buf, got)) != 0)
			goto out;
	}
	r = smime_finish(&out.base);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	smime_fdsink_cleanup(&out);
	return r;
}

int
smime_bare_cms(struct smime_rd *rd, struct smime_memsink *mem, bool *bare)
{
	struct smime_memsink pem;
	const uint8_t *p;
	size_t avail, got;
	uint8_t buf[16384];
	BIO *b = NULL;
	unsigned char *data = NULL;
	char *name = NULL, *hdr = NULL;
	long dlen;
	int r;

	*bare = false;
	if ((r = smime_rd_peek(rd, 11, &p, &avail)) != 0)
		return r;
	if (avail >= 2 && p[0] == 0x30 && (p[1] == 0x80 || p[1] >= 0x81)) {
		*bare = true;
		for (;;) {
			if ((r = smime_rd_read(rd, buf, sizeof(buf), &got)) !=
			    0)
				return r;
			if (got == 0)
				return 0;
			if ((r = smime_put(&mem->base, buf, got)) != 0)
				return r;
		}
	}
	if (avail < 11 || memcmp(p, "-----BEGIN ", 11) != 0)
		return 0;
	*bare = true;
	smime_memsink_init(&pem, MSG_MAX);
	for (;;) {
		if ((r = smime_rd_read(rd, buf, sizeof(buf), &got)) != 0)
			goto out;
		if (got == 0)
			break;
		if ((r = smime_put(&pem.base, buf, got)) != 0)
			goto out;
	}
	r = P11A_E_FORMAT;
	if ((b = BIO_new_mem_buf(pem.buf, (int)pem.len)) == NULL ||
	    PEM_read_bio(b, &name, &hdr, &data, &dlen) != 1)
		goto out;
	r = smime_put(&mem->base, data, (size_t)dlen);
out:
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(hdr);
	OPENSSL_free(data);
	BIO_free(b);
	smime_memsink_cleanup(&pem);
	return r;
}

/* rdm reads the layer just written to tmp, from its start. */
static int
read_next_layer(int tmp, struct smime_rd *rdm)
{
	if (lseek(tmp, 0, SEEK_SET) != 0)
		return P11A_E_IO;
	smime_rd_cleanup(rdm);
	return smime_rd_init_fd(rdm, tmp);
}

int
smime_decrypt(struct smime_rd *rd0, int out_fd,
              const struct smime_decrypt_opts *o,
              struct smime_decrypt_result *res)
{
	struct smime_verify_opts vo;
	struct smime_memsink body, pt, prev;
	struct smime_signer_info si;
	struct smime_hdrs h, prot, outer;
	struct smime_ct ct;
	struct smime_rd rdm, part, *rd = rd0;
	struct smime_part_src psrc;
	enum smime_vstatus vst;
	CMS_ContentInfo *cms = NULL;
	ASN1_OCTET_STRING **pos;
	const unsigned char *p;
	const char *eol = "\n";
	char from[256];
	int layer, tmp = -1, nid, r = 0;
	bool bare;

	memset(res, 0, sizeof(*res));
	memset(&si, 0, sizeof(si));
	memset(&rdm, 0, sizeof(rdm));
	memset(&part, 0, sizeof(part));
	memset(&psrc, 0, sizeof(psrc));
	memset(&ct, 0, sizeof(ct));
	smime_hdrs_init(&h);
	smime_hdrs_init(&prot);
	smime_hdrs_init(&outer);
	smime_memsink_init(&body, MSG_MAX);
	smime_memsink_init(&pt, MSG_MAX);
	smime_memsink_init(&prev, MSG_MAX);
	vo = *o->vopts;
	res->status = SMIME_D_MALFORMED;
	for (layer = 0; layer < MAX_LAYERS; layer++) {
		smime_hdrs_cleanup(&h);
		smime_ct_cleanup(&ct);
		body.len = 0;
		bare = false;
		if (layer == 0 && (r = smime_bare_cms(rd, &body, &bare)) != 0) {
			if (r != P11A_E_FORMAT && r != P11A_E_TOO_LARGE)
				goto fail;
			snprintf(res->detail, sizeof(res->detail),
			         "the CMS does not decode");
			goto done;
		}
		if (!bare && layer > 0 && !looks_like_mime(rd)) {
			/* Decrypted data that is no MIME entity (CMS made
			 * by tools, not mail clients): handed out as is. */
			if ((r = write_raw(rd, out_fd)) != 0)
				goto fail;
			res->status = SMIME_D_OK;
			goto done;
		}
		if (!bare) {
			if ((r = smime_hdrs_read(&h, rd)) != 0) {
				if (r != P11A_E_FORMAT && r != P11A_E_TOO_LARGE)
					goto fail;
				snprintf(res->detail, sizeof(res->detail),
				         "not a mail message");
				goto done;
			}
			if (layer == 0) {
				eol = h.eol == SMIME_EOL_CRLF ? "\r\n" : "\n";
				if ((r = smime_split_hdrs(&h, &outer, NULL)) !=
				    0)
					goto fail;
				if (vo.from == NULL &&
				    smime_addr_first(
				        smime_hdrs_value(&h, "From"), from,
				        sizeof(from)))
					vo.from = from;
			}
			smime_ct_parse(&ct,
			               smime_hdrs_value(&h, "Content-Type"));
			if (layer > 0 && prot.n == 0 &&
			    (r = smime_split_hdrs(&h, &prot, NULL)) != 0)
				goto fail;
		}
		if (layer == 0 && !bare && smime_ct_is_multipart(&ct) &&
		    !smime_ct_is(&ct, "multipart/signed") &&
		    smime_ct_param(&ct, "boundary") != NULL) {
			bool found;

			/* A list's footer added to encrypted mail. */
			if ((r = smime_part_find(
			         rd, smime_ct_param(&ct, "boundary"),
			         smime_is_pkcs7_mime, &h, &ct, &part, &psrc,
			         &found)) != 0)
				goto fail;
			if (!found) {
				snprintf(res->detail, sizeof(res->detail),
				         "no S/MIME part in the multipart");
				goto done;
			}
			rd = &part;
		}
		if (!bare && smime_ct_is(&ct, "multipart/signed")) {
			/* Verify while copying the signed entity aside (rd
			 * may still read the previous file). */
			int ntmp;

			if ((r = smime_tmpfile(o->tmpdir, &ntmp)) != 0)
				goto fail;
			r = smime_verify_entity(rd, &h, ntmp, &vo, &vst, &si);
			if (tmp >= 0)
				close(tmp);
			tmp = ntmp;
			if (r != 0)
				goto fail;
			if (vst == SMIME_V_MALFORMED) {
				snprintf(res->detail, sizeof(res->detail), "%s",
				         si.detail);
				smime_signer_info_cleanup(&si);
				goto done;
			}
			note_signature(res, vst, &si);
			if ((r = read_next_layer(tmp, &rdm)) != 0)
				goto fail;
			rd = &rdm;
			continue;
		}
		if (!bare && !smime_is_pkcs7_mime(&ct)) {
			/* The innermost entity. */
			if (layer == 0) {
				snprintf(res->detail, sizeof(res->detail),
				         "not an S/MIME message");
				goto done;
			}
			if ((r = write_entity(rd, &h, &outer, &prot, out_fd,
			                      eol)) != 0)
				goto fail;
			res->status = SMIME_D_OK;
			goto done;
		}
		if (!bare && is_enveloped_part(&ct)) {
			/* Streamed into a temporary file: any size. */
			int ntmp;

			if ((r = smime_tmpfile(o->tmpdir, &ntmp)) != 0)
				goto fail;
			r = stream_envelope(rd, &h, o, ntmp, res);
			if (tmp >= 0)
				close(tmp);
			tmp = ntmp;
			if (r != 0)
				goto fail;
			if (res->status != SMIME_D_OK)
				goto done;
			/* Good only once the innermost entity is written. */
			res->status = SMIME_D_MALFORMED;
			if ((r = read_next_layer(tmp, &rdm)) != 0)
				goto fail;
			rd = &rdm;
			continue;
		}
		if (!bare && (r = smime_read_body(rd, &h, &body)) != 0) {
			if (r == P11A_E_FORMAT || r == P11A_E_TOO_LARGE) {
				snprintf(res->detail, sizeof(res->detail),
				         "the body does not decode");
				r = 0;
				goto done;
			}
			goto fail;
		}
		p = body.buf;
		CMS_ContentInfo_free(cms);
		if (body.len > LONG_MAX ||
		    (cms = d2i_CMS_ContentInfo(NULL, &p, (long)body.len)) ==
		        NULL) {
			snprintf(res->detail, sizeof(res->detail), "not CMS");
			goto done;
		}
		nid = OBJ_obj2nid(CMS_get0_type(cms));
		if (nid == NID_pkcs7_enveloped ||
		    nid == NID_id_smime_ct_authEnvelopedData) {
			pt.len = 0;
			OPENSSL_clear_free(pt.buf, pt.cap);
			pt.buf = NULL;
			pt.cap = 0;
			if ((r = open_envelope(body.buf, body.len, o, &pt,
			                       res)) != 0) {
				if (res->status == SMIME_D_OK)
					res->status = SMIME_D_MALFORMED;
				r = 0;
				goto done;
			}
			res->status = SMIME_D_MALFORMED; /* as above */
		} else if (nid == NID_pkcs7_signed) {
			r = smime_verify_cms(body.buf, body.len, false, NULL,
			                     &vo, &vst, &si);
			if (r != 0)
				goto fail;
			if (vst == SMIME_V_MALFORMED) {
				snprintf(res->detail, sizeof(res->detail), "%s",
				         si.detail);
				smime_signer_info_cleanup(&si);
				goto done;
			}
			note_signature(res, vst, &si);
			pt.len = 0;
			if ((pos = CMS_get0_content(cms)) == NULL ||
			    *pos == NULL ||
			    (r = smime_put(
			         &pt.base, ASN1_STRING_get0_data(*pos),
			         (size_t)ASN1_STRING_length(*pos))) != 0) {
				snprintf(res->detail, sizeof(res->detail),
				         "signed-data without content");
				r = 0;
				goto done;
			}
		} else {
			res->status = SMIME_D_UNSUPPORTED;
			snprintf(res->detail, sizeof(res->detail),
			         "CMS content type %s", OBJ_nid2sn(nid));
			goto done;
		}
		/* The next layer reads the plaintext (kept in prev, as
		 * pt is reused). */
		smime_memsink_cleanup(&prev);
		prev = pt;
		smime_memsink_init(&pt, MSG_MAX);
		smime_rd_cleanup(&rdm);
		if ((r = smime_rd_init_mem(&rdm, prev.buf, prev.len)) != 0)
			goto fail;
		rd = &rdm;
	}
	snprintf(res->detail, sizeof(res->detail), "too many layers");
	res->status = SMIME_D_MALFORMED;
done:
	r = 0;
	if (res->status == SMIME_D_OK && !res->encrypted && !res->signed_layer)
		res->status = SMIME_D_MALFORMED;
fail:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	if (tmp >= 0)
		close(tmp);
	smime_rd_cleanup(&rdm);
	smime_part_rd_cleanup(&part, &psrc);
	smime_signer_info_cleanup(&si);
	smime_ct_cleanup(&ct);
	smime_hdrs_cleanup(&h);
	smime_hdrs_cleanup(&prot);
	smime_hdrs_cleanup(&outer);
	smime_memsink_cleanup(&body);
	smime_memsink_cleanup(&pt);
	smime_memsink_cleanup(&prev);
	return r;
}
