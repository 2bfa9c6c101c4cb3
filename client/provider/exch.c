/*
 * P11AGENT-ECDH key exchange: the raw shared secret comes from the agent
 * (derive@p11agent); the X9.63 KDF that CMS asks for (RFC 5753) runs here
 * over it, in another provider.
 */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include "internal.h"

struct ecdh {
	struct p11a_prov *prov;
	struct p11a_key *key;  /* ours, on a token */
	struct p11a_key *peer; /* public */
	int x963;              /* run the X9.63 KDF, else the raw secret */
	EVP_MD *kdf_md;
	size_t kdf_outlen;
	uint8_t *ukm;
	size_t ukm_len;
	int cofactor; /* -1: the default; our curves have cofactor 1 */
	struct p11a_why why;
};

static void *
ecdh_newctx(void *provctx)
{
	struct ecdh *x;

	if ((x = OPENSSL_zalloc(sizeof(*x))) == NULL) {
		P11A_REPORT(provctx, P11AGENT_E_NOMEM, NULL);
		return NULL;
	}
	x->prov = provctx;
	x->cofactor = -1;
	return x;
}

static void
ecdh_freectx(void *ctx)
{
	struct ecdh *x = ctx;

	if (x == NULL)
		return;
	p11a_key_free(x->key);
	p11a_key_free(x->peer);
	EVP_MD_free(x->kdf_md);
	OPENSSL_free(x->ukm);
	OPENSSL_free(x);
}

static void *
ecdh_dupctx(void *ctx)
{
	struct ecdh *x = ctx, *d;

	if ((d = OPENSSL_memdup(x, sizeof(*x))) == NULL)
		goto nomem;
	d->key = x->key != NULL ? p11a_key_up_ref(x->key) : NULL;
	d->peer = x->peer != NULL ? p11a_key_up_ref(x->peer) : NULL;
	d->kdf_md = NULL;
	d->ukm = NULL;
	if (x->kdf_md != NULL) {
		if (!EVP_MD_up_ref(x->kdf_md))
			goto fail;
		d->kdf_md = x->kdf_md;
	}
	if (x->ukm != NULL &&
	    (d->ukm = OPENSSL_memdup(x->ukm, x->ukm_len)) == NULL)
		goto fail;
	return d;
fail:
	ecdh_freectx(d);
nomem:
	P11A_REPORT(x->prov, P11AGENT_E_NOMEM, NULL);
	return NULL;
}

static int
set_kdf_type(struct ecdh *x, const OSSL_PARAM *p)
{
	const char *name;

	if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
		return P11AGENT_E_FORMAT;
	if (name[0] == '\0')
		x->x963 = 0;
	else if (OPENSSL_strcasecmp(name, OSSL_KDF_NAME_X963KDF) == 0)
		x->x963 = 1;
	else
		return p11a_why_set(&x->why, P11AGENT_E_MECH_UNSUPPORTED,
		                    "KDF %s is not supported (X963KDF is)",
		                    name);
	return 0;
}

static int
set_kdf_md(struct ecdh *x, const OSSL_PARAM params[], const OSSL_PARAM *p)
{
	const OSSL_PARAM *pp;
	const char *name, *props = P11A_SOFT_PROPQ;
	EVP_MD *md;

	if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
		return P11AGENT_E_FORMAT;
	pp = OSSL_PARAM_locate_const(params,
	                             OSSL_EXCHANGE_PARAM_KDF_DIGEST_PROPS);
	if (pp != NULL && !OSSL_PARAM_get_utf8_string_ptr(pp, &props))
		return P11AGENT_E_FORMAT;
	if ((md = EVP_MD_fetch(x->prov->libctx, name, props)) == NULL)
		return p11a_why_set(&x->why, P11AGENT_E_MECH_UNSUPPORTED,
		                    "digest %s is not available", name);
	EVP_MD_free(x->kdf_md);
	x->kdf_md = md;
	return 0;
}

