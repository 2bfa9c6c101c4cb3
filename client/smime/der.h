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

/* Writes a DER length into out (at most 5 bytes); returns its size. */
size_t smime_der_len(uint8_t *out, size_t len);

#endif
