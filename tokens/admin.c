/*
 * Token administration: importing a key with its certificate and chain,
 * generating a key pair on the token, and attaching an issued
 * certificate to the key it belongs to.  Keys are always created
 * sensitive and never extractable.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/err.h"
#include "tokens/internal.h"

#define ADMIN_ID_LEN 20
#define ADMIN_MAX_ATTRS 24

/* A template under construction; values it owns are freed together. */
struct admin_tmpl {
	CK_ATTRIBUTE a[ADMIN_MAX_ATTRS];
	CK_ULONG n;
	void *owned[ADMIN_MAX_ATTRS];
	size_t owned_len[ADMIN_MAX_ATTRS];
	size_t nowned;
	int failed;
};

static CK_BBOOL admin_true = CK_TRUE, admin_false = CK_FALSE;

static void
admin_add(struct admin_tmpl *t, CK_ATTRIBUTE_TYPE type, const void *p,
          size_t len)
{
	if (t->n == ADMIN_MAX_ATTRS) {
		t->failed = 1;
		return;
	}
	t->a[t->n].type = type;
	t->a[t->n].pValue = (void *)p;
	t->a[t->n].ulValueLen = (CK_ULONG)len;
	t->n++;
}

static void
admin_add_bool(struct admin_tmpl *t, CK_ATTRIBUTE_TYPE type, int v)
{
	admin_add(t, type, v ? &admin_true : &admin_false, sizeof(CK_BBOOL));
}

/* Adds an attribute whose value the template owns (wiped when freed). */
static void
admin_add_owned(struct admin_tmpl *t, CK_ATTRIBUTE_TYPE type, void *p,
                size_t len)
{
	if (p == NULL || t->nowned == ADMIN_MAX_ATTRS) {
		t->failed = 1;
		free(p);
		return;
	}
	t->owned[t->nowned] = p;
	t->owned_len[t->nowned++] = len;
	admin_add(t, type, p, len);
}

static void
admin_add_bn(struct admin_tmpl *t, CK_ATTRIBUTE_TYPE type, const EVP_PKEY *pk,
             const char *param)
{
	BIGNUM *bn = NULL;
	uint8_t *buf;
	size_t len;

	if (!EVP_PKEY_get_bn_param(pk, param, &bn)) {
		t->failed = 1;
		return;
	}
	len = (size_t)BN_num_bytes(bn);
	buf = malloc(len > 0 ? len : 1);
	if (buf != NULL)
		BN_bn2bin(bn, buf);
	BN_clear_free(bn);
	admin_add_owned(t, type, buf, len);
}

static void
admin_tmpl_free(struct admin_tmpl *t)
{
	size_t i;

	for (i = 0; i < t->nowned; i++) {
		OPENSSL_cleanse(t->owned[i], t->owned_len[i]);
		free(t->owned[i]);
	}
	t->nowned = 0;
}

/* CKA_ID: SHA-1 of the public key, as SKI method 1 and most card tools. */
static int
admin_key_id(const EVP_PKEY *pk, uint8_t id[ADMIN_ID_LEN])
{
	unsigned char *der = NULL;
	size_t len = ADMIN_ID_LEN;
	int n = i2d_PublicKey(pk, &der), r;

	if (n <= 0)
		return P11A_E_FORMAT;
	r = tok_hash(TOK_HASH_SHA1, der, (size_t)n, id, &len);
	OPENSSL_free(der);
	return r;
}

/* DER OID of the key's curve, for CKA_EC_PARAMS. */
static void
admin_add_ec_params(struct admin_tmpl *t, const EVP_PKEY *pk)
{
	char name[64];
	ASN1_OBJECT *oid;
	unsigned char *der = NULL;
	int n;

	if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
	                                    name, sizeof(name), NULL) ||
	    (oid = OBJ_txt2obj(name, 0)) == NULL) {
		t->failed = 1;
		return;
	}
	n = i2d_ASN1_OBJECT(oid, &der);
	ASN1_OBJECT_free(oid);
	if (n <= 0) {
		t->failed = 1;
		return;
	}
	admin_add_owned(t, CKA_EC_PARAMS, OPENSSL_memdup(der, (size_t)n),
	                (size_t)n);
	OPENSSL_free(der);
}

