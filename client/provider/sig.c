/*
 * Signature dispatch for P11AGENT-RSA (PKCS#1 v1.5, PSS) and
 * P11AGENT-ECDSA: context lifecycle and the 1/0 boundary.
 */
#include <openssl/core_dispatch.h>
#include <openssl/rsa.h>

#include "sig.h"

static void *
sig_newctx(void *provctx, int ec)
{
	struct p11a_sig *s;

	if ((s = OPENSSL_zalloc(sizeof(*s))) == NULL) {
		P11A_REPORT(provctx, P11AGENT_E_NOMEM, NULL);
		return NULL;
	}
	s->prov = provctx;
	s->ec = ec;
	s->pad = RSA_PKCS1_PADDING;
	/* Salt as long as the digest: RFC 4055 and 8017's recommendation. */
	s->saltlen = RSA_PSS_SALTLEN_DIGEST;
	return s;
}

static void *
rsa_newctx(void *provctx, const char *propq)
{
	(void)propq;
	return sig_newctx(provctx, 0);
}

static void *
ecdsa_newctx(void *provctx, const char *propq)
{
	(void)propq;
	return sig_newctx(provctx, 1);
}

static void
sig_freectx(void *ctx)
{
	struct p11a_sig *s = ctx;

	if (s == NULL)
		return;
	p11a_key_free(s->key);
	EVP_MD_free(s->md);
	EVP_MD_free(s->mgf1);
	EVP_MD_CTX_free(s->mdctx);
	OPENSSL_free(s);
}

static void *
sig_dupctx(void *ctx)
{
	struct p11a_sig *s = ctx, *d;

	if ((d = OPENSSL_memdup(s, sizeof(*s))) == NULL)
		goto nomem;
	d->key = NULL;
	d->md = d->mgf1 = NULL;
	d->mdctx = NULL;
	if (s->key != NULL)
		d->key = p11a_key_up_ref(s->key);
	if (s->md != NULL && EVP_MD_up_ref(s->md))
		d->md = s->md;
	if (s->mgf1 != NULL && EVP_MD_up_ref(s->mgf1))
		d->mgf1 = s->mgf1;
	if ((s->md != NULL && d->md == NULL) ||
	    (s->mgf1 != NULL && d->mgf1 == NULL))
		goto fail;
	if (s->mdctx != NULL) {
		if ((d->mdctx = EVP_MD_CTX_new()) == NULL ||
		    !EVP_MD_CTX_copy_ex(d->mdctx, s->mdctx))
			goto fail;
	}
	return d;
fail:
	sig_freectx(d);
nomem:
	P11A_REPORT(s->prov, P11AGENT_E_NOMEM, NULL);
	return NULL;
}

/* Takes the key and the parameters of an init call. */
static int
sig_init(struct p11a_sig *s, void *provkey, const OSSL_PARAM params[],
         int verify)
{
	struct p11a_key *k = provkey;
	int r;

	s->why.msg[0] = '\0';
	s->verify = verify;
	if (k != NULL) {
		if ((k->kind == P11A_KIND_EC) != s->ec)
			return p11a_why_set(&s->why, P11AGENT_E_KEY_TYPE,
			                    "key type does not fit the "
			                    "signature");
		if (!verify && k->uri == NULL)
			return p11a_why_set(&s->why, P11AGENT_E_KEY_TYPE,
			                    "not a token key: cannot sign");
		p11a_key_free(s->key);
		s->key = p11a_key_up_ref(k);
		if (k->kind == P11A_KIND_RSA_PSS)
			s->pad = RSA_PKCS1_PSS_PADDING;
	}
	if (s->key == NULL)
		return p11a_why_set(&s->why, P11AGENT_E_ARGS, "no key");
	EVP_MD_CTX_free(s->mdctx);
	s->mdctx = NULL;
	if ((r = p11a_sig_set_params(s, params)) != 0)
		return r;
	return 0;
}

static int
sig_sign_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	struct p11a_sig *s = ctx;

	return P11A_REPORT(s->prov, sig_init(s, provkey, params, 0), &s->why);
}

static int
sig_verify_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	struct p11a_sig *s = ctx;

	return P11A_REPORT(s->prov, sig_init(s, provkey, params, 1), &s->why);
}

static int
sig_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
         const unsigned char *tbs, size_t tbslen)
{
	struct p11a_sig *s = ctx;

	s->why.msg[0] = '\0';
	return P11A_REPORT(s->prov,
	                   p11a_sig_sign(s, sig, siglen, sigsize, tbs, tbslen),
	                   &s->why);
}

static int
sig_verify(void *ctx, const unsigned char *sig, size_t siglen,
           const unsigned char *tbs, size_t tbslen)
{
	struct p11a_sig *s = ctx;

	s->why.msg[0] = '\0';
	return P11A_REPORT(
	    s->prov, p11a_sig_verify(s, sig, siglen, tbs, tbslen), &s->why);
}

