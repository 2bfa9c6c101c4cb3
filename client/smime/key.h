/*
 * A private key as client/smime uses it: a certificate plus the three
 * private-key operations S/MIME needs (sign a digest, decrypt an RSA key
 * transport, ECDH).  Two kinds exist: an EVP_PKEY (software keys, or
 * agent keys through the p11agent OpenSSL provider), and keys whose
 * operations a caller supplies (the p11 CLI forwards them to the agent).
 */
#ifndef P11AGENT_SMIME_KEY_H
#define P11AGENT_SMIME_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct smime_key;

struct smime_key_ops {
	/*
	 * Signs a digest made with md_nid.  pss: RSASSA-PSS with MGF1 of
	 * the same hash and a salt as long as the digest, else PKCS #1
	 * v1.5 (RSA) or ECDSA.  ECDSA signatures are returned DER-encoded
	 * (Ecdsa-Sig-Value).  *siglen is the room on entry.
	 */
	int (*sign)(void *ctx, int md_nid, int pss, const uint8_t *dgst,
	            size_t dlen, uint8_t *sig, size_t *siglen);
	/*
	 * RSA decryption: oaep 0 for PKCS #1 v1.5, else OAEP with the
	 * hash oaep_md_nid, MGF1 with mgf1_md_nid and the label.  *ptlen
	 * is the room on entry.
	 */
	int (*decrypt)(void *ctx, int oaep, int oaep_md_nid, int mgf1_md_nid,
	               const uint8_t *label, size_t label_len,
	               const uint8_t *ct, size_t ctlen, uint8_t *pt,
	               size_t *ptlen);
	/* ECDH with the peer's uncompressed point: the raw x coordinate. */
	int (*derive)(void *ctx, const uint8_t *point, size_t plen, uint8_t *z,
	              size_t *zlen);
	void (*free)(void *ctx);
};

/*
 * A key whose operations are ops on ctx, with its certificate (up-ref'd).
 * ctx is owned by the key from here on (ops->free, when set, frees it;
 * also when this fails).  Returns NULL when out of memory.
 */
struct smime_key *smime_key_new(const struct smime_key_ops *ops, void *ctx,
                                X509 *cert);

/*
 * A key backed by an EVP_PKEY, with its certificate; both up-ref'd.
 * Returns NULL when out of memory or when they do not match.
 */
struct smime_key *smime_key_from_pkey(EVP_PKEY *pkey, X509 *cert);

void smime_key_free(struct smime_key *key);

/* The certificate (borrowed). */
X509 *smime_key_get0_cert(const struct smime_key *key);

/* Adds a CA certificate to send along with signatures (up-ref'd). */
int smime_key_add1_chain(struct smime_key *key, X509 *ca);
STACK_OF(X509) * smime_key_get0_chain(const struct smime_key *key);

int smime_key_sign(struct smime_key *key, int md_nid, int pss,
                   const uint8_t *dgst, size_t dlen, uint8_t *sig,
                   size_t *siglen);
int smime_key_decrypt(struct smime_key *key, int oaep, int oaep_md_nid,
                      int mgf1_md_nid, const uint8_t *label, size_t label_len,
                      const uint8_t *ct, size_t ctlen, uint8_t *pt,
                      size_t *ptlen);
int smime_key_derive(struct smime_key *key, const uint8_t *point, size_t plen,
                     uint8_t *z, size_t *zlen);

#endif