/* The EC point as a DER OCTET STRING, as CKA_EC_POINT wants it. */
static void
admin_add_ec_point(struct admin_tmpl *t, const EVP_PKEY *pk)
{
	uint8_t point[256];
	size_t len = 0;
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	unsigned char *der = NULL;
	int n = -1;

	if (os != NULL &&
	    EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, point,
	                                    sizeof(point), &len) &&
	    ASN1_OCTET_STRING_set(os, point, (int)len))
		n = i2d_ASN1_OCTET_STRING(os, &der);
	ASN1_OCTET_STRING_free(os);
	if (n <= 0) {
		t->failed = 1;
		return;
	}
	admin_add_owned(t, CKA_EC_POINT, OPENSSL_memdup(der, (size_t)n),
	                (size_t)n);
	OPENSSL_free(der);
}

static int
admin_create(struct tok_token *t, CK_SESSION_HANDLE s, struct admin_tmpl *tm,
             const char *what, struct tok_err *err)
{
	CK_OBJECT_HANDLE h;
	CK_RV rv;

	if (tm->failed) {
		tok_errf(err, "cannot prepare the %s for token '%s'", what,
		         t->label);
		return P11A_E_FORMAT;
	}
	rv = t->mod->fl->C_CreateObject(s, tm->a, tm->n, &h);
	if (rv != CKR_OK) {
		int r = tok_ck_fail("C_CreateObject", rv, what);

		tok_errf(err, "token '%s' refused the %s: %s (%s)", t->label,
		         what, p11a_strerror(r), tok_ck_name(rv));
		return r;
	}
	return 0;
}

/* What both halves of a key pair carry: class, type, token, id, label. */
static void
admin_key_common(struct admin_tmpl *tm, const CK_OBJECT_CLASS *cls,
                 const CK_KEY_TYPE *kt, const uint8_t *id, const char *label)
{
	memset(tm, 0, sizeof(*tm));
	admin_add(tm, CKA_CLASS, cls, sizeof(*cls));
	admin_add(tm, CKA_KEY_TYPE, kt, sizeof(*kt));
	admin_add_bool(tm, CKA_TOKEN, 1);
	admin_add_bool(tm, CKA_PRIVATE, *cls == CKO_PRIVATE_KEY);
	admin_add(tm, CKA_ID, id, ADMIN_ID_LEN);
	admin_add(tm, CKA_LABEL, label, strlen(label));
}

static int
admin_store_private(struct tok_token *t, CK_SESSION_HANDLE s,
                    const EVP_PKEY *pk, const uint8_t *id, const char *label,
                    struct tok_err *err)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = EVP_PKEY_is_a(pk, "RSA") ? CKK_RSA : CKK_EC;
	struct admin_tmpl tm;
	int r;

	admin_key_common(&tm, &cls, &kt, id, label);
	admin_add_bool(&tm, CKA_SENSITIVE, 1);
	admin_add_bool(&tm, CKA_EXTRACTABLE, 0);
	admin_add_bool(&tm, CKA_SIGN, 1);
	if (kt == CKK_RSA) {
		admin_add_bool(&tm, CKA_DECRYPT, 1);
		admin_add_bn(&tm, CKA_MODULUS, pk, OSSL_PKEY_PARAM_RSA_N);
		admin_add_bn(&tm, CKA_PUBLIC_EXPONENT, pk,
		             OSSL_PKEY_PARAM_RSA_E);
		admin_add_bn(&tm, CKA_PRIVATE_EXPONENT, pk,
		             OSSL_PKEY_PARAM_RSA_D);
		admin_add_bn(&tm, CKA_PRIME_1, pk, OSSL_PKEY_PARAM_RSA_FACTOR1);
		admin_add_bn(&tm, CKA_PRIME_2, pk, OSSL_PKEY_PARAM_RSA_FACTOR2);
		admin_add_bn(&tm, CKA_EXPONENT_1, pk,
		             OSSL_PKEY_PARAM_RSA_EXPONENT1);
		admin_add_bn(&tm, CKA_EXPONENT_2, pk,
		             OSSL_PKEY_PARAM_RSA_EXPONENT2);
		admin_add_bn(&tm, CKA_COEFFICIENT, pk,
		             OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
	} else {
		admin_add_bool(&tm, CKA_DERIVE, 1);
		admin_add_ec_params(&tm, pk);
		admin_add_bn(&tm, CKA_VALUE, pk, OSSL_PKEY_PARAM_PRIV_KEY);
	}
	r = admin_create(t, s, &tm, "private key", err);
	admin_tmpl_free(&tm);
	return r;
}

