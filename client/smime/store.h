/*
 * The user's certificate store: correspondents' certificates with what
 * their signed mail announced (SMIMECapabilities), and the roots the user
 * trusts on top of the system's.
 *
 * Layout of the folder (default $XDG_DATA_HOME/p11agent/certs, else
 * ~/.local/share/p11agent/certs, mode 0700):
 *   <sha256>.pem        a certificate
 *   <sha256>.meta       key=value lines: emails, caps, seen, source
 *   trusted/<sha256>.pem  roots added with `p11 certs trust`
 *   crls/               CRLs (PEM files), used for revocation when present
 * Every file is written to a temporary name and renamed into place.
 */
#ifndef P11AGENT_SMIME_STORE_H
#define P11AGENT_SMIME_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "store_dir.h"

/* Content-encryption capabilities, as bits. */
enum smime_cap {
	SMIME_CAP_AES128_GCM = 1u << 0,
	SMIME_CAP_AES256_GCM = 1u << 1,
	SMIME_CAP_AES128_CBC = 1u << 2,
	SMIME_CAP_AES256_CBC = 1u << 3,
	SMIME_CAP_KNOWN = 1u << 31, /* capabilities were announced */
};

/*
 * Adds or updates a certificate.  caps (SMIME_CAP_* bits, 0 when the
 * message announced none) replaces the stored ones when it has
 * SMIME_CAP_KNOWN.  source: "verified" or "added".  Creates the folder
 * when missing.  Returns 0, P11A_E_IO with errno saying why (a read-only
 * home, a full disk), or P11A_E_ARGS for a NULL store.
 */
int smime_store_add(struct smime_store *s, X509 *cert, unsigned caps,
                    const char *source);

/* Removes a certificate (and trusted root) by fingerprint;
 * P11A_E_KEY_NOT_FOUND. */
int smime_store_remove(struct smime_store *s, const char *fingerprint);

/* Adds a root the user trusts. */
int smime_store_trust(struct smime_store *s, X509 *ca);

struct smime_store_entry {
	char fp[65];
	X509 *cert;
	unsigned caps;
	time_t seen;
	char source[16];
	bool trusted; /* a root from trusted/ */
};

/* Every certificate, trusted roots included.  Free with ..._free(). */
int smime_store_list(struct smime_store *s, struct smime_store_entry **out,
                     size_t *n);
void smime_store_entries_free(struct smime_store_entry *e, size_t n);

/*
 * The best certificate for addr (lower case): one that carries it, can
 * receive mail and is valid now, the latest notAfter first.  *cert is a
 * new reference, *caps its capabilities.  Returns 0 or
 * P11A_E_KEY_NOT_FOUND.
 */
int smime_store_find(struct smime_store *s, const char *addr, X509 **cert,
                     unsigned *caps);

/* Capabilities stored for a certificate (0 when unknown). */
unsigned smime_store_caps(struct smime_store *s, X509 *cert);

/* Adds the trusted roots to xs. */
int smime_store_load_trust(struct smime_store *s, X509_STORE *xs);

/* Adds every stored certificate to sk (for building chains). */
int smime_store_load_certs(struct smime_store *s, STACK_OF(X509) * sk);

/*
 * Adds the stored certificates that may be intermediates: all but the
 * signers' own certificates kept from verified mail, which make up most
 * of a grown store (and each parse costs a decoder set-up in OpenSSL 3.0).
 */
int smime_store_load_chain_certs(struct smime_store *s, STACK_OF(X509) * sk);

/* Adds the stored CRLs to sk. */
int smime_store_load_crls(struct smime_store *s, STACK_OF(X509_CRL) * sk);

/* SMIMECapabilities of a signer info, as SMIME_CAP_* bits. */
unsigned smime_caps_parse(const unsigned char *der, long len);

/* "aes256-gcm,aes128-gcm,..." of caps into buf. */
void smime_caps_format(unsigned caps, char *buf, size_t len);

#endif
