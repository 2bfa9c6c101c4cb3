/*
 * p11 keygen: a key pair born on the token (sensitive, never extractable)
 * and a certificate signing request for the CA portal, signed through the
 * agent.  The CSR carries the e-mail address as subject emailAddress and
 * as subjectAltName, and asks for the S/MIME key usages.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"

enum {
	OPT_TOKEN = CLI_OPT_FIRST_LOCAL,
	OPT_TYPE,
	OPT_EMAIL,
	OPT_NAME,
	OPT_CSR,
};

struct keygen_args {
	const char *token, *type, *email, *name, *csr;
	uint32_t key_type, bits;
};

static const struct {
	const char *name;
	uint32_t key_type, bits;
} keygen_types[] = {
    {"rsa-2048", P11AGENT_KEY_RSA, 2048}, {"rsa-3072", P11AGENT_KEY_RSA, 3072},
    {"rsa-4096", P11AGENT_KEY_RSA, 4096}, {"ec-p256", P11AGENT_KEY_EC, 256},
    {"ec-p384", P11AGENT_KEY_EC, 384},
};

/* Reads one SSH "string" (uint32 length + bytes) from a key blob. */
static int
keygen_ssh_string(const uint8_t **p, size_t *left, const uint8_t **s,
                  size_t *len)
{
	uint32_t n;

	if (*left < 4)
		return -1;
	n = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
	    (uint32_t)(*p)[2] << 8 | (*p)[3];
	if (n > *left - 4)
		return -1;
	*s = *p + 4;
	*len = n;
	*p += 4 + n;
	*left -= 4 + n;
	return 0;
}

/*
 * The new key has no certificate yet: its public half comes from the SSH
 * blob of the agent's listing (ssh-rsa: e, n; ecdsa: curve, point).
 */
