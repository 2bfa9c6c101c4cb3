/*
 * libp11agent: the client side of the p11agent protocol.
 *
 * A program connects to the user's p11agent over its Unix socket and asks
 * it to list keys, sign digests, decrypt, derive ECDH secrets, log tokens
 * in and out, and lock the agent.  Private keys and the agent's PIN cache
 * never reach the program: only public data, signatures and the results of
 * the private-key operations it asked for.
 *
 * Conventions, the same for every function:
 *   - Functions return int: 0, or a negative P11AGENT_E_* code.  The codes
 *     are the stable wire codes of the protocol (docs/protocol.md), so a
 *     code the agent sends arrives unchanged.  p11agent_strerror() gives a
 *     generic sentence for a code; p11agent_conn_errmsg() gives the
 *     specific sentence of the last failure on a connection (the agent's
 *     own words when it sent some, for instance the PIN tries left).
 *   - Out-parameters are cleared on entry and set only on success.
 *   - Results the library allocates are owned by the caller and freed with
 *     the matching _free function; _free(NULL) is a no-op.
 *   - Requests are synchronous: each sends one message and waits for its
 *     reply, at most the connection's timeout.  A connection that timed
 *     out, saw a malformed reply or lost its socket is broken: every later
 *     request on it fails with P11AGENT_E_IO.  Close it and connect again.
 *   - There is no global state.  A connection must not be used by two
 *     threads at the same time; give each thread its own.
 *   - Secrets that pass through the library (PINs, passphrases, decrypted
 *     plaintext, derived secrets) are wiped from its buffers as soon as
 *     they have been sent or copied out.
 *   - The library never raises SIGPIPE and retries system calls
 *     interrupted by signals (EINTR) within the timeout.
 *
 * Link with `pkg-config --libs p11agent`.
 */
#ifndef P11AGENT_CLIENT_P11AGENT_H
#define P11AGENT_CLIENT_P11AGENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: the same numbers as enum p11a_err of the protocol. */
enum p11agent_err {
	P11AGENT_OK = 0,
	P11AGENT_E_FORMAT = -2,            /* malformed message or argument */
	P11AGENT_E_TOO_LARGE = -3,         /* over the 256 KiB message limit */
	P11AGENT_E_NOMEM = -4,             /* out of memory */
	P11AGENT_E_PIN_INCORRECT = -5,     /* wrong PIN; no retry was made */
	P11AGENT_E_PIN_LOCKED = -6,        /* PIN blocked on the token */
	P11AGENT_E_TOKEN_ABSENT = -7,      /* token removed or not found */
	P11AGENT_E_KEY_NOT_FOUND = -8,     /* no such key */
	P11AGENT_E_AGENT_LOCKED = -9,      /* agent locked with a passphrase */
	P11AGENT_E_MECH_UNSUPPORTED = -10, /* mechanism or parameters refused */
	P11AGENT_E_LOGIN_REQUIRED = -11,   /* the token needs a login first */
	P11AGENT_E_TOKEN = -12,            /* other token or module failure */
	P11AGENT_E_PIN_INVALID = -13,      /* PIN of the wrong length/charset */
	P11AGENT_E_INTERNAL = -14,         /* bug or impossible state */
	P11AGENT_E_UNKNOWN_REQUEST = -15,  /* the agent does not know it */
	P11AGENT_E_DENIED = -16,           /* refused (policy, or no reason) */
	P11AGENT_E_DECRYPT = -17,          /* ciphertext invalid for this key */
	P11AGENT_E_CANCELLED = -18,        /* user or shutdown cancelled it */
	P11AGENT_E_IO = -19,               /* socket I/O failed or timed out */
	P11AGENT_E_NO_AGENT = -20,         /* no agent answers on the socket */
	P11AGENT_E_ARGS = -21,             /* bad argument from the caller */
	P11AGENT_E_ALREADY = -22,          /* already in that state */
	P11AGENT_E_PIN_EXPIRED = -23,      /* PIN must be changed first */
	P11AGENT_E_KEY_TYPE = -24,         /* key cannot do this operation */
	P11AGENT_E_SIGNATURE = -25,        /* signature did not verify */
};

