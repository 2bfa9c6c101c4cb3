/*
 * test_smime: unit tests of client/smime with software keys (no token, no
 * agent): MIME helpers, base64, canonical form, the certificate store,
 * and sign/verify and encrypt/decrypt round trips through struct
 * smime_key's EVP_PKEY kind (the one the OpenSSL provider will use), plus
 * truncation and bit-flip loops over signed and encrypted messages, and
 * opaque signed-data streamed in every BER shape (definite, indefinite,
 * chunked content) as mail, DER and PEM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/err.h"
#include "canon.h"
#include "der.h"
#include "io.h"
#include "key.h"
#include "mime.h"
#include "smime.h"
#include "store.h"

/* Helpers. */

static int
mem_fd(const char *data, size_t len)
{
	int fd;

	assert_int_equal(smime_tmpfile(NULL, &fd), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static char *
fd_text(int fd, size_t *len)
{
	char buf[4096], *p = NULL, *np;
	size_t n = 0, cap = 0;
	ssize_t got;

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		/* Doubling: messages of several MiB stay quick under ASan. */
		if ((size_t)got + 1 > cap - n) {
			cap = (n + (size_t)got + 1) * 2;
			np = realloc(p, cap);
			assert_non_null(np);
			p = np;
		}
		memcpy(p + n, buf, (size_t)got);
		n += (size_t)got;
	}
	assert_non_null(p);
	p[n] = '\0';
	*len = n;
	return p;
}

/* Signs msg with so; returns the signed message (free()) and its length. */
static char *
sign_text(const struct smime_sign_opts *so, const char *msg, size_t *len)
{
	int in = mem_fd(msg, strlen(msg)), fd;
	char *out;

	assert_int_equal(smime_tmpfile(NULL, &fd), 0);
	assert_int_equal(smime_sign(in, fd, so), 0);
	out = fd_text(fd, len);
	close(in);
	close(fd);
	return out;
}

/*
 * A self-signed S/MIME certificate for addr: rsa 0 for EC P-256, 1 for
 * RSA-2048, 2 for EC P-384.
 */
static X509 *
make_cert(EVP_PKEY **key, const char *addr, int rsa)
{
	X509 *x = X509_new();
	X509_NAME *n;
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	char san[300];

	*key = rsa == 1 ? EVP_RSA_gen(2048)
	                : EVP_EC_gen(rsa == 2 ? "P-384" : "P-256");
	rsa = rsa == 1;
	assert_non_null(*key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), rsa ? 7 : 9);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
	X509_set_pubkey(x, *key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	                           (const unsigned char *)"Test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	snprintf(san, sizeof(san), "email:%s", addr);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
	                          rsa ? "digitalSignature,keyEncipherment"
	                              : "digitalSignature,keyAgreement");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage,
	                          "emailProtection");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext =
	    X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
	return x;
}

static char *
write_pem(X509 *x)
{
	char *path = strdup("/tmp/p11a-test-ca-XXXXXX");
	FILE *f;
	int fd;

	assert_non_null(path);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	return path;
}

static const char msg_7bit[] = "From: Alice <alice@example.org>\n"
                               "To: bob@example.org\n"
                               "Subject: hi\n"
                               "Content-Type: text/plain\n"
                               "\n"
                               "Hello Bob,\n"
                               "the test.\n";

static const char msg_8bit[] = "From: alice@example.org\r\n"
                               "Subject: 8bit\r\n"
                               "Content-Type: multipart/mixed; boundary=XX\r\n"
                               "\r\n"
                               "pre\r\n"
                               "--XX\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Transfer-Encoding: 8bit\r\n"
                               "\r\n"
                               "Gr\xc3\xbc\xc3\x9f trailing \r\n"
                               "--XX\r\n"
                               "Content-Type: application/octet-stream\r\n"
                               "\r\n"
                               "\x01\x02\xff\xfe\r\n"
                               "--XX--\r\n";

/* MIME helpers. */

static void
test_ct_parse(void **state)
{
	struct smime_ct ct;

	(void)state;
	smime_ct_parse(&ct, "Multipart/Signed; protocol=\"application/"
	                    "pkcs7-signature\"; (c) micalg=SHA-256;\n\t"
	                    "boundary=\"a \\\"b\\\"\"");
	assert_string_equal(ct.type, "multipart/signed");
	assert_string_equal(smime_ct_param(&ct, "micalg"), "SHA-256");
	assert_string_equal(smime_ct_param(&ct, "boundary"), "a \"b\"");
	assert_true(smime_ct_is_multipart(&ct));
	smime_ct_cleanup(&ct);
	smime_ct_parse(&ct, "garbage");
	assert_string_equal(ct.type, "text/plain");
	smime_ct_cleanup(&ct);
	smime_ct_parse(&ct, NULL);
	assert_string_equal(ct.type, "text/plain");
}

static void
test_addr(void **state)
{
	char b[64];

	(void)state;
	assert_true(smime_addr_first("\"Doe, <x@y>\" <Jane@Example.ORG>", b,
	                             sizeof(b)));
	assert_string_equal(b, "jane@example.org");
	assert_true(smime_addr_first("bob@example.org (Bob)", b, sizeof(b)));
	assert_string_equal(b, "bob@example.org");
	assert_false(
	    smime_addr_first("undisclosed-recipients:;", b, sizeof(b)));
	assert_false(smime_addr_first(NULL, b, sizeof(b)));
}

static void
test_boundary(void **state)
{
	(void)state;
	assert_int_equal(smime_boundary_match("--abc", 5, "abc", 3), 1);
	assert_int_equal(smime_boundary_match("--abc-- ", 8, "abc", 3), 2);
	assert_int_equal(smime_boundary_match("--abcd", 6, "abc", 3), 0);
	assert_int_equal(smime_boundary_match("-abc", 4, "abc", 3), 0);
}

static void
test_hdrs(void **state)
{
	static const char in[] = "From x Mon\nA: 1\nB: two\n\tlines\n\nbody\n";
	struct smime_hdrs h;
	struct smime_rd rd;

	(void)state;
	smime_hdrs_init(&h);
	assert_int_equal(
	    smime_rd_init_mem(&rd, (const uint8_t *)in, sizeof(in) - 1), 0);
	assert_int_equal(smime_hdrs_read(&h, &rd), 0);
	assert_int_equal(h.n, 2);
	assert_string_equal(smime_hdrs_value(&h, "b"), "two\tlines");
	assert_string_equal(h.v[1].raw, "B: two\n\tlines");
	smime_hdrs_cleanup(&h);
	smime_rd_cleanup(&rd);
	/* A line that is no field: not mail. */
	assert_int_equal(
	    smime_rd_init_mem(&rd, (const uint8_t *)"no colon\n", 9), 0);
	assert_int_equal(smime_hdrs_read(&h, &rd), P11A_E_FORMAT);
	smime_hdrs_cleanup(&h);
	smime_rd_cleanup(&rd);
}

