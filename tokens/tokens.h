/*
 * tokens/ — the only code of p11agent that speaks PKCS#11.
 *
 * A tok_ctx owns the loaded modules, their tokens and the keys found on
 * them.  Tokens and keys are reference counted so that a re-scan (SIGHUP,
 * card events) can replace the lists while worker threads still use keys
 * they looked up before.  Every function here is thread safe unless its
 * comment says otherwise; operations on one token run concurrently on a
 * bounded pool of PKCS#11 sessions.
 *
 * All functions return 0 or a negative P11A_E_* code from proto/err.h.
 * Where a struct tok_err is accepted, it is filled with a sentence that
 * names the token or key involved (never a secret).
 */
#ifndef P11AGENT_TOKENS_TOKENS_H
#define P11AGENT_TOKENS_TOKENS_H

#include <stddef.h>
#include <stdint.h>

struct tok_ctx;
struct tok_token;
struct tok_key;

/* Token flags (same bit values as the wire, docs/protocol.md). */
#define TOK_TF_LOGIN_REQUIRED 0x1u
#define TOK_TF_PROTECTED_AUTH_PATH 0x2u
#define TOK_TF_USER_PIN_COUNT_LOW 0x4u
#define TOK_TF_USER_PIN_FINAL_TRY 0x8u
#define TOK_TF_USER_PIN_LOCKED 0x10u
#define TOK_TF_USER_PIN_TO_BE_CHANGED 0x20u
#define TOK_TF_TOKEN_INITIALIZED 0x40u
#define TOK_TF_LOGGED_IN 0x80u
#define TOK_TF_PRESENT 0x100u

/* Key flags (same bit values as the wire). */
#define TOK_KF_CAN_SIGN 0x1u
#define TOK_KF_CAN_DECRYPT 0x2u
#define TOK_KF_CAN_DERIVE 0x4u
#define TOK_KF_ALWAYS_AUTHENTICATE 0x8u
#define TOK_KF_HOST_PADDING_FALLBACK 0x10u
#define TOK_KF_PRIVATE_KEY_VISIBLE 0x20u

enum tok_key_type {
	TOK_KEY_RSA = 1,
	TOK_KEY_EC = 2,
	TOK_KEY_ED25519 = 3,
};

enum tok_sign_mech {
	TOK_SIGN_RSA_PKCS1 = 1,
	TOK_SIGN_RSA_PSS = 2,
	TOK_SIGN_ECDSA = 3,
	TOK_SIGN_EDDSA = 4,
};

enum tok_hash {
	TOK_HASH_NONE = 0,
	TOK_HASH_SHA1 = 1,
	TOK_HASH_SHA224 = 2,
	TOK_HASH_SHA256 = 3,
	TOK_HASH_SHA384 = 4,
	TOK_HASH_SHA512 = 5,
};

enum tok_padding {
	TOK_PAD_PKCS1 = 1,
	TOK_PAD_OAEP = 2,
};

/* Log levels for the log hook. */
enum tok_log_level {
	TOK_LOG_ERROR = 0,
	TOK_LOG_WARNING = 1,
	TOK_LOG_INFO = 2,
	TOK_LOG_DEBUG = 3,
};

struct tok_err {
	char msg[256];
	unsigned token_flags; /* TOK_TF_* read after the failure, or 0 */
};

struct tok_config {
	/* Module paths; NULL or empty list = the p11-kit proxy. */
	const char *const *modules;
	size_t nmodules;
	/* Sessions per token; 0 = default (4). */
	unsigned pool_size;
	/*
	 * Allow RSA padding on the host over a raw CKM_RSA_X_509 operation
	 * when the token refuses a mechanism's parameters (OAEP with SHA-2
	 * or a label on SoftHSM 2.6).  On by default; such fallbacks are
	 * logged and shown in the key flags.
	 */
	int no_host_padding;
};

struct tok_sign_params {
	enum tok_sign_mech mech;
	enum tok_hash hash;      /* hash that produced the digest */
	enum tok_hash mgf1_hash; /* PSS only */
	unsigned salt_len;       /* PSS only */
};

struct tok_decrypt_params {
	enum tok_padding padding;
	enum tok_hash oaep_hash;
	enum tok_hash mgf1_hash;
	const uint8_t *label;
	size_t label_len;
};

/*
 * Sets the function that receives log lines (process wide, set once before
 * any tok_ctx exists).  NULL restores the default, which prints warnings
 * and errors to stderr.  Lines never contain PINs or key material.
 */
