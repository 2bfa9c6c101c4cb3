/*
 * The provider itself: its init function, the algorithms it offers and
 * its own parameters.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "internal.h"

#ifndef P11A_PROVIDER_VERSION
#define P11A_PROVIDER_VERSION "0.0.0"
#endif

/*
 * Key management under OpenSSL's own names, so that our keys are "RSA"
 * or "EC" to EVP_PKEY_is_a(), CMS and X.509 code.  The operations have
 * names of their own (internal.h).
 */
static const OSSL_ALGORITHM keymgmt_algs[] = {
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", P11A_PROPS,
     p11a_rsa_keymgmt_functions, "RSA key held by p11agent"},
    {"RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10", P11A_PROPS,
     p11a_rsapss_keymgmt_functions, "RSA-PSS key held by p11agent"},
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", P11A_PROPS,
     p11a_ec_keymgmt_functions, "EC key held by p11agent"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM signature_algs[] = {
    {P11A_ALG_RSA, P11A_PROPS, p11a_rsa_signature_functions,
     "RSA PKCS#1 v1.5 and PSS signatures by p11agent"},
    {P11A_ALG_ECDSA, P11A_PROPS, p11a_ecdsa_signature_functions,
     "ECDSA signatures by p11agent"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM asym_cipher_algs[] = {
    {P11A_ALG_RSA, P11A_PROPS, p11a_rsa_asym_cipher_functions,
     "RSA PKCS#1 v1.5 and OAEP decryption by p11agent"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM keyexch_algs[] = {
    {P11A_ALG_ECDH, P11A_PROPS, p11a_ecdh_keyexch_functions,
     "ECDH by p11agent"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM store_algs[] = {
    {"pkcs11", P11A_PROPS, p11a_store_functions,
     "RFC 7512 pkcs11: URIs of p11agent keys"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *
prov_query(void *provctx, int operation_id, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return keymgmt_algs;
	case OSSL_OP_SIGNATURE:
		return signature_algs;
	case OSSL_OP_ASYM_CIPHER:
		return asym_cipher_algs;
	case OSSL_OP_KEYEXCH:
		return keyexch_algs;
	case OSSL_OP_STORE:
		return store_algs;
	default:
		return NULL;
	}
}

static const OSSL_PARAM prov_param_types[] = {
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, NULL, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *
prov_gettable_params(void *provctx)
{
	(void)provctx;
	return prov_param_types;
}

static int
prov_get_params(void *provctx, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	(void)provctx;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "p11agent provider"))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, P11A_PROVIDER_VERSION))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, P11A_PROVIDER_VERSION))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
	if (p != NULL && !OSSL_PARAM_set_int(p, 1))
		return 0;
	return 1;
}

static const OSSL_ITEM *
prov_reason_strings(void *provctx)
{
	(void)provctx;
	return p11a_reason_strings();
}

static void
prov_teardown(void *provctx)
{
	struct p11a_prov *prov = provctx;

	if (prov == NULL)
		return;
	OSSL_LIB_CTX_free(prov->libctx);
	OPENSSL_free(prov->socket);
	OPENSSL_free(prov);
}

static const OSSL_DISPATCH prov_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))prov_teardown},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))prov_gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))prov_get_params},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS,
     (void (*)(void))prov_reason_strings},
    {0, NULL},
};

/*
 * Reads the "socket" key of the provider's configuration section.
 * Returns 0 or P11AGENT_E_NOMEM.
 */
static int
prov_read_config(struct p11a_prov *prov, OSSL_FUNC_core_get_params_fn *get)
{
	char *socket = NULL;
	OSSL_PARAM params[2];

	if (get == NULL)
		return 0;
	params[0] = OSSL_PARAM_construct_utf8_ptr("socket", &socket, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!get(prov->handle, params) || socket == NULL || socket[0] == '\0')
		return 0;
	if ((prov->socket = OPENSSL_strdup(socket)) == NULL)
		return P11AGENT_E_NOMEM;
	return 0;
}

int
p11a_prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
               const OSSL_DISPATCH **out, void **provctx)
{
	OSSL_FUNC_core_get_params_fn *get_params = NULL;
	const OSSL_DISPATCH *d;
	struct p11a_prov *prov;

	if ((prov = OPENSSL_zalloc(sizeof(*prov))) == NULL)
		return 0;
	prov->handle = handle;
	for (d = in; d->function_id != 0; d++) {
		switch (d->function_id) {
		case OSSL_FUNC_CORE_GET_PARAMS:
			get_params = OSSL_FUNC_core_get_params(d);
			break;
		case OSSL_FUNC_CORE_NEW_ERROR:
			prov->new_error = OSSL_FUNC_core_new_error(d);
			break;
		case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
			prov->set_error_debug =
			    OSSL_FUNC_core_set_error_debug(d);
			break;
		case OSSL_FUNC_CORE_VSET_ERROR:
			prov->vset_error = OSSL_FUNC_core_vset_error(d);
			break;
		default:
			break;
		}
	}
	if (prov_read_config(prov, get_params) != 0)
		goto fail;
	/*
	 * Digests, the X9.63 KDF and public-key work run in a child of the
	 * application's library context: it sees the same providers.
	 */
	if ((prov->libctx = OSSL_LIB_CTX_new_child(handle, in)) == NULL)
		goto fail;
	*out = prov_functions;
	*provctx = prov;
	return 1;
fail:
	prov_teardown(prov);
	return 0;
}
