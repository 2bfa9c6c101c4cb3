/*
 * Token administration requests: import a key with its certificate and
 * chain, generate a key pair on a token, attach an issued certificate.
 * Like ssh-add, the client hands what the user supplied to the agent; the
 * private key of an import is wiped from every buffer we own once sent.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "p11agent.h"
#include "proto/err.h"

/* Sends the request encoded in c and decodes the key-URI reply into *uri. */
static int
admin_send(struct p11agent_conn *conn, struct clib_call *c, int enc,
           enum proto_ext ext, char **uri)
{
	struct proto_key_uri_reply rep;
	int r;

	if ((r = clib_call_send(conn, c, enc, conn->login_timeout_ms)) != 0)
		return r;
	r = proto_key_uri_reply_decode(c->body, c->len, ext, &rep, &c->fail);
	r = clib_reply(conn, r, &c->fail, proto_ext_name(ext));
	if (r == 0 && (*uri = clib_strdup_text(rep.key_uri)) == NULL)
		r = clib_fail(conn, P11A_E_NOMEM, NULL);
	return r;
}

int
p11agent_import(struct p11agent_conn *conn, const char *token,
                const char *label, const uint8_t *pkcs8, size_t pkcs8_len,
                const uint8_t *cert, size_t cert_len,
                const uint8_t *const *chain, const size_t *chain_lens,
                size_t nchain, char **key_uri)
{
	struct proto_import_request req;
	struct clib_call c;
	size_t i;
	int r;

	*key_uri = NULL;
	if ((r = clib_call_start(conn, &c, true)) != 0)
		goto out;
	if (pkcs8 == NULL || pkcs8_len == 0 ||
	    nchain > PROTO_IMPORT_MAX_CHAIN) {
		r = clib_fail(conn, P11A_E_ARGS,
		              "a private key and at most %d chain certificates "
		              "are needed",
		              PROTO_IMPORT_MAX_CHAIN);
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.token = proto_text_from(token);
	req.label = proto_text_from(label);
	req.pkcs8.p = pkcs8;
	req.pkcs8.len = pkcs8_len;
	req.cert.p = cert;
	req.cert.len = cert != NULL ? cert_len : 0;
	for (i = 0; i < nchain; i++) {
		req.chain[i].p = chain[i];
		req.chain[i].len = chain_lens[i];
	}
	req.nchain = nchain;
	/* clib_transact() wipes the frame (it holds the key) once sent. */
	r = admin_send(conn, &c, proto_import_request_encode(&c.w, &req),
	               PROTO_EXT_IMPORT, key_uri);
out:
	clib_call_cleanup(&c);
	return r;
}

int
p11agent_keygen(struct p11agent_conn *conn, const char *token,
                const char *label, uint32_t key_type, uint32_t bits,
                char **key_uri)
{
	struct proto_keygen_request req;
	struct clib_call c;
	int r;

	*key_uri = NULL;
	if ((r = clib_call_start(conn, &c, true)) != 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.token = proto_text_from(token);
	req.label = proto_text_from(label);
	req.key_type = key_type;
	req.bits = bits;
	r = admin_send(conn, &c, proto_keygen_request_encode(&c.w, &req),
	               PROTO_EXT_KEYGEN, key_uri);
out:
	clib_call_cleanup(&c);
	return r;
}

int
p11agent_attach_cert(struct p11agent_conn *conn, const uint8_t *cert,
                     size_t cert_len, char **key_uri)
{
	struct proto_attach_cert_request req;
	struct clib_call c;
	int r;

	*key_uri = NULL;
	if ((r = clib_call_start(conn, &c, true)) != 0)
		goto out;
	req.cert.p = cert;
	req.cert.len = cert_len;
	r = admin_send(conn, &c, proto_attach_cert_request_encode(&c.w, &req),
	               PROTO_EXT_ATTACH_CERT, key_uri);
out:
	clib_call_cleanup(&c);
	return r;
}