static int
admin_store_public(struct tok_token *t, CK_SESSION_HANDLE s, const EVP_PKEY *pk,
                   const uint8_t *id, const char *label, struct tok_err *err)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = EVP_PKEY_is_a(pk, "RSA") ? CKK_RSA : CKK_EC;
	struct admin_tmpl tm;
	int r;

	admin_key_common(&tm, &cls, &kt, id, label);
	admin_add_bool(&tm, CKA_VERIFY, 1);
	if (kt == CKK_RSA) {
		admin_add_bool(&tm, CKA_ENCRYPT, 1);
		admin_add_bn(&tm, CKA_MODULUS, pk, OSSL_PKEY_PARAM_RSA_N);
		admin_add_bn(&tm, CKA_PUBLIC_EXPONENT, pk,
		             OSSL_PKEY_PARAM_RSA_E);
	} else {
		admin_add_ec_params(&tm, pk);
		admin_add_ec_point(&tm, pk);
	}
	r = admin_create(t, s, &tm, "public key", err);
	admin_tmpl_free(&tm);
	return r;
}

static void
admin_add_name(struct admin_tmpl *tm, CK_ATTRIBUTE_TYPE type,
               const X509_NAME *name)
{
	unsigned char *der = NULL;
	int n = i2d_X509_NAME(name, &der);

	if (n <= 0) {
		tm->failed = 1;
		return;
	}
	admin_add_owned(tm, type, OPENSSL_memdup(der, (size_t)n), (size_t)n);
	OPENSSL_free(der);
}

static int
admin_store_cert(struct tok_token *t, CK_SESSION_HANDLE s, const uint8_t *der,
                 size_t len, const uint8_t *id, size_t id_len,
                 const char *label, struct tok_err *err)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	unsigned char *serial = NULL;
	struct admin_tmpl tm;
	int n, r;

	if (x == NULL) {
		tok_errf(err, "certificate is not valid DER");
		return P11A_E_FORMAT;
	}
	memset(&tm, 0, sizeof(tm));
	admin_add(&tm, CKA_CLASS, &cls, sizeof(cls));
	admin_add(&tm, CKA_CERTIFICATE_TYPE, &ct, sizeof(ct));
	admin_add_bool(&tm, CKA_TOKEN, 1);
	admin_add_bool(&tm, CKA_PRIVATE, 0);
	admin_add(&tm, CKA_ID, id, id_len);
	admin_add(&tm, CKA_LABEL, label, strlen(label));
	admin_add(&tm, CKA_VALUE, der, len);
	admin_add_name(&tm, CKA_SUBJECT, X509_get_subject_name(x));
	admin_add_name(&tm, CKA_ISSUER, X509_get_issuer_name(x));
	n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &serial);
	if (n > 0)
		admin_add_owned(&tm, CKA_SERIAL_NUMBER,
		                OPENSSL_memdup(serial, (size_t)n), (size_t)n);
	else
		tm.failed = 1;
	OPENSSL_free(serial);
	r = admin_create(t, s, &tm, "certificate", err);
	admin_tmpl_free(&tm);
	X509_free(x);
	return r;
}

/* The CA certificates of a chain go on the token under their own SKI. */
static int
admin_store_chain(struct tok_token *t, CK_SESSION_HANDLE s,
                  const uint8_t *const *chain, const size_t *lens, size_t n,
                  struct tok_err *err)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		const unsigned char *p = chain[i];
		X509 *x = d2i_X509(NULL, &p, (long)lens[i]);
		const ASN1_OCTET_STRING *ski =
		    x ? X509_get0_subject_key_id(x) : NULL;
		uint8_t id[ADMIN_ID_LEN];
		size_t id_len = 0;
		char label[64];

		if (x == NULL) {
			tok_errf(err, "chain certificate %zu is not valid DER",
			         i + 1);
			return P11A_E_FORMAT;
		}
		if (ski != NULL && ASN1_STRING_length(ski) <= ADMIN_ID_LEN) {
			id_len = (size_t)ASN1_STRING_length(ski);
			memcpy(id, ASN1_STRING_get0_data(ski), id_len);
		} else if (admin_key_id(X509_get0_pubkey(x), id) == 0) {
			id_len = ADMIN_ID_LEN;
		}
		X509_NAME_get_text_by_NID(X509_get_subject_name(x),
		                          NID_commonName, label, sizeof(label));
		X509_free(x);
		r = admin_store_cert(t, s, chain[i], lens[i], id, id_len,
		                     label[0] ? label : "CA certificate", err);
		if (r != 0)
			return r;
	}
	return 0;
}

