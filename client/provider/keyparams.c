/*
 * Key management's OSSL_PARAM side: import and export of public parts,
 * EVP_PKEY_get_params() and EVP_PKEY_set1_encoded_public_key().
 */
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include "internal.h"

static const OSSL_PARAM rsa_public_types[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ec_public_types[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ec_params_types[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM rsa_gettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ec_gettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ec_settable[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM none[] = {
    OSSL_PARAM_END,
};

const OSSL_PARAM *
p11a_key_import_types(enum p11a_kind kind, int selection)
{
	if (kind == P11A_KIND_EC) {
		if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0)
			return ec_public_types;
		if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0)
			return ec_params_types;
		return none;
	}
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0)
		return rsa_public_types;
	return none;
}

const OSSL_PARAM *
p11a_key_gettable(enum p11a_kind kind)
{
	return kind == P11A_KIND_EC ? ec_gettable : rsa_gettable;
}

const OSSL_PARAM *
p11a_key_settable(enum p11a_kind kind)
{
	return kind == P11A_KIND_EC ? ec_settable : none;
}

static int
import_ec(struct p11a_key *k, int selection, const OSSL_PARAM params[],
          struct p11a_why *why)
{
	const OSSL_PARAM *p;
	const char *group = NULL;
	const void *point = NULL;
	size_t point_len = 0;
	int nid = k->nid;

	if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL)
		return p11a_why_set(why, P11AGENT_E_KEY_TYPE,
		                    "EC private keys are not imported: they "
		                    "stay on tokens");
	p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME);
	if (p != NULL) {
		if (!OSSL_PARAM_get_utf8_string_ptr(p, &group))
			return P11AGENT_E_FORMAT;
		nid = p11a_curve_nid(group);
	}
	if (nid == NID_undef)
		return p11a_why_set(why, P11AGENT_E_MECH_UNSUPPORTED,
		                    "only named curves are supported");
	p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
	if (p != NULL && (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 &&
	    !OSSL_PARAM_get_octet_string_ptr(p, &point, &point_len))
		return P11AGENT_E_FORMAT;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0)
		point = NULL;
	return p11a_key_set_ec(k, nid, point, point_len, why);
}

static int
import_rsa(struct p11a_key *k, int selection, const OSSL_PARAM params[],
           struct p11a_why *why)
{
	const OSSL_PARAM *pn, *pe;
	BIGNUM *n = NULL, *e = NULL;
	int r;

	if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) != NULL ||
	    OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_FACTOR1) !=
	        NULL)
		return p11a_why_set(why, P11AGENT_E_KEY_TYPE,
		                    "RSA private keys are not imported: they "
		                    "stay on tokens");
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0)
		return 0;
	pn = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_N);
	pe = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E);
	if (pn == NULL || pe == NULL)
		return p11a_why_set(why, P11AGENT_E_FORMAT,
		                    "RSA public key without n or e");
	if (!OSSL_PARAM_get_BN(pn, &n) || !OSSL_PARAM_get_BN(pe, &e)) {
		r = P11AGENT_E_FORMAT;
		goto out;
	}
	r = p11a_key_set_rsa(k, n, e, why);
out:
	BN_free(n);
	BN_free(e);
	return r;
}

int
p11a_key_import(struct p11a_key *k, int selection, const OSSL_PARAM params[],
                struct p11a_why *why)
{
	if (k->uri != NULL)
		return p11a_why_set(why, P11AGENT_E_ARGS,
		                    "cannot import into a token key");
	if (params == NULL)
		return P11AGENT_E_ARGS;
	if (k->kind == P11A_KIND_EC)
		return import_ec(k, selection, params, why);
	/* RSA-PSS restrictions are not kept: verifying is not done here. */
	return import_rsa(k, selection, params, why);
}

static int
export_build(const struct p11a_key *k, int selection, OSSL_PARAM_BLD *bld)
{
	int want_pub = (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;

	if (k->kind == P11A_KIND_EC) {
		if (k->nid != NID_undef &&
		    (want_pub ||
		     (selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0) &&
		    !OSSL_PARAM_BLD_push_utf8_string(
		        bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(k->nid), 0))
			return P11AGENT_E_NOMEM;
		if (want_pub && k->point != NULL &&
		    !OSSL_PARAM_BLD_push_octet_string(
		        bld, OSSL_PKEY_PARAM_PUB_KEY, k->point, k->point_len))
			return P11AGENT_E_NOMEM;
		return 0;
	}
	if (want_pub && k->n != NULL && k->e != NULL &&
	    (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, k->n) ||
	     !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, k->e)))
		return P11AGENT_E_NOMEM;
	return 0;
}

