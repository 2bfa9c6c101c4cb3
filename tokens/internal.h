/*
 * Private declarations of tokens/.  Nothing outside tokens/ includes this.
 */
#ifndef P11AGENT_TOKENS_INTERNAL_H
#define P11AGENT_TOKENS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "tokens/tokens.h"

struct tok_module {
	char *path;
	CK_FUNCTION_LIST *fl;
};

/*
 * A bounded pool of sessions on one token.  A worker takes one session for
 * one operation and gives it back; it never holds two.
 */
struct tok_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	CK_SESSION_HANDLE *idle; /* sessions ready for use */
	size_t nidle;
	size_t nopen; /* idle + lent out */
	size_t max;
};

struct tok_token {
	atomic_uint refs;
	struct tok_module *mod; /* borrowed from the ctx, outlives tokens */
	CK_SLOT_ID slot;
	char *uri;
	char label[33];
	char manufacturer[33];
	char model[17];
	char serial[17];
	atomic_ulong ck_flags; /* from the last C_GetTokenInfo */
	atomic_int present;
	atomic_int logged_in;
	int no_host_padding;           /* copied from the ctx config */
	atomic_int host_padding_used;  /* a fallback ran on this token */
	atomic_int oaep_label_on_host; /* the token mishandles OAEP labels */
	/* Only when a key on this token needs a context-specific login. */
	pthread_mutex_t pin_lock;
	char *kept_pin;
	size_t kept_pin_len;
	struct tok_pool pool;
};

struct tok_key {
	atomic_uint refs;
	struct tok_token *token; /* reference */
	char *uri;
	char *label;
	uint8_t *id;
	size_t id_len;
	enum tok_key_type type;
	unsigned bits;
	char curve[16];
	atomic_uint flags;
	uint8_t *cert_der;
	size_t cert_der_len;
	int cert_is_ca; /* a CA certificate: not a key of its own */
	char **emails;
	size_t nemails;
	uint8_t *rsa_n, *rsa_e, *ec_point;
	size_t rsa_n_len, rsa_e_len, ec_point_len;
	/* Cached private key handle; CK_INVALID_HANDLE = look it up. */
	atomic_ulong handle;
	/* Set once the host-padding fallback was used, for one log line. */
	atomic_int fallback_logged;
};

struct tok_ctx {
	struct tok_module *mods;
	size_t nmods;
	unsigned pool_size;
	int no_host_padding;
	pthread_rwlock_t lock;     /* guards the two lists */
	pthread_mutex_t scan_lock; /* one rescan at a time */
	struct tok_token **tokens;
	size_t ntokens;
	struct tok_key **keys;
	size_t nkeys;
	uint64_t scan_sig;      /* slots and tokens the last scan saw */
	uint64_t scanned_at_ms; /* CLOCK_MONOTONIC of the last scan */
};

/* ck.c — the one wrapper around Cryptoki calls. */
int tok_ck_map(CK_RV rv);
const char *tok_ck_name(CK_RV rv);
/* Logs a failed call (at debug for expected results) and maps it. */
int tok_ck_fail(const char *fn, CK_RV rv, const char *context);
void tok_log(enum tok_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tok_errf(struct tok_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Copies a blank-padded PKCS#11 string field and trims it. */
void tok_ck_string(char *dst, size_t dst_size, const CK_UTF8CHAR *src,
                   size_t src_len);
/* Reads one variable-length attribute into a new buffer. */
int tok_ck_get_attr(struct tok_token *t, CK_SESSION_HANDLE s,
                    CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, uint8_t **val,
                    size_t *len);
int tok_ck_get_bool(struct tok_token *t, CK_SESSION_HANDLE s,
                    CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, int *val);
unsigned tok_ck_token_flags(CK_FLAGS f);

/* module.c */
int tok_modules_load(struct tok_ctx *ctx, const struct tok_config *cfg);
void tok_modules_unload(struct tok_ctx *ctx);

/* pool.c */
int tok_pool_init(struct tok_pool *p, size_t max);
void tok_pool_cleanup(struct tok_pool *p, CK_FUNCTION_LIST *fl);
/* Lends a session (opening one if the pool is not full, else waiting). */
int tok_pool_get(struct tok_token *t, CK_SESSION_HANDLE *out);
/* Returns a session; broken = close it instead (device gone, handle bad). */
void tok_pool_put(struct tok_token *t, CK_SESSION_HANDLE s, int broken);
/* True when rv means the session can't be used again. */
int tok_pool_rv_breaks(CK_RV rv);

/* token.c */
struct tok_token *tok_token_new(struct tok_module *mod, CK_SLOT_ID slot,
                                const CK_TOKEN_INFO *info, unsigned pool_size);
int tok_token_read_info(struct tok_token *t, CK_TOKEN_INFO *info);

/* key.c / scan.c */
struct tok_key *tok_key_new(struct tok_token *t);
int tok_key_set_cert(struct tok_key *k, const uint8_t *der, size_t len);
/* Sets the public half (type, bits, curve, n/e or point) from an EVP_PKEY. */
struct evp_pkey_st;
int tok_key_set_public(struct tok_key *k, struct evp_pkey_st *pk);
int tok_key_make_uri(struct tok_key *k);
int tok_scan_token_keys(struct tok_token *t, struct tok_key ***keys,
                        size_t *nkeys);
/* Finds the private key object for k on session s (cached). */
int tok_key_handle(struct tok_key *k, CK_SESSION_HANDLE s,
                   CK_OBJECT_HANDLE *out);
void tok_key_forget_handle(struct tok_key *k);
/* Context-specific login right after an operation's *Init, when needed. */
int tok_key_context_login(struct tok_key *k, CK_SESSION_HANDLE s,
                          struct tok_err *err);

/* uri.c */
char *tok_uri_for_token(const CK_TOKEN_INFO *info);
char *tok_uri_for_key(const struct tok_token *t, const uint8_t *id,
                      size_t id_len, const char *label);
int tok_uri_match_token(const char *uri, const struct tok_token *t);
int tok_uri_match_key(const char *uri, const struct tok_key *k);

/* hostpad.c — RSA padding on the host over a raw operation. */
int tok_hostpad_oaep_unpad(const struct tok_decrypt_params *p,
                           unsigned mod_bytes, const uint8_t *em, size_t em_len,
                           uint8_t *out, size_t *out_len);
int tok_hostpad_pss_pad(const struct tok_sign_params *p,
                        const struct tok_key *k, const uint8_t *digest,
                        size_t digest_len, uint8_t *em, size_t em_len);
const void *tok_hash_md(enum tok_hash h); /* EVP_MD * */
CK_MECHANISM_TYPE tok_hash_ckm(enum tok_hash h);
CK_RSA_PKCS_MGF_TYPE tok_hash_mgf(enum tok_hash h);

#endif
