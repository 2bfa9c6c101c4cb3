/*
 * tok-tool: drives tokens/ directly for the integration tests and the
 * direct-throughput benchmark.  The shell tests produce inputs and check
 * outputs with openssl; this program only calls tokens/.
 *
 *   tok-tool [-m MODULE]... [-P PINFILE] list
 *   tok-tool ... login                       (prints the error, exit 2 on fail)
 *   tok-tool ... sign URI MECH HASH IN OUT [SALT]
 *                MECH = pkcs1|pss|ecdsa, HASH = none|sha1|sha256|…
 *   tok-tool ... decrypt URI PAD HASH IN OUT [LABELFILE]   PAD = pkcs1|oaep
 *   tok-tool ... derive URI PEERPOINT OUT
 *   tok-tool ... threads URI THREADS COUNT   (RSA/ECDSA SHA-256 signatures)
 *   tok-tool ... rate URI THREADS SECONDS    (prints signatures per second)
 *
 * The PIN is read from PINFILE (never argv or the environment).  Binary
 * files are raw bytes; ECDSA signatures come out as raw r||s.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "proto/err.h"
#include "tokens/tokens.h"

#define TOOL_MAX_FILE (1024 * 1024)
#define TOOL_MAX_MODULES 8

struct tool {
	struct tok_ctx *ctx;
	const char *pin_file;
};

static int
tool_fail(const char *what, int r, const struct tok_err *err)
{
	fprintf(stderr, "tok-tool: %s: %s (%s)%s%s\n", what, p11a_strerror(r),
	        p11a_errname(r), err != NULL && err->msg[0] ? ": " : "",
	        err != NULL ? err->msg : "");
	return r == P11A_E_PIN_INCORRECT || r == P11A_E_PIN_LOCKED ? 2 : 1;
}

static uint8_t *
tool_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	if (f == NULL) {
		fprintf(stderr, "tok-tool: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(TOOL_MAX_FILE);
	if (buf != NULL)
		*len = fread(buf, 1, TOOL_MAX_FILE, f);
	fclose(f);
	return buf;
}

static int
tool_write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return 1;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : 1;
}

static int
tool_login(struct tool *t)
{
	struct tok_token *tok = NULL;
	struct tok_err err = {{0}, 0};
	uint8_t *pin;
	size_t len = 0;
	int r;

	if (t->pin_file == NULL)
		return 0;
	if ((pin = tool_read_file(t->pin_file, &len)) == NULL)
		return 1;
	while (len > 0 && (pin[len - 1] == '\n' || pin[len - 1] == '\r'))
		len--;
	if ((r = tok_ctx_find_token(t->ctx, NULL, &tok, &err)) == 0)
		r = tok_token_login(tok, (const char *)pin, len, &err);
	OPENSSL_cleanse(pin, len);
	free(pin);
	if (r != 0) {
		if (tok != NULL)
			fprintf(stderr, "tok-tool: token flags 0x%x\n",
			        err.token_flags);
		tok_token_free(tok);
		return tool_fail("login", r, &err);
	}
	tok_token_free(tok);
	/* Private keys (and their flags) become visible after login. */
	if ((r = tok_ctx_rescan(t->ctx)) != 0)
		return tool_fail("rescan", r, NULL);
	return 0;
}

static int
tool_list(struct tool *t)
{
	struct tok_key **keys;
	size_t n, i, j;
	int r;

	if ((r = tok_ctx_keys(t->ctx, &keys, &n)) != 0)
		return tool_fail("list", r, NULL);
	for (i = 0; i < n; i++) {
		struct tok_key *k = keys[i];
		size_t clen;

		tok_key_get0_cert_der(k, &clen);
		printf("%s\t%s\t%u\t%s\tflags=0x%x\tcert=%zu",
		       tok_key_get0_uri(k),
		       tok_key_type(k) == TOK_KEY_RSA ? "rsa" : "ec",
		       tok_key_bits(k), tok_key_get0_curve(k), tok_key_flags(k),
		       clen);
		for (j = 0; j < tok_key_email_count(k); j++)
			printf("\t%s", tok_key_get0_email(k, j));
		printf("\n");
	}
	tok_key_list_free(keys, n);
	return 0;
}

