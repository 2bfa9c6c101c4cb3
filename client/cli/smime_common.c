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

static int
copy_fd(int from, int to)
{
	char buf[64 * 1024];
	ssize_t n, w, off;

	for (;;) {
		n = read(from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return P11AGENT_E_IO;
		if (n == 0)
			return 0;
		for (off = 0; off < n; off += w) {
			w = write(to, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w < 0)
				return P11AGENT_E_IO;
		}
	}
}

int
cli_smime_open_in(const char *path, int *fd)
{
	struct stat st;
	int in, tmp;

	*fd = -1;
	if (path == NULL || strcmp(path, "-") == 0) {
		in = STDIN_FILENO;
	} else if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "p11: %s: %s\n", path, strerror(errno));
		return P11_EXIT_ERROR;
	}
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode)) {
		*fd = in == STDIN_FILENO ? dup(in) : in;
		return *fd >= 0 ? 0 : P11_EXIT_ERROR;
	}
	/* A pipe or a terminal: keep a copy that can be read twice. */
	if (smime_tmpfile(NULL, &tmp) != 0 || copy_fd(in, tmp) != 0 ||
	    lseek(tmp, 0, SEEK_SET) != 0) {
		fprintf(stderr, "p11: cannot buffer the input: %s\n",
		        strerror(errno));
		if (in != STDIN_FILENO)
			close(in);
		return P11_EXIT_ERROR;
	}
	if (in != STDIN_FILENO)
		close(in);
	*fd = tmp;
	return 0;
}

int
cli_smime_out_open(struct cli_smime_out *o, const char *path)
{
	char *copy = NULL, *dir;
	struct stat st;
	int r;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (path == NULL || strcmp(path, "-") == 0) {
		if (smime_tmpfile(NULL, &o->fd) != 0) {
			fprintf(stderr,
			        "p11: cannot make a temporary file: %s\n",
			        strerror(errno));
			return P11_EXIT_ERROR;
		}
		return 0;
	}
	o->path = path;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A device or a pipe (-o /dev/null): written on commit. */
		o->direct = true;
		if (smime_tmpfile(NULL, &o->fd) != 0) {
			fprintf(stderr,
			        "p11: cannot make a temporary file: %s\n",
			        strerror(errno));
			return P11_EXIT_ERROR;
		}
		return 0;
	}
	if ((copy = strdup(path)) == NULL)
		return P11_EXIT_ERROR;
	dir = dirname(copy);
	r = asprintf(&o->tmp, "%s/.p11-out-XXXXXX", dir);
	free(copy);
	if (r < 0) {
		o->tmp = NULL;
		return P11_EXIT_ERROR;
	}
	if ((o->fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
		fprintf(stderr, "p11: %s: %s\n", path, strerror(errno));
		free(o->tmp);
		o->tmp = NULL;
		return P11_EXIT_ERROR;
	}
	return 0;
}

int
cli_smime_out_commit(struct cli_smime_out *o)
{
	int r = 0;

	if (o->path == NULL || o->direct) {
		int to = STDOUT_FILENO;

		fflush(stdout);
		if (o->direct &&
		    (to = open(o->path, O_WRONLY | O_CLOEXEC)) < 0) {
			fprintf(stderr, "p11: %s: %s\n", o->path,
			        strerror(errno));
			r = P11_EXIT_ERROR;
		} else if (lseek(o->fd, 0, SEEK_SET) != 0 ||
		           copy_fd(o->fd, to) != 0) {
			fprintf(stderr, "p11: cannot write the output: %s\n",
			        strerror(errno));
			r = P11_EXIT_ERROR;
		}
		if (o->direct && to >= 0)
			close(to);
		close(o->fd);
		o->fd = -1;
		return r;
	}
	if (fchmod(o->fd, 0600) != 0 || close(o->fd) != 0) {
		o->fd = -1;
		fprintf(stderr, "p11: %s: %s\n", o->path, strerror(errno));
		cli_smime_out_abort(o);
		return P11_EXIT_ERROR;
	}
	o->fd = -1;
	if (rename(o->tmp, o->path) != 0) {
		fprintf(stderr, "p11: %s: %s\n", o->path, strerror(errno));
		cli_smime_out_abort(o);
		return P11_EXIT_ERROR;
	}
	free(o->tmp);
	o->tmp = NULL;
	return 0;
}

void
cli_smime_out_abort(struct cli_smime_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp != NULL) {
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
	}
}

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

bool
cli_smime_from_addr(int fd, char *buf, size_t len)
{
	struct smime_hdrs h;
	struct smime_rd rd;
	off_t pos;
	bool ok = false;

	buf[0] = '\0';
	if ((pos = lseek(fd, 0, SEEK_CUR)) < 0)
		return false;
	smime_hdrs_init(&h);
	if (smime_rd_init_fd(&rd, fd) == 0 && smime_hdrs_read(&h, &rd) == 0)
		ok = smime_addr_first(smime_hdrs_value(&h, "From"), buf, len);
	smime_hdrs_cleanup(&h);
	smime_rd_cleanup(&rd);
	if (lseek(fd, pos, SEEK_SET) != pos)
		return false;
	return ok;
}

