/*
 * RSA padding on the host, for tokens that refuse a mechanism's
 * parameters but allow raw RSA (CKM_RSA_X_509) on the key.  The padding
 * code is OpenSSL's own (constant time for OAEP decoding); OpenSSL 3
 * marks these RSA_* functions deprecated without a replacement that works
 * on a bare encoded message, hence the suppression in this file only.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "proto/err.h"
#include "tokens/internal.h"

#define HOSTPAD_MAX 1024

int
tok_hostpad_oaep_unpad(const struct tok_decrypt_params *p, unsigned mod_bytes,
                       const uint8_t *em, size_t em_len, uint8_t *out,
                       size_t *out_len)
{
	const EVP_MD *md = tok_hash_md(p->oaep_hash);
	const EVP_MD *mgf =
	    tok_hash_md(p->mgf1_hash ? p->mgf1_hash : p->oaep_hash);
	uint8_t buf[HOSTPAD_MAX];
	int n;

	if (md == NULL || mgf == NULL)
		return P11A_E_MECH_UNSUPPORTED;
	if (em_len > mod_bytes || mod_bytes > sizeof(buf))
		return P11A_E_DECRYPT;
	/* Some modules strip leading zero bytes of the raw result. */
	memset(buf, 0, mod_bytes - em_len);
	memcpy(buf + (mod_bytes - em_len), em, em_len);
	n = RSA_padding_check_PKCS1_OAEP_mgf1(
	    out, (int)*out_len, buf, (int)mod_bytes, (int)mod_bytes, p->label,
	    (int)p->label_len, md, mgf);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (n < 0)
		return P11A_E_DECRYPT;
	*out_len = (size_t)n;
	return 0;
}

int
tok_hostpad_pss_pad(const struct tok_sign_params *p, const struct tok_key *k,
                    const uint8_t *digest, size_t digest_len, uint8_t *em,
                    size_t em_len)
{
	const EVP_MD *md = tok_hash_md(p->hash);
	const EVP_MD *mgf = tok_hash_md(p->mgf1_hash ? p->mgf1_hash : p->hash);
	BIGNUM *n = NULL, *e = NULL;
	RSA *rsa = NULL;
	int r = P11A_E_MECH_UNSUPPORTED;

	if (md == NULL || mgf == NULL || k->rsa_n == NULL ||
	    digest_len != (size_t)EVP_MD_get_size(md))
		return P11A_E_MECH_UNSUPPORTED;
	if (em_len != (k->bits + 7) / 8)
		return P11A_E_INTERNAL;
	n = BN_bin2bn(k->rsa_n, (int)k->rsa_n_len, NULL);
	e = BN_bin2bn(k->rsa_e, (int)k->rsa_e_len, NULL);
	if (n == NULL || e == NULL || (rsa = RSA_new()) == NULL ||
	    !RSA_set0_key(rsa, n, e, NULL)) {
		BN_free(n);
		BN_free(e);
		RSA_free(rsa);
		return P11A_E_NOMEM;
	}
	if (RSA_padding_add_PKCS1_PSS_mgf1(rsa, em, digest, md, mgf,
	                                   (int)p->salt_len))
		r = 0;
	RSA_free(rsa);
	return r;
}
