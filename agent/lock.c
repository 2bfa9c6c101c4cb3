/*
 * SSH_AGENTC_LOCK / UNLOCK: while locked, every key request fails and the
 * tokens are logged out.  Only a salted hash of the passphrase is kept.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "agent/agent.h"
#include "proto/err.h"

static int
lock_hash(const uint8_t salt[16], struct proto_text pass, uint8_t out[32])
{
	uint8_t buf[16 + 1024];
	size_t out_len = 32;
	int r;

	if (pass.len > sizeof(buf) - 16)
		return P11A_E_ARGS;
	memcpy(buf, salt, 16);
	memcpy(buf + 16, pass.p, pass.len);
	r = tok_hash(TOK_HASH_SHA256, buf, 16 + pass.len, out, &out_len);
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int
agent_lock(struct agent *a, struct proto_text passphrase)
{
	int r;

	if (a->locked)
		return P11A_E_AGENT_LOCKED;
	if (RAND_bytes(a->lock_salt, sizeof(a->lock_salt)) != 1)
		return P11A_E_INTERNAL;
	if ((r = lock_hash(a->lock_salt, passphrase, a->lock_hash)) != 0)
		return r;
	a->locked = 1;
	agent_log(AGENT_LOG_INFO, "agent locked");
	agent_logout_all(a, "agent locked");
	return 0;
}

int
agent_unlock(struct agent *a, struct proto_text passphrase)
{
	uint8_t h[32];
	int r;

	if (!a->locked)
		return P11A_E_DENIED;
	if ((r = lock_hash(a->lock_salt, passphrase, h)) != 0)
		return r;
	if (CRYPTO_memcmp(h, a->lock_hash, sizeof(h)) != 0) {
		agent_log(AGENT_LOG_WARNING, "wrong agent unlock passphrase");
		return P11A_E_DENIED;
	}
	a->locked = 0;
	OPENSSL_cleanse(a->lock_hash, sizeof(a->lock_hash));
	agent_log(AGENT_LOG_INFO, "agent unlocked");
	return 0;
}
