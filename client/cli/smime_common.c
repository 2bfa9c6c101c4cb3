/*
 * Shared parts of the S/MIME subcommands (smime_cli.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "smime_cli.h"
#include "util.h"
#include "provider.h"

/*
 * Agent keys.  Their private operations are EVP calls on keys of the
 * p11agent OpenSSL provider (client/provider), loaded into a library
 * context of their own: the rest of the S/MIME code works with software
 * keys in the default context and never meets the provider's key
 * management.  The context is made when the first key is used and freed
 * with the last key; each key is loaded on its first use, because decrypt
 * offers every key but needs only the one the message names, and encrypt
 * without --sign needs only the certificate.
 */

static struct {
	OSSL_LIB_CTX *lib; /* "p11agent" and "default" loaded, or NULL */
	size_t nkeys;      /* agent keys alive */
	char errmsg[512];  /* sentence of the last failed key operation */
} prov;

struct agent_key {
	char *uri;
	const struct p11agent_key *listed; /* the caller's list entry */
	X509 *cert;
	struct smime_key *evp; /* the provider's key, once loaded */
};

static void
prov_lib_free(void)
{
	if (prov.lib == NULL)
		return;
	/* First: OpenSSL 3.0 does not unload providers with the context. */
	p11a_provider_unload(prov.lib);
	OSSL_LIB_CTX_free(prov.lib);
	prov.lib = NULL;
}

static int
prov_lib_get(OSSL_LIB_CTX **out)
{
	*out = NULL;
	if (prov.lib == NULL) {
		if ((prov.lib = OSSL_LIB_CTX_new()) == NULL)
			return P11AGENT_E_NOMEM;
		if (p11a_provider_add_builtin(prov.lib) != 0) {
			prov_lib_free();
			return P11AGENT_E_INTERNAL;
		}
	}
	*out = prov.lib;
	return 0;
}

/* Loads k's key through the provider, once.  The error queue says why not. */
static int
agent_key_load(struct agent_key *k)
{
	OSSL_LIB_CTX *lib;
	EVP_PKEY *pk;
	X509 *cert = NULL;
	int r;

	if (k->evp != NULL)
		return 0;
	if ((r = prov_lib_get(&lib)) != 0)
		return r;
	if ((pk = p11a_provider_load_listed_key(lib, k->listed)) == NULL)
		return P11AGENT_E_KEY_NOT_FOUND;
	/*
	 * A copy of the certificate: comparing it with the key caches an
	 * export of its public key to the provider's key management, which
	 * must go with this key, before the provider is unloaded, and not
	 * live on in the certificate the S/MIME code holds.
	 */
	if ((cert = X509_dup(k->cert)) != NULL)
		k->evp = smime_key_from_pkey(pk, cert);
	X509_free(cert);
	EVP_PKEY_free(pk);
	/* NULL: out of memory, or the agent's key is not the certificate's. */
	return k->evp != NULL ? 0 : P11AGENT_E_INTERNAL;
}

/*
 * Ends a key operation that returned r.  The provider reports failures
 * on OpenSSL's error queue, and the EVP layer between it and us turns
 * them into 0 or -1: the queue has the agent's code (login required, key
 * not found...) and sentence, which replace r and are kept for
 * cli_smime_fail().  The queue is left empty.
 */
static int
agent_key_done(int r)
{
	int code;

	prov.errmsg[0] = '\0';
	if (r == 0)
		return 0;
	code = cli_ossl_agent_error(prov.errmsg, sizeof(prov.errmsg));
	return code != 0 ? code : r;
}

static int
agent_sign(void *ctx, int md_nid, int pss, const uint8_t *dgst, size_t dlen,
           uint8_t *sig, size_t *siglen)
{
	struct agent_key *k = ctx;
	int r;

	if ((r = agent_key_load(k)) == 0)
		r = smime_key_sign(k->evp, md_nid, pss, dgst, dlen, sig,
		                   siglen);
	return agent_key_done(r);
}

