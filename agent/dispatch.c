/*
 * Turning one request into a reply (answered at once on the loop) or a
 * job (token work on the thread pool).  Request bytes are copied into the
 * job: the connection wipes the frame as soon as this returns.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/job.h"
#include "agent/ssh.h"
#include "proto/err.h"
#include "proto/msg.h"

static void
dispatch_error(struct agent_conn *c, const struct proto_request *req, int code,
               const char *msg)
{
	struct proto_writer w;

	proto_writer_init(&w);
	proto_error_reply_encode(&w, req->type, req->ext, code, msg);
	agent_conn_reply(c, &w);
	proto_writer_cleanup(&w);
}

static void
dispatch_send(struct agent_conn *c, struct proto_writer *w, int r,
              const struct proto_request *req)
{
	if (r != 0) {
		proto_writer_reset(w);
		proto_error_reply_encode(w, req->type, req->ext, r, NULL);
	}
	agent_conn_reply(c, w);
	proto_writer_cleanup(w);
}

static void
dispatch_identities(struct agent_conn *c, const struct proto_request *req)
{
	struct agent *a = agent_conn_agent(c);
	struct proto_identities_reply rep = {0, NULL};
	struct proto_writer w, *blobs = NULL;
	struct tok_key **keys = NULL;
	size_t n = 0, i;
	int r = 0;

	proto_writer_init(&w);
	if (!a->locked && (r = tok_ctx_keys(a->tokens, &keys, &n)) == 0 &&
	    n > 0) {
		rep.ids = calloc(n, sizeof(*rep.ids));
		blobs = calloc(n, sizeof(*blobs));
		if (rep.ids == NULL || blobs == NULL)
			r = P11A_E_NOMEM;
	}
	for (i = 0; r == 0 && i < n; i++) {
		struct proto_identity *id = &rep.ids[rep.n];

		proto_writer_init(&blobs[i]);
		if (agent_ssh_key_blob(keys[i], &blobs[i]) != 0 ||
		    proto_writer_finish(&blobs[i], &id->key_blob.p,
		                        &id->key_blob.len) != 0)
			continue; /* no SSH form */
		id->comment = proto_text_from(tok_key_get0_uri(keys[i]));
		rep.n++;
	}
	if (r == 0)
		r = proto_identities_reply_encode(&w, &rep);
	dispatch_send(c, &w, r, req);
	for (i = 0; blobs != NULL && i < n; i++)
		proto_writer_cleanup(&blobs[i]);
	free(blobs);
	free(rep.ids);
	tok_key_list_free(keys, n);
}

static void
dispatch_query(struct agent_conn *c, const struct proto_request *req)
{
	struct proto_text names[PROTO_EXT_COUNT];
	struct proto_query_reply rep = {0, names};
	struct proto_writer w;
	int e;

	for (e = PROTO_EXT_QUERY; e < PROTO_EXT_COUNT; e++)
		names[rep.n++] = proto_text_from(proto_ext_name(e));
	proto_writer_init(&w);
	dispatch_send(c, &w, proto_query_reply_encode(&w, &rep), req);
}

static void
dispatch_status(struct agent_conn *c, const struct proto_request *req)
{
	struct agent *a = agent_conn_agent(c);
	struct proto_status_reply rep;
	struct tok_token **tokens = NULL;
	struct proto_writer w;
	size_t n = 0, i;
	int r;

	memset(&rep, 0, sizeof(rep));
	proto_writer_init(&w);
	rep.version = proto_text_from(AGENT_VERSION);
	rep.uptime = (uint64_t)(time(NULL) - a->started);
	rep.flags = a->locked ? PROTO_AGENT_LOCKED : 0;
	rep.login_lifetime = a->opt->login_lifetime;
	rep.idle_timeout = a->opt->idle_timeout;
	if ((r = tok_ctx_tokens(a->tokens, &tokens, &n)) == 0 && n > 0 &&
	    (rep.tokens = calloc(n, sizeof(*rep.tokens))) == NULL)
		r = P11A_E_NOMEM;
	for (i = 0; r == 0 && i < n; i++) {
		struct proto_token_status *ts = &rep.tokens[i];
		const char *uri = tok_token_get0_uri(tokens[i]);
		struct agent_login *l = agent_login_get(a, uri);

		ts->uri = proto_text_from(uri);
		ts->label = proto_text_from(tok_token_get0_label(tokens[i]));
		/* Cached flags: status must never wait for a token. */
		ts->flags = tok_token_cached_flags(tokens[i]);
		if (l != NULL && l->since != 0 &&
		    (ts->flags & TOK_TF_LOGGED_IN)) {
			ts->logged_in_since = (uint64_t)l->since;
			ts->login_expires = (uint64_t)agent_login_expiry(a, l);
		}
		rep.ntokens++;
	}
	if (r == 0)
		r = proto_status_reply_encode(&w, &rep);
	dispatch_send(c, &w, r, req);
	free(rep.tokens);
	tok_token_list_free(tokens, n);
}

