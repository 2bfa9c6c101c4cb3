/*
 * Keys from the agent's list reply: the URI names the private key, the
 * certificate (or, for keys without one, the SSH key blob) gives the
 * public key.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "internal.h"
#include "proto/sshkey.h"

/* Longest encoded EC point we accept (P-521 uncompressed is 133). */
#define POINT_MAX 160

static int
public_from_pkey(struct p11a_key *k, const EVP_PKEY *pk, struct p11a_why *why)
{
	BIGNUM *n = NULL, *e = NULL;
	char group[64];
	uint8_t point[POINT_MAX];
	size_t len = 0;
	int r;

	if (EVP_PKEY_is_a(pk, "EC")) {
		if (k->kind != P11A_KIND_EC)
			return p11a_why_set(why, P11AGENT_E_FORMAT,
			                    "certificate key is EC, token key "
			                    "is not");
		if (!EVP_PKEY_get_utf8_string_param(
		        pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		        NULL) ||
		    !EVP_PKEY_get_octet_string_param(
		        pk, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
		        &len))
			return p11a_why_set(why, P11AGENT_E_FORMAT,
			                    "certificate has no named-curve EC "
			                    "key");
		return p11a_key_set_ec(k, p11a_curve_nid(group), point, len,
		                       why);
	}
	if (!EVP_PKEY_is_a(pk, "RSA") && !EVP_PKEY_is_a(pk, "RSA-PSS"))
		return p11a_why_set(why, P11AGENT_E_KEY_TYPE,
		                    "certificate key type not supported");
	if (k->kind == P11A_KIND_EC)
		return p11a_why_set(why, P11AGENT_E_FORMAT,
		                    "certificate key is RSA, token key is not");
	if (EVP_PKEY_is_a(pk, "RSA-PSS"))
		k->kind = P11A_KIND_RSA_PSS;
	if (!EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e)) {
		r = p11a_why_set(why, P11AGENT_E_FORMAT,
		                 "certificate RSA key unreadable");
		goto out;
	}
	r = p11a_key_set_rsa(k, n, e, why);
out:
	BN_free(n);
	BN_free(e);
	return r;
}

static int
public_from_cert(struct p11a_key *k, const uint8_t *der, size_t len,
                 struct p11a_why *why)
{
	const unsigned char *p = der;
	EVP_PKEY *pk;
	X509 *x;
	int r;

	/* Decode outside this provider: the certificate key is public. */
	if ((x = X509_new_ex(k->prov->libctx, P11A_SOFT_PROPQ)) == NULL)
		return P11AGENT_E_NOMEM;
	if (d2i_X509(&x, &p, (long)len) == NULL) {
		/* d2i freed x. */
		return p11a_why_set(why, P11AGENT_E_FORMAT,
		                    "the key's certificate does not parse");
	}
	if ((pk = X509_get0_pubkey(x)) == NULL)
		r = p11a_why_set(why, P11AGENT_E_FORMAT,
		                 "the key's certificate has an unreadable key");
	else
		r = public_from_pkey(k, pk, why);
	X509_free(x);
	return r;
}

static int
public_from_ssh(struct p11a_key *k, const uint8_t *blob, size_t len,
                struct p11a_why *why)
{
	struct proto_ssh_key sk;
	BIGNUM *n = NULL, *e = NULL;
	int r;

	if (proto_ssh_key_decode(blob, len, &sk) != 0)
		return p11a_why_set(why, P11AGENT_E_FORMAT,
		                    "the key's SSH public key does not parse");
	switch (sk.type) {
	case PROTO_SSH_KEY_RSA:
		if (k->kind == P11A_KIND_EC)
			break;
		n = BN_bin2bn(sk.rsa_n.p, (int)sk.rsa_n.len, NULL);
		e = BN_bin2bn(sk.rsa_e.p, (int)sk.rsa_e.len, NULL);
		r = n == NULL || e == NULL ? P11AGENT_E_NOMEM
		                           : p11a_key_set_rsa(k, n, e, why);
		BN_free(n);
		BN_free(e);
		return r;
	case PROTO_SSH_KEY_ECDSA:
		if (k->kind != P11A_KIND_EC)
			break;
		return p11a_key_set_ec(
		    k, p11a_curve_nid(proto_curve_openssl_name(sk.curve)),
		    sk.ec_q.p, sk.ec_q.len, why);
	default:
		break;
	}
	return p11a_why_set(why, P11AGENT_E_FORMAT,
	                    "the key's SSH public key has the wrong type");
}

/*
 * Could the certificate's key be an RSASSA-PSS key (which the SSH form
 * cannot tell)?  The OID anywhere in it is enough to take the slow path.
 */
static int
cert_may_be_pss(const struct p11agent_key *ak)
{
	static const uint8_t pss_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	                                  0xf7, 0x0d, 0x01, 0x01, 0x0a};

	return ak->cert_der != NULL && memmem(ak->cert_der, ak->cert_der_len,
	                                      pss_oid, sizeof(pss_oid)) != NULL;
}

int
p11a_key_from_agent(struct p11a_prov *prov, const struct p11agent_key *ak,
                    struct p11a_key **out, struct p11a_why *why)
{
	struct p11a_key *k;
	enum p11a_kind kind;
	int r;

	*out = NULL;
	switch (ak->key_type) {
	case P11AGENT_KEY_RSA:
		kind = P11A_KIND_RSA;
		break;
	case P11AGENT_KEY_EC:
		kind = P11A_KIND_EC;
		break;
	default:
		return p11a_why_set(why, P11AGENT_E_KEY_TYPE,
		                    "%s: key type not supported by the "
		                    "provider",
		                    ak->uri);
	}
	if ((k = p11a_key_new(prov, kind)) == NULL)
		return P11AGENT_E_NOMEM;
	k->key_flags = ak->flags;
	if ((k->uri = OPENSSL_strdup(ak->uri)) == NULL ||
	    (k->label = OPENSSL_strdup(ak->label)) == NULL) {
		r = P11AGENT_E_NOMEM;
		goto out;
	}
	if (ak->ssh_blob != NULL && !cert_may_be_pss(ak))
		r = public_from_ssh(k, ak->ssh_blob, ak->ssh_blob_len, why);
	else if (ak->cert_der != NULL)
		r = public_from_cert(k, ak->cert_der, ak->cert_der_len, why);
	else
		r = p11a_why_set(why, P11AGENT_E_FORMAT,
		                 "the agent lists no public key for %s",
		                 ak->uri);
	if (r != 0)
		goto out;
	*out = k;
	k = NULL;
out:
	p11a_key_free(k);
	return r;
}
