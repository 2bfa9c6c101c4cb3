/*
 * Key management dispatch for RSA, RSA-PSS and EC: thin wrappers over
 * key.c and keyparams.c.  Keys come from the store by reference
 * (km_load()), or are public keys OpenSSL imports.  There is no key
 * generation: keys are made on tokens with `p11 keygen`.
 */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>

#include "internal.h"

static void *
km_new(void *provctx, enum p11a_kind kind)
{
	return p11a_key_new(provctx, kind);
}

static void *
rsa_new(void *provctx)
{
	return km_new(provctx, P11A_KIND_RSA);
}

static void *
rsapss_new(void *provctx)
{
	return km_new(provctx, P11A_KIND_RSA_PSS);
}

static void *
ec_new(void *provctx)
{
	return km_new(provctx, P11A_KIND_EC);
}

/*
 * The store hands out a key as a reference: the bytes of a struct
 * p11a_key pointer that stays valid while the store's callback runs.
 */
static void *
km_load(const void *reference, size_t reference_sz, int want_ec)
{
	struct p11a_key *k;

	if (reference == NULL || reference_sz != sizeof(k))
		return NULL;
	memcpy(&k, reference, sizeof(k));
	if (k == NULL || (k->kind == P11A_KIND_EC) != want_ec)
		return NULL;
	return p11a_key_up_ref(k);
}

static void *
rsa_load(const void *reference, size_t reference_sz)
{
	return km_load(reference, reference_sz, 0);
}

static void *
ec_load(const void *reference, size_t reference_sz)
{
	return km_load(reference, reference_sz, 1);
}

static void
km_free(void *keydata)
{
	p11a_key_free(keydata);
}

static void *
km_dup(const void *keydata, int selection)
{
	struct p11a_key *d;

	if (keydata == NULL)
		return NULL;
	if ((d = p11a_key_dup(keydata, selection)) == NULL)
		P11A_REPORT(((const struct p11a_key *)keydata)->prov,
		            P11AGENT_E_NOMEM, NULL);
	return d;
}

static int
km_has(const void *keydata, int selection)
{
	const struct p11a_key *k = keydata;

	if (k == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
	    k->uri == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 &&
	    !p11a_key_has_public(k))
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 &&
	    k->kind == P11A_KIND_EC && k->nid == NID_undef)
		return 0;
	return 1;
}

static int
km_match(const void *keydata1, const void *keydata2, int selection)
{
	const struct p11a_key *a = keydata1, *b = keydata2;

	if (a == NULL || b == NULL)
		return 0;
	if (a->kind == P11A_KIND_EC &&
	    (selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0 &&
	    a->nid != b->nid)
		return 0;
	/* A token key is the private half of its public key. */
	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0)
		return p11a_key_public_eq(a, b);
	return 1;
}

static int
km_validate(const void *keydata, int selection, int checktype)
{
	(void)checktype;
	/* Public parts were checked when set (EC points lie on the curve). */
	return km_has(keydata, selection);
}

static int
km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	struct p11a_key *k = keydata;
	struct p11a_why why = {""};
	int r;

	if (k == NULL)
		return 0;
	r = p11a_key_import(k, selection, params, &why);
	/*
	 * Refusing a private key is expected: OpenSSL tries our key
	 * management for software keys too and moves on.  No error noise.
	 */
	if (r == P11AGENT_E_KEY_TYPE)
		return 0;
	return P11A_REPORT(k->prov, r, &why);
}

static int
km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct p11a_key *k = keydata;
	struct p11a_why why = {""};
	int r;

	if (k == NULL || cb == NULL)
		return 0;
	r = p11a_key_export(k, selection, cb, cbarg, &why);
	if (r == P11AGENT_E_KEY_TYPE)
		return 0; /* private part asked for: expected, see there */
	return P11A_REPORT(k->prov, r, &why);
}

