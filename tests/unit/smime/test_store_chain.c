/*
 * client/smime/certder.c and store_chain.c: the fields p11 sign reads
 * from certificate DER without libcrypto, and the chain it sends, checked
 * against what OpenSSL reads from the same certificates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certder.h"
#include "smime.h"
#include "store.h"
#include "store_chain.h"

struct node {
	EVP_PKEY *key;
	X509 *cert;
};

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value));
	assert_true(X509_add_ext(x, ext, -1));
	X509_EXTENSION_free(ext);
}

/* A certificate named cn, issued by issuer (NULL: self-signed CA). */
static struct node
make(const char *cn, const struct node *issuer, int serial, bool ca)
{
	struct node n;

	assert_non_null(n.key = EVP_EC_gen("P-256"));
	assert_non_null(n.cert = X509_new());
	X509_set_version(n.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(n.cert), serial);
	X509_gmtime_adj(X509_getm_notBefore(n.cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(n.cert), 3600L * 24);
	X509_set_pubkey(n.cert, n.key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(n.cert), "CN",
	                           MBSTRING_ASC, (const unsigned char *)cn, -1,
	                           -1, 0);
	X509_set_issuer_name(
	    n.cert, X509_get_subject_name(issuer ? issuer->cert : n.cert));
	add_ext(n.cert, n.cert, NID_subject_key_identifier, "hash");
	add_ext(n.cert, issuer ? issuer->cert : n.cert,
	        NID_authority_key_identifier, "keyid:always");
	if (ca)
		add_ext(n.cert, n.cert, NID_basic_constraints,
		        "critical,CA:TRUE");
	assert_true(
	    X509_sign(n.cert, issuer ? issuer->key : n.key, EVP_sha256()) > 0);
	return n;
}

static void
node_free(struct node *n)
{
	EVP_PKEY_free(n->key);
	X509_free(n->cert);
}

static uint8_t *
der_of(X509 *x, size_t *len)
{
	uint8_t *p = NULL;
	int n = i2d_X509(x, &p);

	assert_true(n > 0);
	*len = (size_t)n;
	return p;
}

static void
assert_span_is(struct smime_span s, const uint8_t *p, int len)
{
	assert_int_equal(s.len, (size_t)len);
	assert_memory_equal(s.p, p, (size_t)len);
}

static void
test_certder_fields(void **state)
{
	struct node root = make("Root", NULL, 1, true);
	struct smime_certder f;
	uint8_t *der, *want = NULL;
	const ASN1_OCTET_STRING *kid;
	size_t len;
	int n;

	(void)state;
	der = der_of(root.cert, &len);
	assert_int_equal(smime_certder_parse(der, len, &f), 0);
	n = i2d_X509_NAME(X509_get_issuer_name(root.cert), &want);
	assert_span_is(f.issuer, want, n);
	OPENSSL_free(want);
	want = NULL;
	n = i2d_X509_NAME(X509_get_subject_name(root.cert), &want);
	assert_span_is(f.subject, want, n);
	OPENSSL_free(want);
	want = NULL;
	n = i2d_ASN1_INTEGER(X509_get0_serialNumber(root.cert), &want);
	assert_span_is(f.serial, want, n);
	OPENSSL_free(want);
	kid = X509_get0_subject_key_id(root.cert);
	assert_span_is(f.skid, kid->data, kid->length);
	kid = X509_get0_authority_key_id(root.cert);
	assert_span_is(f.akid, kid->data, kid->length);
	/* id-ecPublicKey, and the uncompressed point after 0 unused bits */
	assert_span_is(f.spki_alg,
	               (const uint8_t *)"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01",
	               9);
	assert_int_equal(f.spki_key.len, 1 + 65);
	assert_int_equal(f.spki_key.p[0], 0);
	assert_int_equal(f.spki_key.p[1], 4);
	assert_true(smime_certder_self_issued(&f));
	/* Every truncation is refused, none read past the end. */
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *p = malloc(cut + 1);

		memcpy(p, der, cut);
		assert_int_not_equal(smime_certder_parse(p, cut, &f), 0);
		free(p);
	}
	OPENSSL_free(der);
	node_free(&root);
}

static void
store_add(struct smime_store *s, X509 *x, const char *source)
{
	assert_int_equal(smime_store_add(s, x, 0, source), 0);
}

static void
test_chain_from_store(void **state)
{
	char dir[] = "/tmp/p11a-chain-XXXXXX";
	struct node root = make("Root", NULL, 1, true);
	struct node inter = make("Intermediate", &root, 2, true);
	/* Same name, other key: a renewed intermediate the leaf is not
	 * from, and one only seen on verified mail. */
	struct node other = make("Intermediate", &root, 3, true);
	struct node leaf = make("alice", &inter, 4, false);
	struct smime_der_chain c;
	struct smime_store *s;
	uint8_t *der, *want;
	size_t len, wlen;
	char cmd[128], fp[65];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(smime_store_open(dir, &s), 0);
	der = der_of(leaf.cert, &len);
	/* An empty store: no chain, no error. */
	assert_int_equal(smime_store_chain_der(s, der, len, &c), 0);
	assert_int_equal(c.n, 0);

	store_add(s, other.cert, "added");
	store_add(s, root.cert, "added");
	store_add(s, inter.cert, "verified");
	assert_int_equal(smime_store_chain_der(s, der, len, &c), 0);
	assert_int_equal(c.n, 0); /* only a verified-mail entry issues it */

	/* Adding keeps "verified" (store.c): take it out, add it by hand. */
	assert_int_equal(smime_cert_fingerprint(inter.cert, fp), 0);
	assert_int_equal(smime_store_remove(s, fp), 0);
	store_add(s, inter.cert, "added");
	assert_int_equal(smime_store_chain_der(s, der, len, &c), 0);
	/* The intermediate, not its namesake, and not the root. */
	assert_int_equal(c.n, 1);
	want = der_of(inter.cert, &wlen);
	assert_int_equal(c.len[0], wlen);
	assert_memory_equal(c.der[0], want, wlen);
	assert_int_equal(X509_check_issued(inter.cert, leaf.cert), X509_V_OK);
	assert_int_not_equal(X509_check_issued(other.cert, leaf.cert),
	                     X509_V_OK);
	OPENSSL_free(want);
	smime_der_chain_cleanup(&c);

	/* Not a certificate. */
	assert_int_not_equal(smime_store_chain_der(s, der, len / 2, &c), 0);
	assert_int_equal(c.n, 0);

	OPENSSL_free(der);
	smime_store_free(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	node_free(&root);
	node_free(&inter);
	node_free(&other);
	node_free(&leaf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_certder_fields),
	    cmocka_unit_test(test_chain_from_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