static int
tool_hash(const char *s, enum tok_hash *h)
{
	static const char *const names[] = {"none",   "sha1",   "sha224",
	                                    "sha256", "sha384", "sha512"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*h = (enum tok_hash)i;
			return 0;
		}
	fprintf(stderr, "tok-tool: unknown hash %s\n", s);
	return 1;
}

static int
tool_find(struct tool *t, const char *uri, struct tok_key **k)
{
	struct tok_err err = {{0}, 0};
	int r = tok_ctx_find_key(t->ctx, uri, k, &err);

	return r != 0 ? tool_fail("find key", r, &err) : 0;
}

static int
tool_sign(struct tool *t, int argc, char **argv)
{
	struct tok_sign_params p = {0, 0, 0, 0};
	struct tok_err err = {{0}, 0};
	struct tok_key *k = NULL;
	uint8_t *in = NULL, sig[1024];
	size_t in_len = 0, sig_len = sizeof(sig);
	int r = 1;

	if (argc < 5)
		return 1;
	if (strcmp(argv[1], "pkcs1") == 0)
		p.mech = TOK_SIGN_RSA_PKCS1;
	else if (strcmp(argv[1], "pss") == 0)
		p.mech = TOK_SIGN_RSA_PSS;
	else if (strcmp(argv[1], "ecdsa") == 0)
		p.mech = TOK_SIGN_ECDSA;
	else
		return 1;
	if (tool_hash(argv[2], &p.hash) != 0)
		return 1;
	p.mgf1_hash = p.hash;
	p.salt_len =
	    argc > 5 ? (unsigned)atoi(argv[5]) : (unsigned)tok_hash_len(p.hash);
	if (tool_find(t, argv[0], &k) != 0 ||
	    (in = tool_read_file(argv[3], &in_len)) == NULL)
		goto out;
	r = tok_key_sign(k, &p, in, in_len, sig, &sig_len, &err);
	if (r != 0) {
		r = tool_fail("sign", r, &err);
		goto out;
	}
	r = tool_write_file(argv[4], sig, sig_len);
out:
	free(in);
	tok_key_free(k);
	return r;
}

static int
tool_decrypt(struct tool *t, int argc, char **argv)
{
	struct tok_decrypt_params p = {0, 0, 0, NULL, 0};
	struct tok_err err = {{0}, 0};
	struct tok_key *k = NULL;
	uint8_t *in = NULL, *label = NULL, pt[1024];
	size_t in_len = 0, pt_len = sizeof(pt);
	int r = 1;

	if (argc < 5)
		return 1;
	p.padding = strcmp(argv[1], "oaep") == 0 ? TOK_PAD_OAEP : TOK_PAD_PKCS1;
	if (tool_hash(argv[2], &p.oaep_hash) != 0)
		return 1;
	p.mgf1_hash = p.oaep_hash;
	if (argc > 5 && (label = tool_read_file(argv[5], &p.label_len)) == NULL)
		return 1;
	p.label = label;
	if (tool_find(t, argv[0], &k) != 0 ||
	    (in = tool_read_file(argv[3], &in_len)) == NULL)
		goto out;
	r = tok_key_decrypt(k, &p, in, in_len, pt, &pt_len, &err);
	if (r != 0) {
		r = tool_fail("decrypt", r, &err);
		goto out;
	}
	r = tool_write_file(argv[4], pt, pt_len);
out:
	OPENSSL_cleanse(pt, sizeof(pt));
	free(in);
	free(label);
	tok_key_free(k);
	return r;
}

static int
tool_derive(struct tool *t, int argc, char **argv)
{
	struct tok_err err = {{0}, 0};
	struct tok_key *k = NULL;
	uint8_t *peer = NULL, secret[256];
	size_t peer_len = 0, secret_len = sizeof(secret);
	int r = 1;

	if (argc < 3)
		return 1;
	if (tool_find(t, argv[0], &k) != 0 ||
	    (peer = tool_read_file(argv[1], &peer_len)) == NULL)
		goto out;
	r = tok_key_derive(k, peer, peer_len, secret, &secret_len, &err);
	if (r != 0) {
		r = tool_fail("derive", r, &err);
		goto out;
	}
	r = tool_write_file(argv[2], secret, secret_len);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(peer);
	tok_key_free(k);
	return r;
}

struct worker {
	pthread_t thread;
	struct tok_key *key;
	long count;      /* signatures to make, or -1 until the deadline */
	double deadline; /* monotonic seconds */
	long done;
	int failed;
};

