/*
 * The requests of libp11agent: encode with proto/, exchange, decode with
 * proto/, and copy what the caller keeps out of the reply frame, which is
 * wiped and freed before returning.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p11agent.h"
#include "internal.h"
#include "proto/buf.h"
#include "proto/err.h"
#include "proto/msg.h"

/* The public constants must keep the protocol's numbers. */
#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " != " #b)
SAME(P11AGENT_E_FORMAT, P11A_E_FORMAT);
SAME(P11AGENT_E_TOO_LARGE, P11A_E_TOO_LARGE);
SAME(P11AGENT_E_NOMEM, P11A_E_NOMEM);
SAME(P11AGENT_E_PIN_INCORRECT, P11A_E_PIN_INCORRECT);
SAME(P11AGENT_E_PIN_LOCKED, P11A_E_PIN_LOCKED);
SAME(P11AGENT_E_TOKEN_ABSENT, P11A_E_TOKEN_ABSENT);
SAME(P11AGENT_E_KEY_NOT_FOUND, P11A_E_KEY_NOT_FOUND);
SAME(P11AGENT_E_AGENT_LOCKED, P11A_E_AGENT_LOCKED);
SAME(P11AGENT_E_MECH_UNSUPPORTED, P11A_E_MECH_UNSUPPORTED);
SAME(P11AGENT_E_LOGIN_REQUIRED, P11A_E_LOGIN_REQUIRED);
SAME(P11AGENT_E_TOKEN, P11A_E_TOKEN);
SAME(P11AGENT_E_PIN_INVALID, P11A_E_PIN_INVALID);
SAME(P11AGENT_E_INTERNAL, P11A_E_INTERNAL);
SAME(P11AGENT_E_UNKNOWN_REQUEST, P11A_E_UNKNOWN_REQUEST);
SAME(P11AGENT_E_DENIED, P11A_E_DENIED);
SAME(P11AGENT_E_DECRYPT, P11A_E_DECRYPT);
SAME(P11AGENT_E_CANCELLED, P11A_E_CANCELLED);
SAME(P11AGENT_E_IO, P11A_E_IO);
SAME(P11AGENT_E_NO_AGENT, P11A_E_NO_AGENT);
SAME(P11AGENT_E_ARGS, P11A_E_ARGS);
SAME(P11AGENT_E_ALREADY, P11A_E_ALREADY);
SAME(P11AGENT_E_PIN_EXPIRED, P11A_E_PIN_EXPIRED);
SAME(P11AGENT_E_KEY_TYPE, P11A_E_KEY_TYPE);
SAME(P11AGENT_E_SIGNATURE, P11A_E_SIGNATURE);
SAME(P11AGENT_MECH_RSA_PKCS1, PROTO_MECH_RSA_PKCS1);
SAME(P11AGENT_MECH_RSA_PSS, PROTO_MECH_RSA_PSS);
SAME(P11AGENT_MECH_ECDSA, PROTO_MECH_ECDSA);
SAME(P11AGENT_MECH_EDDSA, PROTO_MECH_EDDSA);
SAME(P11AGENT_HASH_NONE, PROTO_HASH_NONE);
SAME(P11AGENT_HASH_SHA1, PROTO_HASH_SHA1);
SAME(P11AGENT_HASH_SHA224, PROTO_HASH_SHA224);
SAME(P11AGENT_HASH_SHA256, PROTO_HASH_SHA256);
SAME(P11AGENT_HASH_SHA384, PROTO_HASH_SHA384);
SAME(P11AGENT_HASH_SHA512, PROTO_HASH_SHA512);
SAME(P11AGENT_PADDING_PKCS1, PROTO_PADDING_PKCS1);
SAME(P11AGENT_PADDING_OAEP, PROTO_PADDING_OAEP);
SAME(P11AGENT_KEY_RSA, PROTO_KEY_RSA);
SAME(P11AGENT_KEY_EC, PROTO_KEY_EC);
SAME(P11AGENT_KEY_ED25519, PROTO_KEY_ED25519);
SAME(P11AGENT_KEY_CAN_SIGN, PROTO_KEY_CAN_SIGN);
SAME(P11AGENT_KEY_CAN_DECRYPT, PROTO_KEY_CAN_DECRYPT);
SAME(P11AGENT_KEY_CAN_DERIVE, PROTO_KEY_CAN_DERIVE);
SAME(P11AGENT_KEY_ALWAYS_AUTHENTICATE, PROTO_KEY_ALWAYS_AUTHENTICATE);
SAME(P11AGENT_KEY_HOST_PADDING_FALLBACK, PROTO_KEY_HOST_PADDING_FALLBACK);
SAME(P11AGENT_KEY_PRIVATE_KEY_VISIBLE, PROTO_KEY_PRIVATE_KEY_VISIBLE);
SAME(P11AGENT_TOKEN_LOGIN_REQUIRED, PROTO_TOKEN_LOGIN_REQUIRED);
SAME(P11AGENT_TOKEN_PROTECTED_AUTH_PATH, PROTO_TOKEN_PROTECTED_AUTH_PATH);
SAME(P11AGENT_TOKEN_USER_PIN_COUNT_LOW, PROTO_TOKEN_USER_PIN_COUNT_LOW);
SAME(P11AGENT_TOKEN_USER_PIN_FINAL_TRY, PROTO_TOKEN_USER_PIN_FINAL_TRY);
SAME(P11AGENT_TOKEN_USER_PIN_LOCKED, PROTO_TOKEN_USER_PIN_LOCKED);
SAME(P11AGENT_TOKEN_USER_PIN_TO_BE_CHANGED, PROTO_TOKEN_USER_PIN_TO_BE_CHANGED);
SAME(P11AGENT_TOKEN_INITIALIZED, PROTO_TOKEN_INITIALIZED);
SAME(P11AGENT_TOKEN_LOGGED_IN, PROTO_TOKEN_LOGGED_IN);
SAME(P11AGENT_TOKEN_PRESENT, PROTO_TOKEN_PRESENT);
SAME(P11AGENT_AGENT_LOCKED, PROTO_AGENT_LOCKED);
SAME(P11AGENT_SSH_RSA_SHA2_256, PROTO_SSH_AGENT_RSA_SHA2_256);
SAME(P11AGENT_SSH_RSA_SHA2_512, PROTO_SSH_AGENT_RSA_SHA2_512);
SAME(P11AGENT_MESSAGE_MAX, PROTO_FRAME_MAX);

