/*
 * test_smime_alloc: every OpenSSL allocation of sign, verify, encrypt and
 * decrypt made to fail in turn (CRYPTO_set_mem_functions), with software
 * keys.  Each run must end without a crash, without a leak (checked by
 * LeakSanitizer in the sanitizer build) and without a false verdict: a
 * run that reports success must have produced what a clean run produces.
 *
 * Encryption is to an RSA key: for an EC recipient OpenSSL 3.0's CMS
 * encoder itself dereferences NULL when fetching the X9.63 KDF fails
 * (EVP_KDF_CTX_new), a crash inside OpenSSL that no caller can avoid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "io.h"
#include "key.h"
#include "smime.h"

/* Give up on an operation that needs more allocations than this. */
#define MAX_ALLOCS 20000

static long fail_at = -1; /* index of the allocation to fail, or -1 */
static long allocs;       /* allocations since the count was reset */
static long failed;       /* allocations refused since then */

static bool
refuse_now(void)
{
	if (fail_at < 0)
		return false;
	if (allocs++ != fail_at)
		return false;
	failed++;

	return true;
}

static void *
t_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return refuse_now() ? NULL : malloc(n);
}

static void *
t_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return refuse_now() ? NULL : realloc(p, n);
}

static void
t_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/* From now on, allocation number at (counting from 0) fails. */
static void
inject_start(long at)
{
	allocs = 0;
	failed = 0;
	fail_at = at;
}

/* Allocations succeed again; `failed` still says whether one did not. */
static void
inject_stop(void)
{
	fail_at = -1;
}

static const char msg[] = "From: alice@example.org\n"
                          "To: alice@example.org\n"
                          "Subject: allocation failures\n"
                          "Content-Type: text/plain\n"
                          "\n"
                          "Every allocation may fail.\n";

struct fx {
	EVP_PKEY *pkey;
	X509 *cert;
	struct smime_key *key;
	struct smime_verify_opts vo;
	char ca[64];
};

/* A self-signed S/MIME certificate for alice (RSA-2048 or P-256), trusted
 * via ca. */
