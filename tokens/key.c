/*
 * Key objects: lifetime, properties, and the public half taken from the
 * certificate or the token's public attributes.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/err.h"
#include "tokens/internal.h"

struct tok_key *
tok_key_new(struct tok_token *t)
{
	struct tok_key *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	atomic_init(&k->refs, 1);
	atomic_init(&k->handle, CK_INVALID_HANDLE);
	k->token = tok_token_up(t);
	return k;
}

struct tok_key *
tok_key_up(struct tok_key *k)
{
	if (k != NULL)
		atomic_fetch_add(&k->refs, 1);
	return k;
}

void
tok_key_free(struct tok_key *k)
{
	size_t i;

	if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	tok_token_free(k->token);
	free(k->uri);
	free(k->label);
	free(k->id);
	free(k->cert_der);
	for (i = 0; i < k->nemails; i++)
		free(k->emails[i]);
	free(k->emails);
	free(k->rsa_n);
	free(k->rsa_e);
	free(k->ec_point);
	free(k);
}

void
tok_key_list_free(struct tok_key **list, size_t n)
{
	size_t i;

	for (i = 0; list != NULL && i < n; i++)
		tok_key_free(list[i]);
	free(list);
}

static int
key_take_bn(const EVP_PKEY *pk, const char *name, uint8_t **out,
            size_t *out_len)
{
	BIGNUM *bn = NULL;
	int r = P11A_E_FORMAT;

	if (!EVP_PKEY_get_bn_param(pk, name, &bn))
		return P11A_E_FORMAT;
	*out_len = (size_t)BN_num_bytes(bn);
	if ((*out = malloc(*out_len > 0 ? *out_len : 1)) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	BN_bn2bin(bn, *out);
	r = 0;
out:
	BN_free(bn);
	return r;
}

/* The certificate wins over public attributes read from key objects. */
static void
key_clear_public(struct tok_key *k)
{
	free(k->rsa_n);
	free(k->rsa_e);
	free(k->ec_point);
	k->rsa_n = k->rsa_e = k->ec_point = NULL;
	k->rsa_n_len = k->rsa_e_len = k->ec_point_len = 0;
}

int
tok_key_set_public(struct tok_key *k, EVP_PKEY *pk)
{
	size_t len = 0;

	key_clear_public(k);

	k->bits = (unsigned)EVP_PKEY_get_bits(pk);
	if (EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS")) {
		k->type = TOK_KEY_RSA;
		k->curve[0] = '\0';
		if (key_take_bn(pk, OSSL_PKEY_PARAM_RSA_N, &k->rsa_n,
		                &k->rsa_n_len) != 0 ||
		    key_take_bn(pk, OSSL_PKEY_PARAM_RSA_E, &k->rsa_e,
		                &k->rsa_e_len) != 0)
			return P11A_E_FORMAT;
		return 0;
	}
	if (EVP_PKEY_is_a(pk, "EC")) {
		k->type = TOK_KEY_EC;
		if (!EVP_PKEY_get_utf8_string_param(
		        pk, OSSL_PKEY_PARAM_GROUP_NAME, k->curve,
		        sizeof(k->curve), NULL))
			return P11A_E_FORMAT;
		if (!EVP_PKEY_get_octet_string_param(
		        pk, OSSL_PKEY_PARAM_PUB_KEY, NULL, 0, &len) ||
		    (k->ec_point = malloc(len)) == NULL ||
		    !EVP_PKEY_get_octet_string_param(
		        pk, OSSL_PKEY_PARAM_PUB_KEY, k->ec_point, len,
		        &k->ec_point_len))
			return P11A_E_FORMAT;
		return 0;
	}
	if (EVP_PKEY_is_a(pk, "ED25519")) {
		k->type = TOK_KEY_ED25519;
		if (!EVP_PKEY_get_raw_public_key(pk, NULL, &len) ||
		    (k->ec_point = malloc(len)) == NULL ||
		    !EVP_PKEY_get_raw_public_key(pk, k->ec_point, &len))
			return P11A_E_FORMAT;
		k->ec_point_len = len;
		return 0;
	}
	return P11A_E_KEY_TYPE;
}