/*
 * The agent lists each certificate's addresses; parsing a certificate
 * (slow in OpenSSL 3) is only the fallback for addresses it did not list.
 */
static bool
key_lists_email(const struct p11agent_key *k, const char *addr)
{
	size_t i;

	for (i = 0; i < k->nemails; i++) {
		if (smime_strcasecmp(k->emails[i], addr) == 0)
			return true;
	}
	return false;
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

/* Percent-decodes src into dst (cap bytes). */
static void
pct_decode(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < n && o + 1 < cap; i++) {
		if (src[i] == '%' && i + 2 < n &&
		    sscanf(src + i + 1, "%2x", &v) == 1) {
			dst[o++] = (char)v;
			i += 2;
		} else {
			dst[o++] = src[i];
		}
	}
	dst[o] = '\0';
}

/* The value of attribute name in a pkcs11: URI's path, decoded. */
static bool
uri_attr(const char *uri, const char *name, char *val, size_t cap)
{
	const char *p = uri + 7, *end, *eq;
	size_t nl = strlen(name);

	if (strncmp(uri, "pkcs11:", 7) != 0)
		return false;
	while (*p != '\0' && *p != '?') {
		end = p + strcspn(p, ";?");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && (size_t)(eq - p) == nl &&
		    strncmp(p, name, nl) == 0) {
			pct_decode(val, cap, eq + 1, (size_t)(end - eq - 1));
			return true;
		}
		p = *end == ';' ? end + 1 : end;
	}
	return false;
}

/*
 * Does the key's URI have every path attribute of uri with the same
 * value (RFC 7512 matching)?
 */
static bool
uri_matches(const char *keyuri, const char *uri)
{
	static const char *const names[] = {
	    "token",  "manufacturer", "serial", "model",
	    "object", "id",           "type",   "library-manufacturer",
	};
	char a[512], b[512];
	size_t i;
	bool any = false;

	if (strcmp(keyuri, uri) == 0)
		return true;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!uri_attr(uri, names[i], a, sizeof(a)))
			continue;
		any = true;
		if (!uri_attr(keyuri, names[i], b, sizeof(b)) ||
		    strcmp(a, b) != 0)
			return false;
	}
	return any;
}

static const struct p11agent_key *
find_key(const struct p11agent_list *list, const char *addr, const char *uri,
         bool parse_certs)
{
	size_t i;

	for (i = 0; i < list->nkeys; i++) {
		const struct p11agent_key *k = &list->keys[i];

		if (k->cert_der == NULL)
			continue;
		if (uri != NULL   ? uri_matches(k->uri, uri)
		    : parse_certs ? key_cert_has_email(k, addr)
		                  : key_lists_email(k, addr))
			return k;
	}
	return NULL;
}

int
cli_smime_pick_key(const struct p11agent_list *list, const char *addr,
                   const char *uri, const struct p11agent_key **out)
{
	char safe[512];

	if ((*out = find_key(list, addr, uri, false)) != NULL ||
	    (uri == NULL && (*out = find_key(list, addr, NULL, true)) != NULL))
		return 0;
	if (uri != NULL)
		fprintf(stderr,
		        "p11: no agent key with a certificate has the URI "
		        "%s\n",
		        cli_safe(safe, sizeof(safe), uri));
	else
		fprintf(stderr,
		        "p11: no agent key has a certificate for %s (see p11 "
		        "keys)\n",
		        cli_safe(safe, sizeof(safe), addr));
	return P11_EXIT_KEY_NOT_FOUND;
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
cli_smime_store_open(struct smime_store **out)
{
	int r;

	if ((r = smime_store_open(NULL, out)) != 0) {
		fprintf(stderr,
		        "p11: cannot open the certificate store (set "
		        "XDG_DATA_HOME or HOME): %s\n",
		        p11agent_strerror(r));
		return P11_EXIT_ERROR;
	}
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

int
cli_smime_digest_nid(const char *name)
{
	if (smime_strcasecmp(name, "sha256") == 0 ||
	    smime_strcasecmp(name, "sha-256") == 0)
		return NID_sha256;
	if (smime_strcasecmp(name, "sha384") == 0 ||
	    smime_strcasecmp(name, "sha-384") == 0)
		return NID_sha384;
	if (smime_strcasecmp(name, "sha512") == 0 ||
	    smime_strcasecmp(name, "sha-512") == 0)
		return NID_sha512;
	return 0;
}

int
cli_smime_input_arg(struct cli *cli, int argc, char **argv, const char **in)
{
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
		                       argv[optind + 1]);
	if (optind < argc)
		*in = argv[optind];
	return -1;
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
cli_smime_default_md(const struct p11agent_key *k)
{
	if (k->key_type != P11AGENT_KEY_EC || k->bits <= 256)
		return NID_sha256;
	return k->bits > 384 ? NID_sha512 : NID_sha384;
}

int
cli_smime_op_fail(struct p11agent_conn *conn, int err, const char *what)
{
	if (err == P11AGENT_E_FORMAT || err == P11AGENT_E_TOO_LARGE)
		return cli_fail(err, "the input is not a mail message", "%s",
		                what);
	return cli_smime_fail(conn, err, what);
}
