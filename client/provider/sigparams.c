/*
 * Signature context parameters: digest, RSA padding, PSS salt length and
 * mask hash (as integers or as the names EVP_PKEY_CTX_ctrl_str() uses),
 * and the AlgorithmIdentifier of the signature for CMS and X.509.
 */
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "sig.h"

/* OpenSSL 3.1's "auto-digestmax", accepted here as well. */
#ifndef RSA_PSS_SALTLEN_AUTO_DIGEST_MAX
#define RSA_PSS_SALTLEN_AUTO_DIGEST_MAX -4
#endif

static const OSSL_PARAM rsa_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ecdsa_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM rsa_gettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ecdsa_gettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_END,
};

const OSSL_PARAM *
p11a_sig_settable(int ec)
{
	return ec ? ecdsa_settable : rsa_settable;
}

const OSSL_PARAM *
p11a_sig_gettable(int ec)
{
	return ec ? ecdsa_gettable : rsa_gettable;
}

/* PSS salt lengths by the names of EVP_PKEY_CTX_ctrl_str(). */
static const struct p11a_named salt_names[] = {
    {RSA_PSS_SALTLEN_DIGEST, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST},
    {RSA_PSS_SALTLEN_MAX, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX},
    {RSA_PSS_SALTLEN_AUTO, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO},
    {RSA_PSS_SALTLEN_AUTO_DIGEST_MAX, "auto-digestmax"},
    {0, NULL},
};

static int
set_pad(struct p11a_sig *s, const OSSL_PARAM *p)
{
	int mode = 0, r;

	/* An unknown name leaves mode 0, which is refused below. */
	if ((r = p11a_param_get_named(p, p11a_rsa_pad_names, &mode, NULL)) != 0)
		return r;
	if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_PSS_PADDING)
		return p11a_why_set(&s->why, P11AGENT_E_MECH_UNSUPPORTED,
		                    "RSA signatures with p11agent keys are "
		                    "PKCS#1 v1.5 or PSS");
	if (s->key != NULL && s->key->kind == P11A_KIND_RSA_PSS &&
	    mode != RSA_PKCS1_PSS_PADDING)
		return p11a_why_set(&s->why, P11AGENT_E_MECH_UNSUPPORTED,
		                    "an RSA-PSS key signs with PSS only");
	s->pad = mode;
	return 0;
}

static int
set_saltlen(struct p11a_sig *s, const OSSL_PARAM *p)
{
	const char *name;
	char *end;
	long v;
	int len = 0, r;

	if ((r = p11a_param_get_named(p, salt_names, &len, &name)) != 0)
		return r;
	if (name != NULL) {
		/* Not a name: a length in decimal. */
		v = strtol(name, &end, 10);
		if (end == name || *end != '\0' || v < 0 || v > 4096)
			return p11a_why_set(&s->why, P11AGENT_E_ARGS,
			                    "bad PSS salt length %s", name);
		len = (int)v;
	}
	if (len < RSA_PSS_SALTLEN_AUTO_DIGEST_MAX)
		return p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                    "bad PSS salt length %d", len);
	s->saltlen = len;
	s->saltlen_set = 1;
	return 0;
}

/* Reads a digest name (and its properties) into *md. */
static int
set_md(struct p11a_sig *s, const OSSL_PARAM params[], const char *key,
       const char *props_key, EVP_MD **md)
{
	EVP_MD *m = NULL;
	int r;

	r = p11a_param_md(s->prov, params, key, props_key, &m, &s->why);
	if (r != 0 || m == NULL)
		return r;
	/* Streaming already hashes with the digest of the init call. */
	if (md == &s->md && s->mdctx != NULL && s->md != NULL &&
	    EVP_MD_get_type(m) != EVP_MD_get_type(s->md)) {
		EVP_MD_free(m);
		return p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                    "the digest cannot change while hashing");
	}
	EVP_MD_free(*md);
	*md = m;
	return 0;
}

