/*
 * p11 encrypt: S/MIME encryption to the recipients and to the sender.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "smime_cli.h"
#include "util.h"

enum {
	OPT_SIGN = CLI_OPT_FIRST_LOCAL,
	OPT_FROM,
	OPT_CIPHER,
	OPT_OAEP,
	OPT_PROTECT,
};

#define MAX_RCPT 256

static X509 *
read_cert_file(const char *path)
{
	X509 *x = NULL;
	BIO *b;

	if ((b = BIO_new_file(path, "r")) == NULL)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x == NULL) {
		ERR_clear_error();
		(void)BIO_reset(b);
		x = d2i_X509_bio(b, NULL);
	}
	BIO_free(b);
	ERR_clear_error();
	return x;
}

static int
parse_cipher(const char *s, enum smime_cipher *c)
{
	if (strcmp(s, "aes-128-gcm") == 0)
		*c = SMIME_CIPHER_AES128_GCM;
	else if (strcmp(s, "aes-256-gcm") == 0)
		*c = SMIME_CIPHER_AES256_GCM;
	else if (strcmp(s, "aes-128-cbc") == 0)
		*c = SMIME_CIPHER_AES128_CBC;
	else if (strcmp(s, "aes-256-cbc") == 0)
		*c = SMIME_CIPHER_AES256_CBC;
	else
		return -1;
	return 0;
}

/* Adds a recipient's certificate and what it can decrypt. */
static int
add_rcpt(STACK_OF(X509) * sk, X509 *x, unsigned caps, unsigned *all)
{
	if (!sk_X509_push(sk, x)) {
		X509_free(x);
		return P11_EXIT_ERROR;
	}
	*all &= (caps & SMIME_CAP_KNOWN) ? caps : 0;
	return 0;
}