static const OSSL_PARAM *
rsa_import_types(int selection)
{
	return p11a_key_import_types(P11A_KIND_RSA, selection);
}

static const OSSL_PARAM *
ec_import_types(int selection)
{
	return p11a_key_import_types(P11A_KIND_EC, selection);
}

static int
km_get_params(void *keydata, OSSL_PARAM params[])
{
	struct p11a_key *k = keydata;
	struct p11a_why why = {""};

	if (k == NULL)
		return 0;
	return P11A_REPORT(k->prov, p11a_key_get_params(k, params, &why), &why);
}

static int
km_set_params(void *keydata, const OSSL_PARAM params[])
{
	struct p11a_key *k = keydata;
	struct p11a_why why = {""};

	if (k == NULL)
		return 0;
	return P11A_REPORT(k->prov, p11a_key_set_params(k, params, &why), &why);
}

static const OSSL_PARAM *
rsa_gettable_params(void *provctx)
{
	(void)provctx;
	return p11a_key_gettable(P11A_KIND_RSA);
}

static const OSSL_PARAM *
ec_gettable_params(void *provctx)
{
	(void)provctx;
	return p11a_key_gettable(P11A_KIND_EC);
}

static const OSSL_PARAM *
rsa_settable_params(void *provctx)
{
	(void)provctx;
	return p11a_key_settable(P11A_KIND_RSA);
}

static const OSSL_PARAM *
ec_settable_params(void *provctx)
{
	(void)provctx;
	return p11a_key_settable(P11A_KIND_EC);
}

static const char *
rsa_query_operation_name(int operation_id)
{
	switch (operation_id) {
	case OSSL_OP_SIGNATURE:
	case OSSL_OP_ASYM_CIPHER:
		return P11A_ALG_RSA;
	default:
		return NULL;
	}
}

static const char *
ec_query_operation_name(int operation_id)
{
	switch (operation_id) {
	case OSSL_OP_SIGNATURE:
		return P11A_ALG_ECDSA;
	case OSSL_OP_KEYEXCH:
		return P11A_ALG_ECDH;
	default:
		return NULL;
	}
}

/*
 * The dispatch table of a key type: the functions every key type shares,
 * and those that know the type.  Laid out by hand: clang-format does not
 * keep a braced list inside a macro readable.
 */
/* clang-format off */
#define KEYMGMT_FUNCTIONS(new_fn, load_fn, types_fn, gettable_fn,         \
                          settable_fn, opname_fn)                         \
	{                                                                 \
	    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},            \
	    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup},              \
	    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},              \
	    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},          \
	    {OSSL_FUNC_KEYMGMT_VALIDATE, (void (*)(void))km_validate},    \
	    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},        \
	    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},        \
	    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},\
	    {OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))km_set_params},\
	    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))new_fn},              \
	    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))load_fn},            \
	    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))types_fn},   \
	    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))types_fn},   \
	    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,                           \
	     (void (*)(void))gettable_fn},                                \
	    {OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS,                           \
	     (void (*)(void))settable_fn},                                \
	    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,                      \
	     (void (*)(void))opname_fn},                                  \
	    {0, NULL},                                                    \
	}
/* clang-format on */

const OSSL_DISPATCH p11a_rsa_keymgmt_functions[] =
    KEYMGMT_FUNCTIONS(rsa_new, rsa_load, rsa_import_types, rsa_gettable_params,
                      rsa_settable_params, rsa_query_operation_name);

const OSSL_DISPATCH p11a_rsapss_keymgmt_functions[] = KEYMGMT_FUNCTIONS(
    rsapss_new, rsa_load, rsa_import_types, rsa_gettable_params,
    rsa_settable_params, rsa_query_operation_name);

const OSSL_DISPATCH p11a_ec_keymgmt_functions[] =
    KEYMGMT_FUNCTIONS(ec_new, ec_load, ec_import_types, ec_gettable_params,
                      ec_settable_params, ec_query_operation_name);
