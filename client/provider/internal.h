/*
 * Declarations private to the p11agent provider (client/provider/).
 *
 * Inside the provider, functions return int: 0 or a negative
 * P11AGENT_E_* code of libp11agent, with a sentence in a struct p11a_why
 * when there is more to say.  Only the functions OpenSSL calls through the
 * dispatch tables speak OpenSSL's 1/0, and they turn a failure into an
 * error-queue entry with P11A_REPORT() on their way out.
 */
#ifndef P11AGENT_PROVIDER_INTERNAL_H
#define P11AGENT_PROVIDER_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

#include "p11agent.h"

/* Property of every algorithm this provider offers. */
#define P11A_PROPS "provider=p11agent"

/*
 * Property query for work done outside this provider: digests, the X9.63
 * KDF and public-key operations on a public copy of a key.
 */
#define P11A_SOFT_PROPQ "provider!=p11agent"

/*
 * Operation names only this provider implements.  Our key management
 * answers query_operation_name() with them, so that OpenSSL sends the
 * operations on our keys here and never to another provider's "RSA" or
 * "EC" implementation (which would only find a public key).
 */
#define P11A_ALG_RSA "P11AGENT-RSA"
#define P11A_ALG_ECDSA "P11AGENT-ECDSA"
#define P11A_ALG_ECDH "P11AGENT-ECDH"

/* Longest sentence kept with a failure, NUL included. */
#define P11A_WHY_MAX 320

/* Why an internal function failed, for the error queue; never a secret. */
struct p11a_why {
	char msg[P11A_WHY_MAX];
};

/* The provider context: read-only after p11a_prov_init(). */
struct p11a_prov {
	const OSSL_CORE_HANDLE *handle;
	OSSL_LIB_CTX *libctx; /* child of the application's context */
	char *socket;         /* configured socket path, or NULL */
	OSSL_FUNC_core_new_error_fn *new_error;
	OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
	OSSL_FUNC_core_vset_error_fn *vset_error;
};

/* prov.c */

/*
 * The provider's init function, shared by OSSL_provider_init() of the
 * module and by the built-in registration.  OpenSSL's 1/0.
 */
int p11a_prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                   const OSSL_DISPATCH **out, void **provctx);

/* err.c */

/*
 * Sets why to the printf-formatted sentence and returns code, so that a
 * failure reads `return p11a_why_set(why, P11AGENT_E_ARGS, "...");`.
 * why may be NULL.
 */
