/*
 * p11 keys: the keys the agent sees, with what their certificates say.
 */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "util.h"

/* One row of the table, as text (all owned). */
struct key_row {
	char *token, *uri, *type, *size, *email, *expires;
};

#define NCOLS 6
static const char *const col_names[NCOLS] = {
    "TOKEN", "URI", "TYPE", "SIZE", "E-MAIL", "EXPIRES",
};

static const char *
key_type_name(uint32_t t)
{
	switch (t) {
	case P11AGENT_KEY_RSA:
		return "rsa";
	case P11AGENT_KEY_EC:
		return "ec";
	case P11AGENT_KEY_ED25519:
		return "ed25519";
	default:
		return "unknown";
	}
}

/*
 * Reads the certificate's notAfter as YYYY-MM-DD (UTC) into buf.  Returns
 * false when there is no certificate or it does not parse.
 */
static bool
cert_expiry(const struct p11agent_key *k, char *buf, size_t len)
{
	const unsigned char *p = k->cert_der;
	const ASN1_TIME *na;
	X509 *x = NULL;
	struct tm tm;
	bool ok = false;

	if (k->cert_der == NULL || k->cert_der_len == 0 ||
	    k->cert_der_len > (size_t)LONG_MAX)
		return false;
	if ((x = d2i_X509(NULL, &p, (long)k->cert_der_len)) == NULL)
		goto out;
	if ((na = X509_get0_notAfter(x)) == NULL ||
	    ASN1_TIME_to_tm(na, &tm) != 1)
		goto out;
	ok = strftime(buf, len, "%Y-%m-%d", &tm) > 0;
out:
	X509_free(x);
	return ok;
}

/*
 * The certificate's e-mail addresses, when the agent listed none.  Returns
 * a new comma-separated string, or NULL.
 */
static char *
cert_emails(const struct p11agent_key *k)
{
	const unsigned char *p = k->cert_der;
	STACK_OF(OPENSSL_STRING) *emails = NULL;
	char *out = NULL, *q;
	size_t len = 1;
	X509 *x = NULL;
	int i;

	if (k->cert_der == NULL || k->cert_der_len > (size_t)LONG_MAX ||
	    (x = d2i_X509(NULL, &p, (long)k->cert_der_len)) == NULL)
		return NULL;
	if ((emails = X509_get1_email(x)) == NULL ||
	    sk_OPENSSL_STRING_num(emails) == 0)
		goto out;
	for (i = 0; i < sk_OPENSSL_STRING_num(emails); i++)
		len += strlen(sk_OPENSSL_STRING_value(emails, i)) + 1;
	if ((out = malloc(len)) == NULL)
		goto out;
	q = out;
	for (i = 0; i < sk_OPENSSL_STRING_num(emails); i++) {
		q += sprintf(q, "%s%s", i > 0 ? "," : "",
		             sk_OPENSSL_STRING_value(emails, i));
	}
out:
	X509_email_free(emails);
	X509_free(x);
	return out;
}

static char *
join_emails(const struct p11agent_key *k)
{
	size_t i, len = 1;
	char *out;

	if (k->nemails == 0)
		return cert_emails(k);
	for (i = 0; i < k->nemails; i++)
		len += strlen(k->emails[i]) + 1;
	if ((out = malloc(len)) == NULL)
		return NULL;
	out[0] = '\0';
	for (i = 0; i < k->nemails; i++) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, k->emails[i]);
	}
	return out;
}

/* A terminal-safe heap copy ("-" for NULL or empty). */
static char *
safe_dup(const char *s)
{
	size_t cap;
	char *d;

	if (s == NULL || s[0] == '\0')
		s = "-";
	cap = strlen(s) + 1;
	if ((d = malloc(cap)) == NULL)
		return NULL;
	return cli_safe(d, cap, s);
}

static void
row_free(struct key_row *r)
{
	free(r->token);
	free(r->uri);
	free(r->type);
	free(r->size);
	free(r->email);
	free(r->expires);
}

static int
row_fill(const struct p11agent_key *k, struct key_row *r)
{
	char size[16], expires[16], type[16];
	char *emails;

	memset(r, 0, sizeof(*r));
	snprintf(type, sizeof(type), "%s%s", key_type_name(k->key_type),
	         (k->flags & P11AGENT_KEY_HOST_PADDING_FALLBACK) ? "*" : "");
	snprintf(size, sizeof(size), "%u", (unsigned)k->bits);
	if (!cert_expiry(k, expires, sizeof(expires)))
		snprintf(expires, sizeof(expires), "-");
	emails = join_emails(k);
	r->token = safe_dup(k->token_label);
	r->uri = safe_dup(k->uri);
	r->type = safe_dup(type);
	r->size = safe_dup(k->bits > 0 ? size : NULL);
	r->email = safe_dup(emails);
	r->expires = safe_dup(expires);
	free(emails);
	if (r->token == NULL || r->uri == NULL || r->type == NULL ||
	    r->size == NULL || r->email == NULL || r->expires == NULL) {
		row_free(r);
		return P11AGENT_E_NOMEM;
	}
	return 0;
}

static const char *
row_col(const struct key_row *r, int c)
{
	const char *v[NCOLS] = {r->token, r->uri,   r->type,
	                        r->size,  r->email, r->expires};

	return v[c];
}

