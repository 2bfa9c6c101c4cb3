/*
 * p11a-provider-check: drives the built-in provider (provider.h) the way
 * the p11 CLI and the S/MIME code do, for tests/softhsm/test_provider.sh.
 * It runs in its own library context, so the test also covers providers
 * that are not in the default context, and it works under ASan where
 * openssl(1) cannot load a sanitized module.
 *
 *   p11a-provider-check sign URI DIGEST [pss] IN SIG   DigestSign of IN
 *   p11a-provider-check decrypt URI pkcs1|oaep[-HASH] IN OUT
 *   p11a-provider-check derive URI PEER.pem OUT
 *   p11a-provider-check cert URI OUT.pem               key's certificate
 *   p11a-provider-check threads URI N COUNT   N threads share one key and
 *                                             each signs and verifies COUNT
 *                                             times
 *
 * Exit status 0 on success; OpenSSL's error queue on stderr otherwise.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "provider.h"

/* Reads a whole (small) file into a new buffer. */
static int
read_file(const char *path, unsigned char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0, got;

	*out = NULL;
	*len = 0;
	if (f == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			unsigned char *nb = realloc(buf, cap = cap * 2 + 4096);

			if (nb == NULL)
				break;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f) || n > cap) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static int
write_file(const char *path, const unsigned char *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int
do_sign(OSSL_LIB_CTX *lib, EVP_PKEY *key, int argc, char **argv)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *in = NULL, *sig = NULL;
	size_t inlen, siglen = 0;
	int pss = argc == 4 && strcmp(argv[1], "pss") == 0, rc = -1;

	if (argc != 3 + pss || md == NULL)
		goto out;
	if (read_file(argv[1 + pss], &in, &inlen) != 0)
		goto out;
	if (EVP_DigestSignInit_ex(md, &pctx, argv[0], lib, NULL, key, NULL) <=
	    0)
		goto out;
	if (pss &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0)
		goto out;
	/* Streamed in two pieces, as S/MIME code feeds it. */
	if (EVP_DigestSignUpdate(md, in, inlen / 2) <= 0 ||
	    EVP_DigestSignUpdate(md, in + inlen / 2, inlen - inlen / 2) <= 0)
		goto out;
	if (EVP_DigestSignFinal(md, NULL, &siglen) <= 0 ||
	    (sig = OPENSSL_malloc(siglen)) == NULL ||
	    EVP_DigestSignFinal(md, sig, &siglen) <= 0)
		goto out;
	rc = write_file(argv[2 + pss], sig, siglen);
out:
	OPENSSL_free(sig);
	free(in);
	EVP_MD_CTX_free(md);
	return rc;
}

static int
do_decrypt(OSSL_LIB_CTX *lib, EVP_PKEY *key, int argc, char **argv)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(lib, key, NULL);
	unsigned char *in = NULL, *out = NULL;
	size_t inlen, outlen = 0;
	const char *pad = argv[0];
	int rc = -1;

	if (argc != 3 || ctx == NULL || EVP_PKEY_decrypt_init(ctx) <= 0)
		goto out;
	if (strncmp(pad, "oaep", 4) == 0) {
		if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <=
		    0)
			goto out;
		if (pad[4] == '-' && (EVP_PKEY_CTX_set_rsa_oaep_md_name(
		                          ctx, pad + 5, NULL) <= 0 ||
		                      EVP_PKEY_CTX_set_rsa_mgf1_md_name(
		                          ctx, pad + 5, NULL) <= 0))
			goto out;
	}
	if (read_file(argv[1], &in, &inlen) != 0)
		goto out;
	if (EVP_PKEY_decrypt(ctx, NULL, &outlen, in, inlen) <= 0 ||
	    (out = OPENSSL_malloc(outlen)) == NULL ||
	    EVP_PKEY_decrypt(ctx, out, &outlen, in, inlen) <= 0)
		goto out;
	rc = write_file(argv[2], out, outlen);
out:
	OPENSSL_clear_free(out, outlen);
	free(in);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

static int
do_derive(OSSL_LIB_CTX *lib, EVP_PKEY *key, int argc, char **argv)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(lib, key, NULL);
	EVP_PKEY *peer = NULL;
	unsigned char *z = NULL;
	size_t zlen = 0;
	FILE *f;
	int rc = -1;

	if (argc != 2 || ctx == NULL || (f = fopen(argv[0], "r")) == NULL)
		goto out;
	peer = PEM_read_PUBKEY_ex(f, NULL, NULL, NULL, lib, NULL);
	fclose(f);
	if (peer == NULL || EVP_PKEY_derive_init(ctx) <= 0 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) <= 0)
		goto out;
	if (EVP_PKEY_derive(ctx, NULL, &zlen) <= 0 ||
	    (z = OPENSSL_malloc(zlen)) == NULL ||
	    EVP_PKEY_derive(ctx, z, &zlen) <= 0)
		goto out;
	rc = write_file(argv[1], z, zlen);