static EVP_PKEY *
keygen_pkey_from_blob(const uint8_t *blob, size_t len, uint32_t key_type,
                      uint32_t bits)
{
	const uint8_t *p = blob, *alg, *a, *b;
	size_t left = len, alg_len, a_len, b_len;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *e = NULL, *n = NULL;

	if (bld == NULL || keygen_ssh_string(&p, &left, &alg, &alg_len) != 0 ||
	    keygen_ssh_string(&p, &left, &a, &a_len) != 0 ||
	    keygen_ssh_string(&p, &left, &b, &b_len) != 0)
		goto out;
	if (key_type == P11AGENT_KEY_RSA) {
		e = BN_bin2bn(a, (int)a_len, NULL);
		n = BN_bin2bn(b, (int)b_len, NULL);
		if (e == NULL || n == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		if (!OSSL_PARAM_BLD_push_utf8_string(
		        bld, OSSL_PKEY_PARAM_GROUP_NAME,
		        bits == 256 ? "prime256v1" : "secp384r1", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(
		        bld, OSSL_PKEY_PARAM_PUB_KEY, b, b_len))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	if (ctx == NULL || params == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
out:
	BN_free(e);
	BN_free(n);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

static EVP_PKEY *
keygen_find_public(struct p11agent_conn *conn, const char *uri,
                   const struct keygen_args *a)
{
	struct p11agent_list *list = NULL;
	EVP_PKEY *pk = NULL;
	size_t i;

	if (p11agent_list(conn, &list) != 0)
		return NULL;
	for (i = 0; i < list->nkeys && pk == NULL; i++)
		if (strcmp(list->keys[i].uri, uri) == 0)
			pk = keygen_pkey_from_blob(list->keys[i].ssh_blob,
			                           list->keys[i].ssh_blob_len,
			                           a->key_type, a->bits);
	p11agent_list_free(list);
	return pk;
}

static int
keygen_add_ext(STACK_OF(X509_EXTENSION) * exts, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, nid, value);

	if (ext == NULL)
		return -1;
	sk_X509_EXTENSION_push(exts, ext);
	return 0;
}

static X509_REQ *
keygen_build_req(EVP_PKEY *pk, const struct keygen_args *a)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_REQ *req = X509_REQ_new();
	X509_NAME *subj = X509_NAME_new();
	char san[320];
	int ok;

	snprintf(san, sizeof(san), "email:%s", a->email);
	ok = req != NULL && subj != NULL && exts != NULL &&
	     X509_REQ_set_version(req, 0) &&
	     X509_NAME_add_entry_by_NID(
	         subj, NID_commonName, MBSTRING_UTF8,
	         (const unsigned char *)(a->name ? a->name : a->email), -1, -1,
	         0) &&
	     X509_NAME_add_entry_by_NID(
	         subj, NID_pkcs9_emailAddress, MBSTRING_ASC,
	         (const unsigned char *)a->email, -1, -1, 0) &&
	     X509_REQ_set_subject_name(req, subj) &&
	     X509_REQ_set_pubkey(req, pk) &&
	     keygen_add_ext(exts, NID_subject_alt_name, san) == 0 &&
	     keygen_add_ext(exts, NID_key_usage,
	                    a->key_type == P11AGENT_KEY_RSA
	                        ? "critical,digitalSignature,keyEncipherment"
	                        : "critical,digitalSignature,keyAgreement") ==
	         0 &&
	     keygen_add_ext(exts, NID_ext_key_usage, "emailProtection") == 0 &&
	     X509_REQ_add_extensions(req, exts);
	X509_NAME_free(subj);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (!ok) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

/* Raw r||s from the agent to a DER ECDSA-Sig-Value. */
static int
keygen_ecdsa_der(const uint8_t *rs, size_t len, unsigned char **der)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, (int)(len / 2), NULL);
	BIGNUM *s = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL);
	int n = -1;

	if (sig != NULL && r != NULL && s != NULL &&
	    ECDSA_SIG_set0(sig, r, s)) {
		r = s = NULL;
		n = i2d_ECDSA_SIG(sig, der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return n;
}

/* Signs the CSR's to-be-signed part through the agent (SHA-256). */
static int
keygen_sign_req(struct p11agent_conn *conn, const char *uri, X509_REQ *req,
                const struct keygen_args *a)
{
	unsigned char *tbs = NULL, *der = NULL;
	uint8_t digest[32], sig[1024];
	size_t sig_len = sizeof(sig);
	unsigned int dlen = 0;
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
	int tbs_len, n, r = P11AGENT_E_INTERNAL,
	                rsa = a->key_type == P11AGENT_KEY_RSA;

	tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
	if (tbs_len <= 0 || alg == NULL || bits == NULL ||
	    !EVP_Digest(tbs, (size_t)tbs_len, digest, &dlen, EVP_sha256(),
	                NULL))
		goto out;
	r = p11agent_sign_digest(
	    conn, uri, rsa ? P11AGENT_MECH_RSA_PKCS1 : P11AGENT_MECH_ECDSA,
	    P11AGENT_HASH_SHA256, 0, 0, digest, dlen, sig, &sig_len);
	if (r != 0)
		goto out;
	r = P11AGENT_E_INTERNAL;
	if (rsa) {
		if (!X509_ALGOR_set0(alg,
		                     OBJ_nid2obj(NID_sha256WithRSAEncryption),
		                     V_ASN1_NULL, NULL) ||
		    !ASN1_BIT_STRING_set(bits, sig, (int)sig_len))
			goto out;
	} else {
		if (!X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256),
		                     V_ASN1_UNDEF, NULL) ||
		    (n = keygen_ecdsa_der(sig, sig_len, &der)) <= 0 ||
		    !ASN1_BIT_STRING_set(bits, der, n))
			goto out;
	}
	/* A signature is whole bytes: say so, or DER drops trailing zeros. */
	bits->flags &= ~(long)(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	if (!X509_REQ_set1_signature_algo(req, alg))
		goto out;
	X509_REQ_set0_signature(req, bits);
	bits = NULL;
	r = 0;
out:
	OPENSSL_free(tbs);
	OPENSSL_free(der);
	X509_ALGOR_free(alg);
	ASN1_BIT_STRING_free(bits);
	return r;
}

/* Writes the CSR atomically: a temp file beside OUT, then rename. */
static int
keygen_write_csr(X509_REQ *req, const char *path)
{
	char tmp[4096];
	FILE *f;
	int ok;

	if (path == NULL || strcmp(path, "-") == 0)
		return PEM_write_X509_REQ(stdout, req) ? 0 : -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	ok = PEM_write_X509_REQ(f, req);
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
keygen_parse_args(struct cli *cli, int argc, char **argv, struct keygen_args *a)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"type", required_argument, NULL, OPT_TYPE},
	    {"email", required_argument, NULL, OPT_EMAIL},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"csr", required_argument, NULL, OPT_CSR},
	    {NULL, 0, NULL, 0},
	};
	size_t i;
	int c, r;

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
		switch (c) {
		case OPT_TOKEN:
			a->token = optarg;
			break;
		case OPT_TYPE:
			a->type = optarg;
			break;
		case OPT_EMAIL:
			a->email = optarg;
			break;
		case OPT_NAME:
			a->name = optarg;
			break;
		case OPT_CSR:
			a->csr = optarg;
			break;
		default:
			if ((r = cli_option(cli, c, argv)) >= 0)
				return r;
		}
	}
	if (optind != argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
		                       argv[optind]);
	if (a->token == NULL || a->type == NULL || a->email == NULL)
		return cli_usage_error(cli, "keygen needs --token, --type and "
		                            "--email");
	if (strchr(a->email, '@') == NULL)
		return cli_usage_error(cli, "'%s' is not an e-mail address",
		                       a->email);
	for (i = 0; i < sizeof(keygen_types) / sizeof(keygen_types[0]); i++)
		if (strcmp(a->type, keygen_types[i].name) == 0) {
			a->key_type = keygen_types[i].key_type;
			a->bits = keygen_types[i].bits;
			return -1;
		}
	return cli_usage_error(cli,
	                       "unknown --type '%s' (rsa-2048, rsa-3072, "
	                       "rsa-4096, ec-p256, ec-p384)",
	                       a->type);
}