/* Signature mechanisms of p11agent_sign_digest(). */
enum p11agent_mech {
	P11AGENT_MECH_RSA_PKCS1 = 1, /* RSASSA-PKCS1-v1_5 */
	P11AGENT_MECH_RSA_PSS = 2,   /* RSASSA-PSS */
	P11AGENT_MECH_ECDSA = 3,     /* result is r||s, each field size */
	P11AGENT_MECH_EDDSA = 4,     /* Ed25519 */
};

/* Hash algorithms (digests, PSS/OAEP parameters). */
enum p11agent_hash {
	P11AGENT_HASH_NONE = 0,
	P11AGENT_HASH_SHA1 = 1,
	P11AGENT_HASH_SHA224 = 2,
	P11AGENT_HASH_SHA256 = 3,
	P11AGENT_HASH_SHA384 = 4,
	P11AGENT_HASH_SHA512 = 5,
};

/* RSA decryption paddings of p11agent_decrypt(). */
enum p11agent_padding {
	P11AGENT_PADDING_PKCS1 = 1,
	P11AGENT_PADDING_OAEP = 2,
};

/* Key types (struct p11agent_key). */
enum p11agent_key_type {
	P11AGENT_KEY_RSA = 1,
	P11AGENT_KEY_EC = 2,
	P11AGENT_KEY_ED25519 = 3,
};

/* Key flags (struct p11agent_key). */
enum p11agent_key_flag {
	P11AGENT_KEY_CAN_SIGN = 1u << 0,
	P11AGENT_KEY_CAN_DECRYPT = 1u << 1,
	P11AGENT_KEY_CAN_DERIVE = 1u << 2,
	P11AGENT_KEY_ALWAYS_AUTHENTICATE = 1u << 3,
	/* RSA padding is done on the host over a raw RSA operation. */
	P11AGENT_KEY_HOST_PADDING_FALLBACK = 1u << 4,
	P11AGENT_KEY_PRIVATE_KEY_VISIBLE = 1u << 5,
};

/* Token flags (struct p11agent_token, struct p11agent_token_status). */
enum p11agent_token_flag {
	P11AGENT_TOKEN_LOGIN_REQUIRED = 1u << 0,
	P11AGENT_TOKEN_PROTECTED_AUTH_PATH = 1u << 1, /* PIN pad reader */
	P11AGENT_TOKEN_USER_PIN_COUNT_LOW = 1u << 2,
	P11AGENT_TOKEN_USER_PIN_FINAL_TRY = 1u << 3,
	P11AGENT_TOKEN_USER_PIN_LOCKED = 1u << 4,
	P11AGENT_TOKEN_USER_PIN_TO_BE_CHANGED = 1u << 5,
	P11AGENT_TOKEN_INITIALIZED = 1u << 6,
	P11AGENT_TOKEN_LOGGED_IN = 1u << 7,
	P11AGENT_TOKEN_PRESENT = 1u << 8,
};

/* Agent flags (struct p11agent_status). */
enum p11agent_agent_flag {
	P11AGENT_AGENT_LOCKED = 1u << 0,
};

/* Flags of p11agent_ssh_sign() (RFC 8332). */
enum p11agent_ssh_flag {
	P11AGENT_SSH_RSA_SHA2_256 = 0x02,
	P11AGENT_SSH_RSA_SHA2_512 = 0x04,
};

/* Default time a request may take, and a login (PIN pads are slow). */
#define P11AGENT_TIMEOUT_DEFAULT_MS (60 * 1000)
#define P11AGENT_LOGIN_TIMEOUT_DEFAULT_MS (5 * 60 * 1000)

/* Largest message either side sends: 256 KiB, length header excluded. */
#define P11AGENT_MESSAGE_MAX (256 * 1024)

/* An open connection to an agent.  Opaque. */
struct p11agent_conn;

/*
 * Returns the version of this library, e.g. "0.1.0".  Static, never NULL.
 */
const char *p11agent_version(void);

/*
 * Returns a static, generic sentence for an error code ("PIN incorrect");
 * never NULL, also for codes this build does not know.
 */
