/*
 * client/smime: S/MIME 4.0 (RFC 8551) over CMS (RFC 5652) for p11agent.
 *
 * Messages are RFC 5322 files read from and written to file descriptors
 * in one pass and constant memory where the format allows it (signing,
 * detached verification).  Private keys are struct smime_key (key.h);
 * certificates of correspondents live in a struct smime_store (store.h).
 *
 * Functions return 0 or a negative P11A_E_* code (proto/err.h).  Results
 * that are verdicts about a message (a bad signature, not a recipient)
 * are not errors: they come back in a status field.
 */
#ifndef P11AGENT_SMIME_SMIME_H
#define P11AGENT_SMIME_SMIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "mime.h"

struct smime_key;
struct smime_store;

/* Signing. */

/*
 * Who signs: a certificate and a signing callback, all borrowed for the
 * duration of smime_sign().  smime_sign() takes the issuer, serial
 * number and key type from the certificate and builds the SignedData
 * itself, so a signer needs no libcrypto.
 */
struct smime_signer {
	const uint8_t *cert; /* the signer's certificate, DER */
	size_t cert_len;
	const uint8_t *const *chain; /* more certificates to include, DER */
	const size_t *chain_len;
	size_t nchain;
	/*
	 * chain, chain_len and nchain are read only after sign() returned,
	 * so a signer whose signature comes from elsewhere may fill them in
	 * while it waits (p11 sign reads the chain from the store while the
	 * agent signs).
	 *
	 * Signs dg (dglen bytes, digest md_nid of the DER signed
	 * attributes).  pss: RSASSA-PSS, MGF1 with md_nid, salt length =
	 * digest length.  Writes the SignerInfo signature value into sig
	 * (room *siglen on entry, bytes written on return): the RSA
	 * signature, or for ECDSA the DER Ecdsa-Sig-Value.  Returns 0 or a
	 * negative P11A_E_* code, which smime_sign() returns unchanged.
	 */
	int (*sign)(void *ctx, int md_nid, bool pss, const uint8_t *dg,
	            size_t dglen, uint8_t *sig, size_t *siglen);
	void *ctx;
};

/*
 * Converts an ECDSA signature r||s (two halves of equal size, as
 * PKCS #11 and the agent return it) into a DER Ecdsa-Sig-Value (RFC 5480
 * SEQUENCE of two INTEGERs) at out; *outlen is the room on entry and the
 * size written on return.  Returns 0, P11A_E_FORMAT when rslen is 0 or
 * odd, or P11A_E_TOO_LARGE when out is too small.
 */
int smime_ecdsa_sig_der(const uint8_t *rs, size_t rslen, uint8_t *out,
                        size_t *outlen);

struct smime_sign_opts {
	const struct smime_signer *signer;
	int md_nid;  /* NID_sha256 (default when 0), NID_sha384, NID_sha512 */
	bool pss;    /* RSASSA-PSS instead of PKCS #1 v1.5 (RSA keys) */
	bool opaque; /* application/pkcs7-mime signed-data, else
	              * multipart/signed */
	/* Write only the signed MIME entity (for encryption after): no
	 * outer header fields, CRLF line endings. */
	bool entity_only;
	/* Header fields put at the top of the signed entity (header
	 * protection), or NULL. */
	const struct smime_hdrs *inner;
};

/*
 * Signs the message read from in_fd (a regular file: it may be read
 * twice when a part needs a new transfer encoding) and writes the signed
 * message to out_fd (a regular file: it may be truncated and written
 * again).  The outer header fields are kept; the Content-* fields and the
 * body form the signed entity.  Returns 0 or a negative code: a signer
 * failure comes back as the signer's code; P11A_E_KEY_TYPE when the
 * certificate's key is neither RSA nor EC, or for pss with an EC key;
 * P11A_E_FORMAT when the certificate does not parse; P11A_E_SIGNATURE
 * when the signer's output cannot be a signature of that key type.
 */
int smime_sign(int in_fd, int out_fd, const struct smime_sign_opts *o);

/* Verification. */

enum smime_vstatus {
	SMIME_V_VALID = 0,
	SMIME_V_BAD_SIGNATURE,
	SMIME_V_UNTRUSTED,
	SMIME_V_EXPIRED,
	SMIME_V_REVOKED,
	SMIME_V_SENDER_MISMATCH,
	SMIME_V_NOT_SIGNED,
	SMIME_V_MALFORMED,
};

/* "valid", "bad-signature", ... (the CLI's JSON words). */
const char *smime_vstatus_name(enum smime_vstatus s);

struct smime_signer_info {
	char email[256];   /* first e-mail address of the certificate */
	char subject[512]; /* RFC 2253 */
	char issuer[512];
	char fingerprint[65]; /* SHA-256, lower-case hex */
	char not_after[32];   /* "YYYY-MM-DDTHH:MM:SSZ" */
	char signing_time[32];
	char digest[16];  /* "sha256" */
	char detail[256]; /* why, for humans */
	X509 *cert;       /* owned; NULL when unknown */
	int store_errno;  /* a good signer's certificate could not be kept in
	                   * the store: why (errno); 0 when kept or no store */
};

