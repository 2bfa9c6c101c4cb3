/*
 * Signature contexts, shared by sig.c (dispatch and lifecycle),
 * sigparams.c (OSSL_PARAMs) and sigops.c (signing and verifying).
 */
#ifndef P11AGENT_PROVIDER_SIG_H
#define P11AGENT_PROVIDER_SIG_H

#include <openssl/evp.h>
#include <openssl/params.h>

#include "internal.h"

struct p11a_sig {
	struct p11a_prov *prov;
	int ec;               /* ECDSA, else RSA */
	int verify;           /* initialised for verifying */
	struct p11a_key *key; /* one reference, NULL before init */
	EVP_MD *md;           /* NULL until chosen */
	EVP_MD *mgf1;         /* PSS mask hash; NULL: same as md */
	int pad;              /* RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
	int saltlen;          /* RSA_PSS_SALTLEN_* or a length */
	int saltlen_set;      /* saltlen was given by the caller */
	EVP_MD_CTX *mdctx;    /* the digest of digest-sign/verify */
	struct p11a_why why;
};

/* sigparams.c: 0 or a P11AGENT_E_* code with s->why set. */
int p11a_sig_set_params(struct p11a_sig *s, const OSSL_PARAM params[]);
int p11a_sig_get_params(struct p11a_sig *s, OSSL_PARAM params[]);
const OSSL_PARAM *p11a_sig_settable(int ec);
const OSSL_PARAM *p11a_sig_gettable(int ec);

/*
 * The PSS salt length signing uses: saltlen resolved against the digest
 * and the modulus ("digest", "max", "auto").  Returns 0 or
 * P11AGENT_E_ARGS (does not fit the key).
 */
int p11a_sig_pss_saltlen(struct p11a_sig *s, int *out);

/* sigops.c */

/*
 * Signs the digest tbs.  With sig NULL, *siglen is the largest
 * signature.  Returns 0 or a P11AGENT_E_* code with s->why set.
 */
int p11a_sig_sign(struct p11a_sig *s, uint8_t *sig, size_t *siglen,
                  size_t sigsize, const uint8_t *tbs, size_t tbslen);

/*
 * Verifies sig over the digest tbs, in another provider.  Returns 0,
 * P11AGENT_E_SIGNATURE or another P11AGENT_E_* code.
 */
int p11a_sig_verify(struct p11a_sig *s, const uint8_t *sig, size_t siglen,
                    const uint8_t *tbs, size_t tbslen);

/* Digest-then-sign: the hash runs here, the signature at the agent. */
int p11a_sig_digest_init(struct p11a_sig *s, const char *mdname);
int p11a_sig_digest_update(struct p11a_sig *s, const uint8_t *data, size_t len);
int p11a_sig_digest_sign_final(struct p11a_sig *s, uint8_t *sig, size_t *siglen,
                               size_t sigsize);
int p11a_sig_digest_verify_final(struct p11a_sig *s, const uint8_t *sig,
                                 size_t siglen);

#endif
