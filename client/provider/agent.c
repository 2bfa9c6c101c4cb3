/*
 * Requests to the agent.  Each request opens its own connection and
 * closes it again: a connection must not be shared by threads, OpenSSL
 * calls providers from any thread, and connecting to a local socket costs
 * far less than a token operation.  The agent's sentence of a failure is
 * kept for the error queue.
 */
#include <limits.h>
#include <stdio.h>

#include "internal.h"

/* Room for a Unix socket path (sun_path is 108 bytes on Linux). */
#define SOCK_PATH_MAX 256

static int
agent_open(const struct p11a_prov *prov, struct p11agent_conn **out,
           struct p11a_why *why)
{
	char path[SOCK_PATH_MAX];
	int r;

	*out = NULL;
	if ((r = p11agent_connect(prov->socket, out)) == 0)
		return 0;
	if (p11agent_socket_path(prov->socket, path, sizeof(path)) != 0)
		path[0] = '\0';
	return p11a_why_set(why, r,
	                    "cannot reach p11agent at %s: %s (start "
	                    "it, or set P11AGENT_SOCK)",
	                    path, p11agent_strerror(r));
}

/* Records conn's sentence for a failed request and returns r. */
static int
agent_failed(struct p11agent_conn *conn, int r, const char *what,
             struct p11a_why *why)
{
	const char *msg = p11agent_conn_errmsg(conn);

	if (msg[0] == '\0')
		msg = p11agent_strerror(r);
	return p11a_why_set(why, r, "p11agent %s: %s", what, msg);
}

int
p11a_agent_list(const struct p11a_prov *prov, struct p11agent_list **out,
                struct p11a_why *why)
{
	struct p11agent_conn *conn = NULL;
	int r;

	*out = NULL;
	if ((r = agent_open(prov, &conn, why)) != 0)
		return r;
	if ((r = p11agent_list(conn, out)) != 0)
		r = agent_failed(conn, r, "list", why);
	p11agent_close(conn);
	return r;
}

int
p11a_agent_sign(const struct p11a_prov *prov, const char *uri, uint32_t mech,
                uint32_t hash, uint32_t mgf1_hash, uint32_t salt_len,
                const uint8_t *digest, size_t digest_len, uint8_t *sig,
                size_t *sig_len, struct p11a_why *why)
{
	struct p11agent_conn *conn = NULL;
	int r;

	if ((r = agent_open(prov, &conn, why)) != 0)
		return r;
	r = p11agent_sign_digest(conn, uri, mech, hash, mgf1_hash, salt_len,
	                         digest, digest_len, sig, sig_len);
	if (r != 0)
		r = agent_failed(conn, r, "sign", why);
	p11agent_close(conn);
	return r;
}

int
p11a_agent_decrypt(const struct p11a_prov *prov, const char *uri,
                   uint32_t padding, uint32_t oaep_hash, uint32_t mgf1_hash,
                   const uint8_t *label, size_t label_len, const uint8_t *ct,
                   size_t ct_len, uint8_t *pt, size_t *pt_len,
                   struct p11a_why *why)
{
	struct p11agent_conn *conn = NULL;
	int r;

	if ((r = agent_open(prov, &conn, why)) != 0)
		return r;
	r = p11agent_decrypt(conn, uri, padding, oaep_hash, mgf1_hash, label,
	                     label_len, ct, ct_len, pt, pt_len);
	if (r == P11AGENT_E_DECRYPT || r == P11AGENT_E_TOKEN ||
	    r == P11AGENT_E_FORMAT) {
		/*
		 * Say nothing about why the ciphertext was refused: the
		 * difference between padding and other failures is what a
		 * Bleichenbacher or Manger oracle feeds on.  Tokens report bad
		 * padding in several ways (SoftHSM: CKR_GENERAL_ERROR), so
		 * every failure of the operation itself reads the same.
		 */
		r = p11a_why_set(why, P11AGENT_E_DECRYPT, "decryption failed");
	} else if (r != 0) {
		r = agent_failed(conn, r, "decrypt", why);
	}
	p11agent_close(conn);
	return r;
}

int
p11a_agent_derive(const struct p11a_prov *prov, const char *uri,
                  const uint8_t *point, size_t point_len, uint8_t *secret,
                  size_t *secret_len, struct p11a_why *why)
{
	struct p11agent_conn *conn = NULL;
	int r;

	if ((r = agent_open(prov, &conn, why)) != 0)
		return r;
	r = p11agent_derive(conn, uri, point, point_len, secret, secret_len);
	if (r != 0)
		r = agent_failed(conn, r, "derive", why);
	p11agent_close(conn);
	return r;
}