struct smime_verify_opts {
	struct smime_store *store; /* trust and certificate store, or NULL */
	const char *ca_file;       /* extra trust anchors (and CRLs), or NULL */
	bool allow_sha1;
	bool no_system_trust; /* without /etc/ssl/certs */
	const char *from;     /* expected sender (lower case), or NULL: the
	                       * message's From: */
	time_t now;           /* 0: the current time */
	bool in_part;         /* internal: inside a multipart already */
};

/*
 * Checks one signed layer given as DER SignedData: detached (the
 * signature part of a multipart/signed, or an opaque message read as it
 * streamed with its content taken out) over content whose digest under
 * each algorithm in dg was computed already, or with its content inside
 * (detached false, dg NULL).  A signer whose digest algorithm dg lacks
 * has a bad signature.  Fills *status and *si.  Returns 0 or a negative
 * code (out of memory only).
 */
struct smime_digests {
	int nid[4];
	uint8_t md[4][64];
	unsigned len[4];
	int n;
	/* The list is the message's digestAlgorithms, not micalg (for the
	 * words of a bad signature). */
	bool from_digest_algs;
};

int smime_verify_cms(const uint8_t *der, size_t derlen, bool detached,
                     const struct smime_digests *dg,
                     const struct smime_verify_opts *o,
                     enum smime_vstatus *status, struct smime_signer_info *si);

void smime_signer_info_cleanup(struct smime_signer_info *si);

/*
 * Verifies the outermost signature of the message read from rd.  When
 * content_fd >= 0 the signed content (the MIME entity) is written there
 * as it is read, whatever the verdict turns out to be: give a temporary
 * file and keep it only for a good signature.  Detached and opaque
 * signatures (mail or bare CMS) are checked in one pass and constant
 * memory.  Returns 0 (the verdict is in *status) or a negative code.
 */
int smime_verify(struct smime_rd *rd, int content_fd,
                 const struct smime_verify_opts *o, enum smime_vstatus *status,
                 struct smime_signer_info *si);

/* Encryption. */

enum smime_cipher {
	SMIME_CIPHER_AUTO = 0,
	SMIME_CIPHER_AES128_GCM,
	SMIME_CIPHER_AES256_GCM,
	SMIME_CIPHER_AES128_CBC,
	SMIME_CIPHER_AES256_CBC,
};

struct smime_encrypt_opts {
	STACK_OF(X509) * recipients; /* all of them, self included */
	enum smime_cipher cipher;    /* not AUTO here */
	bool oaep;                   /* RSAES-OAEP (SHA-256) for RSA */
	/* Header protection: the real fields go inside, the outer Subject
	 * becomes "...". */
	bool protect_headers;
	/* Sign first (sign-then-encrypt); NULL for no signature. */
	const struct smime_sign_opts *sign;
	const char *tmpdir;
};

/*
 * Encrypts the message read from in_fd (a regular file) to out_fd.
 * Returns 0 or a negative code.
 */
int smime_encrypt(int in_fd, int out_fd, const struct smime_encrypt_opts *o);

/* Decryption. */

enum smime_dstatus {
	SMIME_D_OK = 0,
	SMIME_D_NOT_A_RECIPIENT,
	SMIME_D_MALFORMED,
	SMIME_D_UNSUPPORTED,
	SMIME_D_INTEGRITY_FAILURE,
	SMIME_D_LOGIN_REQUIRED,
};

const char *smime_dstatus_name(enum smime_dstatus s);

struct smime_decrypt_result {
	enum smime_dstatus status;
	bool authenticated; /* AEAD, or a verified inner signature */
	bool encrypted;     /* at least one enveloped layer was opened */
	bool signed_layer;  /* a signed layer was found */
	enum smime_vstatus sig_status;
	struct smime_signer_info signer;
	int key_error; /* the last key failure (P11A_E_*), or 0 */
	char detail[256];
};

struct smime_decrypt_opts {
	struct smime_key **keys; /* our keys, tried in turn */
	size_t nkeys;
	bool verify;
	const struct smime_verify_opts *vopts;
	const char *tmpdir;
};

/*
 * Opens every enveloped and signed layer of the message read from rd and
 * writes the innermost MIME entity to out_fd (only on success: the caller
 * writes into a temporary file and keeps it only when res->status is
 * SMIME_D_OK and the return is 0).  Returns 0 or a negative code.
 */
int smime_decrypt(struct smime_rd *rd, int out_fd,
                  const struct smime_decrypt_opts *o,
                  struct smime_decrypt_result *res);

void smime_decrypt_result_cleanup(struct smime_decrypt_result *res);

/* Helpers shared with the CLI. */

/* SHA-256 fingerprint of cert as 64 lower-case hex digits. */
int smime_cert_fingerprint(X509 *cert, char out[65]);

/* Does the certificate carry this (lower-case) e-mail address? */
bool smime_cert_has_email(X509 *cert, const char *addr);

/* First e-mail address of the certificate (lower case), or "". */
void smime_cert_first_email(X509 *cert, char *buf, size_t len);

/* Can the certificate's key receive mail (RSA or EC, usable key)? */
bool smime_cert_can_encrypt(X509 *cert);

#endif