/* Base64. */

static void
test_b64(void **state)
{
	static const char *const bad[] = {"QUJD*", "QUI=QQ==", "QUJ",
	                                  "Q===", "QUJDRA"};
	struct smime_memsink m;
	struct smime_b64sink enc;
	struct smime_b64dec dec;
	uint8_t data[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	smime_memsink_init(&m, 1 << 20);
	smime_b64sink_init(&enc, &m.base, "\r\n");
	assert_int_equal(smime_put(&enc.base, data, sizeof(data)), 0);
	assert_int_equal(smime_finish(&enc.base), 0);
	{
		struct smime_memsink back;

		smime_memsink_init(&back, 1 << 20);
		smime_b64dec_init(&dec, &back.base);
		assert_int_equal(smime_put(&dec.base, m.buf, m.len), 0);
		assert_int_equal(smime_finish(&dec.base), 0);
		assert_int_equal(back.len, sizeof(data));
		assert_memory_equal(back.buf, data, sizeof(data));
		smime_memsink_cleanup(&back);
	}
	smime_memsink_cleanup(&m);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		smime_memsink_init(&m, 1 << 20);
		smime_b64dec_init(&dec, &m.base);
		r = smime_put(&dec.base, bad[i], strlen(bad[i]));
		if (r == 0)
			r = smime_finish(&dec.base);
		assert_int_equal(r, P11A_E_FORMAT);
		smime_memsink_cleanup(&m);
	}
}

/* Canonical form. */

static void
test_canon(void **state)
{
	struct smime_memsink m;
	struct smime_lineout lo;
	struct smime_hdrs h, entity;
	struct smime_rd rd;
	size_t i;
	int r;

	(void)state;
	/* 8-bit content: check mode asks for a transform. */
	smime_hdrs_init(&h);
	smime_hdrs_init(&entity);
	smime_memsink_init(&m, 1 << 20);
	assert_int_equal(smime_rd_init_mem(&rd, (const uint8_t *)msg_8bit,
	                                   sizeof(msg_8bit) - 1),
	                 0);
	assert_int_equal(smime_hdrs_read(&h, &rd), 0);
	for (i = 0; i < h.n; i++) {
		if (smime_hdr_is_content(h.v[i].name))
			smime_hdrs_add(&entity, h.v[i].raw);
	}
	lo.hash = NULL;
	lo.out = &m.base;
	lo.out_eol = "\r\n";
	r = smime_canon_entity(&rd, &entity, SMIME_CANON_CHECK, &lo);
	assert_int_equal(r, SMIME_AGAIN);
	smime_rd_cleanup(&rd);
	smime_memsink_cleanup(&m);
	/* Transform: QP for the text part, base64 for the binary one, the
	 * multipart structure kept, everything 7-bit. */
	smime_memsink_init(&m, 1 << 20);
	assert_int_equal(smime_rd_init_mem(&rd, (const uint8_t *)msg_8bit,
	                                   sizeof(msg_8bit) - 1),
	                 0);
	smime_hdrs_cleanup(&h);
	assert_int_equal(smime_hdrs_read(&h, &rd), 0);
	r = smime_canon_entity(&rd, &entity, SMIME_CANON_TRANSFORM, &lo);
	assert_int_equal(r, 0);
	assert_int_equal(smime_put(&m.base, "", 1), 0);
	if (getenv("DEBUG_CANON") != NULL)
		fprintf(stderr, "%s", (char *)m.buf);
	assert_non_null(
	    strstr((char *)m.buf, "Gr=C3=BC=C3=9F trailing=20\r\n"));
	assert_non_null(strstr((char *)m.buf,
	                       "Content-Transfer-Encoding: "
	                       "base64\r\n\r\nAQL//g==\r\n--XX--\r"
	                       "\n"));
	assert_non_null(strstr((char *)m.buf, "--XX--\r\n"));
	for (i = 0; i + 1 < m.len; i++)
		assert_true(m.buf[i] < 0x80 && m.buf[i] != 0);
	smime_rd_cleanup(&rd);
	smime_memsink_cleanup(&m);
	smime_hdrs_cleanup(&h);
	smime_hdrs_cleanup(&entity);
}

/* The certificate store. */

