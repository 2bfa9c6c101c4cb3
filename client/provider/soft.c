/*
 * Public-key work (verify, encrypt) on a key of ours happens in another
 * provider, on a copy of the public key made there.  OpenSSL sends public
 * keys to us when it compares a certificate with a token key or hands us
 * an ECDH peer; such keys may then be used for a public operation, which
 * this provider passes on rather than re-implements.
 */
#include <openssl/core_dispatch.h>

#include "internal.h"

struct soft_build {
	EVP_PKEY_CTX *pctx;
	EVP_PKEY *pkey;
};

static int
soft_fromdata(const OSSL_PARAM params[], void *arg)
{
	struct soft_build *b = arg;

	return EVP_PKEY_fromdata(b->pctx, &b->pkey, EVP_PKEY_PUBLIC_KEY,
	                         (OSSL_PARAM *)params);
}

int
p11a_key_soft(const struct p11a_key *k, EVP_PKEY **out, struct p11a_why *why)
{
	struct soft_build b = {NULL, NULL};
	int r;

	*out = NULL;
	if (!p11a_key_has_public(k))
		return p11a_why_set(why, P11AGENT_E_ARGS,
		                    "the key has no public part");
	b.pctx = EVP_PKEY_CTX_new_from_name(
	    k->prov->libctx, p11a_key_type_name(k), P11A_SOFT_PROPQ);
	if (b.pctx == NULL || EVP_PKEY_fromdata_init(b.pctx) <= 0) {
		r = p11a_why_set(why, P11AGENT_E_MECH_UNSUPPORTED,
		                 "no other provider takes %s public keys (load "
		                 "the default provider)",
		                 p11a_key_type_name(k));
		goto out;
	}
	r = p11a_key_export(k,
	                    OSSL_KEYMGMT_SELECT_PUBLIC_KEY |
	                        OSSL_KEYMGMT_SELECT_ALL_PARAMETERS,
	                    soft_fromdata, &b, why);
	if (r != 0)
		goto out;
	*out = b.pkey;
	b.pkey = NULL;
out:
	EVP_PKEY_free(b.pkey);
	EVP_PKEY_CTX_free(b.pctx);
	return r;
}