void tok_set_log(void (*fn)(enum tok_log_level level, const char *line),
                 enum tok_log_level max_level);

/*
 * Loads and initializes the configured modules and scans their tokens.
 * A module that fails to load is logged and skipped; it is an error only
 * when no module loads.  On success *out owns the context.
 */
int tok_ctx_new(const struct tok_config *cfg, struct tok_ctx **out);

/* Logs out, closes every session, finalizes the modules.  NULL is a no-op. */
void tok_ctx_free(struct tok_ctx *ctx);

/*
 * Re-reads slots, tokens and objects.  Tokens still present keep their
 * sessions and login state; removed ones are marked absent.
 */
int tok_ctx_rescan(struct tok_ctx *ctx);

/*
 * Rescans only when the set of tokens changed (a card inserted, removed or
 * swapped) or the last scan is max_age_ms old; otherwise the lists stay.
 */
int tok_ctx_refresh(struct tok_ctx *ctx, unsigned max_age_ms);

/*
 * Takes a snapshot of the current tokens / keys: *out is a malloc'ed array
 * of new references that the caller releases with tok_token_list_free /
 * tok_key_list_free.
 */
int tok_ctx_tokens(struct tok_ctx *ctx, struct tok_token ***out, size_t *n);
int tok_ctx_keys(struct tok_ctx *ctx, struct tok_key ***out, size_t *n);
void tok_token_list_free(struct tok_token **list, size_t n);
void tok_key_list_free(struct tok_key **list, size_t n);

/*
 * Finds a token by RFC 7512 URI ("pkcs11:token=…") or plain label, or the
 * only token when spec is NULL or empty and exactly one exists.  *out is a
 * new reference.  P11A_E_TOKEN_ABSENT when none matches, P11A_E_ARGS when
 * several do.
 */
int tok_ctx_find_token(struct tok_ctx *ctx, const char *spec,
                       struct tok_token **out, struct tok_err *err);

/*
 * Finds a key by RFC 7512 URI (any subset of token/object/id/type
 * attributes; the first match in scan order wins).  *out is a new
 * reference.  P11A_E_KEY_NOT_FOUND when nothing matches.
 */
int tok_ctx_find_key(struct tok_ctx *ctx, const char *uri, struct tok_key **out,
                     struct tok_err *err);

/* Reference counting; _free(NULL) is a no-op. */
struct tok_token *tok_token_up(struct tok_token *t);
void tok_token_free(struct tok_token *t);
struct tok_key *tok_key_up(struct tok_key *k);
void tok_key_free(struct tok_key *k);

/* Token properties (borrowed strings, valid while the reference is held). */
const char *tok_token_get0_uri(const struct tok_token *t);
const char *tok_token_get0_label(const struct tok_token *t);
const char *tok_token_get0_manufacturer(const struct tok_token *t);
const char *tok_token_get0_model(const struct tok_token *t);
const char *tok_token_get0_serial(const struct tok_token *t);
/* Current TOK_TF_* flags, read fresh from the token (C_GetTokenInfo). */
unsigned tok_token_flags(struct tok_token *t);
/* Flags as last read by any call: no token I/O, safe on an event loop. */
unsigned tok_token_cached_flags(const struct tok_token *t);
int tok_token_is_logged_in(const struct tok_token *t);

/*
 * Logs the user in with the PIN (pin_len 0 and a token with a protected
 * authentication path: the PIN is entered on the reader).  Exactly one
 * C_Login is made: a wrong PIN is never retried.  On P11A_E_PIN_INCORRECT
 * err carries the token's count flags.  The PIN is copied only when a key
 * on the token needs a context-specific login, into locked memory that is
 * wiped at logout.  The caller wipes its own copy.
 */
int tok_token_login(struct tok_token *t, const char *pin, size_t pin_len,
                    struct tok_err *err);

/* Logs out (C_Logout) and wipes any kept PIN.  Not logged in is not an error.
 */
int tok_token_logout(struct tok_token *t);

