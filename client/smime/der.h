/*
 * A small DER reader for picking TLVs out of encodings OpenSSL made.
 */
#ifndef P11AGENT_SMIME_DER_H
#define P11AGENT_SMIME_DER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads the TLV at p (len bytes available, definite length only): its
 * tag octet, the header size and the content size.  Returns 0 or
 * P11A_E_FORMAT.
 */
int smime_der_tlv(const uint8_t *p, size_t len, uint8_t *tag, size_t *hdr,
                  size_t *clen);

/* A view into a DER buffer; NULL/0 when absent. */
struct smime_span {
	const uint8_t *p;
	size_t len;
};

/* A cursor over a run of TLVs (the contents of a constructed one). */
struct smime_der_cur {
	const uint8_t *p;
	size_t len;
};

/*
 * Takes the next TLV off c: its tag in *tag, the whole TLV in *whole and
 * its contents in *body (each may be NULL).  Returns 0 or P11A_E_FORMAT.
 */
int smime_der_next(struct smime_der_cur *c, uint8_t *tag,
                   struct smime_span *whole, struct smime_span *body);

/* Like smime_der_next(), failing unless the tag is want. */
int smime_der_expect(struct smime_der_cur *c, uint8_t want,
                     struct smime_span *whole, struct smime_span *body);

/* Writes a DER length into out (at most 5 bytes); returns its size. */
size_t smime_der_len(uint8_t *out, size_t len);

#endif
