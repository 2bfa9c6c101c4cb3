/*
 * The certificates to send with a signature: the signer's issuers up to
 * (not including) the root, from the store's chain candidates, as DER
 * and without libcrypto (p11 sign runs without it).
 */
#ifndef P11AGENT_SMIME_STORE_CHAIN_H
#define P11AGENT_SMIME_STORE_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "store_dir.h"

/* As deep as cli_smime_add_chain() goes: more is a loop or an attack. */
#define SMIME_CHAIN_MAX 8

struct smime_der_chain {
	size_t n;
	uint8_t *der[SMIME_CHAIN_MAX]; /* issuer of the signer first */
	size_t len[SMIME_CHAIN_MAX];
};

/*
 * Fills *out with the issuers of cert (len bytes of DER) found among the
 * store's chain candidates (smime_store_is_chain_candidate()), nearest
 * first, without the self-issued root: the receiver must trust that one
 * anyway.  Files that are not certificates are skipped.  *out is empty
 * when nothing is found.  Returns 0, P11A_E_FORMAT when cert is not a
 * certificate, or P11A_E_NOMEM; free *out with smime_der_chain_cleanup().
 */
int smime_store_chain_der(struct smime_store *s, const uint8_t *cert,
                          size_t len, struct smime_der_chain *out);

void smime_der_chain_cleanup(struct smime_der_chain *c);

#endif
