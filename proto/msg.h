/*
 * Messages of the agent protocol: the SSH agent messages p11agent speaks
 * and the p11agent extensions.  docs/protocol.md documents every byte.
 *
 * Encoders append one whole frame ("uint32 length | byte type | payload")
 * to a struct proto_writer and return 0 or its sticky error; after an
 * error call proto_writer_reset() before reusing the writer.
 *
 * Decoders take a frame body (the bytes after the length: type byte and
 * payload, as proto_frame_check() delimits them), parse all of it and fail
 * with P11A_E_FORMAT on anything malformed, including trailing bytes.
 * Decoded strings and text are views into the body: they are valid only
 * as long as the caller keeps the body, and decoding never copies them.
 * Bodies that carry secrets (lock/unlock passphrases, login PINs, decrypt
 * and derive replies) must be wiped by the caller when done, e.g. with
 * p11a_secret_free(body, len); the views into them die with the wipe.
 * Every decoder zeroes its out-parameters on entry and fills them only
 * on success.  Decoders do not range-check enum values (mechanism, hash,
 * padding, key type...): new values stay decodable and the agent answers
 * them with P11A_E_MECH_UNSUPPORTED or P11A_E_ARGS.
 *
 * Reply decoders also recognise failure replies.  They then return the
 * failure's code (a negative P11A_E_*) and, when fail is not NULL, fill
 * *fail; fail->code is 0 whenever the return value did not come from the
 * agent (decode errors such as P11A_E_FORMAT), so callers can tell "the
 * agent said no" from "the reply was garbage".
 */
#ifndef P11AGENT_PROTO_MSG_H
#define P11AGENT_PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"

/* Message type numbers (RFC 9987 / draft-miller-ssh-agent). */
enum proto_msg_type {
	PROTO_SSH_AGENT_FAILURE = 5,
	PROTO_SSH_AGENT_SUCCESS = 6,
	PROTO_SSH_AGENTC_REQUEST_IDENTITIES = 11,
	PROTO_SSH_AGENT_IDENTITIES_ANSWER = 12,
	PROTO_SSH_AGENTC_SIGN_REQUEST = 13,
	PROTO_SSH_AGENT_SIGN_RESPONSE = 14,
	/* Key management for soft keys: answered with SSH_AGENT_FAILURE. */
	PROTO_SSH_AGENTC_ADD_IDENTITY = 17,
	PROTO_SSH_AGENTC_REMOVE_IDENTITY = 18,
	PROTO_SSH_AGENTC_REMOVE_ALL_IDENTITIES = 19,
	PROTO_SSH_AGENTC_ADD_SMARTCARD_KEY = 20,
	PROTO_SSH_AGENTC_REMOVE_SMARTCARD_KEY = 21,
	PROTO_SSH_AGENTC_LOCK = 22,
	PROTO_SSH_AGENTC_UNLOCK = 23,
	PROTO_SSH_AGENTC_ADD_ID_CONSTRAINED = 25,
	PROTO_SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED = 26,
	PROTO_SSH_AGENTC_EXTENSION = 27,
	PROTO_SSH_AGENT_EXTENSION_FAILURE = 28,
	PROTO_SSH_AGENT_EXTENSION_RESPONSE = 29,
};

/* Flags of SSH_AGENTC_SIGN_REQUEST. */
enum proto_sign_flag {
	PROTO_SSH_AGENT_RSA_SHA2_256 = 0x02,
	PROTO_SSH_AGENT_RSA_SHA2_512 = 0x04,
};