static int
admin_id_taken(struct tok_token *t, CK_SESSION_HANDLE s, const uint8_t *id)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[2] = {{CKA_CLASS, &cls, sizeof(cls)},
	                        {CKA_ID, (void *)id, ADMIN_ID_LEN}};
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;

	if (t->mod->fl->C_FindObjectsInit(s, tmpl, 2) != CKR_OK)
		return 0;
	t->mod->fl->C_FindObjects(s, &h, 1, &n);
	t->mod->fl->C_FindObjectsFinal(s);
	return n > 0;
}

int
tok_token_import_key(struct tok_token *t, const uint8_t *pkcs8,
                     size_t pkcs8_len, const uint8_t *cert, size_t cert_len,
                     const uint8_t *const *chain, const size_t *chain_lens,
                     size_t nchain, const char *label, char **uri_out,
                     struct tok_err *err)
{
	const unsigned char *p = pkcs8;
	EVP_PKEY *pk = d2i_AutoPrivateKey(NULL, &p, (long)pkcs8_len);
	uint8_t id[ADMIN_ID_LEN];
	CK_SESSION_HANDLE s;
	int r;

	*uri_out = NULL;
	if (pk == NULL ||
	    (!EVP_PKEY_is_a(pk, "RSA") && !EVP_PKEY_is_a(pk, "EC"))) {
		tok_errf(err, "only RSA and EC private keys can be imported");
		EVP_PKEY_free(pk);
		return P11A_E_KEY_TYPE;
	}
	if ((r = admin_key_id(pk, id)) != 0 || (r = tok_pool_get(t, &s)) != 0) {
		EVP_PKEY_free(pk);
		return r;
	}
	if (!atomic_load(&t->logged_in)) {
		tok_errf(err, "login required for token '%s'", t->label);
		r = P11A_E_LOGIN_REQUIRED;
	} else if (admin_id_taken(t, s, id)) {
		tok_errf(err, "this key is already on token '%s'", t->label);
		r = P11A_E_ALREADY;
	} else if ((r = admin_store_private(t, s, pk, id, label, err)) == 0 &&
	           (r = admin_store_public(t, s, pk, id, label, err)) == 0 &&
	           (cert_len == 0 ||
	            (r = admin_store_cert(t, s, cert, cert_len, id,
	                                  ADMIN_ID_LEN, label, err)) == 0)) {
		r = admin_store_chain(t, s, chain, chain_lens, nchain, err);
	}
	tok_pool_put(t, s, 0);
	EVP_PKEY_free(pk);
	if (r == 0 &&
	    (*uri_out = tok_uri_for_key(t, id, sizeof(id), label)) == NULL)
		r = P11A_E_NOMEM;
	if (r == 0)
		tok_log(TOK_LOG_INFO, "imported key '%s' onto token %s", label,
		        t->label);
	return r;
}