static int
digest_init(struct p11a_sig *s, const char *mdname, void *provkey,
            const OSSL_PARAM params[], int verify)
{
	int r;

	if ((r = sig_init(s, provkey, params, verify)) != 0)
		return r;
	return p11a_sig_digest_init(s, mdname);
}

static int
sig_digest_sign_init(void *ctx, const char *mdname, void *provkey,
                     const OSSL_PARAM params[])
{
	struct p11a_sig *s = ctx;

	return P11A_REPORT(s->prov, digest_init(s, mdname, provkey, params, 0),
	                   &s->why);
}

static int
sig_digest_verify_init(void *ctx, const char *mdname, void *provkey,
                       const OSSL_PARAM params[])
{
	struct p11a_sig *s = ctx;

	return P11A_REPORT(s->prov, digest_init(s, mdname, provkey, params, 1),
	                   &s->why);
}

static int
sig_digest_update(void *ctx, const unsigned char *data, size_t len)
{
	struct p11a_sig *s = ctx;

	return P11A_REPORT(s->prov, p11a_sig_digest_update(s, data, len),
	                   &s->why);
}

static int
sig_digest_sign_final(void *ctx, unsigned char *sig, size_t *siglen,
                      size_t sigsize)
{
	struct p11a_sig *s = ctx;

	s->why.msg[0] = '\0';
	return P11A_REPORT(s->prov,
	                   p11a_sig_digest_sign_final(s, sig, siglen, sigsize),
	                   &s->why);
}

static int
sig_digest_verify_final(void *ctx, const unsigned char *sig, size_t siglen)
{
	struct p11a_sig *s = ctx;

	s->why.msg[0] = '\0';
	return P11A_REPORT(
	    s->prov, p11a_sig_digest_verify_final(s, sig, siglen), &s->why);
}

static int
sig_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct p11a_sig *s = ctx;

	s->why.msg[0] = '\0';
	return P11A_REPORT(s->prov, p11a_sig_set_params(s, params), &s->why);
}

static int
sig_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct p11a_sig *s = ctx;

	s->why.msg[0] = '\0';
	return P11A_REPORT(s->prov, p11a_sig_get_params(s, params), &s->why);
}

static const OSSL_PARAM *
rsa_settable_ctx_params(void *ctx, void *provctx)
{
	(void)ctx;
	(void)provctx;
	return p11a_sig_settable(0);
}

static const OSSL_PARAM *
ecdsa_settable_ctx_params(void *ctx, void *provctx)
{
	(void)ctx;
	(void)provctx;
	return p11a_sig_settable(1);
}

static const OSSL_PARAM *
rsa_gettable_ctx_params(void *ctx, void *provctx)
{
	(void)ctx;
	(void)provctx;
	return p11a_sig_gettable(0);
}

static const OSSL_PARAM *
ecdsa_gettable_ctx_params(void *ctx, void *provctx)
{
	(void)ctx;
	(void)provctx;
	return p11a_sig_gettable(1);
}

/*
 * The dispatch table of a signature algorithm: all but the context's
 * constructor and its parameter lists are shared.  Laid out by hand:
 * clang-format does not keep a braced list inside a macro readable.
 */
/* clang-format off */
#define SIGNATURE_FUNCTIONS(newctx_fn, settable_fn, gettable_fn)          \
	{                                                                 \
	    {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init},\
	    {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign},         \
	    {OSSL_FUNC_SIGNATURE_VERIFY_INIT,                             \
	     (void (*)(void))sig_verify_init},                            \
	    {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify},     \
	    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,                        \
	     (void (*)(void))sig_digest_sign_init},                       \
	    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,                      \
	     (void (*)(void))sig_digest_update},                          \
	    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,                       \
	     (void (*)(void))sig_digest_sign_final},                      \
	    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT,                      \
	     (void (*)(void))sig_digest_verify_init},                     \
	    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE,                    \
	     (void (*)(void))sig_digest_update},                          \
	    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL,                     \
	     (void (*)(void))sig_digest_verify_final},                    \
	    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},   \
	    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},     \
	    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,                          \
	     (void (*)(void))sig_set_ctx_params},                         \
	    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS,                          \
	     (void (*)(void))sig_get_ctx_params},                         \
	    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))newctx_fn},      \
	    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,                     \
	     (void (*)(void))settable_fn},                                \
	    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,                     \
	     (void (*)(void))gettable_fn},                                \
	    {0, NULL},                                                    \
	}
/* clang-format on */

const OSSL_DISPATCH p11a_rsa_signature_functions[] = SIGNATURE_FUNCTIONS(
    rsa_newctx, rsa_settable_ctx_params, rsa_gettable_ctx_params);

const OSSL_DISPATCH p11a_ecdsa_signature_functions[] = SIGNATURE_FUNCTIONS(
    ecdsa_newctx, ecdsa_settable_ctx_params, ecdsa_gettable_ctx_params);
