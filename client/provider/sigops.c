/*
 * Signing through the agent (sign-digest@p11agent), and verifying in
 * another provider on a copy of the public key.
 */
#include <string.h>

#include <openssl/rsa.h>

#include "sig.h"

/* The request the agent gets for the digest in s. */
struct sign_req {
	uint32_t mech, hash, mgf1_hash, salt;
};

static int
sign_request(struct p11a_sig *s, size_t tbslen, struct sign_req *q)
{
	int salt, r;

	memset(q, 0, sizeof(*q));
	if (s->md == NULL && !s->ec && s->pad == RSA_PKCS1_PSS_PADDING) {
		/* PSS needs the hash: take the one of the digest's size. */
		if ((s->md = p11a_md_for_size(s->prov, tbslen)) == NULL)
			return p11a_why_set(&s->why, P11AGENT_E_ARGS,
			                    "PSS needs a digest; none has %zu "
			                    "bytes",
			                    tbslen);
	}
	if (s->md != NULL && (size_t)EVP_MD_get_size(s->md) != tbslen)
		return p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                    "%zu bytes are not a %s digest", tbslen,
		                    EVP_MD_get0_name(s->md));
	q->hash = p11a_md_hash(s->md);
	if (s->ec) {
		q->mech = P11AGENT_MECH_ECDSA;
		return 0;
	}
	if (s->pad == RSA_PKCS1_PADDING) {
		q->mech = P11AGENT_MECH_RSA_PKCS1;
		return 0;
	}
	if ((r = p11a_sig_pss_saltlen(s, &salt)) != 0)
		return r;
	q->mech = P11AGENT_MECH_RSA_PSS;
	q->mgf1_hash = p11a_md_hash(s->mgf1 != NULL ? s->mgf1 : s->md);
	q->salt = (uint32_t)salt;
	return 0;
}

int
p11a_sig_sign(struct p11a_sig *s, uint8_t *sig, size_t *siglen, size_t sigsize,
              const uint8_t *tbs, size_t tbslen)
{
	struct p11a_key *k = s->key;
	struct sign_req q;
	uint8_t *raw = NULL;
	size_t rawlen, rawsize;
	int r;

	if (k == NULL || s->verify || k->uri == NULL)
		return p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                    "not initialised for signing with a token "
		                    "key");
	if (sig == NULL) {
		*siglen = p11a_key_max_sig(k);
		return 0;
	}
	if ((r = sign_request(s, tbslen, &q)) != 0)
		return r;
	rawsize = s->ec ? 2 * p11a_key_size(k) : p11a_key_size(k);
	if ((raw = OPENSSL_malloc(rawsize)) == NULL)
		return P11AGENT_E_NOMEM;
	rawlen = rawsize;
	r = p11a_agent_sign(s->prov, k->uri, q.mech, q.hash, q.mgf1_hash,
	                    q.salt, tbs, tbslen, raw, &rawlen, &s->why);
	if (r != 0)
		goto out;
	if (s->ec) {
		r = p11a_ecdsa_raw_to_der(raw, rawlen, sig, sigsize, siglen);
		if (r != 0)
			p11a_why_set(&s->why, r,
			             "ECDSA signature of %zu bytes does not "
			             "convert into %zu",
			             rawlen, sigsize);
		goto out;
	}
	if (rawlen > sigsize) {
		r = p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                 "signature buffer of %zu bytes, need %zu",
		                 sigsize, rawlen);
		goto out;
	}
	memcpy(sig, raw, rawlen);
	*siglen = rawlen;
out:
	OPENSSL_free(raw);
	return r;
}

/* Sets the RSA parameters of s on a verify context of another provider. */
static int
verify_setup_rsa(struct p11a_sig *s, EVP_PKEY_CTX *pc)
{
	if (EVP_PKEY_CTX_set_rsa_padding(pc, s->pad) <= 0)
		return P11AGENT_E_MECH_UNSUPPORTED;
	if (s->pad != RSA_PKCS1_PSS_PADDING)
		return 0;
	/* Unless told, accept any salt length like OpenSSL does. */
	if (EVP_PKEY_CTX_set_rsa_pss_saltlen(
	        pc, s->saltlen_set ? s->saltlen : RSA_PSS_SALTLEN_AUTO) <= 0)
		return P11AGENT_E_MECH_UNSUPPORTED;
	if (s->mgf1 != NULL && EVP_PKEY_CTX_set_rsa_mgf1_md(pc, s->mgf1) <= 0)
		return P11AGENT_E_MECH_UNSUPPORTED;
	return 0;
}

