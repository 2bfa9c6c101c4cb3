/*
 * p11 certs: the user's certificate store (correspondents' certificates
 * kept from verified mail, and the roots the user trusts).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "smime_cli.h"
#include "util.h"

/* Every certificate of a PEM or DER file. */
static STACK_OF(X509) * read_certs(const char *path)
{
	STACK_OF(X509) * sk;
	X509 *x;
	BIO *b;

	if ((sk = sk_X509_new_null()) == NULL)
		return NULL;
	if ((b = BIO_new_file(path, "r")) == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto fail;
		}
	}
	if (sk_X509_num(sk) == 0) {
		(void)BIO_reset(b);
		if ((x = d2i_X509_bio(b, NULL)) != NULL && !sk_X509_push(sk, x))
			X509_free(x);
	}
	BIO_free(b);
	ERR_clear_error();
	return sk;
fail:
	BIO_free(b);
	ERR_clear_error();
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

static void
fmt_date(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, len, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, len, "-");
}

static void
subject_cn(X509 *x, char *buf, size_t len)
{
	X509_NAME *n = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	ASN1_STRING *s;
	unsigned char *u = NULL;

	snprintf(buf, len, "-");
	if (i < 0 ||
	    (s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i))) == NULL ||
	    ASN1_STRING_to_UTF8(&u, s) < 0)
		return;
	cli_safe(buf, len, (const char *)u);
	OPENSSL_free(u);
}

static int
certs_list(struct smime_store *st, bool json)
{
	struct smime_store_entry *v = NULL;
	char email[256], cn[256], exp[16], caps[128], safe[256];
	size_t n, i;
	int r;

	if ((r = smime_store_list(st, &v, &n)) != 0)
		return cli_fail(r, NULL, "certs list");
	if (json)
		fputc('[', stdout);
	else if (n > 0)
		printf("%-16s  %-28s  %-24s  %-10s  %-8s  %s\n", "FINGERPRINT",
		       "E-MAIL", "NAME", "EXPIRES", "SOURCE", "CAPABILITIES");
	for (i = 0; i < n; i++) {
		smime_cert_first_email(v[i].cert, email, sizeof(email));
		subject_cn(v[i].cert, cn, sizeof(cn));
		fmt_date(X509_get0_notAfter(v[i].cert), exp, sizeof(exp));
		smime_caps_format(v[i].caps, caps, sizeof(caps));
		if (json) {
			printf("%s{\"fingerprint\": \"%s\", \"email\": ",
			       i > 0 ? ",\n " : "", v[i].fp);
			cli_json_string(stdout,
			                email[0] != '\0' ? email : NULL);
			printf(", \"name\": ");
			cli_json_string(stdout, cn);
			printf(", \"expires\": \"%s\", \"source\": ", exp);
			cli_json_string(stdout, v[i].source);
			printf(", \"trusted_root\": %s, \"capabilities\": [",
			       v[i].trusted ? "true" : "false");
			if (caps[0] != '\0') {
				char *tok, *save = NULL;
				bool first = true;

				for (tok = strtok_r(caps, ",", &save);
				     tok != NULL;
				     tok = strtok_r(NULL, ",", &save)) {
					printf("%s\"%s\"", first ? "" : ", ",
					       tok);
					first = false;
				}
			}
			printf("]}");
			continue;
		}
		printf("%-16.16s  %-28s  %-24s  %-10s  %-8s  %s\n", v[i].fp,
		       email[0] != '\0' ? cli_safe(safe, sizeof(safe), email)
		                        : "-",
		       cn, exp, v[i].source, caps[0] != '\0' ? caps : "-");
	}
	if (json)
		printf("]\n");
	else if (n == 0)
		fprintf(stderr, "p11: the certificate store %s is empty\n",
		        smime_store_dir(st));
	smime_store_entries_free(v, n);
	return 0;
}