/* Extensions, by name (SSH_AGENTC_EXTENSION). */
enum proto_ext {
	PROTO_EXT_UNKNOWN = 0, /* a name this build does not know */
	PROTO_EXT_QUERY,       /* "query" */
	PROTO_EXT_LIST,        /* "list@p11agent" */
	PROTO_EXT_SIGN_DIGEST, /* "sign-digest@p11agent" */
	PROTO_EXT_DECRYPT,     /* "decrypt@p11agent" */
	PROTO_EXT_DERIVE,      /* "derive@p11agent" */
	PROTO_EXT_LOGIN,       /* "login@p11agent" */
	PROTO_EXT_LOGOUT,      /* "logout@p11agent" */
	PROTO_EXT_STATUS,      /* "status@p11agent" */
	PROTO_EXT_IMPORT,      /* "import@p11agent" */
	PROTO_EXT_KEYGEN,      /* "keygen@p11agent" */
	PROTO_EXT_ATTACH_CERT, /* "attach-cert@p11agent" */
};

/* One more than the last known enum proto_ext value. */
#define PROTO_EXT_COUNT (PROTO_EXT_ATTACH_CERT + 1)

/* Token flags (list and status replies). */
enum proto_token_flag {
	PROTO_TOKEN_LOGIN_REQUIRED = 1u << 0,
	PROTO_TOKEN_PROTECTED_AUTH_PATH = 1u << 1,
	PROTO_TOKEN_USER_PIN_COUNT_LOW = 1u << 2,
	PROTO_TOKEN_USER_PIN_FINAL_TRY = 1u << 3,
	PROTO_TOKEN_USER_PIN_LOCKED = 1u << 4,
	PROTO_TOKEN_USER_PIN_TO_BE_CHANGED = 1u << 5,
	PROTO_TOKEN_INITIALIZED = 1u << 6,
	PROTO_TOKEN_LOGGED_IN = 1u << 7,
	PROTO_TOKEN_PRESENT = 1u << 8,
};

/* Key types (list reply). */
enum proto_key_type {
	PROTO_KEY_RSA = 1,
	PROTO_KEY_EC = 2,
	PROTO_KEY_ED25519 = 3,
};

/* Key flags (list reply). */
enum proto_key_flag {
	PROTO_KEY_CAN_SIGN = 1u << 0,
	PROTO_KEY_CAN_DECRYPT = 1u << 1,
	PROTO_KEY_CAN_DERIVE = 1u << 2,
	PROTO_KEY_ALWAYS_AUTHENTICATE = 1u << 3,
	PROTO_KEY_HOST_PADDING_FALLBACK = 1u << 4,
	PROTO_KEY_PRIVATE_KEY_VISIBLE = 1u << 5,
};

/* Signature mechanisms (sign-digest). */
enum proto_mech {
	PROTO_MECH_RSA_PKCS1 = 1,
	PROTO_MECH_RSA_PSS = 2,
	PROTO_MECH_ECDSA = 3,
	PROTO_MECH_EDDSA = 4,
};

/* Hash algorithms (sign-digest, decrypt). */
enum proto_hash {
	PROTO_HASH_NONE = 0,
	PROTO_HASH_SHA1 = 1,
	PROTO_HASH_SHA224 = 2,
	PROTO_HASH_SHA256 = 3,
	PROTO_HASH_SHA384 = 4,
	PROTO_HASH_SHA512 = 5,
};

/* RSA decryption paddings (decrypt). */
enum proto_padding {
	PROTO_PADDING_PKCS1 = 1,
	PROTO_PADDING_OAEP = 2,
};

/* Agent flags (status reply). */
enum proto_agent_flag {
	PROTO_AGENT_LOCKED = 1u << 0,
};

/*
 * Maps an extension name to its kind; unknown names (and names with a
 * NUL) give PROTO_EXT_UNKNOWN.
 */
enum proto_ext proto_ext_from_name(struct proto_text name);

/* Returns the wire name of a kind, or NULL for PROTO_EXT_UNKNOWN. */
const char *proto_ext_name(enum proto_ext ext);

/*
 * Returns the digest size in bytes of a PROTO_HASH_* value, or 0 for
 * PROTO_HASH_NONE and unknown values.
 */
size_t proto_hash_size(uint32_t hash);

/* Requests (the client encodes, the agent decodes). */