int
cli_cmd_encrypt(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"recipient", required_argument, NULL, 'r'},
	    {"sign", no_argument, NULL, OPT_SIGN},
	    {"from", required_argument, NULL, OPT_FROM},
	    {"cipher", required_argument, NULL, OPT_CIPHER},
	    {"oaep", no_argument, NULL, OPT_OAEP},
	    {"protect-headers", no_argument, NULL, OPT_PROTECT},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	struct smime_encrypt_opts eo;
	struct smime_sign_opts so;
	struct smime_key_signer ks;
	struct p11agent_conn *conn = NULL;
	struct p11agent_list *list = NULL;
	const struct p11agent_key *k;
	struct smime_store *store = NULL;
	struct smime_key *self = NULL;
	struct cli_smime_out out;
	const char *rcpt[MAX_RCPT], *from = NULL, *outpath = NULL, *in = NULL;
	char addr[256], safe[512];
	unsigned all = ~0u, caps;
	bool sign = false;
	size_t nrcpt = 0, i;
	X509 *x;
	int c, r, fd = -1;

	memset(&eo, 0, sizeof(eo));
	memset(&so, 0, sizeof(so));
	memset(&ks, 0, sizeof(ks));
	memset(&out, 0, sizeof(out));
	out.fd = -1;
	while ((c = getopt_long(argc, argv, ":o:r:", longs, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (nrcpt == MAX_RCPT)
				return cli_usage_error(cli, "too many "
				                            "recipients");
			rcpt[nrcpt++] = optarg;
			break;
		case OPT_SIGN:
			sign = true;
			break;
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_CIPHER:
			if (parse_cipher(optarg, &eo.cipher) != 0)
				return cli_usage_error(
				    cli,
				    "unknown cipher '%s' (aes-128-gcm, "
				    "aes-256-gcm, aes-128-cbc, aes-256-cbc)",
				    optarg);
			break;
		case OPT_OAEP:
			eo.oaep = true;
			break;
		case OPT_PROTECT:
			eo.protect_headers = true;
			break;
		case 'o':
			outpath = optarg;
			break;
		default:
			if ((r = cli_option(cli, c, argv)) >= 0)
				return r;
		}
	}
	if ((r = cli_smime_input_arg(cli, argc, argv, &in)) >= 0)
		return r;
	if (nrcpt == 0)
		return cli_usage_error(cli, "no recipient (-r ADDR|CERTFILE)");
	if ((eo.recipients = sk_X509_new_null()) == NULL)
		return P11_EXIT_ERROR;
	if ((r = cli_smime_open_in(in, &fd)) != 0)
		goto out;
	if (from == NULL) {
		if (!cli_smime_from_addr(fd, addr, sizeof(addr))) {
			fprintf(stderr, "p11: encrypt: the message has no "
			                "From: address; use --from\n");
			r = P11_EXIT_USAGE;
			goto out;
		}
		from = addr;
	}
	if ((r = cli_smime_store_open(&store, false)) != 0)
		goto out;
	for (i = 0; i < nrcpt; i++) {
		if (access(rcpt[i], F_OK) == 0 ||
		    strchr(rcpt[i], '@') == NULL) {
			if ((x = read_cert_file(rcpt[i])) == NULL) {
				fprintf(stderr,
				        "p11: %s: not a certificate file\n",
				        cli_safe(safe, sizeof(safe), rcpt[i]));
				r = P11_EXIT_USAGE;
				goto out;
			}
			caps = smime_store_caps(store, x);
		} else if (smime_store_find(store, rcpt[i], &x, &caps) != 0) {
			fprintf(
			    stderr,
			    store != NULL
			        ? "p11: no usable certificate for %s in the "
			          "store (verify a signed message from them, "
			          "or p11 certs add)\n"
			        : "p11: no certificate store to look %s up in "
			          "(set XDG_DATA_HOME or HOME), give the "
			          "certificate file instead\n",
			    cli_safe(safe, sizeof(safe), rcpt[i]));
			r = P11_EXIT_KEY_NOT_FOUND;
			goto out;
		}
		if (!smime_cert_can_encrypt(x)) {
			fprintf(stderr,
			        "p11: %s: the certificate's key cannot receive "
			        "encrypted mail\n",
			        cli_safe(safe, sizeof(safe), rcpt[i]));
			X509_free(x);
			r = P11_EXIT_UNSUPPORTED;
			goto out;
		}
		if ((r = add_rcpt(eo.recipients, x, caps, &all)) != 0)
			goto out;
	}
	/* Always to ourselves too, so that the sent copy stays readable. */
	if ((r = cli_connect(cli, &conn)) != 0)
		goto out;
	if ((r = p11agent_list(conn, &list)) != 0) {
		r = cli_fail_conn(conn, r, "encrypt");
		goto out;
	}
	if ((r = cli_smime_pick_key(list, from, NULL, &k)) != 0)
		goto out;
	if ((self = cli_smime_load_key(conn, k)) == NULL) {
		r = P11_EXIT_ERROR;
		goto out;
	}
	x = smime_key_get0_cert(self);
	if (!X509_up_ref(x) ||
	    (r = add_rcpt(eo.recipients, x,
	                  SMIME_CAP_KNOWN | SMIME_CAP_AES128_GCM |
	                      SMIME_CAP_AES256_GCM | SMIME_CAP_AES128_CBC |
	                      SMIME_CAP_AES256_CBC,
	                  &all)) != 0) {
		r = P11_EXIT_ERROR;
		goto out;
	}
	if (eo.cipher == SMIME_CIPHER_AUTO) {
		if (all & SMIME_CAP_AES256_GCM)
			eo.cipher = SMIME_CIPHER_AES256_GCM;
		else if (all & SMIME_CAP_AES128_GCM)
			eo.cipher = SMIME_CIPHER_AES128_GCM;
		else
			eo.cipher = SMIME_CIPHER_AES256_CBC;
	}
	if (sign) {
		cli_smime_add_chain(store, self);
		if ((r = smime_key_signer_init(&ks, self)) != 0) {
			r = cli_smime_op_fail(conn, r, "encrypt");
			goto out;
		}
		so.signer = &ks.signer;
		so.md_nid = cli_smime_default_md(k);
		eo.sign = &so;
	}
	if ((r = cli_smime_out_open(&out, outpath)) != 0)
		goto out;
	if ((r = smime_encrypt(fd, out.fd, &eo)) != 0) {
		r = cli_smime_op_fail(conn, r, "encrypt");
		goto out;
	}
	r = cli_smime_out_commit(&out);
out:
	cli_smime_out_abort(&out);
	smime_key_signer_cleanup(&ks);
	sk_X509_pop_free(eo.recipients, X509_free);
	smime_key_free(self);
	smime_store_free(store);
	p11agent_list_free(list);
	p11agent_close(conn);
	if (fd >= 0)
		close(fd);
	return r;
}