static double
tool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct tok_sign_params p = {TOK_SIGN_RSA_PKCS1, TOK_HASH_SHA256,
	                            TOK_HASH_SHA256, 32};
	uint8_t digest[32], sig[1024];
	struct tok_err err;

	if (tok_key_type(w->key) == TOK_KEY_EC)
		p.mech = TOK_SIGN_ECDSA;
	memset(digest, 0x5a, sizeof(digest));
	while (w->count < 0 ? tool_now() < w->deadline : w->done < w->count) {
		size_t sig_len = sizeof(sig);
		int r;

		digest[0] = (uint8_t)w->done;
		r = tok_key_sign(w->key, &p, digest, sizeof(digest), sig,
		                 &sig_len, &err);
		if (r != 0) {
			fprintf(stderr, "tok-tool: thread sign: %s: %s\n",
			        p11a_strerror(r), err.msg);
			w->failed++;
			break;
		}
		w->done++;
	}
	return NULL;
}

/* Runs nthreads signers; count > 0 = that many each, else for seconds. */
static int
tool_threads(struct tool *t, const char *uri, int nthreads, long count,
             double seconds, int print_rate)
{
	struct worker w[64];
	struct tok_key *k = NULL;
	double start, elapsed;
	long total = 0;
	int i, failed = 0;

	if (nthreads < 1 || nthreads > 64 || tool_find(t, uri, &k) != 0)
		return 1;
	start = tool_now();
	for (i = 0; i < nthreads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].key = k;
		w[i].count = count > 0 ? count : -1;
		w[i].deadline = start + seconds;
		pthread_create(&w[i].thread, NULL, worker_run, &w[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].thread, NULL);
		total += w[i].done;
		failed += w[i].failed;
	}
	elapsed = tool_now() - start;
	tok_key_free(k);
	if (print_rate)
		printf("%.1f\n", (double)total / elapsed);
	else
		printf("%d threads: %ld signatures, %d failed, %.0f/s\n",
		       nthreads, total, failed, (double)total / elapsed);
	return failed == 0 && (count <= 0 || total == count * nthreads) ? 0 : 1;
}

static int
tool_run(struct tool *t, int argc, char **argv)
{
	const char *cmd = argv[0];

	if (strcmp(cmd, "list") == 0)
		return tool_list(t);
	if (strcmp(cmd, "login") == 0)
		return 0; /* done by main */
	if (strcmp(cmd, "sign") == 0)
		return tool_sign(t, argc - 1, argv + 1);
	if (strcmp(cmd, "decrypt") == 0)
		return tool_decrypt(t, argc - 1, argv + 1);
	if (strcmp(cmd, "derive") == 0)
		return tool_derive(t, argc - 1, argv + 1);
	if (strcmp(cmd, "threads") == 0 && argc == 4)
		return tool_threads(t, argv[1], atoi(argv[2]), atol(argv[3]), 0,
		                    0);
	if (strcmp(cmd, "rate") == 0 && argc == 4)
		return tool_threads(t, argv[1], atoi(argv[2]), 0, atof(argv[3]),
		                    1);
	fprintf(stderr, "tok-tool: bad command %s\n", cmd);
	return 1;
}

int
main(int argc, char **argv)
{
	const char *modules[TOOL_MAX_MODULES];
	struct tok_config cfg;
	struct tool t = {NULL, NULL};
	int c, r;

	memset(&cfg, 0, sizeof(cfg));
	while ((c = getopt(argc, argv, "m:P:v")) != -1) {
		if (c == 'm' && cfg.nmodules < TOOL_MAX_MODULES)
			modules[cfg.nmodules++] = optarg;
		else if (c == 'P')
			t.pin_file = optarg;
		else if (c == 'v')
			tok_set_log(NULL, TOK_LOG_DEBUG);
		else
			return 1;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: tok-tool [-m MODULE] [-P PINFILE] "
		                "COMMAND ...\n");
		return 1;
	}
	cfg.modules = modules;
	if ((r = tok_ctx_new(&cfg, &t.ctx)) != 0)
		return tool_fail("load modules", r, NULL);
	r = tool_login(&t);
	if (r == 0)
		r = tool_run(&t, argc - optind, argv + optind);
	tok_ctx_free(t.ctx);
	return r;
}