static int
certs_add(struct smime_store *st, const char *path, bool trust)
{
	STACK_OF(X509) *sk = read_certs(path);
	char fp[65];
	int i, r = 0, added = 0;
	X509 *x;

	if (sk == NULL || sk_X509_num(sk) == 0) {
		fprintf(stderr, "p11: %s: no certificate found\n", path);
		sk_X509_pop_free(sk, X509_free);
		return P11_EXIT_ERROR;
	}
	for (i = 0; i < sk_X509_num(sk); i++) {
		x = sk_X509_value(sk, i);
		if (trust && X509_check_ca(x) == 0) {
			fprintf(stderr,
			        "p11: %s: certificate %d is not a CA; not "
			        "trusted\n",
			        path, i + 1);
			r = P11_EXIT_ERROR;
			continue;
		}
		r = trust ? smime_store_trust(st, x)
		          : smime_store_add(st, x, 0, "added");
		if (r != 0) {
			r = cli_fail(r, NULL, "certs %s",
			             trust ? "trust" : "add");
			break;
		}
		smime_cert_fingerprint(x, fp);
		printf("%s %s\n", trust ? "trusted" : "added", fp);
		added++;
	}
	sk_X509_pop_free(sk, X509_free);
	return r;
}

static int
certs_export(struct smime_store *st, const char *addr)
{
	char lower[256], safe[256];
	unsigned caps;
	size_t i;
	X509 *x;
	int r;

	for (i = 0; addr[i] != '\0' && i + 1 < sizeof(lower); i++)
		lower[i] =
		    (char)((addr[i] >= 'A' && addr[i] <= 'Z') ? addr[i] + 32
		                                              : addr[i]);
	lower[i] = '\0';
	if ((r = smime_store_find(st, lower, &x, &caps)) != 0) {
		fprintf(stderr, "p11: no usable certificate for %s\n",
		        cli_safe(safe, sizeof(safe), addr));
		return P11_EXIT_KEY_NOT_FOUND;
	}
	r = PEM_write_X509(stdout, x) == 1 ? 0 : P11_EXIT_ERROR;
	X509_free(x);
	return r;
}

int
cli_cmd_certs(struct cli *cli, int argc, char **argv)
{
	struct smime_store *st = NULL;
	const char *verb, *arg = NULL;
	bool json = false;
	int r, nargs;

	if ((r = cli_parse_json_flag(cli, argc, argv, &json)) >= 0)
		return r;
	if (optind >= argc)
		return cli_usage_error(cli, "which certs command? (list, add, "
		                            "export, remove, trust)");
	verb = argv[optind];
	nargs = argc - optind - 1;
	if (strcmp(verb, "list") == 0) {
		if (nargs != 0)
			return cli_usage_error(cli, "list takes no argument");
	} else if (strcmp(verb, "add") == 0 || strcmp(verb, "export") == 0 ||
	           strcmp(verb, "remove") == 0 || strcmp(verb, "trust") == 0) {
		if (nargs != 1)
			return cli_usage_error(cli,
			                       "certs %s takes one "
			                       "argument",
			                       verb);
		arg = argv[optind + 1];
	} else {
		return cli_usage_error(cli, "unknown certs command '%s'", verb);
	}
	if ((r = cli_smime_store_open(&st, true)) != 0)
		return r;
	if (strcmp(verb, "list") == 0) {
		r = certs_list(st, json);
	} else if (strcmp(verb, "add") == 0) {
		r = certs_add(st, arg, false);
	} else if (strcmp(verb, "trust") == 0) {
		r = certs_add(st, arg, true);
	} else if (strcmp(verb, "export") == 0) {
		r = certs_export(st, arg);
	} else {
		r = smime_store_remove(st, arg);
		if (r == P11AGENT_E_ARGS)
			r = cli_usage_error(cli,
			                    "not a SHA-256 fingerprint: "
			                    "'%s'",
			                    arg);
		else if (r != 0)
			r = cli_fail(r, "no such certificate", "certs remove");
	}
	smime_store_free(st);
	return r;
}