static int
agent_decrypt(void *ctx, int oaep, int oaep_md_nid, int mgf1_md_nid,
              const uint8_t *label, size_t label_len, const uint8_t *ct,
              size_t ctlen, uint8_t *pt, size_t *ptlen)
{
	struct agent_key *k = ctx;
	int r;

	if ((r = agent_key_load(k)) == 0)
		r = smime_key_decrypt(k->evp, oaep, oaep_md_nid, mgf1_md_nid,
		                      label, label_len, ct, ctlen, pt, ptlen);
	return agent_key_done(r);
}

static int
agent_derive(void *ctx, const uint8_t *point, size_t plen, uint8_t *z,
             size_t *zlen)
{
	struct agent_key *k = ctx;
	int r;

	if ((r = agent_key_load(k)) == 0)
		r = smime_key_derive(k->evp, point, plen, z, zlen);
	return agent_key_done(r);
}

static void
agent_free(void *ctx)
{
	struct agent_key *k = ctx;

	if (k == NULL)
		return;
	smime_key_free(k->evp);
	X509_free(k->cert);
	free(k->uri);
	free(k);
	/* The provider's keys are gone: now its context can go too. */
	if (--prov.nkeys == 0)
		prov_lib_free();
}

static const struct smime_key_ops agent_ops = {
    agent_sign,
    agent_decrypt,
    agent_derive,
    agent_free,
};

struct smime_key *
cli_smime_load_key(struct p11agent_conn *conn, const struct p11agent_key *k)
{
	const unsigned char *p = k->cert_der;
	const char *sock = p11agent_conn_path(conn);
	struct smime_key *key;
	struct agent_key *ak;
	X509 *cert = NULL;

	if (k->cert_der == NULL ||
	    (cert = d2i_X509(NULL, &p, (long)k->cert_der_len)) == NULL) {
		fprintf(stderr, "p11: %s: the key has no usable certificate\n",
		        k->uri);
		return NULL;
	}
	/* The provider connects to $P11AGENT_SOCK: the agent of conn. */
	if (sock[0] != '\0' && setenv("P11AGENT_SOCK", sock, 1) != 0) {
		fprintf(stderr, "p11: cannot set P11AGENT_SOCK: %s\n",
		        strerror(errno));
		X509_free(cert);
		return NULL;
	}
	if ((ak = calloc(1, sizeof(*ak))) == NULL ||
	    (ak->uri = strdup(k->uri)) == NULL) {
		free(ak);
		X509_free(cert);
		return NULL;
	}
	ak->cert = cert;
	ak->listed = k;
	/* Counted before smime_key_new(), which frees ak when it fails. */
	prov.nkeys++;
	key = smime_key_new(&agent_ops, ak, cert);
	return key;
}

int
cli_smime_fail(struct p11agent_conn *conn, int err, const char *what)
{
	if (prov.errmsg[0] != '\0')
		return cli_fail(err, prov.errmsg, "%s", what);
	return cli_fail_conn(conn, err, "%s", what);
}

static bool
key_cert_has_email(const struct p11agent_key *k, const char *addr)
{
	const unsigned char *p = k->cert_der;
	X509 *x;
	bool found;

	if (k->cert_der == NULL ||
	    (x = d2i_X509(NULL, &p, (long)k->cert_der_len)) == NULL)
		return false;
	found = smime_cert_has_email(x, addr);
	X509_free(x);
	return found;
}

int
cli_smime_pick_key(const struct p11agent_list *list, const char *addr,
                   const char *uri, const struct p11agent_key **out)
{
	return cli_smime_pick_key_by(list, addr, uri, key_cert_has_email, out);
}

void
cli_smime_warn_not_kept(const struct smime_store *store,
                        const struct smime_signer_info *si)
{
	if (store == NULL || si->store_errno == 0)
		return;
	fprintf(stderr,
	        "p11: warning: the signer's certificate was not kept in %s: "
	        "%s\n",
	        smime_store_dir(store), strerror(si->store_errno));
}