const char *p11agent_strerror(int code);

/*
 * Returns the short stable name of an error code ("pin-incorrect"), for
 * JSON output and logs; "unknown" for codes this build does not know.
 */
const char *p11agent_errname(int code);

/*
 * Writes the default socket path into buf (len bytes, NUL included):
 * "$XDG_RUNTIME_DIR/p11agent/agent.sock" when XDG_RUNTIME_DIR is set to
 * an absolute path, else "/tmp/p11agent-<uid>/agent.sock".  This is where
 * p11agent listens when started without -a.  Returns 0, or
 * P11AGENT_E_ARGS when buf is NULL or too small (buf is then set to "" if
 * len > 0).
 */
int p11agent_default_socket_path(char *buf, size_t len);

/*
 * Writes the socket path a client should use into buf: path when it is
 * not NULL and not empty, else $P11AGENT_SOCK when set and not empty, else
 * the default path (p11agent_default_socket_path()).  Returns like
 * p11agent_default_socket_path().
 */
int p11agent_socket_path(const char *path, char *buf, size_t len);

/*
 * Connects to the agent at path, chosen as p11agent_socket_path() does
 * (path may be NULL), and returns a new connection in *out.  The agent
 * must run as the same user (or root): the peer's uid is checked with
 * SO_PEERCRED, so that a socket planted by someone else in a shared
 * directory is refused.  Returns 0,
 *   P11AGENT_E_NO_AGENT  nothing listens there (ENOENT, ECONNREFUSED;
 *                        errno is left set),
 *   P11AGENT_E_DENIED    the socket belongs to another user, or
 *                        connecting was not permitted (EACCES),
 *   P11AGENT_E_ARGS      the path is too long for a Unix socket,
 *   P11AGENT_E_IO        any other system error (errno is left set),
 *   P11AGENT_E_NOMEM.
 * Close the connection with p11agent_close().
 */
int p11agent_connect(const char *path, struct p11agent_conn **out);

/*
 * Wraps an already connected stream socket fd (socket activation, a
 * socketpair, a forwarded connection) in a connection.  The connection
 * owns fd from the call on, also when the call fails (fd is then closed).
 * The peer's uid is not checked.  Returns 0, P11AGENT_E_ARGS (fd < 0) or
 * P11AGENT_E_NOMEM.
 */
int p11agent_connect_fd(int fd, struct p11agent_conn **out);

/* Closes the socket and frees conn.  NULL is a no-op. */
void p11agent_close(struct p11agent_conn *conn);

/*
 * Sets how long one request may take (sending it and receiving the whole
 * reply), in milliseconds; ms < 0 waits forever, 0 is refused with
 * P11AGENT_E_ARGS.  Starts at P11AGENT_TIMEOUT_DEFAULT_MS.  Note that an
 * agent may ask for a PIN (pinentry) before it signs: programs that let
 * the agent prompt should allow for a person typing.
 */
int p11agent_conn_set_timeout(struct p11agent_conn *conn, int ms);

/*
 * Sets the timeout of p11agent_login() alone, which can wait for a PIN
 * typed on a PIN pad reader.  Starts at P11AGENT_LOGIN_TIMEOUT_DEFAULT_MS;
 * same rules as p11agent_conn_set_timeout().
 */
int p11agent_conn_set_login_timeout(struct p11agent_conn *conn, int ms);

/*
 * Returns a sentence describing the last failure of a request on conn:
 * the agent's own message when it sent one (for example "PIN incorrect, 2
 * tries left"), else a local one ("agent did not answer within 60 s").
 * Control characters from the agent are replaced with '?', so the text is
 * safe to print on a terminal.  Empty ("") after a successful request.
 * The string belongs to conn and is valid until its next request or
 * p11agent_close().  Never NULL; NULL conn gives "".
 */
const char *p11agent_conn_errmsg(const struct p11agent_conn *conn);

/*
 * Returns the path conn was connected to ("" for p11agent_connect_fd()).
 * Owned by conn.
 */
const char *p11agent_conn_path(const struct p11agent_conn *conn);

