/*
 * Our own chain from the store (store_chain.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#include "proto/err.h"
#include "certder.h"
#include "store_chain.h"

/* A store file is one PEM certificate of a few KiB. */
#define PEM_MAX (64 * 1024)

struct candidate {
	uint8_t *der;
	size_t len;
	struct smime_certder f;
};

struct candidates {
	struct candidate *v;
	size_t n, cap;
};

/* The DER of the first CERTIFICATE block of a PEM text. */
static int
pem_cert_der(const char *pem, uint8_t **der, size_t *derlen)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	struct base64_decode_ctx b64;
	const char *a, *z;
	size_t n, out;
	uint8_t *buf;

	if ((a = strstr(pem, begin)) == NULL || (z = strstr(a, end)) == NULL)
		return P11A_E_FORMAT;
	a += sizeof(begin) - 1;
	n = (size_t)(z - a);
	if ((buf = malloc(BASE64_DECODE_LENGTH(n) + 1)) == NULL)
		return P11A_E_NOMEM;
	base64_decode_init(&b64);
	out = BASE64_DECODE_LENGTH(n) + 1;
	/* Nettle's decoder skips the line breaks and spaces. */
	if (!base64_decode_update(&b64, &out, buf, n, a) ||
	    !base64_decode_final(&b64)) {
		free(buf);
		return P11A_E_FORMAT;
	}
	*der = buf;
	*derlen = out;
	return 0;
}

static int
read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL)
		return P11A_E_IO;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n == cap - 1 ? P11A_E_TOO_LARGE : 0;
}

static int
add_candidate(void *ctx, const char *fp, const char *path)
{
	struct candidates *c = ctx;
	struct candidate *nv, *e;
	char *pem;
	int r;

	(void)fp;
	if (c->n == c->cap) {
		c->cap = c->cap == 0 ? 16 : c->cap * 2;
		if ((nv = realloc(c->v, c->cap * sizeof(*nv))) == NULL)
			return P11A_E_NOMEM;
		c->v = nv;
	}
	if ((pem = malloc(PEM_MAX)) == NULL)
		return P11A_E_NOMEM;
	e = &c->v[c->n];
	r = read_file(path, pem, PEM_MAX);
	if (r == 0)
		r = pem_cert_der(pem, &e->der, &e->len);
	free(pem);
	if (r == P11A_E_NOMEM)
		return r;
	if (r != 0)
		return 0; /* unreadable or not a certificate: skipped */
	if (smime_certder_parse(e->der, e->len, &e->f) != 0) {
		free(e->der);
		return 0;
	}
	c->n++;
	return 0;
}

static const struct candidate *
find_issuer(const struct candidates *c, const uint8_t *der, size_t len,
            const struct smime_certder *f)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct candidate *ca = &c->v[i];

		if (smime_certder_issued(&ca->f, f) &&
		    !(ca->len == len && memcmp(ca->der, der, len) == 0))
			return ca;
	}
	return NULL;
}

int
smime_store_chain_der(struct smime_store *s, const uint8_t *cert, size_t len,
                      struct smime_der_chain *out)
{
	struct candidates c = {NULL, 0, 0};
	const struct candidate *ca;
	struct smime_certder cur;
	const uint8_t *der = cert;
	size_t i, dlen = len;
	int r;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return 0;
	if ((r = smime_certder_parse(cert, len, &cur)) != 0)
		return r;
	r = smime_store_each_file(smime_store_dir(s),
	                          smime_store_is_chain_candidate, add_candidate,
	                          &c);
	if (r == P11A_E_IO)
		r = 0; /* an unreadable store: sign without a chain */
	while (r == 0 && out->n < SMIME_CHAIN_MAX &&
	       (ca = find_issuer(&c, der, dlen, &cur)) != NULL &&
	       !smime_certder_self_issued(&ca->f)) {
		if ((out->der[out->n] = malloc(ca->len)) == NULL) {
			r = P11A_E_NOMEM;
			break;
		}
		memcpy(out->der[out->n], ca->der, ca->len);
		out->len[out->n++] = ca->len;
		cur = ca->f;
		der = ca->der;
		dlen = ca->len;
	}
	for (i = 0; i < c.n; i++)
		free(c.v[i].der);
	free(c.v);
	if (r != 0)
		smime_der_chain_cleanup(out);
	return r;
}

void
smime_der_chain_cleanup(struct smime_der_chain *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->der[i]);
	memset(c, 0, sizeof(*c));
}