int
cli_smime_add_chain(struct smime_store *store, struct smime_key *key)
{
	STACK_OF(X509) * all;
	X509 *cur = smime_key_get0_cert(key), *ca = NULL;
	int depth, i;

	if ((all = sk_X509_new_null()) == NULL)
		return P11AGENT_E_NOMEM;
	smime_store_load_chain_certs(store, all);
	/* Up to the root (not sent: the receiver must have it anyway). */
	for (depth = 0; depth < 8; depth++) {
		for (i = 0; i < sk_X509_num(all); i++) {
			ca = sk_X509_value(all, i);
			if (X509_check_issued(ca, cur) == X509_V_OK &&
			    X509_cmp(ca, cur) != 0)
				break;
		}
		if (i == sk_X509_num(all) ||
		    X509_check_issued(ca, ca) == X509_V_OK)
			break;
		smime_key_add1_chain(key, ca);
		cur = ca;
	}
	sk_X509_pop_free(all, X509_free);
	return 0;
}

int
cli_smime_vexit(enum smime_vstatus s)
{
	switch (s) {
	case SMIME_V_VALID:
		return P11_EXIT_OK;
	case SMIME_V_BAD_SIGNATURE:
		return P11_EXIT_BAD_SIGNATURE;
	case SMIME_V_UNTRUSTED:
		return P11_EXIT_UNTRUSTED;
	case SMIME_V_EXPIRED:
		return P11_EXIT_EXPIRED;
	case SMIME_V_REVOKED:
		return P11_EXIT_REVOKED;
	case SMIME_V_SENDER_MISMATCH:
		return P11_EXIT_SENDER_MISMATCH;
	case SMIME_V_NOT_SIGNED:
		return P11_EXIT_NOT_SIGNED;
	default:
		return P11_EXIT_MALFORMED;
	}
}

int
cli_smime_dexit(enum smime_dstatus s)
{
	switch (s) {
	case SMIME_D_OK:
		return P11_EXIT_OK;
	case SMIME_D_NOT_A_RECIPIENT:
		return P11_EXIT_NOT_A_RECIPIENT;
	case SMIME_D_UNSUPPORTED:
		return P11_EXIT_UNSUPPORTED;
	case SMIME_D_INTEGRITY_FAILURE:
		return P11_EXIT_INTEGRITY_FAILURE;
	case SMIME_D_LOGIN_REQUIRED:
		return P11_EXIT_LOGIN_REQUIRED;
	default:
		return P11_EXIT_MALFORMED;
	}
}

static void
json_field(FILE *f, const char *name, const char *v, bool comma)
{
	fprintf(f, "%s\"%s\": ", comma ? ", " : "", name);
	cli_json_string(f, v != NULL && v[0] != '\0' ? v : NULL);
}

void
cli_smime_json_signer(FILE *f, const struct smime_signer_info *si)
{
	fputc('{', f);
	json_field(f, "email", si->email, false);
	json_field(f, "subject", si->subject, true);
	json_field(f, "issuer", si->issuer, true);
	json_field(f, "fingerprint", si->fingerprint, true);
	json_field(f, "not_after", si->not_after, true);
	fputc('}', f);
}

bool
cli_smime_verify_option(int c, const char *arg, struct smime_verify_opts *vo,
                        bool *json)
{
	switch (c) {
	case CLI_SMIME_OPT_CA_FILE:
		vo->ca_file = arg;
		return true;
	case CLI_SMIME_OPT_JSON:
		*json = true;
		return true;
	case CLI_SMIME_OPT_ALLOW_SHA1:
		vo->allow_sha1 = true;
		return true;
	default:
		return false;
	}
}

int
cli_smime_verify_begin(struct cli *cli, int argc, char **argv,
                       const struct smime_verify_opts *vo, int *fd)
{
	const char *in = NULL;
	int r;

	if ((r = cli_smime_input_arg(cli, argc, argv, &in)) >= 0)
		return r;
	if (vo->ca_file != NULL && access(vo->ca_file, R_OK) != 0) {
		fprintf(stderr, "p11: %s: cannot read the CA file\n",
		        vo->ca_file);
		return P11_EXIT_USAGE;
	}
	if ((r = cli_smime_open_in(in, fd)) != 0)
		return r;
	return -1;
}

int
cli_smime_op_fail(struct p11agent_conn *conn, int err, const char *what)
{
	if (err == P11AGENT_E_FORMAT || err == P11AGENT_E_TOO_LARGE)
		return cli_fail(err, "the input is not a mail message", "%s",
		                what);
	return cli_smime_fail(conn, err, what);
}