/* SSH_AGENTC_SIGN_REQUEST. */
struct proto_sign_request {
	struct proto_bytes key_blob; /* SSH public key blob */
	struct proto_bytes data;     /* data to sign */
	uint32_t flags;              /* PROTO_SSH_AGENT_RSA_SHA2_* */
};

/* SSH_AGENTC_LOCK and SSH_AGENTC_UNLOCK. */
struct proto_lock_request {
	struct proto_text passphrase; /* secret */
};

/* sign-digest@p11agent. */
struct proto_sign_digest_request {
	struct proto_text key_uri; /* RFC 7512 pkcs11: URI */
	uint32_t mechanism;        /* enum proto_mech */
	uint32_t hash;             /* enum proto_hash of the digest */
	uint32_t mgf1_hash;        /* RSA_PSS only, else 0 */
	uint32_t salt_len;         /* RSA_PSS only, else 0 */
	struct proto_bytes digest; /* hash value (or raw input, see docs) */
};

/* decrypt@p11agent. */
struct proto_decrypt_request {
	struct proto_text key_uri;
	uint32_t padding;         /* enum proto_padding */
	uint32_t oaep_hash;       /* OAEP only, else 0 */
	uint32_t mgf1_hash;       /* OAEP only, else 0 */
	struct proto_bytes label; /* OAEP label, usually empty */
	struct proto_bytes ciphertext;
};

/* derive@p11agent (ECDH). */
struct proto_derive_request {
	struct proto_text key_uri;
	struct proto_bytes peer_point; /* uncompressed EC point 04|X|Y */
};

/* login@p11agent. */
struct proto_login_request {
	struct proto_text token; /* pkcs11: URI or label */
	struct proto_text pin;   /* secret; empty = protected auth path */
};

/* logout@p11agent. */
/* list@p11agent request flags. */
#define PROTO_LIST_RESCAN 0x1u /* read every token again before answering */

struct proto_list_request {
	uint32_t flags; /* PROTO_LIST_*; an empty payload means 0 */
	bool has_flags; /* the field is on the wire (even as 0) */
};

struct proto_logout_request {
	struct proto_text token; /* empty = every token */
};

/* Most chain certificates an import may carry. */
#define PROTO_IMPORT_MAX_CHAIN 8

/*
 * import@p11agent: a private key with its certificate and CA chain onto a
 * token (p11 import of a .p12).  Request: string token, string label,
 * string private key (PKCS#8 DER, secret), string certificate DER (may be
 * empty), uint32 n (at most PROTO_IMPORT_MAX_CHAIN), n x string chain
 * certificate DER.  Reply: string key URI.
 */
struct proto_import_request {
	struct proto_text token;
	struct proto_text label;
	struct proto_bytes pkcs8; /* secret */
	struct proto_bytes cert;
	size_t nchain;
	struct proto_bytes chain[PROTO_IMPORT_MAX_CHAIN];
};

/*
 * keygen@p11agent: a key pair generated on the token.  Request: string
 * token, string label, uint32 key type (enum proto_key_type), uint32 bits
 * (RSA 2048/3072/4096, EC 256/384).  Reply: string key URI.
 */
struct proto_keygen_request {
	struct proto_text token;
	struct proto_text label;
	uint32_t key_type;
	uint32_t bits;
};

/*
 * attach-cert@p11agent: store a certificate next to the token key with
 * the same public key.  Request: string certificate DER.  Reply: string
 * key URI.
 */
struct proto_attach_cert_request {
	struct proto_bytes cert;
};

/* Reply of import, keygen and attach-cert. */
struct proto_key_uri_reply {
	struct proto_text key_uri;
};