/* list@p11agent: tokens and keys. */

struct p11agent_token {
	char *uri; /* RFC 7512 "pkcs11:" URI of the token */
	char *label;
	char *manufacturer;
	char *model;
	char *serial;
	uint32_t flags; /* enum p11agent_token_flag */
};

struct p11agent_key {
	char *uri; /* RFC 7512 URI naming the private key */
	char *token_label;
	char *label;       /* CKA_LABEL */
	uint32_t key_type; /* enum p11agent_key_type */
	uint32_t bits;     /* RSA modulus or EC field size */
	char *curve;       /* "" for RSA, else e.g. "prime256v1" */
	uint32_t flags;    /* enum p11agent_key_flag */
	uint8_t *cert_der; /* the key's X.509 certificate, or NULL */
	size_t cert_der_len;
	uint8_t *ssh_blob; /* SSH public key blob, or NULL */
	size_t ssh_blob_len;
	size_t nemails;
	char **emails; /* e-mail addresses of the certificate */
};

struct p11agent_list {
	size_t ntokens;
	struct p11agent_token *tokens;
	size_t nkeys;
	struct p11agent_key *keys;
};

/*
 * Asks for every token and key the agent sees.  On success *out is a new
 * list; all its data is copied out of the reply, so it lives until
 * p11agent_list_free().  Strings are NUL-terminated and never NULL; empty
 * byte fields are NULL with length 0.  Returns 0 or a P11AGENT_E_* code.
 *
 * The agent answers from what it last read off the tokens unless a card
 * was inserted, removed or swapped since (seen within a second), or that
 * reading is a few seconds old.  p11agent_list_rescan() makes it read
 * every token again first: for a person asking "which keys do I have",
 * not for every signature.
 */
int p11agent_list(struct p11agent_conn *conn, struct p11agent_list **out);
int p11agent_list_rescan(struct p11agent_conn *conn,
                         struct p11agent_list **out);

/*
 * p11agent_list() in two halves, for a caller with work of its own to do
 * while the agent answers (p11 sign reads the message meanwhile):
 * p11agent_list_send() sends the request and returns without waiting;
 * p11agent_list_recv() waits for the reply and returns what
 * p11agent_list() would have.  In between, conn takes no other request
 * (P11AGENT_E_ARGS), and p11agent_list_recv() without a list sent is
 * P11AGENT_E_ARGS too.  The connection's timeout counts from the send.
 */
int p11agent_list_send(struct p11agent_conn *conn);
int p11agent_list_recv(struct p11agent_conn *conn, struct p11agent_list **out);

/* Frees a list and everything in it.  NULL is a no-op. */
void p11agent_list_free(struct p11agent_list *list);

/* status@p11agent. */

struct p11agent_token_status {
	char *uri;
	char *label;
	uint32_t flags;           /* enum p11agent_token_flag */
	uint64_t logged_in_since; /* unix seconds, 0 = not logged in */
	uint64_t login_expires;   /* unix seconds, 0 = never */
};

struct p11agent_status {
	char *version;           /* the agent's version */
	uint64_t uptime;         /* seconds */
	uint32_t flags;          /* enum p11agent_agent_flag */
	uint32_t login_lifetime; /* seconds, 0 = unlimited */
	uint32_t idle_timeout;   /* seconds, 0 = none */
	size_t ntokens;
	struct p11agent_token_status *tokens;
};

/*
 * Asks for the agent's state and its tokens' login state.  *out is a new
 * struct the caller frees with p11agent_status_free().  Returns 0 or a
 * P11AGENT_E_* code.
 */
int p11agent_status(struct p11agent_conn *conn, struct p11agent_status **out);

/* Frees a status.  NULL is a no-op. */
void p11agent_status_free(struct p11agent_status *status);

/*
 * The "query" extension: asks which extensions the agent supports.  *out
 * is a new NULL-terminated array of NUL-terminated names, freed with
 * p11agent_names_free().  Returns 0 or a P11AGENT_E_* code
 * (P11AGENT_E_UNKNOWN_REQUEST from an agent without extensions).
 */
