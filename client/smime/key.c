/*
 * Keys of client/smime (key.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "proto/err.h"
#include "key.h"

struct smime_key {
	const struct smime_key_ops *ops;
	void *ctx;
	X509 *cert;
	STACK_OF(X509) * chain;
};

struct smime_key *
smime_key_new(const struct smime_key_ops *ops, void *ctx, X509 *cert)
{
	struct smime_key *k;

	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->chain = sk_X509_new_null()) == NULL || !X509_up_ref(cert)) {
		if (ops->free != NULL)
			ops->free(ctx);
		if (k != NULL)
			sk_X509_free(k->chain);
		free(k);
		return NULL;
	}
	k->ops = ops;
	k->ctx = ctx;
	k->cert = cert;
	return k;
}

void
smime_key_free(struct smime_key *k)
{
	if (k == NULL)
		return;
	if (k->ops->free != NULL)
		k->ops->free(k->ctx);
	X509_free(k->cert);
	sk_X509_pop_free(k->chain, X509_free);
	free(k);
}

X509 *
smime_key_get0_cert(const struct smime_key *k)
{
	return k->cert;
}

int
smime_key_add1_chain(struct smime_key *k, X509 *ca)
{
	if (!X509_up_ref(ca))
		return P11A_E_INTERNAL;
	if (!sk_X509_push(k->chain, ca)) {
		X509_free(ca);
		return P11A_E_NOMEM;
	}
	return 0;
}

STACK_OF(X509) * smime_key_get0_chain(const struct smime_key *k)
{
	return k->chain;
}

/*
 * A length a key operation reported: within the room it was given.
 * OpenSSL 3.0's ECDSA reports success with a length of (unsigned)-1 when
 * encoding the signature fails for want of memory.
 */
static int
fits(size_t len, size_t room, int err)
{
	return len > 0 && len <= room ? 0 : err;
}

int
smime_key_sign(struct smime_key *k, int md_nid, int pss, const uint8_t *dgst,
               size_t dlen, uint8_t *sig, size_t *siglen)
{
	size_t room = *siglen;
	int r;

	if (k->ops->sign == NULL)
		return P11A_E_KEY_TYPE;
	r = k->ops->sign(k->ctx, md_nid, pss, dgst, dlen, sig, siglen);
	return r != 0 ? r : fits(*siglen, room, P11A_E_SIGNATURE);
}

int
smime_key_decrypt(struct smime_key *k, int oaep, int oaep_md_nid,
                  int mgf1_md_nid, const uint8_t *label, size_t label_len,
                  const uint8_t *ct, size_t ctlen, uint8_t *pt, size_t *ptlen)
{
	size_t room = *ptlen;
	int r;

	if (k->ops->decrypt == NULL)
		return P11A_E_KEY_TYPE;
	r = k->ops->decrypt(k->ctx, oaep, oaep_md_nid, mgf1_md_nid, label,
	                    label_len, ct, ctlen, pt, ptlen);
	return r != 0 ? r : fits(*ptlen, room, P11A_E_INTERNAL);
}

int
smime_key_derive(struct smime_key *k, const uint8_t *point, size_t plen,
                 uint8_t *z, size_t *zlen)
{
	size_t room = *zlen;
	int r;

	if (k->ops->derive == NULL)
		return P11A_E_KEY_TYPE;
	r = k->ops->derive(k->ctx, point, plen, z, zlen);
	return r != 0 ? r : fits(*zlen, room, P11A_E_INTERNAL);
}

/* The EVP_PKEY kind. */

