/*
 * P11AGENT-RSA asymmetric cipher: decryption with PKCS#1 v1.5 or OAEP
 * padding through the agent (decrypt@p11agent).  Encryption is public and
 * runs in another provider on a copy of the public key.
 */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "internal.h"

struct rsa_cipher {
	struct p11a_prov *prov;
	struct p11a_key *key;
	int decrypt;
	int pad;         /* RSA_PKCS1_PADDING or RSA_PKCS1_OAEP_PADDING */
	EVP_MD *oaep_md; /* NULL: SHA-1, the OAEP default */
	EVP_MD *mgf1;    /* NULL: the OAEP digest */
	uint8_t *label;
	size_t label_len;
	struct p11a_why why;
};

static void *
rc_newctx(void *provctx)
{
	struct rsa_cipher *c;

	if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL) {
		P11A_REPORT(provctx, P11AGENT_E_NOMEM, NULL);
		return NULL;
	}
	c->prov = provctx;
	c->pad = RSA_PKCS1_PADDING;
	return c;
}

static void
rc_freectx(void *ctx)
{
	struct rsa_cipher *c = ctx;

	if (c == NULL)
		return;
	p11a_key_free(c->key);
	EVP_MD_free(c->oaep_md);
	EVP_MD_free(c->mgf1);
	OPENSSL_free(c->label);
	OPENSSL_free(c);
}

static void *
rc_dupctx(void *ctx)
{
	struct rsa_cipher *c = ctx, *d;

	if ((d = OPENSSL_memdup(c, sizeof(*c))) == NULL)
		goto nomem;
	d->key = c->key != NULL ? p11a_key_up_ref(c->key) : NULL;
	d->oaep_md = d->mgf1 = NULL;
	d->label = NULL;
	if (c->oaep_md != NULL) {
		if (!EVP_MD_up_ref(c->oaep_md))
			goto fail;
		d->oaep_md = c->oaep_md;
	}
	if (c->mgf1 != NULL) {
		if (!EVP_MD_up_ref(c->mgf1))
			goto fail;
		d->mgf1 = c->mgf1;
	}
	if (c->label != NULL &&
	    (d->label = OPENSSL_memdup(c->label, c->label_len)) == NULL)
		goto fail;
	return d;
fail:
	rc_freectx(d);
nomem:
	P11A_REPORT(c->prov, P11AGENT_E_NOMEM, NULL);
	return NULL;
}

static int
set_pad(struct rsa_cipher *c, const OSSL_PARAM *p)
{
	int mode = 0, r;

	/* An unknown name leaves mode 0, which is refused below. */
	if ((r = p11a_param_get_named(p, p11a_rsa_pad_names, &mode, NULL)) != 0)
		return r;
	if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_OAEP_PADDING)
		return p11a_why_set(&c->why, P11AGENT_E_MECH_UNSUPPORTED,
		                    "RSA decryption with p11agent keys is "
		                    "PKCS#1 v1.5 or OAEP");
	c->pad = mode;
	return 0;
}

static int
rc_set_params(struct rsa_cipher *c, const OSSL_PARAM params[])
{
	const OSSL_PARAM *p;
	int r;

	if (params == NULL)
		return 0;
	p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
	if (p != NULL && (r = set_pad(c, p)) != 0)
		return r;
	if ((r = p11a_param_md(c->prov, params,
	                       OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST,
	                       OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST_PROPS,
	                       &c->oaep_md, &c->why)) != 0 ||
	    (r = p11a_param_md(c->prov, params,
	                       OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST,
	                       OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST_PROPS,
	                       &c->mgf1, &c->why)) != 0)
		return r;
	p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL);
	if (p != NULL &&
	    (r = p11a_param_get_octets(p, &c->label, &c->label_len)) != 0)
		return r;
	return 0;
}

static int
rc_get_params(struct rsa_cipher *c, OSSL_PARAM params[])
{
	OSSL_PARAM *p;
	const EVP_MD *oaep = c->oaep_md, *mgf1 = c->mgf1;
	int r;

	if (params == NULL)
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
	if (p != NULL &&
	    (r = p11a_param_set_named(p, p11a_rsa_pad_names, c->pad)) != 0)
		return r;
	p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST);
	if (p != NULL && !OSSL_PARAM_set_utf8_string(
	                     p, oaep != NULL ? EVP_MD_get0_name(oaep) : "SHA1"))
		return P11AGENT_E_ARGS;
	if (mgf1 == NULL)
		mgf1 = oaep;
	p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST);
	if (p != NULL && !OSSL_PARAM_set_utf8_string(
	                     p, mgf1 != NULL ? EVP_MD_get0_name(mgf1) : "SHA1"))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL);
	if (p != NULL && !OSSL_PARAM_set_octet_ptr(p, c->label, c->label_len))
		return P11AGENT_E_ARGS;
	return 0;
}

static int
rc_init(struct rsa_cipher *c, void *provkey, const OSSL_PARAM params[],
        int decrypt)
{
	struct p11a_key *k = provkey;

	c->why.msg[0] = '\0';
	c->decrypt = decrypt;
	if (k != NULL) {
		if (k->kind == P11A_KIND_EC)
			return p11a_why_set(&c->why, P11AGENT_E_KEY_TYPE,
			                    "not an RSA key");
		p11a_key_free(c->key);
		c->key = p11a_key_up_ref(k);
	}
	if (c->key == NULL)
		return p11a_why_set(&c->why, P11AGENT_E_ARGS, "no key");
	if (decrypt && c->key->uri == NULL)
		return p11a_why_set(&c->why, P11AGENT_E_KEY_TYPE,
		                    "not a token key: cannot decrypt");
	return rc_set_params(c, params);
}