int p11agent_query(struct p11agent_conn *conn, char ***out);

/* Frees an array from p11agent_query().  NULL is a no-op. */
void p11agent_names_free(char **names);

/*
 * Private-key operations.  Keys are named by RFC 7512 URIs as listed by
 * p11agent_list().  Results go into a buffer the caller supplies: on
 * entry *len is its size, on success the number of bytes written.  A
 * buffer too small fails with P11AGENT_E_ARGS (the message says how many
 * bytes were needed) and writes nothing; sizes are predictable: an RSA
 * signature or plaintext is at most the modulus size (bits / 8), an ECDSA
 * signature 2 * field size, an ECDH secret the field size.
 */

/*
 * Signs a digest (sign-digest@p11agent).  mech is a P11AGENT_MECH_*;
 * hash names the algorithm that produced digest (for PKCS#1 v1.5 the
 * agent adds the DigestInfo; P11AGENT_HASH_NONE signs digest as given);
 * mgf1_hash and salt_len are the PSS parameters and 0 otherwise.
 * Returns 0 or a P11AGENT_E_* code (P11AGENT_E_LOGIN_REQUIRED,
 * P11AGENT_E_KEY_NOT_FOUND, P11AGENT_E_MECH_UNSUPPORTED, ...).
 */
int p11agent_sign_digest(struct p11agent_conn *conn, const char *key_uri,
                         uint32_t mech, uint32_t hash, uint32_t mgf1_hash,
                         uint32_t salt_len, const uint8_t *digest,
                         size_t digest_len, uint8_t *sig, size_t *sig_len);

/*
 * p11agent_sign_digest() in two halves, like p11agent_list_send() and
 * p11agent_list_recv(): the request goes out, the caller does work of its
 * own (p11 sign reads the certificate chain), then collects the
 * signature.  In between, conn takes no other request.
 */
int p11agent_sign_digest_send(struct p11agent_conn *conn, const char *key_uri,
                              uint32_t mech, uint32_t hash, uint32_t mgf1_hash,
                              uint32_t salt_len, const uint8_t *digest,
                              size_t digest_len);
int p11agent_sign_digest_recv(struct p11agent_conn *conn, uint8_t *sig,
                              size_t *sig_len);

/*
 * Decrypts an RSA ciphertext (decrypt@p11agent).  padding is a
 * P11AGENT_PADDING_*; oaep_hash, mgf1_hash and label (label_len bytes,
 * may be NULL when 0) are the OAEP parameters and 0/NULL otherwise.  The
 * plaintext is a secret: the library wipes its copy of the reply, and the
 * caller should wipe pt when done.  Returns 0 or a P11AGENT_E_* code
 * (P11AGENT_E_DECRYPT when the ciphertext does not decrypt).
 */
int p11agent_decrypt(struct p11agent_conn *conn, const char *key_uri,
                     uint32_t padding, uint32_t oaep_hash, uint32_t mgf1_hash,
                     const uint8_t *label, size_t label_len, const uint8_t *ct,
                     size_t ct_len, uint8_t *pt, size_t *pt_len);

/*
 * ECDH with an EC private key (derive@p11agent): peer_point is the
 * other side's uncompressed point 04|X|Y; the result is the raw shared
 * x-coordinate.  A secret, handled like decrypt's plaintext.  Returns 0
 * or a P11AGENT_E_* code.
 */
int p11agent_derive(struct p11agent_conn *conn, const char *key_uri,
                    const uint8_t *peer_point, size_t peer_point_len,
                    uint8_t *secret, size_t *secret_len);

/*
 * Logs a token in (login@p11agent).  token is the token's label or
 * "pkcs11:" URI; NULL or "" lets the agent pick the only token.  pin is
 * pin_len bytes (no NUL byte in them); NULL with pin_len 0 asks the agent
 * to log in through the reader's PIN pad (protected authentication path).
 * The request is wiped right after it was sent; the caller wipes pin.
 * Waits up to the login timeout.  The agent never retries a wrong PIN:
 * P11AGENT_E_PIN_INCORRECT comes back with the tries left in the message.
 * Returns 0 or a P11AGENT_E_* code.
 */