/* The public key of a freshly generated pair, as an EVP_PKEY. */
static EVP_PKEY *
admin_read_public(struct tok_token *t, CK_SESSION_HANDLE s,
                  CK_OBJECT_HANDLE pub, enum tok_key_type type)
{
	struct tok_key *k = tok_key_new(t);
	EVP_PKEY *pk = NULL;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *n = NULL, *e = NULL;
	uint8_t *v = NULL;
	size_t len = 0;

	if (k == NULL)
		return NULL;
	if (type == TOK_KEY_RSA) {
		if (tok_ck_get_attr(t, s, pub, CKA_MODULUS, &k->rsa_n,
		                    &k->rsa_n_len) != 0 ||
		    tok_ck_get_attr(t, s, pub, CKA_PUBLIC_EXPONENT, &k->rsa_e,
		                    &k->rsa_e_len) != 0)
			goto out;
		n = BN_bin2bn(k->rsa_n, (int)k->rsa_n_len, NULL);
		e = BN_bin2bn(k->rsa_e, (int)k->rsa_e_len, NULL);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
		if (n == NULL || e == NULL || ctx == NULL)
			goto out;
		/* OSSL_PARAM_BN wants native-endian bytes: use the builder. */
		{
			OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
			OSSL_PARAM *ps = NULL;

			if (b != NULL &&
			    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N,
			                           n) &&
			    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e))
				ps = OSSL_PARAM_BLD_to_param(b);
			if (ps != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
				EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY,
				                  ps);
			OSSL_PARAM_free(ps);
			OSSL_PARAM_BLD_free(b);
		}
	} else {
		char curve[32];

		if (tok_ck_get_attr(t, s, pub, CKA_EC_PARAMS, &v, &len) != 0)
			goto out;
		{
			const unsigned char *p = v;
			ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)len);

			snprintf(curve, sizeof(curve), "%s",
			         oid ? OBJ_nid2sn(OBJ_obj2nid(oid)) : "");
			ASN1_OBJECT_free(oid);
		}
		free(v);
		v = NULL;
		if (tok_ck_get_attr(t, s, pub, CKA_EC_POINT, &v, &len) != 0)
			goto out;
		{
			const unsigned char *p = v;
			ASN1_OCTET_STRING *os =
			    d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);

			ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
			params[0] = OSSL_PARAM_construct_utf8_string(
			    OSSL_PKEY_PARAM_GROUP_NAME, curve, 0);
			params[1] = OSSL_PARAM_construct_octet_string(
			    OSSL_PKEY_PARAM_PUB_KEY,
			    os ? (void *)ASN1_STRING_get0_data(os) : v,
			    os ? (size_t)ASN1_STRING_length(os) : len);
			params[2] = OSSL_PARAM_construct_end();
			if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
				EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY,
				                  params);
			ASN1_OCTET_STRING_free(os);
		}
	}
out:
	free(v);
	BN_free(n);
	BN_free(e);
	EVP_PKEY_CTX_free(ctx);
	tok_key_free(k);
	return pk;
}

static int
admin_set_id(struct tok_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
             const uint8_t *id)
{
	CK_ATTRIBUTE a = {CKA_ID, (void *)id, ADMIN_ID_LEN};
	CK_RV rv = t->mod->fl->C_SetAttributeValue(s, o, &a, 1);

	return rv == CKR_OK ? 0 : tok_ck_fail("C_SetAttributeValue", rv, "id");
}

int
tok_token_generate_key(struct tok_token *t, enum tok_key_type type,
                       unsigned bits, const char *label, char **uri_out,
                       struct tok_err *err)
{
	static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
	                               0xce, 0x3d, 0x03, 0x01, 0x07};
	static const uint8_t p384[] = {0x06, 0x05, 0x2b, 0x81,
	                               0x04, 0x00, 0x22};
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ULONG mod_bits = bits;
	uint8_t e65537[] = {0x01, 0x00, 0x01}, id[ADMIN_ID_LEN];
	struct admin_tmpl pub, priv;
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_SESSION_HANDLE s;
	EVP_PKEY *pk = NULL;
	CK_RV rv;
	int r;

	*uri_out = NULL;
	memset(&pub, 0, sizeof(pub));
	memset(&priv, 0, sizeof(priv));
	admin_add_bool(&pub, CKA_TOKEN, 1);
	admin_add_bool(&pub, CKA_VERIFY, 1);
	admin_add(&pub, CKA_LABEL, label, strlen(label));
	admin_add_bool(&priv, CKA_TOKEN, 1);
	admin_add_bool(&priv, CKA_PRIVATE, 1);
	admin_add_bool(&priv, CKA_SENSITIVE, 1);
	admin_add_bool(&priv, CKA_EXTRACTABLE, 0);
	admin_add_bool(&priv, CKA_SIGN, 1);
	admin_add(&priv, CKA_LABEL, label, strlen(label));
	if (type == TOK_KEY_RSA &&
	    (bits == 2048 || bits == 3072 || bits == 4096)) {
		admin_add(&pub, CKA_MODULUS_BITS, &mod_bits, sizeof(mod_bits));
		admin_add(&pub, CKA_PUBLIC_EXPONENT, e65537, sizeof(e65537));
		admin_add_bool(&pub, CKA_ENCRYPT, 1);
		admin_add_bool(&priv, CKA_DECRYPT, 1);
	} else if (type == TOK_KEY_EC && (bits == 256 || bits == 384)) {
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		admin_add(&pub, CKA_EC_PARAMS, bits == 256 ? p256 : p384,
		          bits == 256 ? sizeof(p256) : sizeof(p384));
		admin_add_bool(&priv, CKA_DERIVE, 1);
	} else {
		tok_errf(err, "unsupported key type or size");
		return P11A_E_KEY_TYPE;
	}
	if (!atomic_load(&t->logged_in)) {
		tok_errf(err, "login required for token '%s'", t->label);
		return P11A_E_LOGIN_REQUIRED;
	}
	if ((r = tok_pool_get(t, &s)) != 0)
		return r;
	rv = t->mod->fl->C_GenerateKeyPair(s, &mech, pub.a, pub.n, priv.a,
	                                   priv.n, &hpub, &hpriv);
	if (rv != CKR_OK) {
		r = tok_ck_fail("C_GenerateKeyPair", rv, t->label);
		tok_errf(err, "token '%s' could not generate the key: %s (%s)",
		         t->label, p11a_strerror(r), tok_ck_name(rv));
		goto out;
	}
	pk = admin_read_public(t, s, hpub, type);
	if (pk == NULL || (r = admin_key_id(pk, id)) != 0 ||
	    (r = admin_set_id(t, s, hpub, id)) != 0 ||
	    (r = admin_set_id(t, s, hpriv, id)) != 0) {
		tok_errf(err, "generated key could not be given its ID");
		r = r != 0 ? r : P11A_E_TOKEN;
		goto out;
	}
	if ((*uri_out = tok_uri_for_key(t, id, sizeof(id), label)) == NULL)
		r = P11A_E_NOMEM;
	tok_log(TOK_LOG_INFO, "generated key '%s' on token %s", label,
	        t->label);
