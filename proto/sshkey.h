/*
 * SSH public key and signature blobs (RFC 4253, RFC 5656, RFC 8332,
 * RFC 8709): pure byte work, so that the agent can answer
 * SSH_AGENTC_REQUEST_IDENTITIES and SSH_AGENTC_SIGN_REQUEST for token
 * keys without OpenSSL.
 *
 * The _put functions append a bare blob (no outer length) to a writer;
 * wrap them in proto_write_nested_begin()/_end() to embed one as a string,
 * or write into a writer of their own and take the bytes.  They return the
 * writer's sticky error; bad arguments make it P11A_E_ARGS.  Our blobs are
 * canonical (minimal mpints), so two blobs name the same key exactly when
 * their bytes are equal: the agent matches the key blob of a sign request
 * against its own blobs with memcmp().
 */
#ifndef P11AGENT_PROTO_SSHKEY_H
#define P11AGENT_PROTO_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"

/* NIST curves SSH knows (RFC 5656). */
enum proto_curve {
	PROTO_CURVE_NONE = 0,
	PROTO_CURVE_P256 = 1,
	PROTO_CURVE_P384 = 2,
	PROTO_CURVE_P521 = 3,
};

enum proto_ssh_key_type {
	PROTO_SSH_KEY_UNKNOWN = 0,
	PROTO_SSH_KEY_RSA = 1,
	PROTO_SSH_KEY_ECDSA = 2,
	PROTO_SSH_KEY_ED25519 = 3,
};

/* Ed25519 public key and signature sizes (RFC 8032). */
#define PROTO_ED25519_PK_LEN 32
#define PROTO_ED25519_SIG_LEN 64

/*
 * Curve names: SSH's ("nistp256"), the SSH key type
 * ("ecdsa-sha2-nistp256", also the signature algorithm) and OpenSSL's
 * ("prime256v1", the curve names of the list reply).  NULL for
 * PROTO_CURVE_NONE and unknown values.
 */
const char *proto_curve_ssh_name(enum proto_curve c);
const char *proto_curve_ssh_keytype(enum proto_curve c);
const char *proto_curve_openssl_name(enum proto_curve c);

/* Maps an OpenSSL curve name to a curve, PROTO_CURVE_NONE if unknown. */
enum proto_curve proto_curve_from_openssl_name(struct proto_text name);

/* Field size in bytes (32, 48, 66), 0 for PROTO_CURVE_NONE. */
size_t proto_curve_field_len(enum proto_curve c);

/*
 * Public key blobs.
 * RSA: string "ssh-rsa", mpint e, mpint n; e and n are unsigned big
 * endian, leading zeros allowed, and must not be zero.
 * ECDSA: string "ecdsa-sha2-nistpN", string "nistpN", string Q where Q is
 * the uncompressed point 04|X|Y of exactly 1 + 2 * field length bytes.
 * Ed25519: string "ssh-ed25519", string pk (32 bytes).
 */
int proto_ssh_rsa_key_put(struct proto_writer *w, const uint8_t *e, size_t elen,
                          const uint8_t *n, size_t nlen);
int proto_ssh_ecdsa_key_put(struct proto_writer *w, enum proto_curve c,
                            const uint8_t *q, size_t qlen);
int proto_ssh_ed25519_key_put(struct proto_writer *w, const uint8_t *pk,
                              size_t pklen);

/*
 * A decoded key blob.  alg is the key type string; rsa_e and rsa_n are
 * magnitudes without sign byte; ec_q is the point; ed25519_pk the key.
 * All are views into the blob.
 */
struct proto_ssh_key {
	enum proto_ssh_key_type type;
	struct proto_text alg;
	struct proto_bytes rsa_e, rsa_n;
	enum proto_curve curve;
	struct proto_bytes ec_q;
	struct proto_bytes ed25519_pk;
};

/*
 * Decodes a whole key blob.  Returns 0, P11A_E_KEY_TYPE for a well-formed
 * blob of a type this build does not know (e.g. certificates), or
 * P11A_E_FORMAT (malformed, trailing bytes, zero RSA numbers, a point of
 * the wrong size or not uncompressed, curve name not matching the type).
 */
int proto_ssh_key_decode(const uint8_t *blob, size_t len,
                         struct proto_ssh_key *key);

/*
 * RSA signature algorithm for the flags of a sign request (RFC 8332):
 * "rsa-sha2-256" if PROTO_SSH_AGENT_RSA_SHA2_256 is set, else
 * "rsa-sha2-512" if PROTO_SSH_AGENT_RSA_SHA2_512 is set, else "ssh-rsa"
 * (SHA-1).  *hash gets the matching PROTO_HASH_* value.
 */
const char *proto_ssh_rsa_sig_alg(uint32_t flags, uint32_t *hash);

/*
 * Signature blobs.
 * RSA: string alg ("rsa-sha2-256", "rsa-sha2-512" or "ssh-rsa"), string
 * sig (the raw PKCS#1 v1.5 signature, modulus size; not empty).
 * ECDSA: string "ecdsa-sha2-nistpN", string (mpint r, mpint s), where rs
 * is the raw PKCS#11 signature r||s: exactly 2 * field length bytes, r and
 * s each one fixed-length big-endian half.
 * Ed25519: string "ssh-ed25519", string sig (64 bytes).
 */
int proto_ssh_rsa_sig_put(struct proto_writer *w, const char *alg,
                          const uint8_t *sig, size_t siglen);
int proto_ssh_ecdsa_sig_put(struct proto_writer *w, enum proto_curve c,
                            const uint8_t *rs, size_t rslen);
int proto_ssh_ed25519_sig_put(struct proto_writer *w, const uint8_t *sig,
                              size_t siglen);

/*
 * A decoded signature blob: raw is the signature of RSA and Ed25519; r and
 * s are the ECDSA magnitudes (each at most the field length).  Views into
 * the blob.
 */
struct proto_ssh_sig {
	enum proto_ssh_key_type type;
	struct proto_text alg;
	struct proto_bytes raw;
	enum proto_curve curve;
	struct proto_bytes r, s;
};

/* Decodes a whole signature blob; returns like proto_ssh_key_decode(). */
int proto_ssh_sig_decode(const uint8_t *blob, size_t len,
                         struct proto_ssh_sig *sig);

#endif