static void
dispatch_lock(struct agent_conn *c, const struct proto_request *req)
{
	struct agent *a = agent_conn_agent(c);
	struct proto_writer w;
	int r;

	if (req->type == PROTO_SSH_AGENTC_LOCK)
		r = agent_lock(a, req->u.lock.passphrase);
	else
		r = agent_unlock(a, req->u.lock.passphrase);
	proto_writer_init(&w);
	if (r == 0)
		r = proto_success_encode(&w);
	dispatch_send(c, &w, r, req);
}

/* Fills a job from a request; returns the job or NULL after answering. */
static struct agent_job *
dispatch_job(struct agent_conn *c, const struct proto_request *req,
             enum agent_job_kind kind)
{
	struct agent_job *j = agent_job_new(agent_conn_agent(c), c, kind);

	if (j == NULL) {
		dispatch_error(c, req, P11A_E_NOMEM, NULL);
		return NULL;
	}
	j->req_type = req->type;
	j->ext = req->ext;
	return j;
}

static int
dispatch_fill_import(struct agent_job *j, const struct proto_import_request *q)
{
	size_t i;

	if ((j->label = (uint8_t *)agent_job_strdup(q->label)) == NULL ||
	    agent_job_set_name(j, q->token) != 0 ||
	    (j->cert = agent_job_memdup(q->cert)) == NULL)
		return P11A_E_NOMEM;
	j->cert_len = q->cert.len;
	for (i = 0; i < q->nchain; i++) {
		if ((j->chain[i] = agent_job_memdup(q->chain[i])) == NULL)
			return P11A_E_NOMEM;
		j->chain_lens[i] = q->chain[i].len;
		j->nchain++;
	}
	/* The private key is a secret: wiped when the job is freed. */
	return agent_job_set_input(j, q->pkcs8.p, q->pkcs8.len, 1);
}

static int
dispatch_fill(struct agent_job *j, const struct proto_request *req)
{
	switch (j->kind) {
	case AGENT_JOB_SIGN_DIGEST:
		j->mech = req->u.sign_digest.mechanism;
		j->hash = req->u.sign_digest.hash;
		j->mgf1 = req->u.sign_digest.mgf1_hash;
		j->salt = req->u.sign_digest.salt_len;
		if (agent_job_set_name(j, req->u.sign_digest.key_uri) != 0)
			return P11A_E_NOMEM;
		return agent_job_set_input(j, req->u.sign_digest.digest.p,
		                           req->u.sign_digest.digest.len, 0);
	case AGENT_JOB_DECRYPT:
		j->padding = req->u.decrypt.padding;
		j->hash = req->u.decrypt.oaep_hash;
		j->mgf1 = req->u.decrypt.mgf1_hash;
		j->label_len = req->u.decrypt.label.len;
		if ((j->label = malloc(j->label_len + 1)) == NULL)
			return P11A_E_NOMEM;
		if (j->label_len > 0)
			memcpy(j->label, req->u.decrypt.label.p, j->label_len);
		if (agent_job_set_name(j, req->u.decrypt.key_uri) != 0)
			return P11A_E_NOMEM;
		return agent_job_set_input(j, req->u.decrypt.ciphertext.p,
		                           req->u.decrypt.ciphertext.len, 0);
	case AGENT_JOB_DERIVE:
		if (agent_job_set_name(j, req->u.derive.key_uri) != 0)
			return P11A_E_NOMEM;
		return agent_job_set_input(j, req->u.derive.peer_point.p,
		                           req->u.derive.peer_point.len, 0);
	case AGENT_JOB_LOGIN:
		if (agent_job_set_name(j, req->u.login.token) != 0)
			return P11A_E_NOMEM;
		return agent_job_set_input(j, req->u.login.pin.p,
		                           req->u.login.pin.len, 1);
	case AGENT_JOB_LOGOUT:
		return agent_job_set_name(j, req->u.logout.token);
	case AGENT_JOB_SSH_SIGN:
		j->ssh_flags = req->u.sign.flags;
		return agent_job_set_input(j, req->u.sign.data.p,
		                           req->u.sign.data.len, 0);
	case AGENT_JOB_IMPORT:
		return dispatch_fill_import(j, &req->u.import);
	case AGENT_JOB_KEYGEN:
		j->key_type = req->u.keygen.key_type;
		j->bits = req->u.keygen.bits;
		if ((j->label = (uint8_t *)agent_job_strdup(
		         req->u.keygen.label)) == NULL)
			return P11A_E_NOMEM;
		return agent_job_set_name(j, req->u.keygen.token);
	case AGENT_JOB_ATTACH_CERT:
		j->cert_len = req->u.attach_cert.cert.len;
		j->cert = agent_job_memdup(req->u.attach_cert.cert);
		return j->cert != NULL ? 0 : P11A_E_NOMEM;
	case AGENT_JOB_LIST:
		j->list_flags = req->u.list.flags;
		return 0;
	case AGENT_JOB_RESCAN:
		return 0;
	}
	return P11A_E_INTERNAL;
}