static int
rc_decrypt_internal(struct rsa_cipher *c, uint8_t *out, size_t *outlen,
                    size_t outsize, const uint8_t *in, size_t inlen)
{
	const EVP_MD *oaep = c->oaep_md, *mgf1 = c->mgf1;
	uint32_t pad = P11AGENT_PADDING_PKCS1, oaep_hash = 0, mgf1_hash = 0;
	size_t n = p11a_key_size(c->key), ptlen;
	uint8_t *pt;
	int r;

	if (!c->decrypt || c->key->uri == NULL)
		return p11a_why_set(&c->why, P11AGENT_E_ARGS,
		                    "not initialised for decrypting");
	if (out == NULL) {
		*outlen = n;
		return 0;
	}
	if (c->pad == RSA_PKCS1_OAEP_PADDING) {
		pad = P11AGENT_PADDING_OAEP;
		oaep_hash =
		    oaep != NULL ? p11a_md_hash(oaep) : P11AGENT_HASH_SHA1;
		mgf1_hash = mgf1 != NULL ? p11a_md_hash(mgf1) : oaep_hash;
	}
	if ((pt = OPENSSL_malloc(n)) == NULL)
		return P11AGENT_E_NOMEM;
	ptlen = n;
	r = p11a_agent_decrypt(c->prov, c->key->uri, pad, oaep_hash, mgf1_hash,
	                       c->label, c->label_len, in, inlen, pt, &ptlen,
	                       &c->why);
	if (r != 0)
		goto out;
	if (ptlen > outsize) {
		r = p11a_why_set(&c->why, P11AGENT_E_ARGS,
		                 "plaintext buffer of %zu bytes is too small",
		                 outsize);
		goto out;
	}
	memcpy(out, pt, ptlen);
	*outlen = ptlen;
out:
	/* The plaintext is a secret (a content-encryption key, say). */
	OPENSSL_clear_free(pt, n);
	return r;
}

/* Encrypts in another provider with the same parameters. */
static int
rc_encrypt_internal(struct rsa_cipher *c, uint8_t *out, size_t *outlen,
                    size_t outsize, const uint8_t *in, size_t inlen)
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *pc = NULL;
	uint8_t *label = NULL;
	int r;

	if ((r = p11a_key_soft(c->key, &pk, &c->why)) != 0)
		return r;
	r = P11AGENT_E_MECH_UNSUPPORTED;
	pc = EVP_PKEY_CTX_new_from_pkey(c->prov->libctx, pk, P11A_SOFT_PROPQ);
	if (pc == NULL || EVP_PKEY_encrypt_init(pc) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, c->pad) <= 0)
		goto out;
	if (c->pad == RSA_PKCS1_OAEP_PADDING) {
		if ((c->oaep_md != NULL &&
		     EVP_PKEY_CTX_set_rsa_oaep_md(pc, c->oaep_md) <= 0) ||
		    (c->mgf1 != NULL &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(pc, c->mgf1) <= 0))
			goto out;
		if (c->label != NULL) {
			label = OPENSSL_memdup(c->label, c->label_len);
			if (label == NULL ||
			    EVP_PKEY_CTX_set0_rsa_oaep_label(
			        pc, label, (int)c->label_len) <= 0)
				goto out;
			label = NULL; /* owned by pc now */
		}
	}
	*outlen = outsize;
	if (EVP_PKEY_encrypt(pc, out, outlen, in, inlen) <= 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		p11a_why_set(&c->why, r,
		             "encrypting with the public key failed");
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(pk);
	return r;
}

static int
rc_encrypt_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	struct rsa_cipher *c = ctx;

	return P11A_REPORT(c->prov, rc_init(c, provkey, params, 0), &c->why);
}

static int
rc_decrypt_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	struct rsa_cipher *c = ctx;

	return P11A_REPORT(c->prov, rc_init(c, provkey, params, 1), &c->why);
}

static int
rc_encrypt(void *ctx, unsigned char *out, size_t *outlen, size_t outsize,
           const unsigned char *in, size_t inlen)
{
	struct rsa_cipher *c = ctx;

	c->why.msg[0] = '\0';
	return P11A_REPORT(
	    c->prov, rc_encrypt_internal(c, out, outlen, outsize, in, inlen),
	    &c->why);
}

static int
rc_decrypt(void *ctx, unsigned char *out, size_t *outlen, size_t outsize,
           const unsigned char *in, size_t inlen)
{
	struct rsa_cipher *c = ctx;

	c->why.msg[0] = '\0';
	return P11A_REPORT(
	    c->prov, rc_decrypt_internal(c, out, outlen, outsize, in, inlen),
	    &c->why);
}

static int
rc_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct rsa_cipher *c = ctx;

	c->why.msg[0] = '\0';
	return P11A_REPORT(c->prov, rc_set_params(c, params), &c->why);
}

static int
rc_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct rsa_cipher *c = ctx;

	c->why.msg[0] = '\0';
	return P11A_REPORT(c->prov, rc_get_params(c, params), &c->why);
}

static const OSSL_PARAM rc_params[] = {
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST_PROPS, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST_PROPS, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *
rc_ctx_params(void *ctx, void *provctx)
{
	(void)ctx;
	(void)provctx;
	return rc_params;
}

const OSSL_DISPATCH p11a_rsa_asym_cipher_functions[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))rc_newctx},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))rc_encrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))rc_encrypt},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))rc_decrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))rc_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))rc_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))rc_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))rc_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))rc_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))rc_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))rc_ctx_params},
    {0, NULL},
};
