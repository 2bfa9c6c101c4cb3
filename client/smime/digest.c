/*
 * Digests over Nettle (digest.h).
 */
#include <string.h>

#include <nettle/nettle-meta.h>
#include <openssl/obj_mac.h>

#include "proto/err.h"
#include "digest.h"
#include "io.h"

static const struct nettle_hash *
hash_of(int nid)
{
	switch (nid) {
	case NID_sha1:
		return &nettle_sha1;
	case NID_sha224:
		return &nettle_sha224;
	case NID_sha256:
		return &nettle_sha256;
	case NID_sha384:
		return &nettle_sha384;
	case NID_sha512:
		return &nettle_sha512;
	case NID_sha512_224:
		return &nettle_sha512_224;
	case NID_sha512_256:
		return &nettle_sha512_256;
	case NID_sha3_224:
		return &nettle_sha3_224;
	case NID_sha3_256:
		return &nettle_sha3_256;
	case NID_sha3_384:
		return &nettle_sha3_384;
	case NID_sha3_512:
		return &nettle_sha3_512;
	default:
		return NULL;
	}
}

size_t
smime_digest_size(int nid)
{
	const struct nettle_hash *h = hash_of(nid);

	return h != NULL ? h->digest_size : 0;
}

int
smime_digest_init(struct smime_digest *d, int nid)
{
	memset(d, 0, sizeof(*d));
	if ((d->h = hash_of(nid)) == NULL)
		return P11A_E_ARGS;
	/* The union is larger than any context a hash of ours uses. */
	if (d->h->context_size > sizeof(d->ctx)) {
		d->h = NULL;
		return P11A_E_INTERNAL;
	}
	d->nid = nid;
	d->h->init(&d->ctx);
	return 0;
}

void
smime_digest_update(struct smime_digest *d, const void *p, size_t n)
{
	if (d->h != NULL && n > 0)
		d->h->update(&d->ctx, n, p);
}

int
smime_digest_final(struct smime_digest *d, uint8_t *out, size_t *len)
{
	*len = 0;
	if (d->h == NULL)
		return P11A_E_ARGS;
	d->h->digest(&d->ctx, d->h->digest_size, out);
	*len = d->h->digest_size;
	smime_digest_cleanup(d);
	return 0;
}

void
smime_digest_cleanup(struct smime_digest *d)
{
	if (d == NULL)
		return;
	smime_wipe(d, sizeof(*d));
	d->h = NULL;
}

int
smime_digest(int nid, const void *p, size_t n, uint8_t *out, size_t *len)
{
	struct smime_digest d;
	int r;

	*len = 0;
	if ((r = smime_digest_init(&d, nid)) != 0)
		return r;
	smime_digest_update(&d, p, n);
	return smime_digest_final(&d, out, len);
}