static int
ecdh_set(struct ecdh *x, const OSSL_PARAM params[])
{
	const OSSL_PARAM *p;
	int r, mode;

	if (params == NULL)
		return 0;
	p = OSSL_PARAM_locate_const(params,
	                            OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE);
	if (p != NULL) {
		if (!OSSL_PARAM_get_int(p, &mode) || mode < -1 || mode > 1)
			return P11AGENT_E_FORMAT;
		x->cofactor = mode;
	}
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_TYPE);
	if (p != NULL && (r = set_kdf_type(x, p)) != 0)
		return r;
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST);
	if (p != NULL && (r = set_kdf_md(x, params, p)) != 0)
		return r;
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN);
	if (p != NULL && !OSSL_PARAM_get_size_t(p, &x->kdf_outlen))
		return P11AGENT_E_FORMAT;
	p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_UKM);
	if (p != NULL &&
	    (r = p11a_param_get_octets(p, &x->ukm, &x->ukm_len)) != 0)
		return r;
	return 0;
}

static int
ecdh_get(struct ecdh *x, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	if (params == NULL)
		return 0;
	p = OSSL_PARAM_locate(params,
	                      OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE);
	if (p != NULL &&
	    !OSSL_PARAM_set_int(p, x->cofactor < 0 ? 0 : x->cofactor))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_TYPE);
	if (p != NULL && !OSSL_PARAM_set_utf8_string(
	                     p, x->x963 ? OSSL_KDF_NAME_X963KDF : ""))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST);
	if (p != NULL &&
	    !OSSL_PARAM_set_utf8_string(
	        p, x->kdf_md != NULL ? EVP_MD_get0_name(x->kdf_md) : ""))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN);
	if (p != NULL && !OSSL_PARAM_set_size_t(p, x->kdf_outlen))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_UKM);
	if (p != NULL && !OSSL_PARAM_set_octet_ptr(p, x->ukm, x->ukm_len))
		return P11AGENT_E_ARGS;
	return 0;
}

static int
ecdh_init_internal(struct ecdh *x, struct p11a_key *k,
                   const OSSL_PARAM params[])
{
	x->why.msg[0] = '\0';
	if (k == NULL || k->kind != P11A_KIND_EC || k->uri == NULL)
		return p11a_why_set(&x->why, P11AGENT_E_KEY_TYPE,
		                    "ECDH needs an EC key on a token");
	p11a_key_free(x->key);
	x->key = p11a_key_up_ref(k);
	return ecdh_set(x, params);
}

static int
ecdh_set_peer_internal(struct ecdh *x, struct p11a_key *peer)
{
	x->why.msg[0] = '\0';
	if (x->key == NULL)
		return p11a_why_set(&x->why, P11AGENT_E_ARGS, "no key");
	if (peer == NULL || peer->kind != P11A_KIND_EC || peer->point == NULL)
		return p11a_why_set(&x->why, P11AGENT_E_ARGS,
		                    "the peer key is not a public EC key");
	if (peer->nid != x->key->nid)
		return p11a_why_set(&x->why, P11AGENT_E_ARGS,
		                    "the peer key is on another curve");
	p11a_key_free(x->peer);
	x->peer = p11a_key_up_ref(peer);
	return 0;
}

