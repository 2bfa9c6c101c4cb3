/*
 * SSH views of token keys.
 */
#include <string.h>

#include "agent/ssh.h"
#include "proto/err.h"

enum proto_curve
agent_ssh_curve(const struct tok_key *k)
{
	const char *curve = tok_key_get0_curve(k);

	if (tok_key_type(k) != TOK_KEY_EC)
		return PROTO_CURVE_NONE;
	return proto_curve_from_openssl_name(proto_text_from(curve));
}

int
agent_ssh_key_blob(const struct tok_key *k, struct proto_writer *w)
{
	const uint8_t *n, *e, *q;
	size_t n_len, e_len, q_len;
	enum proto_curve c;

	switch (tok_key_type(k)) {
	case TOK_KEY_RSA:
		if (tok_key_get0_rsa_public(k, &n, &n_len, &e, &e_len) != 0)
			return P11A_E_KEY_TYPE;
		return proto_ssh_rsa_key_put(w, e, e_len, n, n_len);
	case TOK_KEY_EC:
		c = agent_ssh_curve(k);
		if (c == PROTO_CURVE_NONE ||
		    tok_key_get0_ec_point(k, &q, &q_len) != 0)
			return P11A_E_KEY_TYPE;
		return proto_ssh_ecdsa_key_put(w, c, q, q_len);
	case TOK_KEY_ED25519:
		if (tok_key_get0_ec_point(k, &q, &q_len) != 0)
			return P11A_E_KEY_TYPE;
		return proto_ssh_ed25519_key_put(w, q, q_len);
	}
	return P11A_E_KEY_TYPE;
}

struct tok_key *
agent_ssh_find_key(struct tok_key **keys, size_t n, const uint8_t *blob,
                   size_t len)
{
	struct proto_writer w;
	const uint8_t *p;
	size_t plen, i;
	struct tok_key *found = NULL;

	proto_writer_init(&w);
	for (i = 0; i < n && found == NULL; i++) {
		proto_writer_reset(&w);
		if (agent_ssh_key_blob(keys[i], &w) != 0 ||
		    proto_writer_finish(&w, &p, &plen) != 0)
			continue;
		if (plen == len && memcmp(p, blob, len) == 0)
			found = tok_key_up(keys[i]);
	}
	proto_writer_cleanup(&w);
	return found;
}
