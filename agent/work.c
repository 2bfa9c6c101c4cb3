/*
 * What the worker threads do: token calls through tokens/ and the reply
 * encoding (proto/ is pure, so it is safe here).  Nothing in here touches
 * struct agent or a connection.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent/agent.h"
#include "agent/job.h"
#include "agent/ssh.h"
#include "proto/err.h"
#include "proto/msg.h"
#include "proto/sshkey.h"

#define WORK_MAX_OUTPUT 1024

_Static_assert(PROTO_HASH_SHA256 == (int)TOK_HASH_SHA256 &&
                   PROTO_HASH_SHA512 == (int)TOK_HASH_SHA512 &&
                   PROTO_HASH_SHA1 == (int)TOK_HASH_SHA1,
               "wire and token hash numbers agree");
_Static_assert(PROTO_MECH_RSA_PSS == (int)TOK_SIGN_RSA_PSS &&
                   PROTO_MECH_ECDSA == (int)TOK_SIGN_ECDSA,
               "wire and token mechanism numbers agree");
_Static_assert(PROTO_TOKEN_LOGGED_IN == TOK_TF_LOGGED_IN &&
                   PROTO_KEY_PRIVATE_KEY_VISIBLE == TOK_KF_PRIVATE_KEY_VISIBLE,
               "wire and token flag bits agree");

static void
work_fail(struct agent_job *j, int code)
{
	j->result = code;
	proto_writer_reset(&j->reply);
	proto_error_reply_encode(&j->reply, j->req_type, j->ext, code,
	                         j->err.msg[0] != '\0' ? j->err.msg : NULL);
}

/* Looks the key up and remembers its token for the login bookkeeping. */
static int
work_key(struct agent_job *j)
{
	int r;

	if (j->key == NULL &&
	    (r = tok_ctx_find_key(j->ctx, j->name, &j->key, &j->err)) != 0)
		return r;
	j->token_uri = strdup(tok_token_get0_uri(tok_key_get0_token(j->key)));
	return j->token_uri != NULL ? 0 : P11A_E_NOMEM;
}

static void
work_after_key_op(struct agent_job *j, int r)
{
	if (r == P11A_E_LOGIN_REQUIRED) {
		j->token_logged_in = 0;
		j->token_flags =
		    tok_token_cached_flags(tok_key_get0_token(j->key));
	}
}

static void
work_sign_digest(struct agent_job *j)
{
	struct tok_sign_params p = {(enum tok_sign_mech)j->mech,
	                            (enum tok_hash)j->hash,
	                            (enum tok_hash)j->mgf1, j->salt};
	struct proto_sign_digest_reply rep;
	uint8_t sig[WORK_MAX_OUTPUT];
	size_t sig_len = sizeof(sig);
	int r;

	if ((r = work_key(j)) != 0)
		return work_fail(j, r);
	r = tok_key_sign(j->key, &p, j->in, j->in_len, sig, &sig_len, &j->err);
	work_after_key_op(j, r);
	if (r != 0)
		return work_fail(j, r);
	rep.signature.p = sig;
	rep.signature.len = sig_len;
	if ((r = proto_sign_digest_reply_encode(&j->reply, &rep)) != 0)
		work_fail(j, r);
}

static void
work_decrypt(struct agent_job *j)
{
	struct tok_decrypt_params p = {
	    (enum tok_padding)j->padding, (enum tok_hash)j->hash,
	    (enum tok_hash)j->mgf1, j->label, j->label_len};
	struct proto_decrypt_reply rep;
	uint8_t pt[WORK_MAX_OUTPUT];
	size_t pt_len = sizeof(pt);
	int r;

	if ((r = work_key(j)) != 0)
		return work_fail(j, r);
	r = tok_key_decrypt(j->key, &p, j->in, j->in_len, pt, &pt_len, &j->err);
	work_after_key_op(j, r);
	if (r == 0) {
		rep.plaintext.p = pt;
		rep.plaintext.len = pt_len;
		r = proto_decrypt_reply_encode(&j->reply, &rep);
	}
	OPENSSL_cleanse(pt, sizeof(pt));
	if (r != 0)
		work_fail(j, r);
}

