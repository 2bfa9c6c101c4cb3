/*
 * p11 import FILE: a .p12 (key, certificate and CA chain) onto a token, or
 * an issued certificate attached to the token key it belongs to.  Like
 * ssh-add, p11 only reads the file and hands its contents to the agent;
 * the file itself is left untouched, with a hint to destroy it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "p11agent.h"
#include "ask.h"
#include "cli.h"
#include "exit.h"
#include "secret.h"

#define IMPORT_MAX_FILE (1024 * 1024)
#define IMPORT_MAX_CHAIN 8

enum {
	OPT_TOKEN = CLI_OPT_FIRST_LOCAL,
	OPT_LABEL,
	OPT_PASS_FD,
	OPT_PINENTRY,
};

struct import_args {
	const char *file;
	const char *token;
	const char *label;
	struct cli_ask ask;
};

static int
import_read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	*out = NULL;
	if (f == NULL)
		return cli_fail(P11AGENT_E_IO, strerror(errno), "%s", path);
	buf = malloc(IMPORT_MAX_FILE);
	if (buf == NULL) {
		fclose(f);
		return cli_fail(P11AGENT_E_NOMEM, NULL, "%s", path);
	}
	*len = fread(buf, 1, IMPORT_MAX_FILE, f);
	if (ferror(f) || *len == IMPORT_MAX_FILE) {
		fclose(f);
		free(buf);
		return cli_fail(P11AGENT_E_FORMAT,
		                "unreadable or larger than 1 MiB", "%s", path);
	}
	fclose(f);
	*out = buf;
	return 0;
}

/* A certificate file, PEM or DER; NULL when the file is not one. */
static X509 *
import_parse_cert(const uint8_t *buf, size_t len)
{
	const unsigned char *p = buf;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	BIO *b;

	if (x != NULL)
		return x;
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	return x;
}

static int
import_attach(struct cli *cli, X509 *x)
{
	struct p11agent_conn *conn = NULL;
	unsigned char *der = NULL;
	char *uri = NULL;
	int n = i2d_X509(x, &der), r;

	if (n <= 0)
		return cli_fail(P11AGENT_E_FORMAT, NULL, "certificate");
	if ((r = cli_connect(cli, &conn)) != 0)
		goto out;
	if ((r = p11agent_attach_cert(conn, der, (size_t)n, &uri)) != 0) {
		r = cli_fail_conn(conn, r, "import");
		goto out;
	}
	printf("certificate attached to %s\n", uri);
out:
	free(uri);
	OPENSSL_free(der);
	p11agent_close(conn);
	return r;
}

/* Label: --label, else the certificate's first e-mail, else its CN. */
static void
import_label(const struct import_args *a, X509 *cert, char *dst, size_t cap)
{
	STACK_OF(OPENSSL_STRING) * emails;

	snprintf(dst, cap, "%s", a->label != NULL ? a->label : "imported key");
	if (a->label != NULL || cert == NULL)
		return;
	emails = X509_get1_email(cert);
	if (emails != NULL && sk_OPENSSL_STRING_num(emails) > 0)
		snprintf(dst, cap, "%s", sk_OPENSSL_STRING_value(emails, 0));
	else
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
		                          NID_commonName, dst, (int)cap);
	X509_email_free(emails);
}

struct import_p12 {
	EVP_PKEY *key;
	X509 *cert;
	STACK_OF(X509) * ca;
};

static void
import_p12_cleanup(struct import_p12 *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
	sk_X509_pop_free(p->ca, X509_free);
	memset(p, 0, sizeof(*p));
}

/* Opens the .p12 with a password from the user (never retried here). */
static int
import_open_p12(struct import_args *a, PKCS12 *p12, struct import_p12 *out)
{
	struct cli_secret pass;
	char err[512], prompt[600];
	int r;

	memset(&pass, 0, sizeof(pass));
	/* An empty password is legal for a .p12: try it without asking. */
	if (PKCS12_parse(p12, "", &out->key, &out->cert, &out->ca) == 1 &&
	    out->key != NULL)
		return 0;
	ERR_clear_error();
	snprintf(prompt, sizeof(prompt), "Password for %s: ", a->file);
	a->ask.what = "password";
	a->ask.prompt = prompt;
	a->ask.desc = "Please enter the password of the .p12 file to import.";
	a->ask.pinentry_prompt = "Password:";
	if ((r = cli_secret_init(&pass)) != 0)
		return cli_fail(r, NULL, "import");
	if ((r = cli_ask_secret(&a->ask, &pass, err, sizeof(err))) != 0) {
		cli_secret_cleanup(&pass);
		return cli_fail(r, err, "import");
	}
	r = PKCS12_parse(p12, pass.buf, &out->key, &out->cert, &out->ca);
	cli_secret_cleanup(&pass);
	if (r != 1 || out->key == NULL) {
		ERR_clear_error();
		import_p12_cleanup(out);
		return cli_fail(P11AGENT_E_DENIED,
		                "wrong password, or not a readable .p12", "%s",
		                a->file);
	}
	return 0;
}