static void
pad(FILE *f, size_t n)
{
	while (n-- > 0)
		fputc(' ', f);
}

static int
print_table(const struct p11agent_list *l)
{
	struct key_row *rows;
	size_t width[NCOLS], i, w;
	bool fallback = false;
	int c, r = 0;

	if ((rows = calloc(l->nkeys, sizeof(*rows))) == NULL)
		return cli_fail(P11AGENT_E_NOMEM, NULL, "keys");
	for (c = 0; c < NCOLS; c++)
		width[c] = strlen(col_names[c]);
	for (i = 0; i < l->nkeys; i++) {
		if ((r = row_fill(&l->keys[i], &rows[i])) != 0) {
			r = cli_fail(r, NULL, "keys");
			goto out;
		}
		fallback |= (l->keys[i].flags &
		             P11AGENT_KEY_HOST_PADDING_FALLBACK) != 0;
		for (c = 0; c < NCOLS; c++) {
			w = cli_text_width(row_col(&rows[i], c));
			if (w > width[c])
				width[c] = w;
		}
	}
	for (c = 0; c < NCOLS; c++) {
		fputs(col_names[c], stdout);
		if (c < NCOLS - 1)
			pad(stdout, width[c] - strlen(col_names[c]) + 2);
	}
	fputc('\n', stdout);
	for (i = 0; i < l->nkeys; i++) {
		for (c = 0; c < NCOLS; c++) {
			fputs(row_col(&rows[i], c), stdout);
			if (c < NCOLS - 1)
				pad(stdout,
				    width[c] -
				        cli_text_width(row_col(&rows[i], c)) +
				        2);
		}
		fputc('\n', stdout);
	}
	if (fallback)
		printf("* RSA padding is done on the host over raw RSA: the "
		       "token lacks the mechanism\n");
out:
	for (i = 0; i < l->nkeys; i++)
		row_free(&rows[i]);
	free(rows);
	return r;
}

static void
json_key(FILE *f, const struct p11agent_key *k)
{
	char expires[16], *emails, *save = NULL, *tok;
	size_t i;

	fputs("{\"token\":", f);
	cli_json_string(f, k->token_label);
	fputs(",\"uri\":", f);
	cli_json_string(f, k->uri);
	fputs(",\"label\":", f);
	cli_json_string(f, k->label);
	fputs(",\"type\":", f);
	cli_json_string(f, key_type_name(k->key_type));
	fprintf(f, ",\"size\":%u", (unsigned)k->bits);
	fputs(",\"curve\":", f);
	cli_json_string(f, k->curve[0] != '\0' ? k->curve : NULL);
	fputs(",\"emails\":[", f);
	if (k->nemails > 0) {
		for (i = 0; i < k->nemails; i++) {
			if (i > 0)
				fputc(',', f);
			cli_json_string(f, k->emails[i]);
		}
	} else if ((emails = cert_emails(k)) != NULL) {
		/* Addresses never hold a comma, so splitting is safe. */
		for (tok = strtok_r(emails, ",", &save), i = 0; tok != NULL;
		     tok = strtok_r(NULL, ",", &save), i++) {
			if (i > 0)
				fputc(',', f);
			cli_json_string(f, tok);
		}
		free(emails);
	}
	fputs("],\"expires\":", f);
	cli_json_string(f, cert_expiry(k, expires, sizeof(expires)) ? expires
	                                                            : NULL);
	fprintf(f, ",\"has_certificate\":%s",
	        k->cert_der_len > 0 ? "true" : "false");
	fprintf(f, ",\"can_sign\":%s",
	        (k->flags & P11AGENT_KEY_CAN_SIGN) ? "true" : "false");
	fprintf(f, ",\"can_decrypt\":%s",
	        (k->flags & P11AGENT_KEY_CAN_DECRYPT) ? "true" : "false");
	fprintf(f, ",\"can_derive\":%s",
	        (k->flags & P11AGENT_KEY_CAN_DERIVE) ? "true" : "false");
	fprintf(f, ",\"host_padding_fallback\":%s}",
	        (k->flags & P11AGENT_KEY_HOST_PADDING_FALLBACK) ? "true"
	                                                        : "false");
}

int
cli_cmd_keys(struct cli *cli, int argc, char **argv)
{
	struct p11agent_conn *conn = NULL;
	struct p11agent_list *list = NULL;
	bool json = false;
	size_t i;
	int r;

	if ((r = cli_parse_json_flag(cli, argc, argv, &json)) >= 0)
		return r;
	if (optind != argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
		                       argv[optind]);
	if ((r = cli_connect(cli, &conn)) != 0)
		return r;
	if ((r = p11agent_list_rescan(conn, &list)) != 0) {
		r = cli_fail_conn(conn, r, "keys");
		goto out;
	}
	if (json) {
		fputc('[', stdout);
		for (i = 0; i < list->nkeys; i++) {
			fputs(i > 0 ? ",\n " : "", stdout);
			json_key(stdout, &list->keys[i]);
		}
		fputs("]\n", stdout);
	} else if (list->nkeys == 0) {
		fprintf(stderr, "p11: no keys found (%zu token%s)\n",
		        list->ntokens, list->ntokens == 1 ? "" : "s");
	} else {
		r = print_table(list);
	}
out:
	p11agent_list_free(list);
	p11agent_close(conn);
	return r;
}