char *
clib_strdup_text(struct proto_text t)
{
	return proto_text_dup(t);
}

int
clib_memdup(const uint8_t *p, size_t len, uint8_t **out)
{
	*out = NULL;
	if (len == 0)
		return 0;
	if ((*out = malloc(len)) == NULL)
		return P11A_E_NOMEM;
	memcpy(*out, p, len);
	return 0;
}

/*
 * The capacity of a caller's result buffer: *len on entry, which is then
 * cleared until a result is copied.  0 when len is NULL.
 */
static size_t
take_cap(size_t *len)
{
	size_t cap = 0;

	if (len != NULL) {
		cap = *len;
		*len = 0;
	}
	return cap;
}

/*
 * Copies a result of v.len bytes into the caller's buffer (cap bytes, from
 * take_cap()).  Secret results are never partly copied.
 */
static int
copy_out(struct p11agent_conn *conn, const char *what, struct proto_bytes v,
         uint8_t *buf, size_t cap, size_t *len)
{
	if (v.len > cap || (buf == NULL && v.len > 0))
		return clib_fail(conn, P11A_E_ARGS,
		                 "the %s is %zu bytes but the buffer holds %zu",
		                 what, v.len, buf == NULL ? (size_t)0 : cap);
	if (v.len > 0)
		memcpy(buf, v.p, v.len);
	*len = v.len;
	return 0;
}

/* list@p11agent. */

static int
copy_token(const struct proto_token_info *in, struct p11agent_token *t)
{
	if ((t->uri = clib_strdup_text(in->uri)) == NULL ||
	    (t->label = clib_strdup_text(in->label)) == NULL ||
	    (t->manufacturer = clib_strdup_text(in->manufacturer)) == NULL ||
	    (t->model = clib_strdup_text(in->model)) == NULL ||
	    (t->serial = clib_strdup_text(in->serial)) == NULL)
		return P11A_E_NOMEM;
	t->flags = in->flags;
	return 0;
}

