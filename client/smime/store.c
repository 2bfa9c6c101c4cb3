/*
 * The certificate store (store.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/err.h"
#include "smime.h"
#include "store.h"
#include "store_dir.h"

/* Writes len bytes to dir/name through a temporary file and rename(). */
static int
write_atomic(const char *dir, const char *name, const void *p, size_t len)
{
	char tmp[4096], dst[4096];
	const char *q = p;
	ssize_t w;
	int fd, saved, r = P11A_E_IO;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >=
	        sizeof(tmp) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >=
	        sizeof(dst))
		return P11A_E_ARGS;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return P11A_E_IO;
	while (len > 0) {
		w = write(fd, q, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		q += w;
		len -= (size_t)w;
	}
	if (fchmod(fd, 0600) != 0 || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, dst) != 0)
		goto out;
	return 0;
out:
	saved = errno; /* what went wrong, for the caller's message */
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return r;
}

static int
cert_pem(X509 *cert, char **out, size_t *len)
{
	BIO *b;
	char *p;
	long n;

	*out = NULL;
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return P11A_E_NOMEM;
	if (PEM_write_bio_X509(b, cert) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0 ||
	    (*out = malloc((size_t)n)) == NULL) {
		BIO_free(b);
		return P11A_E_NOMEM;
	}
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return 0;
}

static X509 *
read_pem(const char *path)
{
	X509 *x = NULL;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

void
smime_caps_format(unsigned caps, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	    {SMIME_CAP_AES256_GCM, "aes256-gcm"},
	    {SMIME_CAP_AES128_GCM, "aes128-gcm"},
	    {SMIME_CAP_AES256_CBC, "aes256-cbc"},
	    {SMIME_CAP_AES128_CBC, "aes128-cbc"},
	};
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((caps & names[i].bit) == 0)
			continue;
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
		                      o > 0 ? "," : "", names[i].name);
	}
}

/*
 * Seeing a known certificate again within a day changes nothing worth
 * four fsyncs: same capabilities, same source, a recent "seen".
 */
#define STORE_SEEN_REFRESH_S (24 * 60 * 60)

static bool
entry_current(const struct smime_store *s, const char *fp,
              const struct smime_store_meta *old, unsigned caps,
              const char *source)
{
	char path[4096];
	time_t now = time(NULL);

	if (old->source[0] == '\0' || old->caps != caps ||
	    strcmp(old->source, source) != 0 || old->seen > now ||
	    now - old->seen >= STORE_SEEN_REFRESH_S)
		return false;
	return (size_t)snprintf(path, sizeof(path), "%s/%s.pem",
	                        smime_store_dir(s), fp) < sizeof(path) &&
	       access(path, R_OK) == 0;
}

int
smime_store_add(struct smime_store *s, X509 *cert, unsigned caps,
                const char *source)
{
	STACK_OF(OPENSSL_STRING) *emails = NULL;
	char fp[65], name[80], meta[2048], capsbuf[128];
	struct smime_store_meta old;
	char *pem = NULL;
	size_t pemlen, o;
	int i, r;

	if (s == NULL)
		return P11A_E_ARGS;
	if ((r = smime_cert_fingerprint(cert, fp)) != 0)
		return r;
	smime_store_read_meta(smime_store_dir(s), fp, &old);
	if ((caps & SMIME_CAP_KNOWN) == 0)
		caps = old.caps;
	if (old.source[0] != '\0' && strcmp(source, "added") == 0)
		source = old.source;
	if (entry_current(s, fp, &old, caps, source))
		return 0;
	if ((r = smime_store_mkdirs(smime_store_dir(s))) != 0 ||
	    (r = cert_pem(cert, &pem, &pemlen)) != 0)
		return r;
	snprintf(name, sizeof(name), "%s.pem", fp);
	if ((r = write_atomic(smime_store_dir(s), name, pem, pemlen)) != 0)
		goto out;
	smime_caps_format(caps, capsbuf, sizeof(capsbuf));
	o = (size_t)snprintf(meta, sizeof(meta),
	                     "fingerprint=%s\nseen=%lld\nsource=%s\n"
	                     "capsbits=%x\ncaps=%s\nemails=",
	                     fp, (long long)time(NULL), source, caps, capsbuf);
	emails = X509_get1_email(cert);
	for (i = 0; i < sk_OPENSSL_STRING_num(emails) && o < sizeof(meta); i++)
		o += (size_t)snprintf(meta + o, sizeof(meta) - o, "%s%s",
		                      i > 0 ? "," : "",
		                      sk_OPENSSL_STRING_value(emails, i));
	if (o >= sizeof(meta) - 1)
		o = sizeof(meta) - 2;
	meta[o++] = '\n';
	snprintf(name, sizeof(name), "%s.meta", fp);
	r = write_atomic(smime_store_dir(s), name, meta, o);
out:
	X509_email_free(emails);
	free(pem);
	return r;
}