static int
import_key(struct cli *cli, struct import_args *a, struct import_p12 *p)
{
	const uint8_t *chain[IMPORT_MAX_CHAIN];
	size_t chain_lens[IMPORT_MAX_CHAIN], nchain = 0, i;
	unsigned char *ders[IMPORT_MAX_CHAIN] = {0};
	unsigned char *p8der = NULL, *certder = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(p->key);
	struct p11agent_conn *conn = NULL;
	char label[128], *uri = NULL;
	int p8len = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, &p8der) : -1;
	int certlen = p->cert != NULL ? i2d_X509(p->cert, &certder) : 0;
	int r;

	PKCS8_PRIV_KEY_INFO_free(p8);
	if (p8len <= 0 || certlen < 0) {
		r = cli_fail(P11AGENT_E_FORMAT, "the key could not be encoded",
		             "%s", a->file);
		goto out;
	}
	/* sk_X509_num() is -1 for a .p12 without CA certificates. */
	for (i = 0; p->ca != NULL && (int)i < sk_X509_num(p->ca) &&
	            nchain < IMPORT_MAX_CHAIN;
	     i++) {
		int n = i2d_X509(sk_X509_value(p->ca, (int)i), &ders[nchain]);

		if (n > 0) {
			chain[nchain] = ders[nchain];
			chain_lens[nchain++] = (size_t)n;
		}
	}
	import_label(a, p->cert, label, sizeof(label));
	if ((r = cli_connect(cli, &conn)) != 0)
		goto out;
	r = p11agent_import(conn, a->token, label, p8der, (size_t)p8len,
	                    certder, (size_t)certlen, chain, chain_lens, nchain,
	                    &uri);
	if (r != 0) {
		r = cli_fail_conn(conn, r, "import");
		goto out;
	}
	printf("imported %s\n", uri);
	fprintf(stderr,
	        "p11: %s still holds the private key. Once you have a safe "
	        "backup, destroy it (e.g. shred -u '%s').\n",
	        a->file, a->file);
out:
	if (p8der != NULL) {
		OPENSSL_cleanse(p8der, (size_t)p8len);
		OPENSSL_free(p8der);
	}
	OPENSSL_free(certder);
	for (i = 0; i < nchain; i++)
		OPENSSL_free(ders[i]);
	free(uri);
	p11agent_close(conn);
	return r;
}

static int
import_parse_args(struct cli *cli, int argc, char **argv, struct import_args *a)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"pass-fd", required_argument, NULL, OPT_PASS_FD},
	    {"pinentry", required_argument, NULL, OPT_PINENTRY},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	memset(a, 0, sizeof(*a));
	a->ask.fd = -1;
	while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
		switch (c) {
		case OPT_TOKEN:
			a->token = optarg;
			break;
		case OPT_LABEL:
			a->label = optarg;
			break;
		case OPT_PASS_FD:
			if (cli_parse_fd(optarg, &a->ask.fd) != 0)
				return cli_usage_error(
				    cli, "--pass-fd needs a descriptor number");
			break;
		case OPT_PINENTRY:
			a->ask.pinentry = optarg;
			break;
		default:
			if ((r = cli_option(cli, c, argv)) >= 0)
				return r;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(cli, "import needs exactly one FILE");
	a->file = argv[optind];
	return -1;
}

int
cli_cmd_import(struct cli *cli, int argc, char **argv)
{
	struct import_args a;
	struct import_p12 p12 = {NULL, NULL, NULL};
	OSSL_PROVIDER *legacy = NULL;
	const unsigned char *p;
	uint8_t *buf = NULL;
	size_t len = 0;
	PKCS12 *pk12;
	X509 *x;
	int r;

	if ((r = import_parse_args(cli, argc, argv, &a)) >= 0)
		return r;
	if ((r = import_read_file(a.file, &buf, &len)) != 0)
		return r;
	if ((x = import_parse_cert(buf, len)) != NULL) {
		r = import_attach(cli, x);
		X509_free(x);
		goto out;
	}
	/* Older .p12 files (RC2, 3DES) need OpenSSL's legacy provider. */
	legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
	p = buf;
	if ((pk12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
		r = cli_fail(P11AGENT_E_FORMAT,
		             "neither a .p12 file nor a certificate", "%s",
		             a.file);
		goto out;
	}
	r = import_open_p12(&a, pk12, &p12);
	PKCS12_free(pk12);
	if (r == 0)
		r = import_key(cli, &a, &p12);
	import_p12_cleanup(&p12);
out:
	OSSL_PROVIDER_unload(legacy);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return r;
}