static void
test_store(void **state)
{
	char dir[] = "/tmp/p11a-store-XXXXXX", fp[65];
	struct smime_store *st;
	struct smime_store_entry *v;
	EVP_PKEY *k;
	X509 *x, *found;
	unsigned caps;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(smime_store_open(dir, &st), 0);
	x = make_cert(&k, "carol@example.org", 0);
	assert_int_equal(
	    smime_store_find(st, "carol@example.org", &found, &caps),
	    P11A_E_KEY_NOT_FOUND);
	assert_int_equal(smime_store_add(st, x,
	                                 SMIME_CAP_KNOWN | SMIME_CAP_AES256_GCM,
	                                 "verified"),
	                 0);
	/* Adding again without capabilities keeps the known ones. */
	assert_int_equal(smime_store_add(st, x, 0, "added"), 0);
	assert_int_equal(
	    smime_store_find(st, "carol@example.org", &found, &caps), 0);
	assert_int_equal(X509_cmp(found, x), 0);
	assert_true(caps & SMIME_CAP_AES256_GCM);
	X509_free(found);
	assert_int_equal(smime_store_list(st, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].source, "verified");
	smime_store_entries_free(v, n);
	smime_cert_fingerprint(x, fp);
	assert_int_equal(smime_store_remove(st, "nothex"), P11A_E_ARGS);
	assert_int_equal(smime_store_remove(st, fp), 0);
	assert_int_equal(smime_store_remove(st, fp), P11A_E_KEY_NOT_FOUND);
	smime_store_free(st);
	X509_free(x);
	EVP_PKEY_free(k);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/*
 * Reading never creates the folder (a read-only home still verifies and
 * signs); the first write does; a write that cannot happen says why in
 * errno; a NULL store reads as empty.
 */
static void
test_store_folder(void **state)
{
	char top[] = "/tmp/p11a-store-XXXXXX", dir[128], cmd[160];
	struct smime_store *st;
	struct smime_store_entry *v;
	STACK_OF(X509) *sk = sk_X509_new_null();
	struct stat sb;
	EVP_PKEY *k;
	X509 *x, *found;
	unsigned caps;
	size_t n;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(top));
	x = make_cert(&k, "dave@example.org", 0);
	snprintf(dir, sizeof(dir), "%s/a/b/certs", top);
	assert_int_equal(smime_store_open(dir, &st), 0);
	assert_int_equal(smime_store_list(st, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(smime_store_load_certs(st, sk), 0);
	assert_int_equal(smime_store_caps(st, x), 0);
	assert_int_equal(stat(dir, &sb), -1); /* still not there */
	assert_int_equal(smime_store_add(st, x, 0, "verified"), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(
	    smime_store_find(st, "dave@example.org", &found, &caps), 0);
	X509_free(found);
	smime_store_free(st);

	/* Under a regular file: no folder can exist there (even for root). */
	snprintf(dir, sizeof(dir), "%s/file", top);
	assert_non_null(f = fopen(dir, "w"));
	fclose(f);
	snprintf(dir, sizeof(dir), "%s/file/certs", top);
	assert_int_equal(smime_store_open(dir, &st), 0);
	assert_int_equal(smime_store_list(st, &v, &n), 0);
	assert_int_equal(n, 0);
	errno = 0;
	assert_int_equal(smime_store_add(st, x, 0, "verified"), P11A_E_IO);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(smime_store_trust(st, x), P11A_E_IO);
	smime_store_free(st);

	assert_int_equal(smime_store_list(NULL, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    smime_store_find(NULL, "dave@example.org", &found, &caps),
	    P11A_E_KEY_NOT_FOUND);
	assert_int_equal(smime_store_load_chain_certs(NULL, sk), 0);
	assert_int_equal(sk_X509_num(sk), 0);
	assert_int_equal(smime_store_add(NULL, x, 0, "verified"), P11A_E_ARGS);
	sk_X509_free(sk);
	X509_free(x);
	EVP_PKEY_free(k);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	assert_int_equal(system(cmd), 0);
}

/* Round trips with software keys. */

struct rt {
	EVP_PKEY *pkey;
	X509 *cert;
	struct smime_key *key;
	struct smime_key_signer ks; /* key as smime_sign() takes it */
	char *ca;
	struct smime_verify_opts vo;
};

static void
rt_init(struct rt *t, int rsa)
{
	memset(t, 0, sizeof(*t));
	t->cert = make_cert(&t->pkey, "alice@example.org", rsa);
	t->key = smime_key_from_pkey(t->pkey, t->cert);
	assert_non_null(t->key);
	assert_int_equal(smime_key_signer_init(&t->ks, t->key), 0);
	t->ca = write_pem(t->cert);
	t->vo.ca_file = t->ca;
	t->vo.no_system_trust = true;
}

static void
rt_cleanup(struct rt *t)
{
	smime_key_signer_cleanup(&t->ks);
	smime_key_free(t->key);
	X509_free(t->cert);
	EVP_PKEY_free(t->pkey);
	unlink(t->ca);
	free(t->ca);
}

static enum smime_vstatus
verify_text(const char *msg, size_t len, struct rt *t)
{
	struct smime_signer_info si;
	enum smime_vstatus st;
	struct smime_rd rd;

	assert_int_equal(smime_rd_init_mem(&rd, (const uint8_t *)msg, len), 0);
	assert_int_equal(smime_verify(&rd, -1, &t->vo, &st, &si), 0);
	smime_signer_info_cleanup(&si);
	smime_rd_cleanup(&rd);
	return st;
}

static void
sign_verify(bool opaque, bool pss, int rsa, const char *msg)
{
	struct smime_sign_opts so;
	struct rt t;
	size_t len, i;
	char *out;

	rt_init(&t, rsa);
	memset(&so, 0, sizeof(so));
	so.signer = &t.ks.signer;
	so.opaque = opaque;
	so.pss = pss;
	out = sign_text(&so, msg, &len);
	assert_int_equal(verify_text(out, len, &t), SMIME_V_VALID);
	/* Every truncation of the signed message must be refused. */
	for (i = 0; i < len; i += 1 + len / 97)
		assert_int_not_equal(verify_text(out, i, &t), SMIME_V_VALID);
	/* A changed byte in the body: bad signature (detached). */
	if (!opaque) {
		char *p = strstr(out, "Hello Bob");

		if (p != NULL) {
			p[1] = 'a';
			assert_int_equal(verify_text(out, len, &t),
			                 SMIME_V_BAD_SIGNATURE);
		}
	}
	free(out);
	rt_cleanup(&t);
}

static void
test_sign_verify(void **state)
{
	(void)state;
	sign_verify(false, false, 0, msg_7bit);
	sign_verify(true, false, 0, msg_7bit);
	sign_verify(false, true, 1, msg_7bit);
	sign_verify(false, false, 0, msg_8bit);
	sign_verify(true, false, 1, msg_8bit);
}

static void
encrypt_decrypt(int rsa, bool oaep, enum smime_cipher cipher, bool sign)
{
	struct smime_encrypt_opts eo;
	struct smime_sign_opts so;
	struct smime_decrypt_opts dopts;
	struct smime_decrypt_result res;
	struct smime_rd rd;
	struct rt t;
	char *enc, *dec;
	size_t len, dlen, i;
	int in, fd, outfd, devnull = open("/dev/null", O_WRONLY);

	assert_true(devnull >= 0);
	rt_init(&t, rsa);
	memset(&eo, 0, sizeof(eo));
	memset(&so, 0, sizeof(so));
	memset(&dopts, 0, sizeof(dopts));
	eo.recipients = sk_X509_new_null();
	X509_up_ref(t.cert);
	sk_X509_push(eo.recipients, t.cert);
	eo.cipher = cipher;
	eo.oaep = oaep;
	so.signer = &t.ks.signer;
	if (sign)
		eo.sign = &so;
	in = mem_fd(msg_7bit, strlen(msg_7bit));
	assert_int_equal(smime_tmpfile(NULL, &fd), 0);
	assert_int_equal(smime_encrypt(in, fd, &eo), 0);
	enc = fd_text(fd, &len);
	assert_null(strstr(enc, "Hello Bob"));
	dopts.keys = &t.key;
	dopts.nkeys = 1;
	dopts.verify = true;
	dopts.vopts = &t.vo;
	assert_int_equal(smime_tmpfile(NULL, &outfd), 0);
	assert_int_equal(smime_rd_init_mem(&rd, (uint8_t *)enc, len), 0);
	assert_int_equal(smime_decrypt(&rd, outfd, &dopts, &res), 0);
	assert_int_equal(res.status, SMIME_D_OK);
	if (getenv("DEBUG_CANON") != NULL)
		fprintf(stderr, "auth %d signed %d st %d\n", res.authenticated,
		        res.signed_layer, res.sig_status);
	assert_int_equal(res.authenticated,
	                 sign || cipher == SMIME_CIPHER_AES128_GCM ||
	                     cipher == SMIME_CIPHER_AES256_GCM);
	if (sign)
		assert_int_equal(res.sig_status, SMIME_V_VALID);
	smime_rd_cleanup(&rd);
	smime_decrypt_result_cleanup(&res);
	dec = fd_text(outfd, &dlen);
	assert_non_null(strstr(dec, "Hello Bob,"));
	assert_non_null(strstr(dec, "Subject: hi"));
	free(dec);
	/* Truncated ciphertexts never decrypt, and never crash. */
	for (i = 0; i < len; i += 1 + len / 61) {
		assert_int_equal(smime_rd_init_mem(&rd, (uint8_t *)enc, i), 0);
		assert_int_equal(smime_decrypt(&rd, devnull, &dopts, &res), 0);
		assert_int_not_equal(res.status, SMIME_D_OK);
		smime_rd_cleanup(&rd);
		smime_decrypt_result_cleanup(&res);
	}
	free(enc);
	close(in);
	close(fd);
	close(outfd);
	close(devnull);
	sk_X509_pop_free(eo.recipients, X509_free);
	rt_cleanup(&t);
}

static void
test_encrypt_decrypt(void **state)
{
	(void)state;
	encrypt_decrypt(1, false, SMIME_CIPHER_AES256_CBC, false);
	encrypt_decrypt(1, true, SMIME_CIPHER_AES128_GCM, false);
	encrypt_decrypt(0, false, SMIME_CIPHER_AES256_GCM, false);
	encrypt_decrypt(0, false, SMIME_CIPHER_AES128_CBC, true);
	encrypt_decrypt(1, true, SMIME_CIPHER_AES256_GCM, true);
}

/*
 * Opaque signed-data read as it streams: large contents, every BER
 * shape of the encoding (definite, indefinite, chunked and nested
 * chunked content), as mail and as bare DER or PEM, cut short or changed.
 */

struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void
bytes_put(struct bytes *b, const void *p, size_t n)
{
	if (n > b->cap - b->len) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* How reencode() writes the CMS. */
struct ber_shape {
	bool indef;   /* every re-encoded constructed length indefinite */
	size_t chunk; /* eContent in OCTET STRING chunks this big (0: not) */
	bool nested;  /* the chunks inside one more constructed string */
};

static void
put_tlv(struct bytes *out, uint8_t tag, const struct bytes *c, bool indef)
{
	uint8_t l[5];

	bytes_put(out, &tag, 1);
	if (indef) {
		bytes_put(out, "\x80", 1);
		bytes_put(out, c->p, c->len);
		bytes_put(out, "\0\0", 2);
		return;
	}
	bytes_put(out, l, smime_der_len(l, c->len));
	bytes_put(out, c->p, c->len);
}

static void
chunk_content(const uint8_t *c, size_t n, const struct ber_shape *s,
              struct bytes *out)
{
	struct bytes chunks = {0}, outer = {0};
	struct bytes one;
	size_t take;

	do {
		take = n < s->chunk ? n : s->chunk;
		one.p = (uint8_t *)c;
		one.len = take;
		put_tlv(&chunks, 0x04, &one, false);
		c += take;
		n -= take;
	} while (n > 0);
	if (s->nested) {
		put_tlv(&outer, 0x24, &chunks, s->indef);
		put_tlv(out, 0x24, &outer, s->indef);
	} else {
		put_tlv(out, 0x24, &chunks, s->indef);
	}
	bytes_free(&chunks);
	bytes_free(&outer);
}

/*
 * DER CMS (ContentInfo -> SignedData) re-encoded in shape s, as a
 * streaming encoder writes it: the spine down to eContent (depth 5 in
 * encapContentInfo), the digestAlgorithms and the SET and SEQUENCE of
 * each SignerInfo.  What signatures cover as encoded (certificates, CRLs
 * and the fields of a SignerInfo) is copied as it is.
 */
static void
reencode(const uint8_t *p, size_t n, int depth, bool encap,
         const struct ber_shape *s, struct bytes *out)
{
	struct bytes inner;
	size_t hdr, clen;
	uint8_t tag;

	while (n > 0) {
		assert_int_equal(smime_der_tlv(p, n, &tag, &hdr, &clen), 0);
		if (encap && depth == 5 && tag == 0x04 && s->chunk > 0) {
			chunk_content(p + hdr, clen, s, out);
		} else if ((tag & 0x20) == 0 ||
		           (depth == 3 && (tag == 0xa0 || tag == 0xa1)) ||
		           (depth >= 5 && !encap)) {
			bytes_put(out, p, hdr + clen);
		} else {
			memset(&inner, 0, sizeof(inner));
			reencode(p + hdr, clen, depth + 1,
			         encap || (depth == 3 && tag == 0x30), s,
			         &inner);
			put_tlv(out, tag, &inner, s->indef);
			bytes_free(&inner);
		}
		p += hdr + clen;
		n -= hdr + clen;
	}
}

/* Opaque CMS over content by OpenSSL (DER; BER with stream). */
static void
ossl_sign(struct rt *t, const uint8_t *content, size_t len, unsigned flags,
          struct bytes *der)
{
	CMS_ContentInfo *cms;
	BIO *in, *out;
	char *p;
	long n;

	in = BIO_new_mem_buf(content, (int)len);
	out = BIO_new(BIO_s_mem());
	assert_non_null(in);
	assert_non_null(out);
	cms = CMS_sign(t->cert, t->pkey, NULL, in, CMS_BINARY | flags);
	assert_non_null(cms);
	if (flags & CMS_STREAM)
		assert_int_equal(
		    i2d_CMS_bio_stream(out, cms, in, CMS_BINARY | flags), 1);
	else
		assert_int_equal(i2d_CMS_bio(out, cms), 1);
	n = BIO_get_mem_data(out, &p);
	memset(der, 0, sizeof(*der));
	bytes_put(der, p, (size_t)n);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(out);
}

/* The CMS as an application/pkcs7-mime mail, base64 in 76-column lines. */
static void
mime_wrap(const struct bytes *der, struct bytes *mail)
{
	static const char head[] =
	    "From: alice@example.org\n"
	    "Subject: opaque\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: application/pkcs7-mime; smime-type=signed-data;\n"
	    "\tname=smime.p7m\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n";
	unsigned char line[80];
	size_t off, take;
	int n;

	memset(mail, 0, sizeof(*mail));
	bytes_put(mail, head, sizeof(head) - 1);
	for (off = 0; off < der->len; off += take) {
		take = der->len - off < 57 ? der->len - off : 57;
		n = EVP_EncodeBlock(line, der->p + off, (int)take);
		bytes_put(mail, line, (size_t)n);
		bytes_put(mail, "\n", 1);
	}
}

static void
pem_wrap(const struct bytes *der, struct bytes *pem)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	assert_non_null(b);
	assert_true(PEM_write_bio(b, "CMS", "", der->p, (long)der->len) > 0);
	n = BIO_get_mem_data(b, &p);
	memset(pem, 0, sizeof(*pem));
	bytes_put(pem, p, (size_t)n);
	BIO_free(b);
}

/* Verdict on msg; the content output compared with want (when given). */
static enum smime_vstatus
verify_msg(const struct bytes *msg, struct rt *t, const uint8_t *want,
           size_t wantlen, char *detail, size_t dlen)
{
	struct smime_signer_info si;
	enum smime_vstatus st;
	struct smime_rd rd;
	size_t got;
	char *out;
	int fd;

	assert_int_equal(smime_tmpfile(NULL, &fd), 0);
	assert_int_equal(smime_rd_init_mem(&rd, msg->p, msg->len), 0);
	assert_int_equal(smime_verify(&rd, fd, &t->vo, &st, &si), 0);
	if (detail != NULL)
		snprintf(detail, dlen, "%s", si.detail);
	if (getenv("DEBUG_OPAQUE") != NULL)
		fprintf(stderr, "verify: %s (%s)\n", smime_vstatus_name(st),
		        si.detail);
	if (st == SMIME_V_VALID && want != NULL && wantlen == 0)
		assert_int_equal(lseek(fd, 0, SEEK_END), 0);
	else if (st == SMIME_V_VALID && want != NULL) {
		out = fd_text(fd, &got);
		assert_int_equal(got, wantlen);
		assert_memory_equal(out, want, wantlen);
		free(out);
	}
	smime_signer_info_cleanup(&si);
	smime_rd_cleanup(&rd);
	close(fd);
	return st;
}

/* Content of len bytes: text lines with a counter, CRLF endings. */
static uint8_t *
make_content(size_t len)
{
	uint8_t *c = malloc(len);
	size_t i;

	assert_non_null(c);
	for (i = 0; i < len; i++)
		c[i] = (uint8_t)('a' + (i / 7) % 26);
	for (i = 70; i < len; i += 72) {
		c[i - 1] = '\r';
		c[i] = '\n';
	}
	return c;
}

/* Valid as bare DER, as mail and (when pem) as PEM; content as signed. */
static void
assert_valid_everywhere(const struct bytes *der, struct rt *t,
                        const uint8_t *content, size_t len, bool pem)
{
	struct bytes mail, p;
	char detail[256];

	assert_int_equal(
	    verify_msg(der, t, content, len, detail, sizeof(detail)),
	    SMIME_V_VALID);
	mime_wrap(der, &mail);
	assert_int_equal(verify_msg(&mail, t, content, len, NULL, 0),
	                 SMIME_V_VALID);
	bytes_free(&mail);
	if (pem) {
		pem_wrap(der, &p);
		assert_int_equal(verify_msg(&p, t, content, len, NULL, 0),
		                 SMIME_V_VALID);
		bytes_free(&p);
	}
}

static void
test_opaque_shapes(void **state)
{
	static const struct ber_shape shapes[] = {
	    {false, 0, false},   {false, 1000, false}, {true, 0, false},
	    {true, 4096, false}, {true, 333, true},    {false, 1, true},
	};
	const size_t len = 20000;
	struct bytes der, ber;
	uint8_t *content = make_content(len);
	struct rt t;
	size_t i;

	(void)state;
	rt_init(&t, 0);
	ossl_sign(&t, content, len, 0, &der);
	assert_valid_everywhere(&der, &t, content, len, true);
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		memset(&ber, 0, sizeof(ber));
		reencode(der.p, der.len, 0, false, &shapes[i], &ber);
		assert_valid_everywhere(&ber, &t, content, len, i == 3);
		bytes_free(&ber);
	}
	bytes_free(&der);
	/* As "openssl cms -sign -stream -binary" writes it. */
	ossl_sign(&t, content, len, CMS_STREAM, &der);
	assert_int_equal(der.p[1], 0x80);
	assert_valid_everywhere(&der, &t, content, len, true);
	bytes_free(&der);
	/* Empty content. */
	ossl_sign(&t, content, 0, 0, &der);
	assert_valid_everywhere(&der, &t, content, 0, false);
	bytes_free(&der);
	free(content);
	rt_cleanup(&t);
}

/* A large content, through smime_sign() and through OpenSSL. */
static void
test_opaque_large(void **state)
{
	static const struct ber_shape indef = {true, 8000, false};
	const size_t len = 6 * 1024 * 1024 + 123;
	uint8_t *content = make_content(len);
	struct smime_sign_opts so;
	struct bytes der, ber, mail;
	char *msg, *out;
	size_t n;
	struct rt t;
	int in, fd;

	(void)state;
	rt_init(&t, 1);
	ossl_sign(&t, content, len, 0, &der);
	assert_valid_everywhere(&der, &t, content, len, false);
	memset(&ber, 0, sizeof(ber));
	reencode(der.p, der.len, 0, false, &indef, &ber);
	mime_wrap(&ber, &mail);
	assert_int_equal(verify_msg(&mail, &t, content, len, NULL, 0),
	                 SMIME_V_VALID);
	bytes_free(&mail);
	bytes_free(&ber);
	bytes_free(&der);
	/* p11 sign --opaque of a mail with a body of several MiB. */
	msg = malloc(len + 128);
	assert_non_null(msg);
	n = (size_t)snprintf(msg, 128,
	                     "From: alice@example.org\nSubject: big\n"
	                     "Content-Type: text/plain\n\n");
	for (size_t i = 0; i < len; i++)
		msg[n + i] = content[i] == '\r' ? ' ' : (char)content[i];
	in = mem_fd(msg, n + len);
	memset(&so, 0, sizeof(so));
	so.signer = &t.ks.signer;
	so.opaque = true;
	assert_int_equal(smime_tmpfile(NULL, &fd), 0);
	assert_int_equal(smime_sign(in, fd, &so), 0);
	out = fd_text(fd, &n);
	assert_int_equal(verify_text(out, n, &t), SMIME_V_VALID);
	free(out);
	free(msg);
	free(content);
	close(in);
	close(fd);
	rt_cleanup(&t);
}

static bool
broken(enum smime_vstatus st)
{
	return st == SMIME_V_MALFORMED || st == SMIME_V_BAD_SIGNATURE;
}

/* Every cut of der (and of its mail body) is refused, never valid. */
static void
assert_cuts_refused(const struct bytes *der, struct rt *t)
{
	struct bytes cut, mail;
	size_t i, body, step = 1 + der->len / 400;

	for (i = 2; i < der->len; i += i + 64 >= der->len ? 1 : step) {
		cut = *der;
		cut.len = i;
		assert_true(broken(verify_msg(&cut, t, NULL, 0, NULL, 0)));
	}
	mime_wrap(der, &mail);
	body = (size_t)(strstr((char *)mail.p, "\n\n") + 2 - (char *)mail.p);
	step = 1 + (mail.len - body) / 400;
	for (i = body; i < mail.len - 1; i += i + 100 >= mail.len ? 1 : step) {
		cut = mail;
		cut.len = i;
		assert_true(broken(verify_msg(&cut, t, NULL, 0, NULL, 0)));
	}
	bytes_free(&mail);
}

/* One byte of the content changed: a bad signature, in any shape. */
static void
assert_flip_bad(const struct bytes *der, const uint8_t *content, size_t len,
                struct rt *t)
{
	struct bytes copy = {0}, mail;
	uint8_t *at;

	bytes_put(&copy, der->p, der->len);
	/* The middle of the content is far from any chunk header. */
	at = memmem(copy.p, copy.len, content + len / 2, 16);
	assert_non_null(at);
	*at ^= 0x01;
	assert_int_equal(verify_msg(&copy, t, NULL, 0, NULL, 0),
	                 SMIME_V_BAD_SIGNATURE);
	mime_wrap(&copy, &mail);
	assert_int_equal(verify_msg(&mail, t, NULL, 0, NULL, 0),
	                 SMIME_V_BAD_SIGNATURE);
	bytes_free(&mail);
	bytes_free(&copy);
}

static void
test_opaque_damage(void **state)
{
	static const struct ber_shape indef = {true, 700, true};
	static const uint8_t sha256[] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                                 0x65, 0x03, 0x04, 0x02, 0x01};
	const size_t len = 3000;
	uint8_t *content = make_content(len), *at;
	struct bytes der, ber, mail;
	char detail[256];
	struct rt t;

	(void)state;
	rt_init(&t, 0);
	ossl_sign(&t, content, len, 0, &der);
	memset(&ber, 0, sizeof(ber));
	reencode(der.p, der.len, 0, false, &indef, &ber);
	assert_cuts_refused(&der, &t);
	assert_cuts_refused(&ber, &t);
	assert_flip_bad(&der, content, len, &t);
	assert_flip_bad(&ber, content, len, &t);
	/* digestAlgorithms (the first SHA-256 OID) names SHA-384 only. */
	at = memmem(ber.p, ber.len, sha256, sizeof(sha256));
	assert_non_null(at);
	at[sizeof(sha256) - 1] = 0x02;
	assert_int_equal(verify_msg(&ber, &t, NULL, 0, detail, sizeof(detail)),
	                 SMIME_V_BAD_SIGNATURE);
	assert_non_null(strstr(detail, "digestAlgorithms"));
	bytes_free(&ber);
	/* Bytes after the base64 that are no base64: malformed. */
	mime_wrap(&der, &mail);
	bytes_put(&mail, "*\n", 2);
	assert_int_equal(verify_msg(&mail, &t, NULL, 0, detail, sizeof(detail)),
	                 SMIME_V_MALFORMED);
	assert_string_equal(detail, "the body does not decode");
	bytes_free(&mail);
	bytes_free(&der);
	/* A detached signature given as an opaque message. */
	ossl_sign(&t, content, len, CMS_DETACHED, &der);
	mime_wrap(&der, &mail);
	assert_int_equal(verify_msg(&mail, &t, NULL, 0, detail, sizeof(detail)),
	                 SMIME_V_MALFORMED);
	assert_string_equal(detail, "signed-data without content");
	assert_int_equal(verify_msg(&der, &t, NULL, 0, detail, sizeof(detail)),
	                 SMIME_V_MALFORMED);
	assert_string_equal(detail, "a detached signature without its content");
	bytes_free(&mail);
	bytes_free(&der);
	free(content);
	rt_cleanup(&t);
}

/* msg_7bit encrypted (AES-256-CBC) to t's own certificate: a new string. */
static char *
encrypt_to_self(struct rt *t, size_t *len)
{
	struct smime_encrypt_opts eo;
	char *enc;
	int in, fd;

	memset(&eo, 0, sizeof(eo));
	assert_non_null(eo.recipients = sk_X509_new_null());
	assert_true(X509_up_ref(t->cert));
	assert_true(sk_X509_push(eo.recipients, t->cert) > 0);
	eo.cipher = SMIME_CIPHER_AES256_CBC;
	in = mem_fd(msg_7bit, strlen(msg_7bit));
	assert_int_equal(smime_tmpfile(NULL, &fd), 0);
	assert_int_equal(smime_encrypt(in, fd, &eo), 0);
	enc = fd_text(fd, len);
	close(in);
	close(fd);
	sk_X509_pop_free(eo.recipients, X509_free);
	return enc;
}

/* Enveloped data given to verify: not signed, and how to open it. */
static void
test_opaque_enveloped(void **state)
{
	struct bytes msg = {0};
	char detail[256], *enc;
	size_t len;
	struct rt t;

	(void)state;
	rt_init(&t, 1);
	enc = encrypt_to_self(&t, &len);
	bytes_put(&msg, enc, len);
	assert_int_equal(verify_msg(&msg, &t, NULL, 0, detail, sizeof(detail)),
	                 SMIME_V_NOT_SIGNED);
	assert_string_equal(detail,
	                    "encrypted, not signed (p11 decrypt --verify)");
	/* Cut short, it is no CMS at all. */
	msg.len = len - 30;
	assert_int_equal(verify_msg(&msg, &t, NULL, 0, NULL, 0),
	                 SMIME_V_MALFORMED);
	bytes_free(&msg);
	free(enc);
	rt_cleanup(&t);
}

/*
 * What a mailing list makes of a message: the entity from its
 * Content-Type field on as the first part of a multipart/mixed, a footer
 * as the second.  Returns a new string.
 */
static char *
list_wrapped(const char *msg)
{
	const char *entity = strstr(msg, "Content-Type: ");
	size_t len;
	char *w;

	assert_non_null(entity);
	len = strlen(entity) + 512;
	assert_non_null(w = malloc(len));
	snprintf(w, len,
	         "From: Alice <alice@example.org>\n"
	         "Subject: to the list\n"
	         "MIME-Version: 1.0\n"
	         "Content-Type: multipart/mixed; boundary=\"LIST\"\n\n"
	         "preamble\n--LIST\n%s\n--LIST\n"
	         "Content-Type: text/plain\n\n"
	         "-- \nlist footer\n--LIST--\n",
	         entity);
	return w;
}

/* Decrypts msg (len bytes) with t's key: the status, the output in *out. */
static enum smime_dstatus
decrypt_text(struct rt *t, const char *msg, size_t len, char **out)
{
	struct smime_decrypt_opts dopts;
	struct smime_decrypt_result res;
	struct smime_rd rd;
	enum smime_dstatus st;
	size_t olen;
	int fd;

	memset(&dopts, 0, sizeof(dopts));
	dopts.keys = &t->key;
	dopts.nkeys = 1;
	dopts.vopts = &t->vo;
	assert_int_equal(smime_tmpfile(NULL, &fd), 0);
	assert_int_equal(smime_rd_init_mem(&rd, (const uint8_t *)msg, len), 0);
	assert_int_equal(smime_decrypt(&rd, fd, &dopts, &res), 0);
	st = res.status;
	smime_rd_cleanup(&rd);
	smime_decrypt_result_cleanup(&res);
	if (lseek(fd, 0, SEEK_END) == 0)
		*out = strdup(""); /* fd_text() wants content */
	else
		*out = fd_text(fd, &olen);
	assert_non_null(*out);
	close(fd);
	return st;
}

/*
 * An encrypted part inside a multipart/mixed (a mailing list's footer):
 * found and opened; a multipart without one, or one whose encrypted part
 * is cut short, is refused with nothing written.
 */
static void
test_decrypt_in_multipart(void **state)
{
	struct rt t;
	char *enc, *body, *wrapped, *out;
	size_t len;

	(void)state;
	rt_init(&t, 1);
	enc = encrypt_to_self(&t, &len);
	/* The encrypted entity without the outer fields becomes a part. */
	wrapped = list_wrapped(enc);
	assert_int_equal(decrypt_text(&t, wrapped, strlen(wrapped), &out),
	                 SMIME_D_OK);
	assert_non_null(strstr(out, "Hello Bob,"));
	assert_null(strstr(out, "list footer"));
	free(out);
	/* Cut inside the encrypted part: malformed, nothing written. */
	body = strstr(wrapped, "--LIST\nContent-Type: text/plain");
	assert_non_null(body);
	memmove(body - 40, body, strlen(body) + 1);
	assert_int_not_equal(decrypt_text(&t, wrapped, strlen(wrapped), &out),
	                     SMIME_D_OK);
	assert_int_equal(out[0], '\0');
	free(out);
	/* No S/MIME part at all. */
	assert_int_not_equal(decrypt_text(&t, msg_8bit, strlen(msg_8bit), &out),
	                     SMIME_D_OK);
	assert_int_equal(out[0], '\0');
	free(out);
	free(wrapped);
	free(enc);
	rt_cleanup(&t);
}

/*
 * A signed message (opaque or multipart/signed) as the first part of a
 * multipart/mixed with a list footer after it: verified within its part.
 */
static void
test_verify_in_multipart(void **state)
{
	struct smime_sign_opts so;
	struct rt t;
	char *signed_msg, *wrapped;
	size_t len;
	int in, fd, opaque;

	(void)state;
	rt_init(&t, 0);
	for (opaque = 0; opaque < 2; opaque++) {
		memset(&so, 0, sizeof(so));
		so.signer = &t.ks.signer;
		so.opaque = opaque;
		in = mem_fd(msg_7bit, strlen(msg_7bit));
		assert_int_equal(smime_tmpfile(NULL, &fd), 0);
		assert_int_equal(smime_sign(in, fd, &so), 0);
		signed_msg = fd_text(fd, &len);
		wrapped = list_wrapped(signed_msg);
		assert_int_equal(verify_text(wrapped, strlen(wrapped), &t),
		                 SMIME_V_VALID);
		free(wrapped);
		free(signed_msg);
		close(in);
		close(fd);
	}
	rt_cleanup(&t);
}

/* smime_ecdsa_sig_der(): r||s halves to a DER SEQUENCE of INTEGERs. */
static void
test_ecdsa_sig_der(void **state)
{
	/* Leading zeros dropped; a set high bit gets a 00 in front. */
	static const uint8_t rs1[] = {0x00, 0x00, 0x12, 0x34,
	                              0x80, 0x01, 0x02, 0x03};
	static const uint8_t der1[] = {0x30, 0x0b, 0x02, 0x02, 0x12, 0x34, 0x02,
	                               0x05, 0x00, 0x80, 0x01, 0x02, 0x03};
	/* An all-zero half stays one 00 byte; a half of one byte. */
	static const uint8_t rs2[] = {0x00, 0x00, 0x00, 0x7f};
	static const uint8_t der2[] = {0x30, 0x06, 0x02, 0x01,
	                               0x00, 0x02, 0x01, 0x7f};
	static const uint8_t rs3[] = {0xff, 0x01};
	static const uint8_t der3[] = {0x30, 0x07, 0x02, 0x02, 0x00,
	                               0xff, 0x02, 0x01, 0x01};
	uint8_t rs[132], out[160], *p;
	ECDSA_SIG *sig;
	const unsigned char *cp;
	const BIGNUM *r, *s2;
	size_t len, i;

	(void)state;
	len = sizeof(out);
	assert_int_equal(smime_ecdsa_sig_der(rs1, sizeof(rs1), out, &len), 0);
	assert_int_equal(len, sizeof(der1));
	assert_memory_equal(out, der1, len);
	len = sizeof(out);
	assert_int_equal(smime_ecdsa_sig_der(rs2, sizeof(rs2), out, &len), 0);
	assert_int_equal(len, sizeof(der2));
	assert_memory_equal(out, der2, len);
	/* 00 ff is 255, not -1; 01 has no leading zero to drop. */
	len = sizeof(out);
	assert_int_equal(smime_ecdsa_sig_der(rs3, sizeof(rs3), out, &len), 0);
	assert_int_equal(len, sizeof(der3));
	assert_memory_equal(out, der3, len);
	/* Odd, empty, no room. */
	len = sizeof(out);
	assert_int_equal(smime_ecdsa_sig_der(rs1, 3, out, &len), P11A_E_FORMAT);
	assert_int_equal(smime_ecdsa_sig_der(rs1, 0, out, &len), P11A_E_FORMAT);
	len = sizeof(der1) - 1;
	assert_int_equal(smime_ecdsa_sig_der(rs1, sizeof(rs1), out, &len),
	                 P11A_E_TOO_LARGE);
	/* P-521 size halves with the high bit set: a long-form length,
	 * and OpenSSL reads back the same numbers. */
	for (i = 0; i < sizeof(rs); i++)
		rs[i] = (uint8_t)(0x80 + i);
	len = sizeof(out);
	assert_int_equal(smime_ecdsa_sig_der(rs, sizeof(rs), out, &len), 0);
	assert_int_equal(out[1], 0x81);
	cp = out;
	assert_non_null(sig = d2i_ECDSA_SIG(NULL, &cp, (long)len));
	assert_ptr_equal(cp, out + len);
	ECDSA_SIG_get0(sig, &r, &s2);
	assert_non_null(p = malloc(sizeof(rs)));
	assert_int_equal(BN_bn2binpad(r, p, 66), 66);
	assert_int_equal(BN_bn2binpad(s2, p + 66, 66), 66);
	assert_memory_equal(p, rs, sizeof(rs));
	free(p);
	ECDSA_SIG_free(sig);
}

/*
 * The SignedData smime_sign() builds by hand, read by OpenSSL: CMS_verify
 * accepts it for RSA PKCS #1 v1.5, RSASSA-PSS and ECDSA P-256/P-384,
 * and its SignerInfo carries SMIMECapabilities and signingCertificateV2
 * (with the signer's certificate hash).
 */
static void
sign_peer_check(int kind, bool pss, bool opaque, int md_nid)
{
	struct smime_sign_opts so;
	STACK_OF(CMS_SignerInfo) * sis;
	CMS_SignerInfo *si;
	X509_STORE *store;
	CMS_ContentInfo *cms;
	BIO *in, *cont = NULL, *out;
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	struct rt t2;
	char *msg;
	size_t len;

	rt_init(&t2, kind);
	memset(&so, 0, sizeof(so));
	so.signer = &t2.ks.signer;
	so.pss = pss;
	so.opaque = opaque;
	so.md_nid = md_nid;
	msg = sign_text(&so, msg_7bit, &len);
	assert_non_null(in = BIO_new_mem_buf(msg, (int)len));
	assert_non_null(cms = SMIME_read_CMS(in, &cont));
	assert_int_equal(cont == NULL, opaque);
	assert_non_null(store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(store, t2.cert), 1);
	assert_non_null(out = BIO_new(BIO_s_mem()));
	if (CMS_verify(cms, NULL, store, cont, out, CMS_BINARY) != 1) {
		ERR_print_errors_fp(stderr);
		fail_msg("CMS_verify refused kind %d pss %d opaque %d", kind,
		         pss, opaque);
	}
	assert_non_null(sis = CMS_get0_SignerInfos(cms));
	assert_int_equal(sk_CMS_SignerInfo_num(sis), 1);
	si = sk_CMS_SignerInfo_value(sis, 0);
	assert_true(CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1) >=
	            0);
	assert_non_null(
	    a = CMS_signed_get_attr(
	        si, CMS_signed_get_attr_by_NID(
	                si, NID_id_smime_aa_signingCertificateV2, -1)));
	assert_non_null(t = X509_ATTRIBUTE_get0_type(a, 0));
	assert_int_equal(t->type, V_ASN1_SEQUENCE);
	{
		/* ESSCertIDv2's certHash is the certificate's digest. */
		unsigned char *der = NULL, h[EVP_MAX_MD_SIZE];
		unsigned hl;
		int dl = i2d_X509(t2.cert, &der);

		assert_true(dl > 0);
		assert_int_equal(
		    EVP_Digest(
		        der, (size_t)dl, h, &hl,
		        EVP_get_digestbynid(md_nid != 0 ? md_nid : NID_sha256),
		        NULL),
		    1);
		assert_non_null(memmem(t->value.sequence->data,
		                       (size_t)t->value.sequence->length, h,
		                       hl));
		OPENSSL_free(der);
	}
	/* And our own verifier agrees. */
	assert_int_equal(verify_text(msg, len, &t2), SMIME_V_VALID);
	BIO_free(out);
	BIO_free(cont);
	BIO_free(in);
	X509_STORE_free(store);
	CMS_ContentInfo_free(cms);
	free(msg);
	rt_cleanup(&t2);
}

static void
test_sign_peer(void **state)
{
	(void)state;
	sign_peer_check(1, false, false, 0);          /* RSA PKCS #1 v1.5 */
	sign_peer_check(1, false, true, NID_sha512);  /* RSA, opaque */
	sign_peer_check(1, true, false, 0);           /* RSASSA-PSS */
	sign_peer_check(1, true, true, NID_sha384);   /* PSS, opaque */
	sign_peer_check(0, false, false, 0);          /* ECDSA P-256 */
	sign_peer_check(0, false, true, 0);           /* P-256, opaque */
	sign_peer_check(2, false, false, NID_sha384); /* ECDSA P-384 */
	sign_peer_check(2, false, true, NID_sha384);  /* P-384, opaque */
}

/* --pss with an EC key is refused from the certificate's key type. */
static void
test_sign_pss_ec(void **state)
{
	struct smime_sign_opts so;
	struct rt t;
	int infd, fd;

	(void)state;
	rt_init(&t, 0);
	memset(&so, 0, sizeof(so));
	so.signer = &t.ks.signer;
	so.pss = true;
	infd = mem_fd(msg_7bit, strlen(msg_7bit));
	assert_int_equal(smime_tmpfile(NULL, &fd), 0);
	assert_int_equal(smime_sign(infd, fd, &so), P11A_E_KEY_TYPE);
	close(infd);
	close(fd);
	rt_cleanup(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ct_parse),
	    cmocka_unit_test(test_addr),
	    cmocka_unit_test(test_boundary),
	    cmocka_unit_test(test_hdrs),
	    cmocka_unit_test(test_b64),
	    cmocka_unit_test(test_canon),
	    cmocka_unit_test(test_store),
	    cmocka_unit_test(test_store_folder),
	    cmocka_unit_test(test_sign_verify),
	    cmocka_unit_test(test_ecdsa_sig_der),
	    cmocka_unit_test(test_sign_peer),
	    cmocka_unit_test(test_sign_pss_ec),
	    cmocka_unit_test(test_encrypt_decrypt),
	    cmocka_unit_test(test_decrypt_in_multipart),
	    cmocka_unit_test(test_verify_in_multipart),
	    cmocka_unit_test(test_opaque_shapes),
	    cmocka_unit_test(test_opaque_large),
	    cmocka_unit_test(test_opaque_damage),
	    cmocka_unit_test(test_opaque_enveloped),
	};

	return cmocka_run_group_tests_name("smime", tests, NULL, NULL);
}
