/*
 * Digests the agent knows by number: SHA-1 and SHA-2.  The digest itself
 * always runs in another provider (usually "default").
 */
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include "internal.h"

uint32_t
p11a_md_hash(const EVP_MD *md)
{
	if (md == NULL)
		return P11AGENT_HASH_NONE;
	switch (EVP_MD_get_type(md)) {
	case NID_sha1:
		return P11AGENT_HASH_SHA1;
	case NID_sha224:
		return P11AGENT_HASH_SHA224;
	case NID_sha256:
		return P11AGENT_HASH_SHA256;
	case NID_sha384:
		return P11AGENT_HASH_SHA384;
	case NID_sha512:
		return P11AGENT_HASH_SHA512;
	default:
		return P11AGENT_HASH_NONE;
	}
}

int
p11a_md_fetch(const struct p11a_prov *prov, const char *name, const char *props,
              EVP_MD **out, struct p11a_why *why)
{
	EVP_MD *md;

	*out = NULL;
	if (name == NULL || name[0] == '\0')
		return p11a_why_set(why, P11AGENT_E_ARGS, "empty digest name");
	if ((md = EVP_MD_fetch(prov->libctx, name, props)) == NULL)
		return p11a_why_set(why, P11AGENT_E_MECH_UNSUPPORTED,
		                    "digest %s is not available", name);
	if (p11a_md_hash(md) == P11AGENT_HASH_NONE) {
		EVP_MD_free(md);
		return p11a_why_set(why, P11AGENT_E_MECH_UNSUPPORTED,
		                    "digest %s is not supported with p11agent "
		                    "keys (SHA-1 and SHA-2 are)",
		                    name);
	}
	*out = md;
	return 0;
}

int
p11a_param_md(const struct p11a_prov *prov, const OSSL_PARAM params[],
              const char *key, const char *props_key, EVP_MD **md,
              struct p11a_why *why)
{
	const OSSL_PARAM *p, *pp;
	const char *name, *props = NULL;
	EVP_MD *m;
	int r;

	if ((p = OSSL_PARAM_locate_const(params, key)) == NULL)
		return 0;
	if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
		return P11AGENT_E_FORMAT;
	pp = OSSL_PARAM_locate_const(params, props_key);
	if (pp != NULL && !OSSL_PARAM_get_utf8_string_ptr(pp, &props))
		return P11AGENT_E_FORMAT;
	if ((r = p11a_md_fetch(prov, name, props, &m, why)) != 0)
		return r;
	EVP_MD_free(*md);
	*md = m;
	return 0;
}

EVP_MD *
p11a_md_for_size(const struct p11a_prov *prov, size_t len)
{
	const char *name;

	switch (len) {
	case 20:
		name = "SHA1";
		break;
	case 28:
		name = "SHA2-224";
		break;
	case 32:
		name = "SHA2-256";
		break;
	case 48:
		name = "SHA2-384";
		break;
	case 64:
		name = "SHA2-512";
		break;
	default:
		return NULL;
	}
	return EVP_MD_fetch(prov->libctx, name, NULL);
}