int
p11a_sig_verify(struct p11a_sig *s, const uint8_t *sig, size_t siglen,
                const uint8_t *tbs, size_t tbslen)
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *pc = NULL;
	int r, v;

	if (s->key == NULL || !s->verify)
		return p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                    "not initialised for verifying");
	if ((r = p11a_key_soft(s->key, &pk, &s->why)) != 0)
		return r;
	r = P11AGENT_E_MECH_UNSUPPORTED;
	pc = EVP_PKEY_CTX_new_from_pkey(s->prov->libctx, pk, P11A_SOFT_PROPQ);
	if (pc == NULL || EVP_PKEY_verify_init(pc) <= 0)
		goto out;
	if (s->md != NULL && EVP_PKEY_CTX_set_signature_md(pc, s->md) <= 0)
		goto out;
	if (!s->ec && (r = verify_setup_rsa(s, pc)) != 0)
		goto out;
	v = EVP_PKEY_verify(pc, sig, siglen, tbs, tbslen);
	r = v == 1 ? 0 : P11AGENT_E_SIGNATURE;
out:
	if (r == P11AGENT_E_MECH_UNSUPPORTED)
		p11a_why_set(&s->why, r,
		             "verifying with the public key failed");
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(pk);
	return r;
}

int
p11a_sig_digest_init(struct p11a_sig *s, const char *mdname)
{
	EVP_MD *md;
	int r;

	/* RSA and ECDSA never sign unhashed data here. */
	if (mdname == NULL || mdname[0] == '\0')
		mdname = s->md != NULL ? EVP_MD_get0_name(s->md) : "SHA256";
	if ((r = p11a_md_fetch(s->prov, mdname, NULL, &md, &s->why)) != 0)
		return r;
	EVP_MD_free(s->md);
	s->md = md;
	if ((s->mdctx = EVP_MD_CTX_new()) == NULL)
		return P11AGENT_E_NOMEM;
	if (!EVP_DigestInit_ex2(s->mdctx, s->md, NULL))
		return p11a_why_set(&s->why, P11AGENT_E_MECH_UNSUPPORTED,
		                    "cannot start %s", mdname);
	return 0;
}

int
p11a_sig_digest_update(struct p11a_sig *s, const uint8_t *data, size_t len)
{
	if (s->mdctx == NULL)
		return p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                    "digest not initialised");
	if (!EVP_DigestUpdate(s->mdctx, data, len))
		return P11AGENT_E_INTERNAL;
	return 0;
}

/* Finishes the digest into dgst (EVP_MAX_MD_SIZE bytes). */
static int
digest_final(struct p11a_sig *s, uint8_t *dgst, size_t *dlen)
{
	unsigned int n = 0;

	if (s->mdctx == NULL)
		return p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                    "digest not initialised");
	if (!EVP_DigestFinal_ex(s->mdctx, dgst, &n))
		return P11AGENT_E_INTERNAL;
	*dlen = n;
	return 0;
}

int
p11a_sig_digest_sign_final(struct p11a_sig *s, uint8_t *sig, size_t *siglen,
                           size_t sigsize)
{
	uint8_t dgst[EVP_MAX_MD_SIZE];
	size_t dlen = 0;
	int r;

	if (sig == NULL) {
		if (s->key == NULL)
			return P11AGENT_E_ARGS;
		*siglen = p11a_key_max_sig(s->key);
		return 0;
	}
	if ((r = digest_final(s, dgst, &dlen)) != 0)
		return r;
	return p11a_sig_sign(s, sig, siglen, sigsize, dgst, dlen);
}

int
p11a_sig_digest_verify_final(struct p11a_sig *s, const uint8_t *sig,
                             size_t siglen)
{
	uint8_t dgst[EVP_MAX_MD_SIZE];
	size_t dlen = 0;
	int r;

	if ((r = digest_final(s, dgst, &dlen)) != 0)
		return r;
	return p11a_sig_verify(s, sig, siglen, dgst, dlen);
}