int p11agent_login(struct p11agent_conn *conn, const char *token,
                   const char *pin, size_t pin_len);

/*
 * Logs a token out (logout@p11agent); NULL or "" logs out every token.
 * Returns 0 or a P11AGENT_E_* code.
 */
int p11agent_logout(struct p11agent_conn *conn, const char *token);

/*
 * Locks and unlocks the agent with a passphrase (SSH_AGENTC_LOCK and
 * SSH_AGENTC_UNLOCK, as ssh-add -x/-X).  While locked the agent refuses
 * every private-key operation and has logged out of its tokens.  The
 * passphrase is len bytes without NUL; the request is wiped after sending.
 * The SSH protocol gives no reason for a refusal: a wrong passphrase (or
 * locking a locked agent) gives P11AGENT_E_DENIED.  Returns 0 or a
 * P11AGENT_E_* code.
 */
int p11agent_lock(struct p11agent_conn *conn, const char *passphrase,
                  size_t len);
int p11agent_unlock(struct p11agent_conn *conn, const char *passphrase,
                    size_t len);

/* SSH agent protocol. */

struct p11agent_identity {
	uint8_t *key_blob; /* SSH public key blob */
	size_t key_blob_len;
	char *comment;
};

/*
 * SSH_AGENTC_REQUEST_IDENTITIES: the keys that have an SSH form.  On
 * success *ids is a new array of *n identities (NULL when *n is 0), freed
 * with p11agent_identities_free().  Returns 0 or a P11AGENT_E_* code.
 */
int p11agent_ssh_identities(struct p11agent_conn *conn,
                            struct p11agent_identity **ids, size_t *n);

/* Frees n identities from p11agent_ssh_identities().  NULL is a no-op. */
void p11agent_identities_free(struct p11agent_identity *ids, size_t n);

/*
 * SSH_AGENTC_SIGN_REQUEST: signs data with the key whose SSH blob is
 * key_blob; flags are P11AGENT_SSH_*.  On success *sig is a new SSH
 * signature blob of *sig_len bytes that the caller frees with free().
 * Returns 0 or a P11AGENT_E_* code; the SSH protocol gives no reason for
 * a refusal (P11AGENT_E_DENIED).
 */
int p11agent_ssh_sign(struct p11agent_conn *conn, const uint8_t *key_blob,
                      size_t key_blob_len, const uint8_t *data, size_t data_len,
                      uint32_t flags, uint8_t **sig, size_t *sig_len);

/*
 * Token administration, as `p11 import` and `p11 keygen` use it.  Each
 * returns 0 with *key_uri a new string (the caller frees it) naming the
 * key on the token, or a P11AGENT_E_* code.  The token must be logged in.
 *
 * p11agent_import: a private key (PKCS#8 DER; the request frame holding
 * it is wiped once sent, the caller wipes pkcs8), its certificate (DER,
 * may be NULL) and up to 8 CA certificates (DER) onto token (label or
 * pkcs11: URI; NULL = the only token) under label.  The key is created
 * sensitive and never extractable.
 *
 * p11agent_keygen: a key pair generated on the token: key_type
 * P11AGENT_KEY_RSA with bits 2048/3072/4096, or P11AGENT_KEY_EC with bits
 * 256/384.
 *
 * p11agent_attach_cert: stores an issued certificate (DER) next to the
 * token key with the same public key.
 */
int p11agent_import(struct p11agent_conn *conn, const char *token,
                    const char *label, const uint8_t *pkcs8, size_t pkcs8_len,
                    const uint8_t *cert, size_t cert_len,
                    const uint8_t *const *chain, const size_t *chain_lens,
                    size_t nchain, char **key_uri);
int p11agent_keygen(struct p11agent_conn *conn, const char *token,
                    const char *label, uint32_t key_type, uint32_t bits,
                    char **key_uri);
int p11agent_attach_cert(struct p11agent_conn *conn, const uint8_t *cert,
                         size_t cert_len, char **key_uri);

#ifdef __cplusplus
}
#endif

#endif