/* ANSI X9.63 KDF over the shared secret z, into out (outlen bytes). */
static int
ecdh_x963(struct ecdh *x, const uint8_t *z, size_t zlen, uint8_t *out,
          size_t outlen)
{
	OSSL_PARAM params[4], *p = params;
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	int r = P11AGENT_E_MECH_UNSUPPORTED;

	kdf = EVP_KDF_fetch(x->prov->libctx, OSSL_KDF_NAME_X963KDF,
	                    P11A_SOFT_PROPQ);
	if (kdf == NULL || (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(
	    OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(x->kdf_md), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z,
	                                         zlen);
	if (x->ukm != NULL)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		                                         x->ukm, x->ukm_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, outlen, params) <= 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		p11a_why_set(&x->why, r, "the X9.63 KDF failed");
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

static int
ecdh_derive_internal(struct ecdh *x, uint8_t *secret, size_t *secretlen,
                     size_t outlen)
{
	size_t field, zlen, want;
	uint8_t *z;
	int r;

	if (x->key == NULL || x->peer == NULL)
		return p11a_why_set(&x->why, P11AGENT_E_ARGS,
		                    "ECDH needs a key and a peer key");
	field = p11a_key_size(x->key);
	if (x->x963 && (x->kdf_md == NULL || x->kdf_outlen == 0))
		return p11a_why_set(
		    &x->why, P11AGENT_E_ARGS,
		    "the X9.63 KDF needs a digest and a length");
	want = x->x963 ? x->kdf_outlen : field;
	if (secret == NULL) {
		*secretlen = want;
		return 0;
	}
	if (x->x963 && outlen < want)
		return p11a_why_set(&x->why, P11AGENT_E_ARGS,
		                    "secret buffer of %zu bytes, need %zu",
		                    outlen, want);
	if ((z = OPENSSL_malloc(field)) == NULL)
		return P11AGENT_E_NOMEM;
	zlen = field;
	r = p11a_agent_derive(x->prov, x->key->uri, x->peer->point,
	                      x->peer->point_len, z, &zlen, &x->why);
	if (r != 0)
		goto out;
	if (x->x963) {
		if ((r = ecdh_x963(x, z, zlen, secret, want)) == 0)
			*secretlen = want;
		goto out;
	}
	/* Like OpenSSL's ECDH, a shorter buffer takes the leading bytes. */
	*secretlen = zlen < outlen ? zlen : outlen;
	memcpy(secret, z, *secretlen);
out:
	OPENSSL_clear_free(z, field);
	return r;
}

static int
ecdh_init(void *ctx, void *provkey, const OSSL_PARAM params[])
{
	struct ecdh *x = ctx;

	return P11A_REPORT(x->prov, ecdh_init_internal(x, provkey, params),
	                   &x->why);
}

static int
ecdh_set_peer(void *ctx, void *provkey)
{
	struct ecdh *x = ctx;

	return P11A_REPORT(x->prov, ecdh_set_peer_internal(x, provkey),
	                   &x->why);
}

static int
ecdh_derive(void *ctx, unsigned char *secret, size_t *secretlen, size_t outlen)
{
	struct ecdh *x = ctx;

	x->why.msg[0] = '\0';
	return P11A_REPORT(x->prov,
	                   ecdh_derive_internal(x, secret, secretlen, outlen),
	                   &x->why);
}

static int
ecdh_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
	struct ecdh *x = ctx;

	x->why.msg[0] = '\0';
	return P11A_REPORT(x->prov, ecdh_set(x, params), &x->why);
}

static int
ecdh_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	struct ecdh *x = ctx;

	x->why.msg[0] = '\0';
	return P11A_REPORT(x->prov, ecdh_get(x, params), &x->why);
}

static const OSSL_PARAM ecdh_settable[] = {
    OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, NULL),
    OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST_PROPS, NULL, 0),
    OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, NULL),
    OSSL_PARAM_octet_string(OSSL_EXCHANGE_PARAM_KDF_UKM, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ecdh_gettable[] = {
    OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, NULL),
    OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, NULL, 0),
    OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, NULL),
    OSSL_PARAM_DEFN(OSSL_EXCHANGE_PARAM_KDF_UKM, OSSL_PARAM_OCTET_PTR, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *
ecdh_settable_ctx_params(void *ctx, void *provctx)
{
	(void)ctx;
	(void)provctx;
	return ecdh_settable;
}

static const OSSL_PARAM *
ecdh_gettable_ctx_params(void *ctx, void *provctx)
{
	(void)ctx;
	(void)provctx;
	return ecdh_gettable;
}

const OSSL_DISPATCH p11a_ecdh_keyexch_functions[] = {
    {OSSL_FUNC_KEYEXCH_NEWCTX, (void (*)(void))ecdh_newctx},
    {OSSL_FUNC_KEYEXCH_INIT, (void (*)(void))ecdh_init},
    {OSSL_FUNC_KEYEXCH_SET_PEER, (void (*)(void))ecdh_set_peer},
    {OSSL_FUNC_KEYEXCH_DERIVE, (void (*)(void))ecdh_derive},
    {OSSL_FUNC_KEYEXCH_FREECTX, (void (*)(void))ecdh_freectx},
    {OSSL_FUNC_KEYEXCH_DUPCTX, (void (*)(void))ecdh_dupctx},
    {OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS, (void (*)(void))ecdh_set_ctx_params},
    {OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS,
     (void (*)(void))ecdh_settable_ctx_params},
    {OSSL_FUNC_KEYEXCH_GET_CTX_PARAMS, (void (*)(void))ecdh_get_ctx_params},
    {OSSL_FUNC_KEYEXCH_GETTABLE_CTX_PARAMS,
     (void (*)(void))ecdh_gettable_ctx_params},
    {0, NULL},
};