/*
 * Any request, as the agent sees it.  type is the message type; for
 * SSH_AGENTC_EXTENSION, ext and ext_name say which extension, and
 * ext_payload holds the unparsed bytes after the name when ext is
 * PROTO_EXT_UNKNOWN.  The union member matching type/ext is filled:
 *   SIGN_REQUEST            u.sign
 *   LOCK, UNLOCK            u.lock
 *   EXT_SIGN_DIGEST         u.sign_digest
 *   EXT_DECRYPT             u.decrypt
 *   EXT_DERIVE              u.derive
 *   EXT_LOGIN               u.login
 *   EXT_LOGOUT              u.logout
 *   EXT_IMPORT              u.import
 *   EXT_KEYGEN              u.keygen
 *   EXT_ATTACH_CERT         u.attach_cert
 * REQUEST_IDENTITIES, EXT_QUERY, EXT_LIST and EXT_STATUS carry nothing.
 */
struct proto_request {
	uint8_t type; /* enum proto_msg_type, or any other byte */
	enum proto_ext ext;
	struct proto_text ext_name;
	struct proto_bytes ext_payload;
	union {
		struct proto_sign_request sign;
		struct proto_lock_request lock;
		struct proto_sign_digest_request sign_digest;
		struct proto_decrypt_request decrypt;
		struct proto_derive_request derive;
		struct proto_login_request login;
		struct proto_logout_request logout;
		struct proto_list_request list;
		struct proto_import_request import;
		struct proto_keygen_request keygen;
		struct proto_attach_cert_request attach_cert;
	} u;
};

/*
 * Decodes a request body.  Returns 0 for well-formed known requests, and
 * also for requests the agent must refuse politely: a type that is not a
 * request p11agent implements (only req->type is set; the payload is not
 * looked at) and an extension with an unknown name (req->ext ==
 * PROTO_EXT_UNKNOWN, with ext_name and ext_payload).  Returns
 * P11A_E_FORMAT for an empty body or a malformed known request; then
 * proto_request_peek() tells the agent how to answer.  Views point into
 * body.
 */
int proto_request_decode(const uint8_t *body, size_t len,
                         struct proto_request *req);

/*
 * Finds a body's type and, for extensions, which one, without parsing the
 * rest: for choosing the failure reply to a request that did not decode.
 * Returns 0, or P11A_E_FORMAT when not even that much can be read (empty
 * body, or an extension whose name is malformed).
 */
int proto_request_peek(const uint8_t *body, size_t len, uint8_t *type,
                       enum proto_ext *ext);

/*
 * Encodes any known request from its struct (type, ext and the matching
 * union member; ext_name and ext_payload are ignored).  Returns
 * P11A_E_ARGS for types and extensions that cannot be encoded.
 */
int proto_request_encode(struct proto_writer *w,
                         const struct proto_request *req);

/* One encoder per request, for clients. */
int proto_identities_request_encode(struct proto_writer *w);
int proto_sign_request_encode(struct proto_writer *w,
                              const struct proto_sign_request *req);
int proto_lock_request_encode(struct proto_writer *w,
                              const struct proto_lock_request *req);
int proto_unlock_request_encode(struct proto_writer *w,
                                const struct proto_lock_request *req);
int proto_query_request_encode(struct proto_writer *w);
int proto_list_request_encode(struct proto_writer *w,
                              const struct proto_list_request *req);
int
proto_sign_digest_request_encode(struct proto_writer *w,
                                 const struct proto_sign_digest_request *req);
int proto_decrypt_request_encode(struct proto_writer *w,
                                 const struct proto_decrypt_request *req);
int proto_derive_request_encode(struct proto_writer *w,
                                const struct proto_derive_request *req);
int proto_login_request_encode(struct proto_writer *w,
                               const struct proto_login_request *req);
int proto_logout_request_encode(struct proto_writer *w,
                                const struct proto_logout_request *req);
int proto_status_request_encode(struct proto_writer *w);
int proto_import_request_encode(struct proto_writer *w,
                                const struct proto_import_request *req);
int proto_keygen_request_encode(struct proto_writer *w,
                                const struct proto_keygen_request *req);
int
proto_attach_cert_request_encode(struct proto_writer *w,
                                 const struct proto_attach_cert_request *req);

/* Replies (the agent encodes, the client decodes). */

