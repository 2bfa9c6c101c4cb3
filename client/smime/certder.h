/*
 * The fields of an X.509 certificate (RFC 5280) that signing needs, read
 * straight from its DER without libcrypto: p11 sign takes certificates
 * as the agent lists them and never builds X509 objects.
 */
#ifndef P11AGENT_SMIME_CERTDER_H
#define P11AGENT_SMIME_CERTDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "der.h"

struct smime_certder {
	struct smime_span serial;   /* serialNumber, whole INTEGER TLV */
	struct smime_span issuer;   /* issuer Name, whole TLV */
	struct smime_span subject;  /* subject Name, whole TLV */
	struct smime_span spki_alg; /* SubjectPublicKeyInfo algorithm OID,
	                             * whole TLV */
	struct smime_span spki_key; /* its subjectPublicKey BIT STRING,
	                             * content octets (unused-bits first) */
	struct smime_span skid;     /* subjectKeyIdentifier, octets */
	struct smime_span akid;     /* authorityKeyIdentifier keyIdentifier */
};

/*
 * Reads der (exactly len bytes, one Certificate) into *out.  Returns 0
 * or P11A_E_FORMAT when it is not a certificate.
 */
int smime_certder_parse(const uint8_t *der, size_t len,
                        struct smime_certder *out);

/*
 * The size in bytes of the RSA modulus in a subjectPublicKey (spki_key of
 * an rsaEncryption key).  Returns 0 or P11A_E_FORMAT.
 */
int smime_certder_rsa_modulus_len(struct smime_span spki_key, size_t *len);

/* Are two spans the same bytes? */
bool smime_span_eq(struct smime_span a, struct smime_span b);

/*
 * Could ca have issued c: ca's subject is c's issuer byte for byte and,
 * when both carry key identifiers, they match (a CA that renewed its key
 * under the same name).
 */
bool smime_certder_issued(const struct smime_certder *ca,
                          const struct smime_certder *c);

/* Is c self-issued (a root, for chain building)? */
bool smime_certder_self_issued(const struct smime_certder *c);

#endif