static void
dispatch_to_pool(struct agent_conn *c, const struct proto_request *req,
                 enum agent_job_kind kind)
{
	struct agent *a = agent_conn_agent(c);
	struct agent_job *j;
	struct tok_key **keys = NULL;
	size_t n = 0;
	int r;

	if (a->locked && kind != AGENT_JOB_LOGOUT && kind != AGENT_JOB_LIST) {
		dispatch_error(
		    c, req, P11A_E_AGENT_LOCKED,
		    "agent is locked; unlock it with 'p11 unlock-agent'");
		return;
	}
	if ((j = dispatch_job(c, req, kind)) == NULL)
		return;
	if ((r = dispatch_fill(j, req)) != 0) {
		dispatch_error(c, req, r, NULL);
		agent_job_queue_cancel(j);
		return;
	}
	if (kind == AGENT_JOB_SSH_SIGN) {
		if (tok_ctx_keys(a->tokens, &keys, &n) == 0)
			j->key =
			    agent_ssh_find_key(keys, n, req->u.sign.key_blob.p,
			                       req->u.sign.key_blob.len);
		tok_key_list_free(keys, n);
		if (j->key == NULL) {
			dispatch_error(c, req, P11A_E_KEY_NOT_FOUND, NULL);
			agent_job_queue_cancel(j);
			return;
		}
	}
	agent_job_queue(j);
}

static void
dispatch_extension(struct agent_conn *c, const struct proto_request *req)
{
	switch (req->ext) {
	case PROTO_EXT_QUERY:
		return dispatch_query(c, req);
	case PROTO_EXT_STATUS:
		return dispatch_status(c, req);
	case PROTO_EXT_LIST:
		if (!(req->u.list.flags & PROTO_LIST_RESCAN) &&
		    agent_list_cache_reply(agent_conn_agent(c), c))
			return;
		return dispatch_to_pool(c, req, AGENT_JOB_LIST);
	case PROTO_EXT_SIGN_DIGEST:
		return dispatch_to_pool(c, req, AGENT_JOB_SIGN_DIGEST);
	case PROTO_EXT_DECRYPT:
		return dispatch_to_pool(c, req, AGENT_JOB_DECRYPT);
	case PROTO_EXT_DERIVE:
		return dispatch_to_pool(c, req, AGENT_JOB_DERIVE);
	case PROTO_EXT_LOGIN:
		return dispatch_to_pool(c, req, AGENT_JOB_LOGIN);
	case PROTO_EXT_LOGOUT:
		return dispatch_to_pool(c, req, AGENT_JOB_LOGOUT);
	case PROTO_EXT_IMPORT:
		return dispatch_to_pool(c, req, AGENT_JOB_IMPORT);
	case PROTO_EXT_KEYGEN:
		return dispatch_to_pool(c, req, AGENT_JOB_KEYGEN);
	case PROTO_EXT_ATTACH_CERT:
		return dispatch_to_pool(c, req, AGENT_JOB_ATTACH_CERT);
	case PROTO_EXT_UNKNOWN:
		break;
	}
	dispatch_error(c, req, P11A_E_UNKNOWN_REQUEST, NULL);
}

void
agent_dispatch(struct agent_conn *c, const uint8_t *body, size_t len)
{
	struct proto_request req;
	int r;

	if ((r = proto_request_decode(body, len, &req)) != 0) {
		memset(&req, 0, sizeof(req));
		if (proto_request_peek(body, len, &req.type, &req.ext) != 0)
			req.type = 0; /* answered with SSH_AGENT_FAILURE */
		agent_log(AGENT_LOG_DEBUG, "malformed request (type %u)",
		          req.type);
		dispatch_error(c, &req, r, NULL);
		return;
	}
	switch (req.type) {
	case PROTO_SSH_AGENTC_REQUEST_IDENTITIES:
		return dispatch_identities(c, &req);
	case PROTO_SSH_AGENTC_SIGN_REQUEST:
		return dispatch_to_pool(c, &req, AGENT_JOB_SSH_SIGN);
	case PROTO_SSH_AGENTC_LOCK:
	case PROTO_SSH_AGENTC_UNLOCK:
		return dispatch_lock(c, &req);
	case PROTO_SSH_AGENTC_EXTENSION:
		return dispatch_extension(c, &req);
	}
	/* Soft-key management and anything unknown: a polite no. */
	dispatch_error(c, &req, P11A_E_UNKNOWN_REQUEST, NULL);
}
