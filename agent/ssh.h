/*
 * SSH views of token keys: public key blobs and signature algorithms.
 */
#ifndef P11AGENT_AGENT_SSH_H
#define P11AGENT_AGENT_SSH_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/sshkey.h"
#include "tokens/tokens.h"

/*
 * Writes the SSH public key blob of k into a fresh writer w (bare blob).
 * P11A_E_KEY_TYPE when the key has no SSH form (e.g. an unknown curve).
 */
int agent_ssh_key_blob(const struct tok_key *k, struct proto_writer *w);

/* The curve of an EC key, PROTO_CURVE_NONE otherwise. */
enum proto_curve agent_ssh_curve(const struct tok_key *k);

/*
 * Finds the key whose blob equals blob among keys; a new reference, or
 * NULL.
 */
struct tok_key *agent_ssh_find_key(struct tok_key **keys, size_t n,
                                   const uint8_t *blob, size_t len);

#endif