static int
copy_key(const struct proto_key_info *in, struct p11agent_key *k)
{
	size_t i;
	int r;

	if ((k->uri = clib_strdup_text(in->uri)) == NULL ||
	    (k->token_label = clib_strdup_text(in->token_label)) == NULL ||
	    (k->label = clib_strdup_text(in->label)) == NULL ||
	    (k->curve = clib_strdup_text(in->curve)) == NULL)
		return P11A_E_NOMEM;
	k->key_type = in->key_type;
	k->bits = in->bits;
	k->flags = in->flags;
	if ((r = clib_memdup(in->cert_der.p, in->cert_der.len, &k->cert_der)) !=
	    0)
		return r;
	k->cert_der_len = in->cert_der.len;
	if ((r = clib_memdup(in->ssh_blob.p, in->ssh_blob.len, &k->ssh_blob)) !=
	    0)
		return r;
	k->ssh_blob_len = in->ssh_blob.len;
	if (in->nemails == 0)
		return 0;
	if ((k->emails = calloc(in->nemails, sizeof(*k->emails))) == NULL)
		return P11A_E_NOMEM;
	/* Count as we go, so that _free() sees only what exists. */
	for (i = 0; i < in->nemails; i++) {
		if ((k->emails[i] = clib_strdup_text(in->emails[i])) == NULL)
			return P11A_E_NOMEM;
		k->nemails++;
	}
	return 0;
}