int
smime_store_remove(struct smime_store *s, const char *fingerprint)
{
	char fp[65], path[4096];
	size_t i, o = 0;
	bool any = false;

	if (s == NULL)
		return P11A_E_KEY_NOT_FOUND;
	/* Accept upper case and colons (as `openssl x509 -fingerprint`). */
	for (i = 0; fingerprint[i] != '\0' && o < 64; i++) {
		if (fingerprint[i] == ':')
			continue;
		fp[o++] = (char)tolower((unsigned char)fingerprint[i]);
	}
	fp[o] = '\0';
	if (o != 64 || fingerprint[i] != '\0' || !smime_store_is_fp(fp))
		return P11A_E_ARGS;
	snprintf(path, sizeof(path), "%s/%s.pem", smime_store_dir(s), fp);
	any |= unlink(path) == 0;
	snprintf(path, sizeof(path), "%s/%s.meta", smime_store_dir(s), fp);
	any |= unlink(path) == 0;
	snprintf(path, sizeof(path), "%s/trusted/%s.pem", smime_store_dir(s),
	         fp);
	any |= unlink(path) == 0;
	return any ? 0 : P11A_E_KEY_NOT_FOUND;
}

int
smime_store_trust(struct smime_store *s, X509 *ca)
{
	char fp[65], name[80], dir[4096];
	char *pem = NULL;
	size_t len;
	int r;

	if (s == NULL || (size_t)snprintf(dir, sizeof(dir), "%s/trusted",
	                                  smime_store_dir(s)) >= sizeof(dir))
		return P11A_E_ARGS;
	if ((r = smime_store_mkdirs(dir)) != 0 ||
	    (r = smime_cert_fingerprint(ca, fp)) != 0 ||
	    (r = cert_pem(ca, &pem, &len)) != 0)
		return r;
	snprintf(name, sizeof(name), "%s.pem", fp);
	r = write_atomic(dir, name, pem, len);
	free(pem);
	return r;
}

/* Calls fn for each "<fp>.pem" in dir. */
static int each_pem_if(const char *dir,
                       bool (*want)(const char *dir, const char *fp),
                       int (*fn)(void *ctx, const char *fp, X509 *x),
                       void *ctx);

static int
each_pem(const char *dir, int (*fn)(void *ctx, const char *fp, X509 *x),
         void *ctx)
{
	return each_pem_if(dir, NULL, fn, ctx);
}

struct each_pem_ctx {
	int (*fn)(void *ctx, const char *fp, X509 *x);
	void *ctx;
};

static int
each_pem_one(void *vctx, const char *fp, const char *path)
{
	struct each_pem_ctx *c = vctx;
	X509 *x;
	int r;

	if ((x = read_pem(path)) == NULL)
		return 0; /* not a certificate: skipped, as always */
	r = c->fn(c->ctx, fp, x);
	X509_free(x);
	return r;
}

/* Like each_pem(), for the files want (if not NULL) accepts by name. */
static int
each_pem_if(const char *dir, bool (*want)(const char *dir, const char *fp),
            int (*fn)(void *ctx, const char *fp, X509 *x), void *ctx)
{
	struct each_pem_ctx c = {fn, ctx};

	return smime_store_each_file(dir, want, each_pem_one, &c);
}

struct list_ctx {
	struct smime_store *s;
	struct smime_store_entry *v;
	size_t n, cap;
	bool trusted;
};

static int
list_one(void *vctx, const char *fp, X509 *x)
{
	struct list_ctx *c = vctx;
	struct smime_store_entry *nv, *e;
	struct smime_store_meta m;

	if (c->n == c->cap) {
		c->cap = c->cap == 0 ? 16 : c->cap * 2;
		if ((nv = realloc(c->v, c->cap * sizeof(*nv))) == NULL)
			return P11A_E_NOMEM;
		c->v = nv;
	}
	e = &c->v[c->n];
	memset(e, 0, sizeof(*e));
	snprintf(e->fp, sizeof(e->fp), "%s", fp);
	if (!X509_up_ref(x))
		return P11A_E_INTERNAL;
	e->cert = x;
	e->trusted = c->trusted;
	if (!c->trusted) {
		smime_store_read_meta(smime_store_dir(c->s), fp, &m);
		e->caps = m.caps;
		e->seen = m.seen;
		snprintf(e->source, sizeof(e->source), "%s", m.source);
	} else {
		snprintf(e->source, sizeof(e->source), "trusted");
	}
	c->n++;
	return 0;
}

int
smime_store_list(struct smime_store *s, struct smime_store_entry **out,
                 size_t *n)
{
	struct list_ctx c;
	char dir[4096];
	int r;

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return 0;
	memset(&c, 0, sizeof(c));
	c.s = s;
	if ((r = each_pem(smime_store_dir(s), list_one, &c)) != 0)
		goto fail;
	c.trusted = true;
	snprintf(dir, sizeof(dir), "%s/trusted", smime_store_dir(s));
	if ((r = each_pem(dir, list_one, &c)) != 0)
		goto fail;
	*out = c.v;
	*n = c.n;
	return 0;
fail:
	smime_store_entries_free(c.v, c.n);
	return r;
}