static void
work_derive(struct agent_job *j)
{
	struct proto_derive_reply rep;
	uint8_t secret[WORK_MAX_OUTPUT];
	size_t secret_len = sizeof(secret);
	int r;

	if ((r = work_key(j)) != 0)
		return work_fail(j, r);
	r = tok_key_derive(j->key, j->in, j->in_len, secret, &secret_len,
	                   &j->err);
	work_after_key_op(j, r);
	if (r == 0) {
		rep.secret.p = secret;
		rep.secret.len = secret_len;
		r = proto_derive_reply_encode(&j->reply, &rep);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	if (r != 0)
		work_fail(j, r);
}

static enum tok_hash
work_ecdsa_hash(const struct tok_key *k)
{
	unsigned bits = tok_key_bits(k);

	if (bits <= 256)
		return TOK_HASH_SHA256;
	return bits <= 384 ? TOK_HASH_SHA384 : TOK_HASH_SHA512;
}

static int
work_ssh_sig_blob(struct agent_job *j, struct proto_writer *blob)
{
	struct tok_sign_params p = {TOK_SIGN_RSA_PKCS1, TOK_HASH_SHA256, 0, 0};
	uint8_t digest[64], sig[WORK_MAX_OUTPUT];
	size_t digest_len = sizeof(digest), sig_len = sizeof(sig);
	const char *alg = NULL;
	uint32_t hash = 0;
	int r;

	if (tok_key_type(j->key) == TOK_KEY_RSA) {
		alg = proto_ssh_rsa_sig_alg(j->ssh_flags, &hash);
		p.hash = (enum tok_hash)hash;
	} else if (tok_key_type(j->key) == TOK_KEY_EC) {
		p.mech = TOK_SIGN_ECDSA;
		p.hash = work_ecdsa_hash(j->key);
	} else {
		return P11A_E_KEY_TYPE;
	}
	if ((r = tok_hash(p.hash, j->in, j->in_len, digest, &digest_len)) !=
	        0 ||
	    (r = tok_key_sign(j->key, &p, digest, digest_len, sig, &sig_len,
	                      &j->err)) != 0)
		return r;
	if (alg != NULL)
		return proto_ssh_rsa_sig_put(blob, alg, sig, sig_len);
	return proto_ssh_ecdsa_sig_put(blob, agent_ssh_curve(j->key), sig,
	                               sig_len);
}

static void
work_ssh_sign(struct agent_job *j)
{
	struct proto_sign_reply rep;
	struct proto_writer blob;
	const uint8_t *p;
	size_t len;
	int r;

	if ((r = work_key(j)) != 0)
		return work_fail(j, r);
	proto_writer_init(&blob);
	r = work_ssh_sig_blob(j, &blob);
	work_after_key_op(j, r);
	if (r == 0 && (r = proto_writer_finish(&blob, &p, &len)) == 0) {
		rep.sig_blob.p = p;
		rep.sig_blob.len = len;
		r = proto_sign_reply_encode(&j->reply, &rep);
	}
	proto_writer_cleanup(&blob);
	if (r != 0) {
		agent_log(AGENT_LOG_INFO, "ssh sign failed: %s%s%s",
		          p11a_strerror(r), j->err.msg[0] ? ": " : "",
		          j->err.msg);
		work_fail(j, r);
	}
}

static void
work_login(struct agent_job *j)
{
	struct tok_token *t = NULL;
	int r;

	r = tok_ctx_find_token(j->ctx, j->name, &t, &j->err);
	if (r == 0) {
		r = tok_token_login(t, (const char *)j->in, j->in_len, &j->err);
		OPENSSL_cleanse(j->in, j->in_len);
		j->token_uri = strdup(tok_token_get0_uri(t));
		j->token_logged_in = r == 0;
		j->token_flags = tok_token_flags(t);
		tok_token_free(t);
	}
	if (r == 0)
		tok_ctx_rescan(j->ctx); /* private keys are visible now */
	if (r == 0 && (r = proto_login_reply_encode(&j->reply)) == 0)
		agent_log(AGENT_LOG_INFO, "logged in to token %s", j->name);
	if (r != 0) {
		agent_log(AGENT_LOG_INFO, "login failed: %s", j->err.msg);
		work_fail(j, r);
	}
}

static void
work_logout(struct agent_job *j)
{
	struct tok_token **list = NULL, *t = NULL;
	size_t n = 0, i;
	int r = 0;

	if (j->name == NULL || j->name[0] == '\0') {
		if ((r = tok_ctx_tokens(j->ctx, &list, &n)) == 0)
			for (i = 0; i < n; i++)
				tok_token_logout(list[i]);
		tok_token_list_free(list, n);
	} else if ((r = tok_ctx_find_token(j->ctx, j->name, &t, &j->err)) ==
	           0) {
		r = tok_token_logout(t);
		j->token_uri = strdup(tok_token_get0_uri(t));
		j->token_logged_in = 0;
		j->token_flags = tok_token_cached_flags(t);
		tok_token_free(t);
	}
	/* The private key objects are gone; list what is left. */
	tok_ctx_rescan(j->ctx);
	if (r == 0)
		r = proto_logout_reply_encode(&j->reply);
	if (r != 0)
		work_fail(j, r);
}

static int
work_list_tokens(struct agent_job *j, struct proto_list_reply *rep,
                 struct tok_token **tokens, size_t n)
{
	size_t i;

	rep->tokens = calloc(n > 0 ? n : 1, sizeof(*rep->tokens));
	if (rep->tokens == NULL)
		return P11A_E_NOMEM;
	for (i = 0; i < n; i++) {
		struct proto_token_info *ti = &rep->tokens[i];
		struct tok_token *t = tokens[i];

		ti->uri = proto_text_from(tok_token_get0_uri(t));
		ti->label = proto_text_from(tok_token_get0_label(t));
		ti->manufacturer =
		    proto_text_from(tok_token_get0_manufacturer(t));
		ti->model = proto_text_from(tok_token_get0_model(t));
		ti->serial = proto_text_from(tok_token_get0_serial(t));
		ti->flags = tok_token_flags(t);
	}
	rep->ntokens = n;
	(void)j;
	return 0;
}

/* Fills one key entry; blob is a writer the entry's ssh_blob points into. */
static int
work_list_key(struct proto_key_info *ki, struct tok_key *k,
              struct proto_writer *blob)
{
	const uint8_t *p;
	size_t len, e;

	ki->uri = proto_text_from(tok_key_get0_uri(k));
	ki->token_label =
	    proto_text_from(tok_token_get0_label(tok_key_get0_token(k)));
	ki->label = proto_text_from(tok_key_get0_label(k));
	ki->key_type = (uint32_t)tok_key_type(k);
	ki->bits = tok_key_bits(k);
	ki->curve = proto_text_from(tok_key_get0_curve(k));
	ki->flags = tok_key_flags(k);
	ki->cert_der.p = tok_key_get0_cert_der(k, &ki->cert_der.len);
	if (agent_ssh_key_blob(k, blob) == 0 &&
	    proto_writer_finish(blob, &p, &len) == 0) {
		ki->ssh_blob.p = p;
		ki->ssh_blob.len = len;
	}
	ki->nemails = tok_key_email_count(k);
	ki->emails = calloc(ki->nemails + 1, sizeof(*ki->emails));
	if (ki->emails == NULL)
		return P11A_E_NOMEM;
	for (e = 0; e < ki->nemails; e++)
		ki->emails[e] = proto_text_from(tok_key_get0_email(k, e));
	return 0;
}

static void
work_list(struct agent_job *j)
{
	struct proto_list_reply rep;
	struct tok_token **tokens = NULL;
	struct tok_key **keys = NULL;
	struct proto_writer *blobs = NULL;
	size_t ntokens = 0, nkeys = 0, i;
	int r;

	memset(&rep, 0, sizeof(rep));
	/* A listing is also how a newly inserted card is found. */
	if (j->list_flags & PROTO_LIST_RESCAN)
		tok_ctx_rescan(j->ctx);
	else
		tok_ctx_refresh(j->ctx, AGENT_LIST_MAX_AGE_MS);
	if ((r = tok_ctx_tokens(j->ctx, &tokens, &ntokens)) != 0 ||
	    (r = tok_ctx_keys(j->ctx, &keys, &nkeys)) != 0 ||
	    (r = work_list_tokens(j, &rep, tokens, ntokens)) != 0)
		goto out;
	rep.keys = calloc(nkeys + 1, sizeof(*rep.keys));
	blobs = calloc(nkeys + 1, sizeof(*blobs));
	if (rep.keys == NULL || blobs == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	for (i = 0; i < nkeys && r == 0; i++) {
		proto_writer_init(&blobs[i]);
		r = work_list_key(&rep.keys[i], keys[i], &blobs[i]);
		rep.nkeys = i + 1;
	}
	if (r == 0)
		r = proto_list_reply_encode(&j->reply, &rep);
out:
	for (i = 0; i < rep.nkeys; i++) {
		free(rep.keys[i].emails);
		proto_writer_cleanup(&blobs[i]);
	}
	free(blobs);
	free(rep.keys);
	free(rep.tokens);
	tok_token_list_free(tokens, ntokens);
	tok_key_list_free(keys, nkeys);
	if (r != 0)
		work_fail(j, r);
}

/* Answers with the key URI a token administration call produced. */
static void
work_key_uri_reply(struct agent_job *j, int r, char *uri)
{
	struct proto_key_uri_reply rep;

	if (r == 0) {
		tok_ctx_rescan(j->ctx); /* the new objects become keys */
		rep.key_uri = proto_text_from(uri);
		r = proto_key_uri_reply_encode(&j->reply, j->ext, &rep);
	}
	free(uri);
	if (r != 0) {
		agent_log(AGENT_LOG_INFO, "%s failed: %s",
		          proto_ext_name(j->ext),
		          j->err.msg[0] ? j->err.msg : p11a_strerror(r));
		work_fail(j, r);
	}
}

static void
work_import(struct agent_job *j)
{
	struct tok_token *t = NULL;
	char *uri = NULL;
	int r;

	r = tok_ctx_find_token(j->ctx, j->name, &t, &j->err);
	if (r == 0)
		r = tok_token_import_key(
		    t, j->in, j->in_len, j->cert, j->cert_len,
		    (const uint8_t *const *)j->chain, j->chain_lens, j->nchain,
		    (const char *)j->label, &uri, &j->err);
	OPENSSL_cleanse(j->in, j->in_len);
	tok_token_free(t);
	work_key_uri_reply(j, r, uri);
}

static void
work_keygen(struct agent_job *j)
{
	struct tok_token *t = NULL;
	char *uri = NULL;
	int r;

	r = tok_ctx_find_token(j->ctx, j->name, &t, &j->err);
	if (r == 0)
		r = tok_token_generate_key(t, (enum tok_key_type)j->key_type,
		                           j->bits, (const char *)j->label,
		                           &uri, &j->err);
	tok_token_free(t);
	work_key_uri_reply(j, r, uri);
}

static void
work_attach_cert(struct agent_job *j)
{
	char *uri = NULL;
	int r =
	    tok_ctx_attach_cert(j->ctx, j->cert, j->cert_len, &uri, &j->err);

	work_key_uri_reply(j, r, uri);
}

void
agent_work_run(struct agent_job *j)
{
	switch (j->kind) {
	case AGENT_JOB_LIST:
		work_list(j);
		break;
	case AGENT_JOB_SIGN_DIGEST:
		work_sign_digest(j);
		break;
	case AGENT_JOB_DECRYPT:
		work_decrypt(j);
		break;
	case AGENT_JOB_DERIVE:
		work_derive(j);
		break;
	case AGENT_JOB_LOGIN:
		work_login(j);
		break;
	case AGENT_JOB_LOGOUT:
		work_logout(j);
		break;
	case AGENT_JOB_SSH_SIGN:
		work_ssh_sign(j);
		break;
	case AGENT_JOB_RESCAN:
		j->result = tok_ctx_rescan(j->ctx);
		break;
	case AGENT_JOB_IMPORT:
		work_import(j);
		break;
	case AGENT_JOB_KEYGEN:
		work_keygen(j);
		break;
	case AGENT_JOB_ATTACH_CERT:
		work_attach_cert(j);
		break;
	}
}