out:
	OPENSSL_clear_free(z, zlen);
	EVP_PKEY_free(peer);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

static int
do_cert(X509 *cert, EVP_PKEY *key, int argc, char **argv)
{
	FILE *f;
	int ok;

	if (argc != 1 || cert == NULL)
		return -1;
	/* What CMS_add1_signer() checks first. */
	if (X509_check_private_key(cert, key) != 1)
		return -1;
	if ((f = fopen(argv[0], "w")) == NULL)
		return -1;
	ok = PEM_write_X509(f, cert);
	return fclose(f) == 0 && ok ? 0 : -1;
}

struct worker {
	OSSL_LIB_CTX *lib;
	EVP_PKEY *key, *pub;
	int count, failed;
};

/* Signs through the provider, verifies with the certificate's key. */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	unsigned char msg[64], sig[1024];
	size_t siglen;
	EVP_MD_CTX *md;
	int i, ok;

	for (i = 0; i < w->count && !w->failed; i++) {
		memset(msg, i, sizeof(msg));
		siglen = sizeof(sig);
		ok = (md = EVP_MD_CTX_new()) != NULL &&
		     EVP_DigestSignInit_ex(md, NULL, "SHA256", w->lib, NULL,
		                           w->key, NULL) > 0 &&
		     EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)) > 0;
		EVP_MD_CTX_free(md);
		ok = ok && (md = EVP_MD_CTX_new()) != NULL &&
		     EVP_DigestVerifyInit_ex(md, NULL, "SHA256", w->lib, NULL,
		                             w->pub, NULL) > 0 &&
		     EVP_DigestVerify(md, sig, siglen, msg, sizeof(msg)) == 1;
		EVP_MD_CTX_free(md);
		if (!ok)
			w->failed = 1;
	}
	return NULL;
}

static int
do_threads(OSSL_LIB_CTX *lib, EVP_PKEY *key, X509 *cert, int argc, char **argv)
{
	pthread_t tid[64];
	struct worker w[64];
	int i, n, count, started = 0, rc = 0;

	if (argc != 2 || cert == NULL)
		return -1;
	n = atoi(argv[0]);
	count = atoi(argv[1]);
	if (n < 1 || n > 64 || count < 1)
		return -1;
	for (i = 0; i < n; i++) {
		w[i].lib = lib;
		w[i].key = key;
		w[i].pub = X509_get0_pubkey(cert);
		w[i].count = count;
		w[i].failed = 0;
		if (pthread_create(&tid[i], NULL, worker_run, &w[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		if (w[i].failed)
			rc = -1;
	}
	return started == n ? rc : -1;
}

int
main(int argc, char **argv)
{
	OSSL_LIB_CTX *lib = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc = -1;

	if (argc < 4) {
		fprintf(stderr, "usage: p11a-provider-check sign|decrypt|"
		                "derive|cert|threads URI ARGS...\n");
		return 2;
	}
	if ((lib = OSSL_LIB_CTX_new()) == NULL ||
	    p11a_provider_add_builtin(lib) != 0 ||
	    p11a_provider_add_builtin(lib) != 0)
		goto out;
	if ((key = p11a_provider_load_key(lib, argv[2], &cert)) == NULL)
		goto out;
	if (strcmp(argv[1], "sign") == 0)
		rc = do_sign(lib, key, argc - 3, argv + 3);
	else if (strcmp(argv[1], "decrypt") == 0)
		rc = do_decrypt(lib, key, argc - 3, argv + 3);
	else if (strcmp(argv[1], "derive") == 0)
		rc = do_derive(lib, key, argc - 3, argv + 3);
	else if (strcmp(argv[1], "cert") == 0)
		rc = do_cert(cert, key, argc - 3, argv + 3);
	else if (strcmp(argv[1], "threads") == 0)
		rc = do_threads(lib, key, cert, argc - 3, argv + 3);
out:
	if (rc != 0)
		ERR_print_errors_fp(stderr);
	X509_free(cert);
	EVP_PKEY_free(key);
	p11a_provider_unload(lib);
	OSSL_LIB_CTX_free(lib);
	return rc == 0 ? 0 : 1;
}