int p11a_why_set(struct p11a_why *why, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The dispatch boundary: returns 1 when code is 0; else puts an error
 * with reason -code (the sentences of p11agent_strerror()) and why's
 * sentence (when set) on OpenSSL's error queue and returns 0.
 */
int p11a_report(const struct p11a_prov *prov, int code,
                const struct p11a_why *why, const char *file, int line,
                const char *func);
#define P11A_REPORT(prov, code, why)                                           \
	p11a_report((prov), (code), (why), OPENSSL_FILE, OPENSSL_LINE,         \
	            OPENSSL_FUNC)

/* The reason strings the core asks for (get_reason_strings). */
const OSSL_ITEM *p11a_reason_strings(void);

/* agent.c: one connection per request, so nothing is shared by threads. */

int p11a_agent_list(const struct p11a_prov *prov, struct p11agent_list **out,
                    struct p11a_why *why);
int p11a_agent_sign(const struct p11a_prov *prov, const char *uri,
                    uint32_t mech, uint32_t hash, uint32_t mgf1_hash,
                    uint32_t salt_len, const uint8_t *digest, size_t digest_len,
                    uint8_t *sig, size_t *sig_len, struct p11a_why *why);
/* pt and secret are secrets: callers wipe them. */
int p11a_agent_decrypt(const struct p11a_prov *prov, const char *uri,
                       uint32_t padding, uint32_t oaep_hash, uint32_t mgf1_hash,
                       const uint8_t *label, size_t label_len,
                       const uint8_t *ct, size_t ct_len, uint8_t *pt,
                       size_t *pt_len, struct p11a_why *why);
int p11a_agent_derive(const struct p11a_prov *prov, const char *uri,
                      const uint8_t *point, size_t point_len, uint8_t *secret,
                      size_t *secret_len, struct p11a_why *why);

/* hash.c */

/*
 * Fetches the digest name (props: extra property query, may be NULL) for
 * use with the agent: SHA-1 or SHA-2.  *out is a new EVP_MD.  Returns 0,
 * P11AGENT_E_MECH_UNSUPPORTED or P11AGENT_E_NOMEM.
 */
int p11a_md_fetch(const struct p11a_prov *prov, const char *name,
                  const char *props, EVP_MD **out, struct p11a_why *why);

/* Fetches the SHA digest whose output is len bytes (20..64), or NULL. */
EVP_MD *p11a_md_for_size(const struct p11a_prov *prov, size_t len);

/* The agent's P11AGENT_HASH_* for md; P11AGENT_HASH_NONE for NULL. */
uint32_t p11a_md_hash(const EVP_MD *md);

/*
 * Fetches the digest named by the string parameter key of params, with
 * the property query in props_key when that is there, through
 * p11a_md_fetch(), and puts it in *md in place of the one there (freed).
 * *md is left alone when params has no key or on failure.  Returns 0,
 * P11AGENT_E_FORMAT or an error of p11a_md_fetch().
 */
int p11a_param_md(const struct p11a_prov *prov, const OSSL_PARAM params[],
                  const char *key, const char *props_key, EVP_MD **md,
                  struct p11a_why *why);

/* params.c: OSSL_PARAM helpers shared by the operation contexts. */

/* A number and the name EVP_PKEY_CTX_ctrl_str() gives it. */
struct p11a_named {
	int value;
	const char *name;
};

/* The RSA padding modes (RSA_*_PADDING) by name; ends with a NULL name. */
extern const struct p11a_named p11a_rsa_pad_names[];

/*
 * Reads p, an int or a string that names a value in names (ended by a
 * NULL name), into *value.  A string that names nothing leaves *value
 * alone and is handed back in *other (when other is not NULL) for the
 * caller to read; *other is NULL otherwise.  Returns 0 or
 * P11AGENT_E_FORMAT.
 */
int p11a_param_get_named(const OSSL_PARAM *p, const struct p11a_named *names,
                         int *value, const char **other);

/*
 * Writes value to p: as an int, or into a string parameter as its name in
 * names (its decimal digits when it has none).  Returns 0 or
 * P11AGENT_E_ARGS (p does not take it).
 */
int p11a_param_set_named(OSSL_PARAM *p, const struct p11a_named *names,
                         int value);

/*
 * Replaces *buf (OPENSSL_free()d) with a copy of the octet string p, *len
 * bytes.  Returns 0 or P11AGENT_E_FORMAT, leaving *buf alone.
 */
int p11a_param_get_octets(const OSSL_PARAM *p, uint8_t **buf, size_t *len);

/* key.c */

enum p11a_kind {
	P11A_KIND_RSA = 1,
	P11A_KIND_RSA_PSS = 2, /* an RSA key whose certificate says PSS only */
	P11A_KIND_EC = 3,
};

/*
 * A key as OpenSSL sees it.  With uri set it names a private key on a
 * token, reached through the agent; without, it is a public key that
 * OpenSSL imported (a certificate's key for EVP_PKEY_eq(), an ECDH peer).
 * The public part is always held here, never anything private.  Keys are
 * reference counted: OpenSSL, the store and operation contexts each hold
 * one reference.  Immutable once handed out, apart from set_params on
 * public-only keys.
 */
struct p11a_key {
	struct p11a_prov *prov;
	atomic_int refs;
	enum p11a_kind kind;
	char *uri;          /* the private key, or NULL */
	char *label;        /* description for OSSL_STORE, or NULL */
	uint32_t key_flags; /* P11AGENT_KEY_* of the list reply */
	int bits;           /* modulus or field size; 0 when unknown */
	BIGNUM *n, *e;      /* RSA */
	int nid;            /* EC curve, NID_undef when unset */
	uint8_t *point;     /* EC public point, uncompressed */
	size_t point_len;
};

/* A new empty key with one reference, or NULL. */
struct p11a_key *p11a_key_new(struct p11a_prov *prov, enum p11a_kind kind);

/* Takes one more reference.  Returns k. */
struct p11a_key *p11a_key_up_ref(struct p11a_key *k);

/* Drops one reference; the last frees.  NULL is a no-op. */
void p11a_key_free(struct p11a_key *k);

/*
 * A new key with the parts of k in selection (OSSL_KEYMGMT_SELECT_*):
 * the private part is the URI.  NULL when out of memory.
 */
struct p11a_key *p11a_key_dup(const struct p11a_key *k, int selection);

/* Whether the public key (RSA n and e, EC point) is known. */
int p11a_key_has_public(const struct p11a_key *k);

/* Sets the RSA public key (copies).  Returns 0 or a P11AGENT_E_* code. */
int p11a_key_set_rsa(struct p11a_key *k, const BIGNUM *n, const BIGNUM *e,
                     struct p11a_why *why);

/*
 * Sets the curve (nid) and, when point is not NULL, the public point in
 * any encoding: it must lie on the curve and is kept uncompressed.
 * Returns 0, P11AGENT_E_FORMAT, P11AGENT_E_MECH_UNSUPPORTED (curve) or
 * P11AGENT_E_NOMEM.
 */
int p11a_key_set_ec(struct p11a_key *k, int nid, const uint8_t *point,
                    size_t point_len, struct p11a_why *why);

/* 1 when a and b have the same public key (and curve), else 0. */
int p11a_key_public_eq(const struct p11a_key *a, const struct p11a_key *b);

/* Bytes of an RSA modulus or an EC field element. */
size_t p11a_key_size(const struct p11a_key *k);

/* Largest signature: RSA modulus size, or a DER ECDSA-Sig-Value. */
size_t p11a_key_max_sig(const struct p11a_key *k);

int p11a_key_security_bits(const struct p11a_key *k);

/* "RSA", "RSA-PSS" or "EC": the key type in OpenSSL's names. */
const char *p11a_key_type_name(const struct p11a_key *k);

/* Maps a curve name ("prime256v1", "P-256", "secp384r1") to a NID. */
int p11a_curve_nid(const char *name);

/* keyload.c */

/*
 * Makes a key from an entry of the agent's list: the URI, and the public
 * key from the certificate (else the SSH key blob).  Returns 0,
 * P11AGENT_E_KEY_TYPE for key types the provider does not handle
 * (Ed25519), P11AGENT_E_FORMAT or P11AGENT_E_NOMEM.
 */
int p11a_key_from_agent(struct p11a_prov *prov, const struct p11agent_key *ak,
                        struct p11a_key **out, struct p11a_why *why);

/* keyparams.c: the OSSL_PARAM side of key management. */

/*
 * Imports public parts.  Private parts (RSA d or factors, an EC private
 * scalar) are refused with P11AGENT_E_KEY_TYPE: private keys stay on
 * tokens, and refusing makes OpenSSL keep software keys in their own
 * provider.
 */
int p11a_key_import(struct p11a_key *k, int selection,
                    const OSSL_PARAM params[], struct p11a_why *why);

/*
 * Exports the public parts through cb.  Fails when selection asks for the
 * private key of a token key: OpenSSL then keeps the operations here.
 */
int p11a_key_export(const struct p11a_key *k, int selection, OSSL_CALLBACK *cb,
                    void *cbarg, struct p11a_why *why);

/* Answers the parameters of EVP_PKEY_get_params() that are in params. */
int p11a_key_get_params(const struct p11a_key *k, OSSL_PARAM params[],
                        struct p11a_why *why);

/* Sets the public point of a public-only EC key (ENCODED_PUBLIC_KEY). */
int p11a_key_set_params(struct p11a_key *k, const OSSL_PARAM params[],
                        struct p11a_why *why);

const OSSL_PARAM *p11a_key_import_types(enum p11a_kind kind, int selection);
const OSSL_PARAM *p11a_key_gettable(enum p11a_kind kind);
const OSSL_PARAM *p11a_key_settable(enum p11a_kind kind);

/* soft.c */

/*
 * A copy of k's public key in another provider (property query
 * P11A_SOFT_PROPQ), for verify and encrypt.  *out is a new EVP_PKEY.
 */
int p11a_key_soft(const struct p11a_key *k, EVP_PKEY **out,
                  struct p11a_why *why);

/* uri.c: RFC 7512 matching through p11-kit. */

struct p11a_uri;

/*
 * Parses a "pkcs11:" URI as a query.  Returns 0 or P11AGENT_E_ARGS (not a
 * valid URI) / P11AGENT_E_NOMEM.
 */
int p11a_uri_parse(const char *text, struct p11a_uri **out,
                   struct p11a_why *why);
void p11a_uri_free(struct p11a_uri *u);

/*
 * 1 when the key named by key_uri (from the agent's list) matches u's
 * token and object attributes, ignoring u's type=; else 0.
 */
int p11a_uri_match_key(const struct p11a_uri *u, const char *key_uri);

enum p11a_uri_type {
	P11A_URI_ANY = 0,
	P11A_URI_PRIVATE,
	P11A_URI_PUBLIC,
	P11A_URI_CERT,
	P11A_URI_OTHER, /* secret keys, data objects: nothing of ours */
};

/* The object class u asks for with type=. */
enum p11a_uri_type p11a_uri_type(const struct p11a_uri *u);

/* algid.c: AlgorithmIdentifier DER for OSSL_SIGNATURE_PARAM_ALGORITHM_ID */

/* sha256WithRSAEncryption and friends, parameters NULL. */
int p11a_algid_rsa_pkcs1(const EVP_MD *md, uint8_t **der, size_t *len);

/* id-RSASSA-PSS with RSASSA-PSS-params (RFC 4055), defaults omitted. */
int p11a_algid_rsa_pss(const EVP_MD *md, const EVP_MD *mgf1, int saltlen,
                       uint8_t **der, size_t *len);

/* ecdsa-with-SHA256 and friends, parameters absent (RFC 5758). */
int p11a_algid_ecdsa(const EVP_MD *md, uint8_t **der, size_t *len);

/* ecsig.c */

/* Size of the longest DER ECDSA-Sig-Value for a field of field_len bytes. */
size_t p11a_ecdsa_der_max(size_t field_len);

/*
 * Converts the agent's r||s into a DER ECDSA-Sig-Value in der (der_size
 * bytes), *der_len its length.  Returns 0, P11AGENT_E_FORMAT or
 * P11AGENT_E_ARGS (der too small).
 */
int p11a_ecdsa_raw_to_der(const uint8_t *rs, size_t rs_len, uint8_t *der,
                          size_t der_size, size_t *der_len);

/* Dispatch tables. */
extern const OSSL_DISPATCH p11a_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH p11a_rsapss_keymgmt_functions[];
extern const OSSL_DISPATCH p11a_ec_keymgmt_functions[];
extern const OSSL_DISPATCH p11a_rsa_signature_functions[];
extern const OSSL_DISPATCH p11a_ecdsa_signature_functions[];
extern const OSSL_DISPATCH p11a_rsa_asym_cipher_functions[];
extern const OSSL_DISPATCH p11a_ecdh_keyexch_functions[];
extern const OSSL_DISPATCH p11a_store_functions[];

/*
 * The key p11a_provider_load_listed_key() hands the store on this thread
 * (the caller's own list entry), or NULL: the store then asks the agent.
 *
 * Initial-exec: the provider is always in a dlopen()ed object (OpenSSL's
 * module, p11's command module), and the default model would give it
 * dynamic TLS, which GCC 12's LeakSanitizer misreads at exit ("Tracer
 * caught signal 11", DTLS at a bogus address).  One pointer fits in the
 * static TLS glibc keeps for dlopen()ed objects.
 */
#define P11A_TLS_IE __attribute__((tls_model("initial-exec")))
extern _Thread_local P11A_TLS_IE const struct p11agent_key *p11a_store_hint;

#endif