int
p11a_key_export(const struct p11a_key *k, int selection, OSSL_CALLBACK *cb,
                void *cbarg, struct p11a_why *why)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	int r;

	/*
	 * Refusing a private export is what keeps operations on token keys
	 * in this provider: OpenSSL tries to export a key to the provider
	 * of an operation it found elsewhere, and falls back to the key's
	 * own provider when that fails.
	 */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
	    k->uri != NULL)
		return p11a_why_set(why, P11AGENT_E_KEY_TYPE,
		                    "the private key stays on the token");
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return P11AGENT_E_NOMEM;
	if ((r = export_build(k, selection, bld)) != 0)
		goto out;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		r = P11AGENT_E_NOMEM;
		goto out;
	}
	if (!cb(params, cbarg))
		r = p11a_why_set(why, P11AGENT_E_ARGS,
		                 "the public key was not accepted");
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

static int
get_common(const struct p11a_key *k, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
	    !OSSL_PARAM_set_int(p, k->bits))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS);
	if (p != NULL && !OSSL_PARAM_set_int(p, p11a_key_security_bits(k)))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE);
	if (p != NULL && !OSSL_PARAM_set_int(p, (int)p11a_key_max_sig(k)))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST);
	if (p != NULL && !OSSL_PARAM_set_utf8_string(p, "SHA256"))
		return P11AGENT_E_ARGS;
	return 0;
}

static int
get_ec(const struct p11a_key *k, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_GROUP_NAME);
	if (p != NULL && k->nid != NID_undef &&
	    !OSSL_PARAM_set_utf8_string(p, OBJ_nid2sn(k->nid)))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_EC_ENCODING);
	if (p != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, OSSL_PKEY_EC_ENCODING_GROUP))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params,
	                      OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT);
	if (p != NULL &&
	    !OSSL_PARAM_set_utf8_string(
	        p, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED))
		return P11AGENT_E_ARGS;
	if (k->point == NULL)
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PUB_KEY);
	if (p != NULL &&
	    !OSSL_PARAM_set_octet_string(p, k->point, k->point_len))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
	if (p != NULL &&
	    !OSSL_PARAM_set_octet_string(p, k->point, k->point_len))
		return P11AGENT_E_ARGS;
	return 0;
}

static int
get_rsa(const struct p11a_key *k, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_N);
	if (p != NULL && k->n != NULL && !OSSL_PARAM_set_BN(p, k->n))
		return P11AGENT_E_ARGS;
	p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_E);
	if (p != NULL && k->e != NULL && !OSSL_PARAM_set_BN(p, k->e))
		return P11AGENT_E_ARGS;
	return 0;
}

int
p11a_key_get_params(const struct p11a_key *k, OSSL_PARAM params[],
                    struct p11a_why *why)
{
	int r;

	if (params == NULL)
		return 0;
	if ((r = get_common(k, params)) == 0)
		r = k->kind == P11A_KIND_EC ? get_ec(k, params)
		                            : get_rsa(k, params);
	if (r != 0)
		p11a_why_set(why, r, "a key parameter does not fit");
	return r;
}

int
p11a_key_set_params(struct p11a_key *k, const OSSL_PARAM params[],
                    struct p11a_why *why)
{
	const OSSL_PARAM *p;
	const void *point;
	size_t len;

	if (params == NULL)
		return 0;
	p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
	if (p == NULL)
		return 0;
	if (k->kind != P11A_KIND_EC || k->uri != NULL || k->nid == NID_undef)
		return p11a_why_set(why, P11AGENT_E_ARGS,
		                    "only a public EC key with a curve takes "
		                    "an encoded public key");
	if (!OSSL_PARAM_get_octet_string_ptr(p, &point, &len))
		return P11AGENT_E_FORMAT;
	return p11a_key_set_ec(k, k->nid, point, len, why);
}