int
cli_cmd_keygen(struct cli *cli, int argc, char **argv)
{
	struct p11agent_conn *conn = NULL;
	struct keygen_args a;
	X509_REQ *req = NULL;
	EVP_PKEY *pk = NULL;
	char *uri = NULL;
	int r;

	if ((r = keygen_parse_args(cli, argc, argv, &a)) >= 0)
		return r;
	if ((r = cli_connect(cli, &conn)) != 0)
		return r;
	r = p11agent_keygen(conn, a.token, a.name ? a.name : a.email,
	                    a.key_type, a.bits, &uri);
	if (r != 0) {
		r = cli_fail_conn(conn, r, "keygen");
		goto out;
	}
	printf("generated %s\n", uri);
	if ((pk = keygen_find_public(conn, uri, &a)) == NULL ||
	    (req = keygen_build_req(pk, &a)) == NULL) {
		r = cli_fail(P11AGENT_E_INTERNAL, "cannot build the request",
		             "keygen");
		goto out;
	}
	if ((r = keygen_sign_req(conn, uri, req, &a)) != 0) {
		r = cli_fail_conn(conn, r, "keygen: signing the request");
		goto out;
	}
	if (keygen_write_csr(req, a.csr) != 0) {
		r = cli_fail(P11AGENT_E_IO, strerror(errno), "%s",
		             a.csr ? a.csr : "stdout");
		goto out;
	}
	if (a.csr != NULL)
		fprintf(stderr,
		        "p11: certificate request written to %s: send "
		        "it to your CA, then 'p11 import' the issued "
		        "certificate\n",
		        a.csr);
out:
	X509_REQ_free(req);
	EVP_PKEY_free(pk);
	free(uri);
	p11agent_close(conn);
	return r;
}