/*
 * A failure reply.  code is a negative P11A_E_*.  generic is true when the
 * agent gave no reason (SSH_AGENT_FAILURE, or SSH_AGENT_EXTENSION_FAILURE
 * without payload, as foreign agents send); message is then empty.
 */
struct proto_failure {
	int code;
	bool generic;
	struct proto_text message;
};

/* SSH_AGENT_IDENTITIES_ANSWER. */
struct proto_identity {
	struct proto_bytes key_blob;
	struct proto_text comment;
};

struct proto_identities_reply {
	size_t n;
	struct proto_identity *ids; /* decoded: owned, see _cleanup */
};

/* SSH_AGENT_SIGN_RESPONSE. */
struct proto_sign_reply {
	struct proto_bytes sig_blob; /* SSH signature blob (sshkey.h) */
};

/* query. */
struct proto_query_reply {
	size_t n;
	struct proto_text *names; /* decoded: owned, see _cleanup */
};

/* list@p11agent. */
struct proto_token_info {
	struct proto_text uri;
	struct proto_text label;
	struct proto_text manufacturer;
	struct proto_text model;
	struct proto_text serial;
	uint32_t flags; /* enum proto_token_flag */
};

struct proto_key_info {
	struct proto_text uri;
	struct proto_text token_label;
	struct proto_text label;
	uint32_t key_type;           /* enum proto_key_type */
	uint32_t bits;               /* modulus or field size */
	struct proto_text curve;     /* "" for RSA, else e.g. "prime256v1" */
	uint32_t flags;              /* enum proto_key_flag */
	struct proto_bytes cert_der; /* may be empty */
	struct proto_bytes ssh_blob; /* may be empty */
	size_t nemails;
	struct proto_text *emails; /* decoded: owned, see _cleanup */
};

struct proto_list_reply {
	size_t ntokens;
	struct proto_token_info *tokens; /* decoded: owned */
	size_t nkeys;
	struct proto_key_info *keys; /* decoded: owned */
};

/* sign-digest@p11agent. */
struct proto_sign_digest_reply {
	struct proto_bytes signature; /* RSA: modulus size; ECDSA: r||s */
};

/* decrypt@p11agent. */
struct proto_decrypt_reply {
	struct proto_bytes plaintext; /* secret */
};

/* derive@p11agent. */
struct proto_derive_reply {
	struct proto_bytes secret; /* secret: raw ECDH x-coordinate */
};

/* status@p11agent. */
struct proto_token_status {
	struct proto_text uri;
	struct proto_text label;
	uint32_t flags;           /* enum proto_token_flag */
	uint64_t logged_in_since; /* unix seconds, 0 = not logged in */
	uint64_t login_expires;   /* unix seconds, 0 = never */
};

struct proto_status_reply {
	struct proto_text version;
	uint64_t uptime;         /* seconds */
	uint32_t flags;          /* enum proto_agent_flag */
	uint32_t login_lifetime; /* seconds, 0 = none */
	uint32_t idle_timeout;   /* seconds, 0 = none */
	size_t ntokens;
	struct proto_token_status *tokens; /* decoded: owned */
};

/*
 * Failure replies.  proto_failure_encode() writes SSH_AGENT_FAILURE (the
 * answer to standard requests, unknown types and unknown extensions);
 * proto_ext_failure_encode() writes SSH_AGENT_EXTENSION_FAILURE with the
 * code (negative P11A_E_*, not P11A_E_INCOMPLETE: else P11A_E_ARGS) and a
 * human message (NULL: p11a_strerror(code)); the message must not hold
 * secrets.  proto_error_reply_encode() picks the right one for a request
 * of that type/ext.
 */
int proto_failure_encode(struct proto_writer *w);
int proto_ext_failure_encode(struct proto_writer *w, int code,
                             const char *message);
int proto_error_reply_encode(struct proto_writer *w, uint8_t req_type,
                             enum proto_ext ext, int code, const char *message);