/* Key properties (borrowed, valid while the reference is held). */
const char *tok_key_get0_uri(const struct tok_key *k);
const char *tok_key_get0_label(const struct tok_key *k);
struct tok_token *tok_key_get0_token(const struct tok_key *k);
enum tok_key_type tok_key_type(const struct tok_key *k);
unsigned tok_key_bits(const struct tok_key *k);
/* "prime256v1", "secp384r1", "secp521r1", or "" for RSA. */
const char *tok_key_get0_curve(const struct tok_key *k);
unsigned tok_key_flags(const struct tok_key *k);
const uint8_t *tok_key_get0_cert_der(const struct tok_key *k, size_t *len);
/* E-mail addresses from the certificate (SAN rfc822Name, else subject). */
size_t tok_key_email_count(const struct tok_key *k);
const char *tok_key_get0_email(const struct tok_key *k, size_t i);
/* RSA public components, unsigned big endian; P11A_E_KEY_TYPE otherwise. */
int tok_key_get0_rsa_public(const struct tok_key *k, const uint8_t **n,
                            size_t *n_len, const uint8_t **e, size_t *e_len);
/* EC public point, uncompressed octets; P11A_E_KEY_TYPE otherwise. */
int tok_key_get0_ec_point(const struct tok_key *k, const uint8_t **q,
                          size_t *q_len);
/* Size of a signature / decrypt output buffer sufficient for this key. */
size_t tok_key_max_output(const struct tok_key *k);

/*
 * Signs a digest (the hash value, hash given in params).  For RSA PKCS#1
 * v1.5 the DigestInfo is built here; with TOK_HASH_NONE the bytes are
 * signed as given.  ECDSA signatures come as raw r||s.  *sig_len is the
 * buffer size on entry (tok_key_max_output is enough) and the signature
 * length on success.
 */
int tok_key_sign(struct tok_key *k, const struct tok_sign_params *params,
                 const uint8_t *digest, size_t digest_len, uint8_t *sig,
                 size_t *sig_len, struct tok_err *err);

/*
 * Decrypts RSA ciphertext.  The plaintext is a secret: the caller wipes
 * it.  P11A_E_DECRYPT when the ciphertext does not decrypt with this key.
 */
int tok_key_decrypt(struct tok_key *k, const struct tok_decrypt_params *p,
                    const uint8_t *ct, size_t ct_len, uint8_t *pt,
                    size_t *pt_len, struct tok_err *err);

/*
 * ECDH (CKM_ECDH1_DERIVE, no KDF): the raw shared secret (x coordinate)
 * with the peer's uncompressed public point.  The secret is the caller's
 * to wipe; the temporary token object is destroyed before returning.
 */
int tok_key_derive(struct tok_key *k, const uint8_t *peer, size_t peer_len,
                   uint8_t *secret, size_t *secret_len, struct tok_err *err);

/*
 * Token administration (p11 import / keygen).  Each returns 0 or a
 * P11A_E_*; the caller rescans afterwards to see the new objects.
 *
 * tok_token_import_key stores a private key (PKCS#8 DER, a secret the
 * caller wipes) as a sensitive, never-extractable token object, its
 * public key, and its certificate (DER, may be empty) under one new
 * CKA_ID and the label; chain certificates (DER each) are stored as CA
 * certificates without a key.  The CKA_ID is the SHA-1 of the public
 * key, as most card tools make it.  *uri_out (caller frees) names the key.
 */
int tok_token_import_key(struct tok_token *t, const uint8_t *pkcs8,
                         size_t pkcs8_len, const uint8_t *cert, size_t cert_len,
                         const uint8_t *const *chain, const size_t *chain_lens,
                         size_t nchain, const char *label, char **uri_out,
                         struct tok_err *err);

/*
 * Generates a key pair on the token: type TOK_KEY_RSA with bits 2048,
 * 3072 or 4096, or TOK_KEY_EC with bits 256 or 384.  The private key is
 * sensitive and never extractable.  *uri_out (caller frees) names it.
 */
int tok_token_generate_key(struct tok_token *t, enum tok_key_type type,
                           unsigned bits, const char *label, char **uri_out,
                           struct tok_err *err);

/*
 * Stores a certificate (DER) next to the token key with the same public
 * key, under that key's CKA_ID and label.  P11A_E_KEY_NOT_FOUND when no
 * key on the token matches; P11A_E_ALREADY when that certificate is
 * already there.
 */
int tok_ctx_attach_cert(struct tok_ctx *ctx, const uint8_t *cert,
                        size_t cert_len, char **key_uri_out,
                        struct tok_err *err);

/* Hashes data with OpenSSL; *out_len is the buffer size on entry. */
int tok_hash(enum tok_hash hash, const uint8_t *data, size_t len, uint8_t *out,
             size_t *out_len);

/* Digest length of a hash, 0 for TOK_HASH_NONE or unknown. */
size_t tok_hash_len(enum tok_hash hash);

/* Default module: the p11-kit proxy. */
const char *tok_default_module(void);

#endif