static int
key_take_emails(struct tok_key *k, X509 *x)
{
	STACK_OF(OPENSSL_STRING) *emails = X509_get1_email(x);
	int i, n;

	if (emails == NULL)
		return 0;
	n = sk_OPENSSL_STRING_num(emails);
	k->emails = calloc((size_t)n + 1, sizeof(*k->emails));
	if (k->emails == NULL) {
		X509_email_free(emails);
		return P11A_E_NOMEM;
	}
	for (i = 0; i < n; i++) {
		char *e = strdup(sk_OPENSSL_STRING_value(emails, i));

		if (e == NULL) {
			X509_email_free(emails);
			return P11A_E_NOMEM;
		}
		k->emails[k->nemails++] = e;
	}
	X509_email_free(emails);
	return 0;
}

int
tok_key_set_cert(struct tok_key *k, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	int r;

	if (x == NULL || p != der + len) {
		X509_free(x);
		return P11A_E_FORMAT;
	}
	if ((k->cert_der = malloc(len)) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	memcpy(k->cert_der, der, len);
	k->cert_der_len = len;
	k->cert_is_ca = X509_check_ca(x) > 0;
	if ((r = tok_key_set_public(k, X509_get0_pubkey(x))) != 0)
		goto out;
	r = key_take_emails(k, x);
out:
	X509_free(x);
	return r;
}

int
tok_key_make_uri(struct tok_key *k)
{
	k->uri = tok_uri_for_key(k->token, k->id, k->id_len, k->label);
	return k->uri != NULL ? 0 : P11A_E_NOMEM;
}

const char *
tok_key_get0_uri(const struct tok_key *k)
{
	return k->uri;
}

const char *
tok_key_get0_label(const struct tok_key *k)
{
	return k->label != NULL ? k->label : "";
}

struct tok_token *
tok_key_get0_token(const struct tok_key *k)
{
	return k->token;
}

enum tok_key_type
tok_key_type(const struct tok_key *k)
{
	return k->type;
}

unsigned
tok_key_bits(const struct tok_key *k)
{
	return k->bits;
}

const char *
tok_key_get0_curve(const struct tok_key *k)
{
	return k->curve;
}

unsigned
tok_key_flags(const struct tok_key *k)
{
	unsigned f = atomic_load(&k->flags);

	if (k->type == TOK_KEY_RSA && atomic_load(&k->token->host_padding_used))
		f |= TOK_KF_HOST_PADDING_FALLBACK;
	return f;
}

const uint8_t *
tok_key_get0_cert_der(const struct tok_key *k, size_t *len)
{
	*len = k->cert_der_len;
	return k->cert_der;
}

size_t
tok_key_email_count(const struct tok_key *k)
{
	return k->nemails;
}

const char *
tok_key_get0_email(const struct tok_key *k, size_t i)
{
	return i < k->nemails ? k->emails[i] : NULL;
}

int
tok_key_get0_rsa_public(const struct tok_key *k, const uint8_t **n,
                        size_t *n_len, const uint8_t **e, size_t *e_len)
{
	if (k->type != TOK_KEY_RSA || k->rsa_n == NULL)
		return P11A_E_KEY_TYPE;
	*n = k->rsa_n;
	*n_len = k->rsa_n_len;
	*e = k->rsa_e;
	*e_len = k->rsa_e_len;
	return 0;
}

int
tok_key_get0_ec_point(const struct tok_key *k, const uint8_t **q, size_t *q_len)
{
	if (k->type == TOK_KEY_RSA || k->ec_point == NULL)
		return P11A_E_KEY_TYPE;
	*q = k->ec_point;
	*q_len = k->ec_point_len;
	return 0;
}

size_t
tok_key_max_output(const struct tok_key *k)
{
	if (k->type == TOK_KEY_RSA)
		return (k->bits + 7) / 8;
	/* r||s, or the x coordinate for ECDH. */
	return 2 * ((k->bits + 7) / 8);
}
