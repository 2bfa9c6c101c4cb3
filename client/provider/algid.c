/*
 * AlgorithmIdentifiers of our signatures, DER encoded, for
 * OSSL_SIGNATURE_PARAM_ALGORITHM_ID: CMS (PSS SignerInfos) and X.509
 * signing ask the signature context which algorithm it used.  Built with
 * OpenSSL's ASN.1 types, never by hand.
 */
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "internal.h"

/* DER of alg into a new buffer.  Returns 0 or P11AGENT_E_NOMEM. */
static int
algid_encode(const X509_ALGOR *alg, uint8_t **der, size_t *len)
{
	unsigned char *p = NULL;
	int n;

	*der = NULL;
	*len = 0;
	if ((n = i2d_X509_ALGOR(alg, &p)) <= 0)
		return P11AGENT_E_NOMEM;
	*der = p;
	*len = (size_t)n;
	return 0;
}

/* alg := the signature algorithm of hash md with key type pknid. */
static int
algid_sig(const EVP_MD *md, int pknid, int ptype, uint8_t **der, size_t *len)
{
	X509_ALGOR *alg;
	int sig_nid, r;

	*der = NULL;
	*len = 0;
	if (md == NULL ||
	    !OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_get_type(md), pknid))
		return P11AGENT_E_MECH_UNSUPPORTED;
	if ((alg = X509_ALGOR_new()) == NULL)
		return P11AGENT_E_NOMEM;
	if (!X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid), ptype, NULL))
		r = P11AGENT_E_NOMEM;
	else
		r = algid_encode(alg, der, len);
	X509_ALGOR_free(alg);
	return r;
}

int
p11a_algid_rsa_pkcs1(const EVP_MD *md, uint8_t **der, size_t *len)
{
	/* RFC 4055 / 8017: the parameters are NULL. */
	return algid_sig(md, NID_rsaEncryption, V_ASN1_NULL, der, len);
}

int
p11a_algid_ecdsa(const EVP_MD *md, uint8_t **der, size_t *len)
{
	/* RFC 5758: the parameters are absent. */
	return algid_sig(md, NID_X9_62_id_ecPublicKey, V_ASN1_UNDEF, der, len);
}

/* A new AlgorithmIdentifier of md, as RSASSA-PSS-params write it. */
static X509_ALGOR *
algid_md(const EVP_MD *md)
{
	X509_ALGOR *a = X509_ALGOR_new();

	if (a != NULL)
		X509_ALGOR_set_md(a, md);
	return a;
}

/* pss->maskGenAlgorithm := id-mgf1 with hash mgf1. */
static int
pss_set_mgf1(RSA_PSS_PARAMS *pss, const EVP_MD *mgf1)
{
	X509_ALGOR *hash = NULL;
	ASN1_STRING *seq = NULL;
	int r = P11AGENT_E_NOMEM;

	if ((hash = algid_md(mgf1)) == NULL)
		goto out;
	if (ASN1_item_pack(hash, ASN1_ITEM_rptr(X509_ALGOR), &seq) == NULL)
		goto out;
	if ((pss->maskGenAlgorithm = X509_ALGOR_new()) == NULL)
		goto out;
	if (!X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1),
	                     V_ASN1_SEQUENCE, seq))
		goto out;
	seq = NULL;
	r = 0;
out:
	ASN1_STRING_free(seq);
	X509_ALGOR_free(hash);
	return r;
}

/* Fills pss, leaving out the DEFAULT values of RFC 4055. */
static int
pss_fill(RSA_PSS_PARAMS *pss, const EVP_MD *md, const EVP_MD *mgf1, int saltlen)
{
	if (EVP_MD_get_type(md) != NID_sha1 &&
	    (pss->hashAlgorithm = algid_md(md)) == NULL)
		return P11AGENT_E_NOMEM;
	if (EVP_MD_get_type(mgf1) != NID_sha1 && pss_set_mgf1(pss, mgf1) != 0)
		return P11AGENT_E_NOMEM;
	if (saltlen != 20) {
		if ((pss->saltLength = ASN1_INTEGER_new()) == NULL ||
		    !ASN1_INTEGER_set(pss->saltLength, saltlen))
			return P11AGENT_E_NOMEM;
	}
	return 0;
}

int
p11a_algid_rsa_pss(const EVP_MD *md, const EVP_MD *mgf1, int saltlen,
                   uint8_t **der, size_t *len)
{
	RSA_PSS_PARAMS *pss = NULL;
	ASN1_STRING *seq = NULL;
	X509_ALGOR *alg = NULL;
	int r = P11AGENT_E_NOMEM;

	*der = NULL;
	*len = 0;
	if (md == NULL || mgf1 == NULL || saltlen < 0)
		return P11AGENT_E_ARGS;
	if ((pss = RSA_PSS_PARAMS_new()) == NULL)
		goto out;
	if ((r = pss_fill(pss, md, mgf1, saltlen)) != 0)
		goto out;
	r = P11AGENT_E_NOMEM;
	if (ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), &seq) == NULL)
		goto out;
	if ((alg = X509_ALGOR_new()) == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE,
	                     seq))
		goto out;
	seq = NULL;
	r = algid_encode(alg, der, len);
out:
	X509_ALGOR_free(alg);
	ASN1_STRING_free(seq);
	RSA_PSS_PARAMS_free(pss);
	return r;
}