/*
 * Decodes any failure reply (type 5, or 28 with or without payload).
 * Returns 0 with *fail filled, or P11A_E_FORMAT when the body is not a
 * well-formed failure.  A plain SSH_AGENT_FAILURE gives P11A_E_DENIED.
 */
int proto_failure_decode(const uint8_t *body, size_t len,
                         struct proto_failure *fail);

/* SSH_AGENT_SUCCESS: the reply to lock and unlock. */
int proto_success_encode(struct proto_writer *w);
int proto_success_decode(const uint8_t *body, size_t len,
                         struct proto_failure *fail);

int proto_identities_reply_encode(struct proto_writer *w,
                                  const struct proto_identities_reply *rep);
int proto_identities_reply_decode(const uint8_t *body, size_t len,
                                  struct proto_identities_reply *rep,
                                  struct proto_failure *fail);
/* Frees what a decoder allocated (not the views); NULL is a no-op. */
void proto_identities_reply_cleanup(struct proto_identities_reply *rep);

int proto_sign_reply_encode(struct proto_writer *w,
                            const struct proto_sign_reply *rep);
int proto_sign_reply_decode(const uint8_t *body, size_t len,
                            struct proto_sign_reply *rep,
                            struct proto_failure *fail);

/*
 * Extension replies.  A plain SSH_AGENT_FAILURE in answer to an extension
 * means the agent does not know it: the decoders return
 * P11A_E_UNKNOWN_REQUEST (fail->generic set).  A reply naming another
 * extension is P11A_E_FORMAT.
 */
int proto_query_reply_encode(struct proto_writer *w,
                             const struct proto_query_reply *rep);
int proto_query_reply_decode(const uint8_t *body, size_t len,
                             struct proto_query_reply *rep,
                             struct proto_failure *fail);
void proto_query_reply_cleanup(struct proto_query_reply *rep);

int proto_list_reply_encode(struct proto_writer *w,
                            const struct proto_list_reply *rep);
int proto_list_reply_decode(const uint8_t *body, size_t len,
                            struct proto_list_reply *rep,
                            struct proto_failure *fail);
void proto_list_reply_cleanup(struct proto_list_reply *rep);

int proto_sign_digest_reply_encode(struct proto_writer *w,
                                   const struct proto_sign_digest_reply *rep);
int proto_sign_digest_reply_decode(const uint8_t *body, size_t len,
                                   struct proto_sign_digest_reply *rep,
                                   struct proto_failure *fail);

int proto_decrypt_reply_encode(struct proto_writer *w,
                               const struct proto_decrypt_reply *rep);
int proto_decrypt_reply_decode(const uint8_t *body, size_t len,
                               struct proto_decrypt_reply *rep,
                               struct proto_failure *fail);

int proto_derive_reply_encode(struct proto_writer *w,
                              const struct proto_derive_reply *rep);
int proto_derive_reply_decode(const uint8_t *body, size_t len,
                              struct proto_derive_reply *rep,
                              struct proto_failure *fail);

/* login and logout reply with an empty extension response. */
int proto_login_reply_encode(struct proto_writer *w);
int proto_login_reply_decode(const uint8_t *body, size_t len,
                             struct proto_failure *fail);
int proto_logout_reply_encode(struct proto_writer *w);
int proto_logout_reply_decode(const uint8_t *body, size_t len,
                              struct proto_failure *fail);

/* Replies of import, keygen and attach-cert (ext says which). */
int proto_key_uri_reply_encode(struct proto_writer *w, enum proto_ext ext,
                               const struct proto_key_uri_reply *rep);
int proto_key_uri_reply_decode(const uint8_t *body, size_t len,
                               enum proto_ext ext,
                               struct proto_key_uri_reply *rep,
                               struct proto_failure *fail);

int proto_status_reply_encode(struct proto_writer *w,
                              const struct proto_status_reply *rep);
int proto_status_reply_decode(const uint8_t *body, size_t len,
                              struct proto_status_reply *rep,
                              struct proto_failure *fail);
void proto_status_reply_cleanup(struct proto_status_reply *rep);

#endif
