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

#include "smime.h"

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

/*
 * A struct smime_key as the signer smime_sign() takes (smime.h): the
 * certificate and chain in DER, owned here, and a callback that signs
 * with smime_key_sign().  The key stays borrowed: it must outlive the
 * signer.
 */
struct smime_key_signer {
	struct smime_signer signer; /* give &ks.signer to smime_sign() */
	struct smime_key *key;
	uint8_t *cert;
	uint8_t **chain;
	size_t *chain_len;
	size_t nchain;
};

/*
 * Encodes key's certificate and chain for ks.  Returns 0 or a negative
 * code (P11A_E_NOMEM); on failure ks needs no cleanup, though
 * smime_key_signer_cleanup() is harmless.
 */
int smime_key_signer_init(struct smime_key_signer *ks, struct smime_key *key);

/* Frees what smime_key_signer_init() made; the key is left alone. */
void smime_key_signer_cleanup(struct smime_key_signer *ks);

#endif