static int
pkey_sign(void *ctx, int md_nid, int pss, const uint8_t *dgst, size_t dlen,
          uint8_t *sig, size_t *siglen)
{
	EVP_PKEY *pkey = ctx;
	EVP_PKEY_CTX *pc;
	const EVP_MD *md = EVP_get_digestbynid(md_nid);
	int r = P11A_E_INTERNAL;

	if (md == NULL)
		return P11A_E_MECH_UNSUPPORTED;
	if ((pc = EVP_PKEY_CTX_new(pkey, NULL)) == NULL)
		return P11A_E_NOMEM;
	if (EVP_PKEY_sign_init(pc) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(pc, md) <= 0)
		goto out;
	if (pss &&
	    (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) <=
	         0 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md) <= 0))
		goto out;
	if (EVP_PKEY_sign(pc, sig, siglen, dgst, dlen) <= 0)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(pc);
	return r;
}

static int
pkey_decrypt(void *ctx, int oaep, int oaep_md_nid, int mgf1_md_nid,
             const uint8_t *label, size_t label_len, const uint8_t *ct,
             size_t ctlen, uint8_t *pt, size_t *ptlen)
{
	EVP_PKEY *pkey = ctx;
	EVP_PKEY_CTX *pc;
	uint8_t *l = NULL, *tmp = NULL;
	size_t tmplen;
	int r = P11A_E_DECRYPT;

	if ((pc = EVP_PKEY_CTX_new(pkey, NULL)) == NULL)
		return P11A_E_NOMEM;
	if (EVP_PKEY_decrypt_init(pc) <= 0)
		goto out;
	if (oaep) {
		if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) <=
		        0 ||
		    EVP_PKEY_CTX_set_rsa_oaep_md(
		        pc, EVP_get_digestbynid(oaep_md_nid)) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(
		        pc, EVP_get_digestbynid(mgf1_md_nid)) <= 0)
			goto out;
		if (label_len > 0) {
			if ((l = OPENSSL_memdup(label, label_len)) == NULL)
				goto out;
			if (EVP_PKEY_CTX_set0_rsa_oaep_label(
			        pc, l, (int)label_len) <= 0)
				goto out;
			l = NULL;
		}
	} else if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0) {
		goto out;
	}
	/* OpenSSL wants room for a whole modulus; the CEK is smaller. */
	tmplen = (size_t)EVP_PKEY_get_size(pkey);
	if ((tmp = OPENSSL_malloc(tmplen)) == NULL)
		goto out;
	if (EVP_PKEY_decrypt(pc, tmp, &tmplen, ct, ctlen) <= 0 ||
	    tmplen > *ptlen)
		goto out;
	memcpy(pt, tmp, tmplen);
	*ptlen = tmplen;
	r = 0;
out:
	OPENSSL_clear_free(tmp, (size_t)EVP_PKEY_get_size(pkey));
	OPENSSL_free(l);
	EVP_PKEY_CTX_free(pc);
	return r;
}

static int
pkey_derive(void *ctx, const uint8_t *point, size_t plen, uint8_t *z,
            size_t *zlen)
{
	EVP_PKEY *pkey = ctx, *peer = NULL;
	EVP_PKEY_CTX *pc = NULL;
	int r = P11A_E_INTERNAL;

	if ((peer = EVP_PKEY_new()) == NULL ||
	    EVP_PKEY_copy_parameters(peer, pkey) <= 0 ||
	    EVP_PKEY_set1_encoded_public_key(peer, point, plen) <= 0) {
		r = P11A_E_FORMAT;
		goto out;
	}
	if ((pc = EVP_PKEY_CTX_new(pkey, NULL)) == NULL ||
	    EVP_PKEY_derive_init(pc) <= 0 ||
	    EVP_PKEY_derive_set_peer(pc, peer) <= 0 ||
	    EVP_PKEY_derive(pc, z, zlen) <= 0)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(peer);
	return r;
}

static void
pkey_free(void *ctx)
{
	EVP_PKEY_free(ctx);
}

static const struct smime_key_ops pkey_ops = {
    pkey_sign,
    pkey_decrypt,
    pkey_derive,
    pkey_free,
};

struct smime_key *
smime_key_from_pkey(EVP_PKEY *pkey, X509 *cert)
{
	if (X509_check_private_key(cert, pkey) != 1 || !EVP_PKEY_up_ref(pkey))
		return NULL;
	return smime_key_new(&pkey_ops, pkey, cert);
}