int
p11a_sig_set_params(struct p11a_sig *s, const OSSL_PARAM params[])
{
	const OSSL_PARAM *p;
	int r;

	if (params == NULL)
		return 0;
	if ((r = set_md(s, params, OSSL_SIGNATURE_PARAM_DIGEST,
	                OSSL_SIGNATURE_PARAM_PROPERTIES, &s->md)) != 0)
		return r;
	if (s->ec)
		return 0;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
	if (p != NULL && (r = set_pad(s, p)) != 0)
		return r;
	p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
	if (p != NULL && (r = set_saltlen(s, p)) != 0)
		return r;
	return set_md(s, params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST,
	              OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, &s->mgf1);
}

int
p11a_sig_pss_saltlen(struct p11a_sig *s, int *out)
{
	int hlen, emlen, max, len;

	*out = 0;
	if (s->md == NULL || s->key == NULL || s->key->bits < 16)
		return p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                    "PSS needs a digest");
	hlen = EVP_MD_get_size(s->md);
	/* RFC 8017 9.1.1: emLen = ceil((modBits - 1) / 8). */
	emlen = (s->key->bits - 1 + 7) / 8;
	max = emlen - hlen - 2;
	switch (s->saltlen) {
	case RSA_PSS_SALTLEN_DIGEST:
		len = hlen;
		break;
	case RSA_PSS_SALTLEN_AUTO:
	case RSA_PSS_SALTLEN_MAX:
		len = max;
		break;
	case RSA_PSS_SALTLEN_AUTO_DIGEST_MAX:
		len = hlen < max ? hlen : max;
		break;
	default:
		len = s->saltlen;
		break;
	}
	if (max < 0 || len < 0 || len > max)
		return p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                    "PSS salt of %d bytes does not fit a "
		                    "%d-bit key with %s",
		                    len, s->key->bits, EVP_MD_get0_name(s->md));
	*out = len;
	return 0;
}

static int
get_algid(struct p11a_sig *s, OSSL_PARAM *p)
{
	uint8_t *der = NULL;
	size_t len = 0;
	int salt, r;

	if (s->md == NULL)
		return 0; /* not known yet: leave it unset */
	if (s->ec)
		r = p11a_algid_ecdsa(s->md, &der, &len);
	else if (s->pad == RSA_PKCS1_PSS_PADDING) {
		if ((r = p11a_sig_pss_saltlen(s, &salt)) != 0)
			return r;
		r = p11a_algid_rsa_pss(s->md, s->mgf1 != NULL ? s->mgf1 : s->md,
		                       salt, &der, &len);
	} else
		r = p11a_algid_rsa_pkcs1(s->md, &der, &len);
	if (r == 0 && !OSSL_PARAM_set_octet_string(p, der, len))
		r = p11a_why_set(&s->why, P11AGENT_E_ARGS,
		                 "AlgorithmIdentifier does not fit");
	OPENSSL_free(der);
	return r;
}

static int
get_md_name(const EVP_MD *md, OSSL_PARAM *p)
{
	if (md == NULL)
		return 0;
	return OSSL_PARAM_set_utf8_string(p, EVP_MD_get0_name(md))
	           ? 0
	           : P11AGENT_E_ARGS;
}

int
p11a_sig_get_params(struct p11a_sig *s, OSSL_PARAM params[])
{
	OSSL_PARAM *p;
	int r;

	if (params == NULL)
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
	if (p != NULL && (r = get_algid(s, p)) != 0)
		return r;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
	if (p != NULL && (r = get_md_name(s->md, p)) != 0)
		return r;
	if (s->ec)
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
	if (p != NULL &&
	    (r = p11a_param_set_named(p, p11a_rsa_pad_names, s->pad)) != 0)
		return r;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
	if (p != NULL &&
	    (r = p11a_param_set_named(p, salt_names, s->saltlen)) != 0)
		return r;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
	if (p != NULL &&
	    (r = get_md_name(s->mgf1 != NULL ? s->mgf1 : s->md, p)) != 0)
		return r;
	return 0;
}