out:
	tok_pool_put(t, s, tok_pool_rv_breaks(rv));
	EVP_PKEY_free(pk);
	return r;
}

static int
admin_key_matches(const struct tok_key *k, EVP_PKEY *pk)
{
	struct tok_key probe;
	int same = 0;

	memset(&probe, 0, sizeof(probe));
	if (tok_key_set_public(&probe, pk) != 0)
		goto out;
	if (k->type == TOK_KEY_RSA && probe.type == TOK_KEY_RSA)
		same = k->rsa_n_len == probe.rsa_n_len &&
		       memcmp(k->rsa_n, probe.rsa_n, k->rsa_n_len) == 0;
	else if (k->type == TOK_KEY_EC && probe.type == TOK_KEY_EC)
		same =
		    k->ec_point_len == probe.ec_point_len &&
		    memcmp(k->ec_point, probe.ec_point, k->ec_point_len) == 0;
out:
	free(probe.rsa_n);
	free(probe.rsa_e);
	free(probe.ec_point);
	return same;
}

int
tok_ctx_attach_cert(struct tok_ctx *ctx, const uint8_t *cert, size_t cert_len,
                    char **key_uri_out, struct tok_err *err)
{
	const unsigned char *p = cert;
	X509 *x = d2i_X509(NULL, &p, (long)cert_len);
	struct tok_key **keys = NULL, *k = NULL;
	CK_SESSION_HANDLE s;
	size_t n = 0, i;
	int r;

	*key_uri_out = NULL;
	if (x == NULL || p != cert + cert_len) {
		X509_free(x);
		tok_errf(err, "certificate is not valid DER");
		return P11A_E_FORMAT;
	}
	if ((r = tok_ctx_keys(ctx, &keys, &n)) != 0)
		goto out;
	for (i = 0; i < n && k == NULL; i++)
		if (admin_key_matches(keys[i], X509_get0_pubkey(x)))
			k = keys[i];
	if (k == NULL) {
		tok_errf(err, "no token key has this certificate's public key");
		r = P11A_E_KEY_NOT_FOUND;
		goto out;
	}
	if (k->cert_der_len == cert_len &&
	    memcmp(k->cert_der, cert, cert_len) == 0) {
		tok_errf(err, "the certificate is already on token '%s'",
		         k->token->label);
		r = P11A_E_ALREADY;
		goto out;
	}
	if ((r = tok_pool_get(k->token, &s)) != 0)
		goto out;
	r = admin_store_cert(k->token, s, cert, cert_len, k->id, k->id_len,
	                     tok_key_get0_label(k), err);
	tok_pool_put(k->token, s, 0);
	if (r == 0 && (*key_uri_out = strdup(k->uri)) == NULL)
		r = P11A_E_NOMEM;
out:
	tok_key_list_free(keys, n);
	X509_free(x);
	return r;
}
