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

/* A view into the certificate's buffer; NULL/0 when absent. */
struct smime_span {
	const uint8_t *p;
	size_t len;
};

struct smime_certder {
	struct smime_span serial;   /* serialNumber, whole INTEGER TLV */
	struct smime_span issuer;   /* issuer Name, whole TLV */
	struct smime_span subject;  /* subject Name, whole TLV */
	struct smime_span spki_alg; /* SubjectPublicKeyInfo algorithm OID,
	                             * content octets only */
	struct smime_span skid;     /* subjectKeyIdentifier, octets */
	struct smime_span akid;     /* authorityKeyIdentifier keyIdentifier */
};

/*
 * Reads der (len bytes, one Certificate) into *out.  Returns 0 or
 * P11A_E_FORMAT when it is not a certificate.
 */
int smime_certder_parse(const uint8_t *der, size_t len,
                        struct smime_certder *out);

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