/* The struct smime_signer adaptor. */

/*
 * Checks a signature the key made against its certificate before anyone
 * else sees it: OpenSSL 3.0's RSA reports success with a wrong value when
 * an allocation of its blinding fails (found by test_smime_alloc).  This
 * was CMS_SignerInfo_verify() in sign.c before the SignedData was built
 * without libcrypto; keys behind the agent in the libcrypto-free `p11
 * sign` have the token's word instead.
 */
static int
check_sig(X509 *cert, int md_nid, bool pss, const uint8_t *dg, size_t dglen,
          const uint8_t *sig, size_t siglen)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	const EVP_MD *md = EVP_get_digestbynid(md_nid);
	EVP_PKEY_CTX *pc;
	int r = P11A_E_SIGNATURE;

	if (pub == NULL || md == NULL)
		goto out;
	if ((pc = EVP_PKEY_CTX_new(pub, NULL)) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	if (EVP_PKEY_verify_init(pc) > 0 &&
	    EVP_PKEY_CTX_set_signature_md(pc, md) > 0 &&
	    (!pss ||
	     (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
	      EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) >
	          0)) &&
	    EVP_PKEY_verify(pc, sig, siglen, dg, dglen) == 1)
		r = 0;
	EVP_PKEY_CTX_free(pc);
out:
	ERR_clear_error();
	return r;
}

static int
signer_sign(void *ctx, int md_nid, bool pss, const uint8_t *dg, size_t dglen,
            uint8_t *sig, size_t *siglen)
{
	struct smime_key *k = ctx;
	int r;

	if ((r = smime_key_sign(k, md_nid, pss, dg, dglen, sig, siglen)) != 0)
		return r;
	return check_sig(k->cert, md_nid, pss, dg, dglen, sig, *siglen);
}

/* The DER of a certificate, in memory of ours (not OpenSSL's). */
static int
cert_der(X509 *x, uint8_t **out, size_t *outlen)
{
	unsigned char *p = NULL;
	int len;

	*out = NULL;
	*outlen = 0;
	if ((len = i2d_X509(x, &p)) <= 0)
		return P11A_E_NOMEM;
	if ((*out = malloc((size_t)len)) == NULL) {
		OPENSSL_free(p);
		return P11A_E_NOMEM;
	}
	memcpy(*out, p, (size_t)len);
	OPENSSL_free(p);
	*outlen = (size_t)len;
	return 0;
}

int
smime_key_signer_init(struct smime_key_signer *ks, struct smime_key *key)
{
	size_t i, n = (size_t)sk_X509_num(key->chain), len;
	int r;

	memset(ks, 0, sizeof(*ks));
	if ((r = cert_der(key->cert, &ks->cert, &len)) != 0)
		goto out;
	ks->signer.cert_len = len;
	if (n > 0 &&
	    ((ks->chain = calloc(n, sizeof(*ks->chain))) == NULL ||
	     (ks->chain_len = calloc(n, sizeof(*ks->chain_len))) == NULL)) {
		r = P11A_E_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++, ks->nchain++) {
		if ((r = cert_der(sk_X509_value(key->chain, (int)i),
		                  &ks->chain[i], &ks->chain_len[i])) != 0)
			goto out;
	}
	ks->key = key;
	ks->signer.cert = ks->cert;
	ks->signer.chain = (const uint8_t *const *)ks->chain;
	ks->signer.chain_len = ks->chain_len;
	ks->signer.nchain = ks->nchain;
	ks->signer.sign = signer_sign;
	ks->signer.ctx = key;
	r = 0;
out:
	if (r != 0)
		smime_key_signer_cleanup(ks);
	return r;
}

void
smime_key_signer_cleanup(struct smime_key_signer *ks)
{
	size_t i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->nchain; i++)
		free(ks->chain[i]);
	free(ks->chain);
	free(ks->chain_len);
	free(ks->cert);
	memset(ks, 0, sizeof(*ks));
}