void
smime_store_entries_free(struct smime_store_entry *e, size_t n)
{
	size_t i;

	for (i = 0; e != NULL && i < n; i++)
		X509_free(e[i].cert);
	free(e);
}

int
smime_store_find(struct smime_store *s, const char *addr, X509 **cert,
                 unsigned *caps)
{
	struct smime_store_entry *v = NULL, *best = NULL;
	size_t n, i;
	int r;

	*cert = NULL;
	*caps = 0;
	if ((r = smime_store_list(s, &v, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (v[i].trusted || !smime_cert_has_email(v[i].cert, addr) ||
		    !smime_cert_can_encrypt(v[i].cert) ||
		    X509_cmp_time(X509_get0_notAfter(v[i].cert), NULL) <= 0 ||
		    X509_cmp_time(X509_get0_notBefore(v[i].cert), NULL) >= 0)
			continue;
		if (best == NULL ||
		    ASN1_TIME_compare(X509_get0_notAfter(v[i].cert),
		                      X509_get0_notAfter(best->cert)) > 0)
			best = &v[i];
	}
	if (best == NULL) {
		r = P11A_E_KEY_NOT_FOUND;
	} else if (!X509_up_ref(best->cert)) {
		r = P11A_E_INTERNAL;
	} else {
		*cert = best->cert;
		*caps = best->caps;
	}
	smime_store_entries_free(v, n);
	return r;
}

unsigned
smime_store_caps(struct smime_store *s, X509 *cert)
{
	struct smime_store_meta m;
	char fp[65];

	if (s == NULL || smime_cert_fingerprint(cert, fp) != 0)
		return 0;
	smime_store_read_meta(smime_store_dir(s), fp, &m);
	return m.caps;
}

static int
add_to_store(void *ctx, const char *fp, X509 *x)
{
	(void)fp;
	return X509_STORE_add_cert(ctx, x) == 1 ? 0 : P11A_E_NOMEM;
}

int
smime_store_load_trust(struct smime_store *s, X509_STORE *xs)
{
	char dir[4096];

	if (s == NULL)
		return 0;
	snprintf(dir, sizeof(dir), "%s/trusted", smime_store_dir(s));
	return each_pem(dir, add_to_store, xs);
}

static int
add_to_stack(void *ctx, const char *fp, X509 *x)
{
	(void)fp;
	if (!X509_up_ref(x))
		return P11A_E_INTERNAL;
	if (!sk_X509_push(ctx, x)) {
		X509_free(x);
		return P11A_E_NOMEM;
	}
	return 0;
}

int
smime_store_load_certs(struct smime_store *s, STACK_OF(X509) * sk)
{
	return s != NULL ? each_pem(smime_store_dir(s), add_to_stack, sk) : 0;
}

int
smime_store_load_chain_certs(struct smime_store *s, STACK_OF(X509) * sk)
{
	if (s == NULL)
		return 0;
	return each_pem_if(smime_store_dir(s), smime_store_is_chain_candidate,
	                   add_to_stack, sk);
}

int
smime_store_load_crls(struct smime_store *s, STACK_OF(X509_CRL) * sk)
{
	char dir[4096], path[4096];
	struct dirent *de;
	X509_CRL *crl;
	size_t n;
	FILE *f;
	DIR *d;

	if (s == NULL)
		return 0;
	snprintf(dir, sizeof(dir), "%s/crls", smime_store_dir(s));
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".pem") != 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		                     de->d_name) >= sizeof(path) ||
		    (f = fopen(path, "re")) == NULL)
			continue;
		while ((crl = PEM_read_X509_CRL(f, NULL, NULL, NULL)) != NULL) {
			if (!sk_X509_CRL_push(sk, crl))
				X509_CRL_free(crl);
		}
		ERR_clear_error();
		fclose(f);
	}
	closedir(d);
	return 0;
}

unsigned
smime_caps_parse(const unsigned char *der, long len)
{
	STACK_OF(X509_ALGOR) * algs;
	const ASN1_OBJECT *obj;
	unsigned caps = SMIME_CAP_KNOWN;
	int i;

	algs = (STACK_OF(X509_ALGOR) *)ASN1_item_d2i(
	    NULL, &der, len, ASN1_ITEM_rptr(X509_ALGORS));
	if (algs == NULL)
		return 0;
	for (i = 0; i < sk_X509_ALGOR_num(algs); i++) {
		X509_ALGOR_get0(&obj, NULL, NULL, sk_X509_ALGOR_value(algs, i));
		switch (OBJ_obj2nid(obj)) {
		case NID_aes_128_gcm:
			caps |= SMIME_CAP_AES128_GCM;
			break;
		case NID_aes_256_gcm:
			caps |= SMIME_CAP_AES256_GCM;
			break;
		case NID_aes_128_cbc:
			caps |= SMIME_CAP_AES128_CBC;
			break;
		case NID_aes_256_cbc:
			caps |= SMIME_CAP_AES256_CBC;
			break;
		default:
			break;
		}
	}
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	return caps;
}