static int
copy_list(const struct proto_list_reply *rep, struct p11agent_list **out)
{
	struct p11agent_list *l;
	size_t i;
	int r;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return P11A_E_NOMEM;
	if (rep->ntokens > 0 &&
	    (l->tokens = calloc(rep->ntokens, sizeof(*l->tokens))) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	for (i = 0; i < rep->ntokens; i++) {
		l->ntokens++;
		if ((r = copy_token(&rep->tokens[i], &l->tokens[i])) != 0)
			goto out;
	}
	if (rep->nkeys > 0 &&
	    (l->keys = calloc(rep->nkeys, sizeof(*l->keys))) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	for (i = 0; i < rep->nkeys; i++) {
		l->nkeys++;
		if ((r = copy_key(&rep->keys[i], &l->keys[i])) != 0)
			goto out;
	}
	*out = l;
	l = NULL;
	r = 0;
out:
	p11agent_list_free(l);
	return r;
}

static int
list_send(struct p11agent_conn *conn, uint32_t flags)
{
	struct proto_list_request req = {flags, false};
	struct clib_call c;
	int r;

	if ((r = clib_call_start(conn, &c, true)) == 0)
		r = clib_post(conn, &c.w, proto_list_request_encode(&c.w, &req),
		              conn->timeout_ms);
	clib_call_cleanup(&c);
	return r;
}

int
p11agent_list_send(struct p11agent_conn *conn)
{
	return list_send(conn, 0);
}

int
p11agent_list_recv(struct p11agent_conn *conn, struct p11agent_list **out)
{
	struct proto_list_reply rep;
	struct clib_call c;
	int r;

	memset(&rep, 0, sizeof(rep));
	if (out != NULL)
		*out = NULL;
	if ((r = clib_call_collect(conn, &c, out != NULL)) != 0)
		goto out;
	r = proto_list_reply_decode(c.body, c.len, &rep, &c.fail);
	if ((r = clib_reply(conn, r, &c.fail, "list@p11agent")) != 0)
		goto out;
	if ((r = copy_list(&rep, out)) != 0)
		clib_fail(conn, r, NULL);
out:
	proto_list_reply_cleanup(&rep);
	clib_call_cleanup(&c);
	return r;
}

static int
list_call(struct p11agent_conn *conn, uint32_t flags,
          struct p11agent_list **out)
{
	int r;

	if (out == NULL)
		return conn == NULL ? P11A_E_ARGS
		                    : clib_fail(conn, P11A_E_ARGS, NULL);
	*out = NULL;
	if ((r = list_send(conn, flags)) != 0)
		return r;
	return p11agent_list_recv(conn, out);
}

int
p11agent_list(struct p11agent_conn *conn, struct p11agent_list **out)
{
	return list_call(conn, 0, out);
}

int
p11agent_list_rescan(struct p11agent_conn *conn, struct p11agent_list **out)
{
	return list_call(conn, PROTO_LIST_RESCAN, out);
}

void
p11agent_list_free(struct p11agent_list *list)
{
	struct p11agent_token *t;
	struct p11agent_key *k;
	size_t i, j;

	if (list == NULL)
		return;
	for (i = 0; i < list->ntokens; i++) {
		t = &list->tokens[i];
		free(t->uri);
		free(t->label);
		free(t->manufacturer);
		free(t->model);
		free(t->serial);
	}
	for (i = 0; i < list->nkeys; i++) {
		k = &list->keys[i];
		free(k->uri);
		free(k->token_label);
		free(k->label);
		free(k->curve);
		free(k->cert_der);
		free(k->ssh_blob);
		for (j = 0; j < k->nemails; j++)
			free(k->emails[j]);
		free(k->emails);
	}
	free(list->tokens);
	free(list->keys);
	free(list);
}

/* status@p11agent. */

static int
copy_status(const struct proto_status_reply *rep, struct p11agent_status **out)
{
	struct p11agent_token_status *t;
	struct p11agent_status *s;
	size_t i;
	int r = P11A_E_NOMEM;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return P11A_E_NOMEM;
	if ((s->version = clib_strdup_text(rep->version)) == NULL)
		goto out;
	s->uptime = rep->uptime;
	s->flags = rep->flags;
	s->login_lifetime = rep->login_lifetime;
	s->idle_timeout = rep->idle_timeout;
	if (rep->ntokens > 0 &&
	    (s->tokens = calloc(rep->ntokens, sizeof(*s->tokens))) == NULL)
		goto out;
	for (i = 0; i < rep->ntokens; i++) {
		t = &s->tokens[s->ntokens++];
		if ((t->uri = clib_strdup_text(rep->tokens[i].uri)) == NULL ||
		    (t->label = clib_strdup_text(rep->tokens[i].label)) == NULL)
			goto out;
		t->flags = rep->tokens[i].flags;
		t->logged_in_since = rep->tokens[i].logged_in_since;
		t->login_expires = rep->tokens[i].login_expires;
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	p11agent_status_free(s);
	return r;
}

int
p11agent_status(struct p11agent_conn *conn, struct p11agent_status **out)
{
	struct proto_status_reply rep;
	struct clib_call c;
	int r;

	memset(&rep, 0, sizeof(rep));
	if (out != NULL)
		*out = NULL;
	if ((r = clib_call_start(conn, &c, out != NULL)) != 0 ||
	    (r = clib_call_send(conn, &c, proto_status_request_encode(&c.w),
	                        conn->timeout_ms)) != 0)
		goto out;
	r = proto_status_reply_decode(c.body, c.len, &rep, &c.fail);
	if ((r = clib_reply(conn, r, &c.fail, "status@p11agent")) != 0)
		goto out;
	if ((r = copy_status(&rep, out)) != 0)
		clib_fail(conn, r, NULL);
out:
	proto_status_reply_cleanup(&rep);
	clib_call_cleanup(&c);
	return r;
}

void
p11agent_status_free(struct p11agent_status *status)
{
	size_t i;

	if (status == NULL)
		return;
	for (i = 0; i < status->ntokens; i++) {
		free(status->tokens[i].uri);
		free(status->tokens[i].label);
	}
	free(status->tokens);
	free(status->version);
	free(status);
}

/* query. */

static int
copy_names(const struct proto_query_reply *rep, char ***out)
{
	char **names;
	size_t i;

	/* calloc keeps the array NULL-terminated while it fills. */
	if ((names = calloc(rep->n + 1, sizeof(*names))) == NULL)
		return P11A_E_NOMEM;
	for (i = 0; i < rep->n; i++) {
		if ((names[i] = clib_strdup_text(rep->names[i])) == NULL) {
			p11agent_names_free(names);
			return P11A_E_NOMEM;
		}
	}
	*out = names;
	return 0;
}

int
p11agent_query(struct p11agent_conn *conn, char ***out)
{
	struct proto_query_reply rep;
	struct clib_call c;
	int r;

	memset(&rep, 0, sizeof(rep));
	if (out != NULL)
		*out = NULL;
	if ((r = clib_call_start(conn, &c, out != NULL)) != 0 ||
	    (r = clib_call_send(conn, &c, proto_query_request_encode(&c.w),
	                        conn->timeout_ms)) != 0)
		goto out;
	r = proto_query_reply_decode(c.body, c.len, &rep, &c.fail);
	if ((r = clib_reply(conn, r, &c.fail, "query")) != 0)
		goto out;
	if ((r = copy_names(&rep, out)) != 0)
		clib_fail(conn, r, NULL);
out:
	proto_query_reply_cleanup(&rep);
	clib_call_cleanup(&c);
	return r;
}

void
p11agent_names_free(char **names)
{
	size_t i;

	if (names == NULL)
		return;
	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* Private-key operations. */

int
p11agent_sign_digest_send(struct p11agent_conn *conn, const char *key_uri,
                          uint32_t mech, uint32_t hash, uint32_t mgf1_hash,
                          uint32_t salt_len, const uint8_t *digest,
                          size_t digest_len)
{
	struct proto_sign_digest_request req;
	struct clib_call c;
	int r;

	if ((r = clib_call_start(conn, &c,
	                         key_uri != NULL && (digest != NULL ||
	                                             digest_len == 0))) == 0) {
		memset(&req, 0, sizeof(req));
		req.key_uri = proto_text_from(key_uri);
		req.mechanism = mech;
		req.hash = hash;
		req.mgf1_hash = mgf1_hash;
		req.salt_len = salt_len;
		req.digest.p = digest;
		req.digest.len = digest_len;
		r = clib_post(conn, &c.w,
		              proto_sign_digest_request_encode(&c.w, &req),
		              conn->timeout_ms);
	}
	clib_call_cleanup(&c);
	return r;
}

int
p11agent_sign_digest_recv(struct p11agent_conn *conn, uint8_t *sig,
                          size_t *sig_len)
{
	struct proto_sign_digest_reply rep;
	struct clib_call c;
	size_t cap = take_cap(sig_len);
	int r;

	if ((r = clib_call_collect(conn, &c, sig_len != NULL)) != 0)
		goto out;
	r = proto_sign_digest_reply_decode(c.body, c.len, &rep, &c.fail);
	if ((r = clib_reply(conn, r, &c.fail, "sign-digest@p11agent")) != 0)
		goto out;
	r = copy_out(conn, "signature", rep.signature, sig, cap, sig_len);
out:
	clib_call_cleanup(&c);
	return r;
}

int
p11agent_sign_digest(struct p11agent_conn *conn, const char *key_uri,
                     uint32_t mech, uint32_t hash, uint32_t mgf1_hash,
                     uint32_t salt_len, const uint8_t *digest,
                     size_t digest_len, uint8_t *sig, size_t *sig_len)
{
	int r;

	if (sig_len == NULL)
		return conn == NULL ? P11A_E_ARGS
		                    : clib_fail(conn, P11A_E_ARGS, NULL);
	if ((r = p11agent_sign_digest_send(conn, key_uri, mech, hash, mgf1_hash,
	                                   salt_len, digest, digest_len)) !=
	    0) {
		take_cap(sig_len);
		return r;
	}
	return p11agent_sign_digest_recv(conn, sig, sig_len);
}

int
p11agent_decrypt(struct p11agent_conn *conn, const char *key_uri,
                 uint32_t padding, uint32_t oaep_hash, uint32_t mgf1_hash,
                 const uint8_t *label, size_t label_len, const uint8_t *ct,
                 size_t ct_len, uint8_t *pt, size_t *pt_len)
{
	struct proto_decrypt_request req;
	struct proto_decrypt_reply rep;
	struct clib_call c;
	size_t cap = take_cap(pt_len);
	int r;

	if ((r = clib_call_start(conn, &c,
	                         key_uri != NULL && pt_len != NULL &&
	                             (label != NULL || label_len == 0) &&
	                             (ct != NULL || ct_len == 0))) != 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.key_uri = proto_text_from(key_uri);
	req.padding = padding;
	req.oaep_hash = oaep_hash;
	req.mgf1_hash = mgf1_hash;
	req.label.p = label;
	req.label.len = label_len;
	req.ciphertext.p = ct;
	req.ciphertext.len = ct_len;
	if ((r = clib_call_send(conn, &c,
	                        proto_decrypt_request_encode(&c.w, &req),
	                        conn->timeout_ms)) != 0)
		goto out;
	r = proto_decrypt_reply_decode(c.body, c.len, &rep, &c.fail);
	if ((r = clib_reply(conn, r, &c.fail, "decrypt@p11agent")) != 0)
		goto out;
	r = copy_out(conn, "plaintext", rep.plaintext, pt, cap, pt_len);
out:
	/* The reply held the plaintext. */
	clib_call_cleanup(&c);
	return r;
}

int
p11agent_derive(struct p11agent_conn *conn, const char *key_uri,
                const uint8_t *peer_point, size_t peer_point_len,
                uint8_t *secret, size_t *secret_len)
{
	struct proto_derive_request req;
	struct proto_derive_reply rep;
	struct clib_call c;
	size_t cap = take_cap(secret_len);
	int r;

	if ((r = clib_call_start(
	         conn, &c,
	         key_uri != NULL && secret_len != NULL &&
	             (peer_point != NULL || peer_point_len == 0))) != 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.key_uri = proto_text_from(key_uri);
	req.peer_point.p = peer_point;
	req.peer_point.len = peer_point_len;
	if ((r = clib_call_send(conn, &c,
	                        proto_derive_request_encode(&c.w, &req),
	                        conn->timeout_ms)) != 0)
		goto out;
	r = proto_derive_reply_decode(c.body, c.len, &rep, &c.fail);
	if ((r = clib_reply(conn, r, &c.fail, "derive@p11agent")) != 0)
		goto out;
	r = copy_out(conn, "shared secret", rep.secret, secret, cap,
	             secret_len);
out:
	/* The reply held the shared secret. */
	clib_call_cleanup(&c);
	return r;
}

/* Login, logout, lock. */

int
p11agent_login(struct p11agent_conn *conn, const char *token, const char *pin,
               size_t pin_len)
{
	struct proto_login_request req;
	struct clib_call c;
	int r;

	if ((r = clib_call_start(conn, &c, pin != NULL || pin_len == 0)) != 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.token = proto_text_from(token);
	req.pin.p = pin != NULL ? pin : "";
	req.pin.len = pin_len;
	/* clib_transact() wipes the request as soon as it is sent. */
	if ((r = clib_call_send(conn, &c,
	                        proto_login_request_encode(&c.w, &req),
	                        conn->login_timeout_ms)) != 0)
		goto out;
	r = proto_login_reply_decode(c.body, c.len, &c.fail);
	r = clib_reply(conn, r, &c.fail, "login@p11agent");
out:
	/* req only pointed at the caller's PIN: nothing of ours to wipe. */
	clib_call_cleanup(&c);
	return r;
}

int
p11agent_logout(struct p11agent_conn *conn, const char *token)
{
	struct proto_logout_request req;
	struct clib_call c;
	int r;

	if ((r = clib_call_start(conn, &c, true)) != 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.token = proto_text_from(token);
	if ((r = clib_call_send(conn, &c,
	                        proto_logout_request_encode(&c.w, &req),
	                        conn->timeout_ms)) != 0)
		goto out;
	r = proto_logout_reply_decode(c.body, c.len, &c.fail);
	r = clib_reply(conn, r, &c.fail, "logout@p11agent");
out:
	clib_call_cleanup(&c);
	return r;
}

static int
lock_common(struct p11agent_conn *conn, bool lock, const char *pass,
            size_t pass_len)
{
	struct proto_lock_request req;
	struct clib_call c;
	int r;

	memset(&req, 0, sizeof(req));
	if ((r = clib_call_start(conn, &c, pass != NULL || pass_len == 0)) != 0)
		goto out;
	req.passphrase.p = pass != NULL ? pass : "";
	req.passphrase.len = pass_len;
	r = lock ? proto_lock_request_encode(&c.w, &req)
	         : proto_unlock_request_encode(&c.w, &req);
	if ((r = clib_call_send(conn, &c, r, conn->timeout_ms)) != 0)
		goto out;
	r = proto_success_decode(c.body, c.len, &c.fail);
	if (r != 0 && c.fail.code == P11A_E_DENIED && c.fail.generic) {
		/* SSH_AGENT_FAILURE says no more than "no". */
		r = clib_fail(
		    conn, r,
		    lock ? "the agent refused to lock (already locked?)"
		         : "the agent refused to unlock (wrong passphrase, "
		           "or not locked)");
		goto out;
	}
	r = clib_reply(conn, r, &c.fail, lock ? "lock" : "unlock");
out:
	clib_call_cleanup(&c);
	return r;
}

int
p11agent_lock(struct p11agent_conn *conn, const char *passphrase, size_t len)
{
	return lock_common(conn, true, passphrase, len);
}

int
p11agent_unlock(struct p11agent_conn *conn, const char *passphrase, size_t len)
{
	return lock_common(conn, false, passphrase, len);
}

/* SSH agent protocol. */

static int
copy_identities(const struct proto_identities_reply *rep,
                struct p11agent_identity **ids, size_t *n)
{
	struct p11agent_identity *v = NULL;
	size_t i, nv = 0;
	int r = P11A_E_NOMEM;

	if (rep->n > 0 && (v = calloc(rep->n, sizeof(*v))) == NULL)
		return P11A_E_NOMEM;
	for (i = 0; i < rep->n; i++) {
		nv++;
		if (clib_memdup(rep->ids[i].key_blob.p,
		                rep->ids[i].key_blob.len,
		                &v[i].key_blob) != 0 ||
		    (v[i].comment = clib_strdup_text(rep->ids[i].comment)) ==
		        NULL)
			goto out;
		v[i].key_blob_len = rep->ids[i].key_blob.len;
	}
	*ids = v;
	*n = nv;
	v = NULL;
	r = 0;
out:
	p11agent_identities_free(v, nv);
	return r;
}

int
p11agent_ssh_identities(struct p11agent_conn *conn,
                        struct p11agent_identity **ids, size_t *n)
{
	struct proto_identities_reply rep;
	struct clib_call c;
	int r;

	memset(&rep, 0, sizeof(rep));
	if (ids != NULL)
		*ids = NULL;
	if (n != NULL)
		*n = 0;
	if ((r = clib_call_start(conn, &c, ids != NULL && n != NULL)) != 0 ||
	    (r = clib_call_send(conn, &c, proto_identities_request_encode(&c.w),
	                        conn->timeout_ms)) != 0)
		goto out;
	r = proto_identities_reply_decode(c.body, c.len, &rep, &c.fail);
	if ((r = clib_reply(conn, r, &c.fail, "identities")) != 0)
		goto out;
	if ((r = copy_identities(&rep, ids, n)) != 0)
		clib_fail(conn, r, NULL);
out:
	proto_identities_reply_cleanup(&rep);
	clib_call_cleanup(&c);
	return r;
}

void
p11agent_identities_free(struct p11agent_identity *ids, size_t n)
{
	size_t i;

	if (ids == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(ids[i].key_blob);
		free(ids[i].comment);
	}
	free(ids);
}

int
p11agent_ssh_sign(struct p11agent_conn *conn, const uint8_t *key_blob,
                  size_t key_blob_len, const uint8_t *data, size_t data_len,
                  uint32_t flags, uint8_t **sig, size_t *sig_len)
{
	struct proto_sign_request req;
	struct proto_sign_reply rep;
	struct clib_call c;
	int r;

	if (sig != NULL)
		*sig = NULL;
	if (sig_len != NULL)
		*sig_len = 0;
	if ((r = clib_call_start(conn, &c,
	                         sig != NULL && sig_len != NULL &&
	                             (key_blob != NULL || key_blob_len == 0) &&
	                             (data != NULL || data_len == 0))) != 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.key_blob.p = key_blob;
	req.key_blob.len = key_blob_len;
	req.data.p = data;
	req.data.len = data_len;
	req.flags = flags;
	if ((r = clib_call_send(conn, &c, proto_sign_request_encode(&c.w, &req),
	                        conn->timeout_ms)) != 0)
		goto out;
	r = proto_sign_reply_decode(c.body, c.len, &rep, &c.fail);
	if (r != 0 && c.fail.code == P11A_E_DENIED && c.fail.generic) {
		r = clib_fail(conn, r, "the agent refused to sign");
		goto out;
	}
	if ((r = clib_reply(conn, r, &c.fail, "sign")) != 0)
		goto out;
	if (rep.sig_blob.len == 0) {
		r = clib_fail(conn, P11A_E_FORMAT, "empty signature");
		goto out;
	}
	if ((r = clib_memdup(rep.sig_blob.p, rep.sig_blob.len, sig)) != 0) {
		clib_fail(conn, r, NULL);
		goto out;
	}
	*sig_len = rep.sig_blob.len;
out:
	clib_call_cleanup(&c);
	return r;
}
