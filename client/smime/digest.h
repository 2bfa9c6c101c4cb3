/*
 * Streaming message digests for client/smime over Nettle, named by the
 * OpenSSL NID numbers the rest of the code passes around (md_nid), so
 * that the signing path needs no libcrypto: NID_sha1, NID_sha224,
 * NID_sha256, NID_sha384 and NID_sha512 for signing, and for verifying
 * what others signed also NID_sha512_224, NID_sha512_256 and the four
 * SHA-3 digests.
 */
#ifndef P11AGENT_SMIME_DIGEST_H
#define P11AGENT_SMIME_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <nettle/sha3.h>

/* The largest digest, in bytes (SHA-512). */
#define SMIME_DIGEST_MAX 64

struct smime_digest {
	int nid;
	const struct nettle_hash *h; /* NULL before smime_digest_init() */
	union {
		struct sha1_ctx sha1;
		struct sha256_ctx sha256; /* also SHA-224 */
		struct sha512_ctx sha512; /* also SHA-384, SHA-512/t */
		struct sha3_224_ctx sha3; /* the largest SHA-3 state */
	} ctx;
};

/* The size of a digest made with nid, or 0 when nid is not one of ours. */
size_t smime_digest_size(int nid);

/*
 * Starts a digest made with nid.  Returns 0, or P11A_E_ARGS when nid is
 * not one of ours.
 */
int smime_digest_init(struct smime_digest *d, int nid);

/* Adds n bytes at p (n may be 0). */
void smime_digest_update(struct smime_digest *d, const void *p, size_t n);

/*
 * Writes the digest into out (room for SMIME_DIGEST_MAX bytes) and its
 * size into *len, then wipes the state: d needs smime_digest_init()
 * again before the next use.  Returns 0, or P11A_E_ARGS when d was not
 * initialized.
 */
int smime_digest_final(struct smime_digest *d, uint8_t *out, size_t *len);

/* Wipes the state (the content may have been secret). */
void smime_digest_cleanup(struct smime_digest *d);

/* The digest of n bytes at p, in one call; as smime_digest_final(). */
int smime_digest(int nid, const void *p, size_t n, uint8_t *out, size_t *len);

#endif
