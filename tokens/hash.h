/*
 * Hash helpers private to tokens/.
 */
#ifndef P11AGENT_TOKENS_HASH_H
#define P11AGENT_TOKENS_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "tokens/tokens.h"

/* Largest DigestInfo: the SHA-512 prefix (19 bytes) and its 64 bytes. */
#define TOK_DIGEST_INFO_MAX 83

/*
 * Writes the DER DigestInfo for a hash value; P11A_E_FORMAT when the
 * digest length does not fit the hash.
 */
int tok_hash_digest_info(enum tok_hash h, const uint8_t *digest,
                         size_t digest_len, uint8_t *out, size_t *out_len);

#endif