static void
fx_init(struct fx *f, bool rsa)
{
	X509_NAME *n;
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	FILE *fp;
	int fd;

	memset(f, 0, sizeof(*f));
	f->pkey = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	assert_non_null(f->pkey);
	assert_non_null(f->cert = X509_new());
	X509_set_version(f->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(f->cert), 3);
	X509_gmtime_adj(X509_getm_notBefore(f->cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(f->cert), 3600L * 24);
	X509_set_pubkey(f->cert, f->pkey);
	n = X509_get_subject_name(f->cert);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	                           (const unsigned char *)"Alice", -1, -1, 0);
	X509_set_issuer_name(f->cert, n);
	X509V3_set_ctx(&ctx, f->cert, f->cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
	                          "email:alice@example.org");
	X509_add_ext(f->cert, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(f->cert, f->pkey, EVP_sha256()) > 0);
	assert_non_null(f->key = smime_key_from_pkey(f->pkey, f->cert));
	strcpy(f->ca, "/tmp/p11a-alloc-ca-XXXXXX");
	assert_true((fd = mkstemp(f->ca)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	assert_int_equal(PEM_write_X509(fp, f->cert), 1);
	fclose(fp);
	f->vo.ca_file = f->ca;
	f->vo.no_system_trust = true;
}

static void
fx_cleanup(struct fx *f)
{
	smime_key_free(f->key);
	X509_free(f->cert);
	EVP_PKEY_free(f->pkey);
	unlink(f->ca);
}

/*
 * A fresh copy of the private key before each run.  OpenSSL 3.0's RSA
 * keeps blinding values in the key and re-creates them every 32 uses: an
 * allocation refused in the middle of that leaves them inconsistent, and
 * every later signature with that EVP_PKEY is wrong (the signer's
 * self-check then refuses each one).  A poisoned key object is not what
 * the next run tests, so each run gets one of its own.
 */
static void
fx_fresh_key(struct fx *f)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *k;
	int len;

	assert_true((len = i2d_PrivateKey(f->pkey, &der)) > 0);
	p = der;
	assert_non_null(k = d2i_AutoPrivateKey(NULL, &p, len));
	OPENSSL_clear_free(der, (size_t)len);
	smime_key_free(f->key);
	EVP_PKEY_free(f->pkey);
	f->pkey = k;
	assert_non_null(f->key = smime_key_from_pkey(f->pkey, f->cert));
}

static int
text_fd(const char *p, size_t len)
{
	int fd;

	assert_int_equal(smime_tmpfile(NULL, &fd), 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static char *
fd_text(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	char *p;

	assert_true(end >= 0);
	assert_non_null(p = malloc((size_t)end + 1));
	assert_int_equal(pread(fd, p, (size_t)end, 0), end);
	p[end] = '\0';
	*len = (size_t)end;
	return p;
}

/* One operation under test: 0 on success, with its output in *out. */
typedef int (*op_fn)(struct fx *f, const char *in, size_t inlen, char **out,
                     size_t *outlen);

/*
 * Signing builds the SignedData by hand (sign.c, no libcrypto), so the
 * OpenSSL allocations of a signature are those of the struct smime_key
 * adaptor: the certificates' DER (smime_key_signer_init()) and the
 * EVP_PKEY signature (smime_key_sign()).  Both run inside the operation
 * here, so that each of their failures must come back as an error from
 * smime_sign() (the builder's own malloc() is not counted).
 */
static int
op_sign(struct fx *f, const char *in, size_t inlen, char **out, size_t *outlen,
        bool opaque)
{
	struct smime_sign_opts so;
	struct smime_key_signer ks;
	int ifd = text_fd(in, inlen), ofd, r;

	memset(&so, 0, sizeof(so));
	so.opaque = opaque;
	so.signer = &ks.signer;
	assert_int_equal(smime_tmpfile(NULL, &ofd), 0);
	if ((r = smime_key_signer_init(&ks, f->key)) == 0)
		r = smime_sign(ifd, ofd, &so);
	smime_key_signer_cleanup(&ks);
	*out = r == 0 ? fd_text(ofd, outlen) : NULL;
	close(ifd);
	close(ofd);
	return r;
}

static int
op_sign_detached(struct fx *f, const char *in, size_t inlen, char **out,
                 size_t *outlen)
{
	return op_sign(f, in, inlen, out, outlen, false);
}

static int
op_sign_opaque(struct fx *f, const char *in, size_t inlen, char **out,
               size_t *outlen)
{
	return op_sign(f, in, inlen, out, outlen, true);
}

/* Verify: success means "valid", and the content goes to *out. */
static int
op_verify(struct fx *f, const char *in, size_t inlen, char **out,
          size_t *outlen)
{
	struct smime_signer_info si;
	enum smime_vstatus st = SMIME_V_MALFORMED;
	struct smime_rd rd;
	int ofd, r;

	memset(&si, 0, sizeof(si));
	memset(&rd, 0, sizeof(rd));
	assert_int_equal(smime_tmpfile(NULL, &ofd), 0);
	r = smime_rd_init_mem(&rd, (const uint8_t *)in, inlen);
	if (r == 0)
		r = smime_verify(&rd, ofd, &f->vo, &st, &si);
	if (r == 0 && st != SMIME_V_VALID)
		r = -1;
	*out = r == 0 ? fd_text(ofd, outlen) : NULL;
	smime_signer_info_cleanup(&si);
	smime_rd_cleanup(&rd);
	close(ofd);
	return r;
}

static int
op_encrypt(struct fx *f, const char *in, size_t inlen, char **out,
           size_t *outlen)
{
	struct smime_encrypt_opts eo;
	struct smime_sign_opts so;
	struct smime_key_signer ks;
	int ifd = text_fd(in, inlen), ofd, r;

	memset(&eo, 0, sizeof(eo));
	memset(&so, 0, sizeof(so));
	if (smime_key_signer_init(&ks, f->key) != 0) {
		close(ifd);
		return -1;
	}
	so.signer = &ks.signer;
	eo.sign = &so;
	eo.cipher = SMIME_CIPHER_AES256_GCM;
	if ((eo.recipients = sk_X509_new_null()) == NULL ||
	    !X509_up_ref(f->cert)) {
		sk_X509_free(eo.recipients);
		smime_key_signer_cleanup(&ks);
		close(ifd);
		return -1;
	}
	if (!sk_X509_push(eo.recipients, f->cert)) {
		X509_free(f->cert);
		sk_X509_free(eo.recipients);
		smime_key_signer_cleanup(&ks);
		close(ifd);
		return -1;
	}
	assert_int_equal(smime_tmpfile(NULL, &ofd), 0);
	r = smime_encrypt(ifd, ofd, &eo);
	*out = r == 0 ? fd_text(ofd, outlen) : NULL;
	sk_X509_pop_free(eo.recipients, X509_free);
	smime_key_signer_cleanup(&ks);
	close(ifd);
	close(ofd);
	return r;
}

/* Decrypt with --verify: success means ok and a valid signature. */
static int
op_decrypt(struct fx *f, const char *in, size_t inlen, char **out,
           size_t *outlen)
{
	struct smime_decrypt_opts dopts;
	struct smime_decrypt_result res;
	struct smime_rd rd;
	int ofd, r;

	memset(&dopts, 0, sizeof(dopts));
	memset(&res, 0, sizeof(res));
	memset(&rd, 0, sizeof(rd));
	dopts.keys = &f->key;
	dopts.nkeys = 1;
	dopts.verify = true;
	dopts.vopts = &f->vo;
	assert_int_equal(smime_tmpfile(NULL, &ofd), 0);
	r = smime_rd_init_mem(&rd, (const uint8_t *)in, inlen);
	if (r == 0)
		r = smime_decrypt(&rd, ofd, &dopts, &res);
	if (r == 0 && (res.status != SMIME_D_OK ||
	               res.sig_status != SMIME_V_VALID || !res.authenticated))
		r = -1;
	*out = r == 0 ? fd_text(ofd, outlen) : NULL;
	smime_decrypt_result_cleanup(&res);
	smime_rd_cleanup(&rd);
	close(ofd);
	return r;
}

/*
 * Runs op with the allocation number 0, 1, 2... failing, until a run
 * needs no refused allocation.  check() judges each successful output.
 */
static void
fail_each_alloc(struct fx *f, op_fn op, const char *in, size_t inlen,
                void (*check)(struct fx *f, const char *out, size_t len))
{
	char *out = NULL;
	size_t len = 0;
	long at;
	int r;

	/* Once without failures: OpenSSL's one-time set-up happens here. */
	assert_int_equal(op(f, in, inlen, &out, &len), 0);
	free(out);
	for (at = 0; at < MAX_ALLOCS; at++) {
		fx_fresh_key(f);
		inject_start(at);
		r = op(f, in, inlen, &out, &len);
		inject_stop();
		ERR_clear_error();
		if (r == 0) {
			check(f, out, len);
			free(out);
		}
		if (failed == 0) {
			assert_int_equal(r, 0);
			return;
		}
	}
	fail_msg("more than %d allocations", MAX_ALLOCS);
}

/* A signed message must verify (with nothing failing now). */
static void
check_signed(struct fx *f, const char *out, size_t len)
{
	char *content = NULL;
	size_t clen = 0;

	assert_int_equal(op_verify(f, out, len, &content, &clen), 0);
	assert_non_null(strstr(content, "Every allocation may fail."));
	free(content);
}

static void
check_content(struct fx *f, const char *out, size_t len)
{
	(void)f;
	(void)len;
	assert_non_null(strstr(out, "Every allocation may fail."));
}

static void
check_encrypted(struct fx *f, const char *out, size_t len)
{
	char *plain = NULL;
	size_t plen = 0;

	assert_null(strstr(out, "Every allocation may fail."));
	assert_int_equal(op_decrypt(f, out, len, &plain, &plen), 0);
	check_content(f, plain, plen);
	free(plain);
}

static void
test_sign(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, false);
	fail_each_alloc(&f, op_sign_detached, msg, strlen(msg), check_signed);
	fail_each_alloc(&f, op_sign_opaque, msg, strlen(msg), check_signed);
	fx_cleanup(&f);
}

static void
test_verify(void **state)
{
	struct fx f;
	char *signed_msg = NULL;
	size_t len = 0;
	bool opaque;

	(void)state;
	fx_init(&f, false);
	for (opaque = false;; opaque = true) {
		assert_int_equal(
		    op_sign(&f, msg, strlen(msg), &signed_msg, &len, opaque),
		    0);
		fail_each_alloc(&f, op_verify, signed_msg, len, check_content);
		free(signed_msg);
		if (opaque)
			break;
	}
	fx_cleanup(&f);
}

static void
test_encrypt_decrypt(void **state)
{
	struct fx f;
	char *enc = NULL;
	size_t len = 0;

	(void)state;
	fx_init(&f, true);
	fail_each_alloc(&f, op_encrypt, msg, strlen(msg), check_encrypted);
	assert_int_equal(op_encrypt(&f, msg, strlen(msg), &enc, &len), 0);
	fail_each_alloc(&f, op_decrypt, enc, len, check_content);
	free(enc);
	fx_cleanup(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign),
	    cmocka_unit_test(test_verify),
	    cmocka_unit_test(test_encrypt_decrypt),
	};

	/* Before OpenSSL allocates anything. */
	if (!CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free)) {
		fprintf(stderr, "cannot install the allocator\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
