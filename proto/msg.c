#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/internal.h"
#include "proto/msg.h"

static const char *const ext_names[PROTO_EXT_COUNT] = {
    [PROTO_EXT_UNKNOWN] = NULL,
    [PROTO_EXT_QUERY] = "query",
    [PROTO_EXT_LIST] = "list@p11agent",
    [PROTO_EXT_SIGN_DIGEST] = "sign-digest@p11agent",
    [PROTO_EXT_DECRYPT] = "decrypt@p11agent",
    [PROTO_EXT_DERIVE] = "derive@p11agent",
    [PROTO_EXT_LOGIN] = "login@p11agent",
    [PROTO_EXT_LOGOUT] = "logout@p11agent",
    [PROTO_EXT_STATUS] = "status@p11agent",
    [PROTO_EXT_IMPORT] = "import@p11agent",
    [PROTO_EXT_KEYGEN] = "keygen@p11agent",
    [PROTO_EXT_ATTACH_CERT] = "attach-cert@p11agent",
};

/*
 * Smallest encoding of one element of each list, so that a count can be
 * checked against the bytes left before anything is allocated.
 */
#define MIN_IDENTITY (4 + 4)
#define MIN_NAME 4
#define MIN_TOKEN_INFO (5 * 4 + 4)
#define MIN_KEY_INFO (3 * 4 + 4 + 4 + 4 + 4 + 4 + 4 + 4)
#define MIN_EMAIL 4
#define MIN_TOKEN_STATUS (4 + 4 + 4 + 8 + 8)

enum proto_ext
proto_ext_from_name(struct proto_text name)
{
	int i;

	for (i = PROTO_EXT_UNKNOWN + 1; i < PROTO_EXT_COUNT; i++) {
		if (proto_text_eq(name, ext_names[i]))
			return (enum proto_ext)i;
	}
	return PROTO_EXT_UNKNOWN;
}

const char *
proto_ext_name(enum proto_ext ext)
{
	if ((int)ext <= PROTO_EXT_UNKNOWN || (int)ext >= PROTO_EXT_COUNT)
		return NULL;
	return ext_names[ext];
}

size_t
proto_hash_size(uint32_t hash)
{
	switch (hash) {
	case PROTO_HASH_SHA1:
		return 20;
	case PROTO_HASH_SHA224:
		return 28;
	case PROTO_HASH_SHA256:
		return 32;
	case PROTO_HASH_SHA384:
		return 48;
	case PROTO_HASH_SHA512:
		return 64;
	default:
		return 0;
	}
}

/* Encoding helpers. */

static int
ext_request_begin(struct proto_writer *w, enum proto_ext ext)
{
	proto_writer_frame_begin(w, PROTO_SSH_AGENTC_EXTENSION);
	return proto_write_cstring(w, proto_ext_name(ext));
}

static int
ext_reply_begin(struct proto_writer *w, enum proto_ext ext)
{
	proto_writer_frame_begin(w, PROTO_SSH_AGENT_EXTENSION_RESPONSE);
	return proto_write_cstring(w, proto_ext_name(ext));
}

/* A uint32 count, after checking that it fits and its array exists. */
static int
write_count(struct proto_writer *w, size_t n, const void *array)
{
	if (w->failed != 0)
		return w->failed;
	if (n > UINT32_MAX)
		return proto_writer_fail(w, P11A_E_TOO_LARGE);
	if (n > 0 && array == NULL)
		return proto_writer_fail(w, P11A_E_ARGS);
	return proto_write_u32(w, (uint32_t)n);
}

/* Decoding helpers. */

/* Reads a count and checks it against the bytes left. */
static int
read_count(struct proto_reader *r, size_t min_elem, size_t *n)
{
	uint32_t c;
	int ret;

	*n = 0;
	if ((ret = proto_read_u32(r, &c)) != 0)
		return ret;
	if (c > proto_reader_left(r) / min_elem)
		return P11A_E_FORMAT;
	*n = c;
	return 0;
}

/*
 * Allocates a zeroed array of n elements into *out; n == 0 leaves it NULL.
 * A macro so that *out keeps its own type (no void ** punning).
 */
#define ALLOC_ARRAY(out, n)                                                    \
	(((n) == 0 || ((out) = proto_calloc((n), sizeof(*(out)))) != NULL)     \
	     ? 0                                                               \
	     : P11A_E_NOMEM)

static void
failure_clear(struct proto_failure *f)
{
	f->code = 0;
	f->generic = false;
	f->message = proto_text_from("");
}

int
proto_failure_decode(const uint8_t *body, size_t len,
                     struct proto_failure *fail)
{
	struct proto_failure f;
	struct proto_reader r;
	uint32_t code;
	uint8_t type;
	int ret;

	failure_clear(fail);
	failure_clear(&f);
	proto_reader_init(&r, body, len);
	if ((ret = proto_read_u8(&r, &type)) != 0)
		return ret;
	if (type == PROTO_SSH_AGENT_FAILURE ||
	    (type == PROTO_SSH_AGENT_EXTENSION_FAILURE &&
	     proto_reader_left(&r) == 0)) {
		if ((ret = proto_reader_end(&r)) != 0)
			return ret;
		f.code = P11A_E_DENIED;
		f.generic = true;
		*fail = f;
		return 0;
	}
	if (type != PROTO_SSH_AGENT_EXTENSION_FAILURE)
		return P11A_E_FORMAT;
	if ((ret = proto_read_u32(&r, &code)) != 0 ||
	    (ret = proto_read_text_direct(&r, &f.message)) != 0 ||
	    (ret = proto_reader_end(&r)) != 0)
		return ret;
	/* 0 is success and 1 (incomplete) never travels. */
	if (code < 2 || code > INT_MAX)
		return P11A_E_FORMAT;
	f.code = -(int)code;
	*fail = f;
	return 0;
}

/*
 * Starts decoding a reply: reads the type and, for extension replies, the
 * name, which must be that of ext.  Failure replies are decoded here and
 * their code returned (see msg.h).  want is the success type.
 */
static int
reply_open(struct proto_reader *r, const uint8_t *body, size_t len,
           uint8_t want, enum proto_ext ext, struct proto_failure *fail)
{
	bool is_ext = want == PROTO_SSH_AGENT_EXTENSION_RESPONSE;
	struct proto_failure f;
	struct proto_text name;
	uint8_t type;
	int ret;

	proto_reader_init(r, body, len);
	if ((ret = proto_read_u8(r, &type)) != 0)
		return ret;
	if (type == PROTO_SSH_AGENT_FAILURE ||
	    (is_ext && type == PROTO_SSH_AGENT_EXTENSION_FAILURE)) {
		if ((ret = proto_failure_decode(body, len, &f)) != 0)
			return ret;
		if (is_ext && type == PROTO_SSH_AGENT_FAILURE)
			f.code = P11A_E_UNKNOWN_REQUEST;
		if (fail != NULL)
			*fail = f;
		return f.code;
	}
	if (type != want)
		return P11A_E_FORMAT;
	if (is_ext) {
		if ((ret = proto_read_text_direct(r, &name)) != 0)
			return ret;
		if (!proto_text_eq(name, proto_ext_name(ext)))
			return P11A_E_FORMAT;
	}
	return 0;
}

/* Requests: encoders. */

int
proto_identities_request_encode(struct proto_writer *w)
{
	proto_writer_frame_begin(w, PROTO_SSH_AGENTC_REQUEST_IDENTITIES);
	return proto_writer_frame_end(w);
}

int
proto_sign_request_encode(struct proto_writer *w,
                          const struct proto_sign_request *req)
{
	proto_writer_frame_begin(w, PROTO_SSH_AGENTC_SIGN_REQUEST);
	proto_write_bytes(w, req->key_blob);
	proto_write_bytes(w, req->data);
	proto_write_u32(w, req->flags);
	return proto_writer_frame_end(w);
}

static int
lock_encode(struct proto_writer *w, uint8_t type,
            const struct proto_lock_request *req)
{
	proto_writer_frame_begin(w, type);
	proto_write_text(w, req->passphrase);
	return proto_writer_frame_end(w);
}

int
proto_lock_request_encode(struct proto_writer *w,
                          const struct proto_lock_request *req)
{
	return lock_encode(w, PROTO_SSH_AGENTC_LOCK, req);
}

int
proto_unlock_request_encode(struct proto_writer *w,
                            const struct proto_lock_request *req)
{
	return lock_encode(w, PROTO_SSH_AGENTC_UNLOCK, req);
}

static int
ext_empty_request_encode(struct proto_writer *w, enum proto_ext ext)
{
	ext_request_begin(w, ext);
	return proto_writer_frame_end(w);
}

int
proto_query_request_encode(struct proto_writer *w)
{
	return ext_empty_request_encode(w, PROTO_EXT_QUERY);
}

int
proto_list_request_encode(struct proto_writer *w,
                          const struct proto_list_request *req)
{
	/* Written whenever it was read: decode + encode gives the bytes. */
	if (req == NULL || (req->flags == 0 && !req->has_flags))
		return ext_empty_request_encode(w, PROTO_EXT_LIST);
	ext_request_begin(w, PROTO_EXT_LIST);
	proto_write_u32(w, req->flags);
	return proto_writer_frame_end(w);
}

int
proto_status_request_encode(struct proto_writer *w)
{
	return ext_empty_request_encode(w, PROTO_EXT_STATUS);
}

int
proto_sign_digest_request_encode(struct proto_writer *w,
                                 const struct proto_sign_digest_request *req)
{
	ext_request_begin(w, PROTO_EXT_SIGN_DIGEST);
	proto_write_text(w, req->key_uri);
	proto_write_u32(w, req->mechanism);
	proto_write_u32(w, req->hash);
	proto_write_u32(w, req->mgf1_hash);
	proto_write_u32(w, req->salt_len);
	proto_write_bytes(w, req->digest);
	return proto_writer_frame_end(w);
}

int
proto_decrypt_request_encode(struct proto_writer *w,
                             const struct proto_decrypt_request *req)
{
	ext_request_begin(w, PROTO_EXT_DECRYPT);
	proto_write_text(w, req->key_uri);
	proto_write_u32(w, req->padding);
	proto_write_u32(w, req->oaep_hash);
	proto_write_u32(w, req->mgf1_hash);
	proto_write_bytes(w, req->label);
	proto_write_bytes(w, req->ciphertext);
	return proto_writer_frame_end(w);
}

int
proto_derive_request_encode(struct proto_writer *w,
                            const struct proto_derive_request *req)
{
	ext_request_begin(w, PROTO_EXT_DERIVE);
	proto_write_text(w, req->key_uri);
	proto_write_bytes(w, req->peer_point);
	return proto_writer_frame_end(w);
}

int
proto_login_request_encode(struct proto_writer *w,
                           const struct proto_login_request *req)
{
	ext_request_begin(w, PROTO_EXT_LOGIN);
	proto_write_text(w, req->token);
	proto_write_text(w, req->pin);
	return proto_writer_frame_end(w);
}

int
proto_logout_request_encode(struct proto_writer *w,
                            const struct proto_logout_request *req)
{
	ext_request_begin(w, PROTO_EXT_LOGOUT);
	proto_write_text(w, req->token);
	return proto_writer_frame_end(w);
}

int
proto_import_request_encode(struct proto_writer *w,
                            const struct proto_import_request *req)
{
	size_t i;

	/* Checked first, so that no half frame is left behind. */
	if (req->nchain > PROTO_IMPORT_MAX_CHAIN)
		return proto_writer_fail(w, P11A_E_ARGS);
	ext_request_begin(w, PROTO_EXT_IMPORT);
	proto_write_text(w, req->token);
	proto_write_text(w, req->label);
	proto_write_bytes(w, req->pkcs8);
	proto_write_bytes(w, req->cert);
	proto_write_u32(w, (uint32_t)req->nchain);
	for (i = 0; i < req->nchain; i++)
		proto_write_bytes(w, req->chain[i]);
	return proto_writer_frame_end(w);
}

int
proto_keygen_request_encode(struct proto_writer *w,
                            const struct proto_keygen_request *req)
{
	ext_request_begin(w, PROTO_EXT_KEYGEN);
	proto_write_text(w, req->token);
	proto_write_text(w, req->label);
	proto_write_u32(w, req->key_type);
	proto_write_u32(w, req->bits);
	return proto_writer_frame_end(w);
}

int
proto_attach_cert_request_encode(struct proto_writer *w,
                                 const struct proto_attach_cert_request *req)
{
	ext_request_begin(w, PROTO_EXT_ATTACH_CERT);
	proto_write_bytes(w, req->cert);
	return proto_writer_frame_end(w);
}

static int
ext_request_encode(struct proto_writer *w, const struct proto_request *req)
{
	switch (req->ext) {
	case PROTO_EXT_QUERY:
		return proto_query_request_encode(w);
	case PROTO_EXT_LIST:
		return proto_list_request_encode(w, &req->u.list);
	case PROTO_EXT_SIGN_DIGEST:
		return proto_sign_digest_request_encode(w, &req->u.sign_digest);
	case PROTO_EXT_DECRYPT:
		return proto_decrypt_request_encode(w, &req->u.decrypt);
	case PROTO_EXT_DERIVE:
		return proto_derive_request_encode(w, &req->u.derive);
	case PROTO_EXT_LOGIN:
		return proto_login_request_encode(w, &req->u.login);
	case PROTO_EXT_LOGOUT:
		return proto_logout_request_encode(w, &req->u.logout);
	case PROTO_EXT_STATUS:
		return proto_status_request_encode(w);
	case PROTO_EXT_IMPORT:
		return proto_import_request_encode(w, &req->u.import);
	case PROTO_EXT_KEYGEN:
		return proto_keygen_request_encode(w, &req->u.keygen);
	case PROTO_EXT_ATTACH_CERT:
		return proto_attach_cert_request_encode(w, &req->u.attach_cert);
	case PROTO_EXT_UNKNOWN:
		break;
	}
	return proto_writer_fail(w, P11A_E_ARGS);
}

int
proto_request_encode(struct proto_writer *w, const struct proto_request *req)
{
	switch (req->type) {
	case PROTO_SSH_AGENTC_REQUEST_IDENTITIES:
		return proto_identities_request_encode(w);
	case PROTO_SSH_AGENTC_SIGN_REQUEST:
		return proto_sign_request_encode(w, &req->u.sign);
	case PROTO_SSH_AGENTC_LOCK:
		return proto_lock_request_encode(w, &req->u.lock);
	case PROTO_SSH_AGENTC_UNLOCK:
		return proto_unlock_request_encode(w, &req->u.lock);
	case PROTO_SSH_AGENTC_EXTENSION:
		return ext_request_encode(w, req);
	default:
		return proto_writer_fail(w, P11A_E_ARGS);
	}
}

/* Requests: decoder. */

/*
 * The import payload.  The chain count is checked against its fixed
 * array before a single certificate is read, so a huge count costs
 * nothing.
 */
static int
import_request_decode(struct proto_reader *r, struct proto_import_request *im)
{
	uint32_t n;
	size_t i;
	int ret;

	if ((ret = proto_read_text_direct(r, &im->token)) != 0 ||
	    (ret = proto_read_text_direct(r, &im->label)) != 0 ||
	    (ret = proto_read_string_direct(r, &im->pkcs8)) != 0 ||
	    (ret = proto_read_string_direct(r, &im->cert)) != 0 ||
	    (ret = proto_read_u32(r, &n)) != 0)
		return ret;
	if (n > PROTO_IMPORT_MAX_CHAIN)
		return P11A_E_FORMAT;
	im->nchain = n;
	for (i = 0; i < im->nchain; i++) {
		if ((ret = proto_read_string_direct(r, &im->chain[i])) != 0)
			return ret;
	}
	return 0;
}

static int
ext_request_decode(struct proto_reader *r, struct proto_request *q)
{
	struct proto_sign_digest_request *sd = &q->u.sign_digest;
	struct proto_decrypt_request *de = &q->u.decrypt;
	struct proto_derive_request *dv = &q->u.derive;
	struct proto_keygen_request *kg = &q->u.keygen;
	int ret;

	if ((ret = proto_read_text_direct(r, &q->ext_name)) != 0)
		return ret;
	q->ext = proto_ext_from_name(q->ext_name);
	switch (q->ext) {
	case PROTO_EXT_UNKNOWN:
		/* The agent refuses it; the payload is not ours to judge. */
		return proto_read_rest_direct(r, &q->ext_payload);
	case PROTO_EXT_QUERY:
	case PROTO_EXT_STATUS:
		break;
	case PROTO_EXT_LIST:
		/* The flags came later: a bare request is still well formed. */
		if (r->off < r->len) {
			if ((ret = proto_read_u32(r, &q->u.list.flags)) != 0)
				return ret;
			q->u.list.has_flags = true;
		}
		break;
	case PROTO_EXT_SIGN_DIGEST:
		if ((ret = proto_read_text_direct(r, &sd->key_uri)) != 0 ||
		    (ret = proto_read_u32(r, &sd->mechanism)) != 0 ||
		    (ret = proto_read_u32(r, &sd->hash)) != 0 ||
		    (ret = proto_read_u32(r, &sd->mgf1_hash)) != 0 ||
		    (ret = proto_read_u32(r, &sd->salt_len)) != 0 ||
		    (ret = proto_read_string_direct(r, &sd->digest)) != 0)
			return ret;
		break;
	case PROTO_EXT_DECRYPT:
		if ((ret = proto_read_text_direct(r, &de->key_uri)) != 0 ||
		    (ret = proto_read_u32(r, &de->padding)) != 0 ||
		    (ret = proto_read_u32(r, &de->oaep_hash)) != 0 ||
		    (ret = proto_read_u32(r, &de->mgf1_hash)) != 0 ||
		    (ret = proto_read_string_direct(r, &de->label)) != 0 ||
		    (ret = proto_read_string_direct(r, &de->ciphertext)) != 0)
			return ret;
		break;
	case PROTO_EXT_DERIVE:
		if ((ret = proto_read_text_direct(r, &dv->key_uri)) != 0 ||
		    (ret = proto_read_string_direct(r, &dv->peer_point)) != 0)
			return ret;
		break;
	case PROTO_EXT_LOGIN:
		if ((ret = proto_read_text_direct(r, &q->u.login.token)) != 0 ||
		    (ret = proto_read_text_direct(r, &q->u.login.pin)) != 0)
			return ret;
		break;
	case PROTO_EXT_LOGOUT:
		if ((ret = proto_read_text_direct(r, &q->u.logout.token)) != 0)
			return ret;
		break;
	case PROTO_EXT_IMPORT:
		if ((ret = import_request_decode(r, &q->u.import)) != 0)
			return ret;
		break;
	case PROTO_EXT_KEYGEN:
		/* Key type and bits are the agent's to judge. */
		if ((ret = proto_read_text_direct(r, &kg->token)) != 0 ||
		    (ret = proto_read_text_direct(r, &kg->label)) != 0 ||
		    (ret = proto_read_u32(r, &kg->key_type)) != 0 ||
		    (ret = proto_read_u32(r, &kg->bits)) != 0)
			return ret;
		break;
	case PROTO_EXT_ATTACH_CERT:
		if ((ret = proto_read_string_direct(
		         r, &q->u.attach_cert.cert)) != 0)
			return ret;
		break;
	}
	return proto_reader_end(r);
}

int
proto_request_decode(const uint8_t *body, size_t len, struct proto_request *req)
{
	struct proto_request q;
	struct proto_sign_request *sr = &q.u.sign;
	struct proto_lock_request *lock = &q.u.lock;
	struct proto_reader r;
	int ret;

	memset(req, 0, sizeof(*req));
	memset(&q, 0, sizeof(q));
	proto_reader_init(&r, body, len);
	if ((ret = proto_read_u8(&r, &q.type)) != 0)
		goto out;
	switch (q.type) {
	case PROTO_SSH_AGENTC_REQUEST_IDENTITIES:
		ret = proto_reader_end(&r);
		break;
	case PROTO_SSH_AGENTC_SIGN_REQUEST:
		if ((ret = proto_read_string_direct(&r, &sr->key_blob)) != 0 ||
		    (ret = proto_read_string_direct(&r, &sr->data)) != 0 ||
		    (ret = proto_read_u32(&r, &sr->flags)) != 0)
			goto out;
		ret = proto_reader_end(&r);
		break;
	case PROTO_SSH_AGENTC_LOCK:
	case PROTO_SSH_AGENTC_UNLOCK:
		if ((ret = proto_read_text_direct(&r, &lock->passphrase)) != 0)
			goto out;
		ret = proto_reader_end(&r);
		break;
	case PROTO_SSH_AGENTC_EXTENSION:
		ret = ext_request_decode(&r, &q);
		break;
	default:
		/* Not a request we implement: the agent refuses it. */
		ret = 0;
		break;
	}
	if (ret != 0)
		goto out;
	*req = q;
out:
	/* q only holds views into body: nothing to wipe or free. */
	return ret;
}

int
proto_request_peek(const uint8_t *body, size_t len, uint8_t *type,
                   enum proto_ext *ext)
{
	struct proto_reader r;
	struct proto_text name;
	uint8_t t;
	int ret;

	*type = 0;
	*ext = PROTO_EXT_UNKNOWN;
	proto_reader_init(&r, body, len);
	if ((ret = proto_read_u8(&r, &t)) != 0)
		return ret;
	if (t == PROTO_SSH_AGENTC_EXTENSION) {
		if ((ret = proto_read_text_direct(&r, &name)) != 0)
			return ret;
		*ext = proto_ext_from_name(name);
	}
	*type = t;
	return 0;
}

/* Replies: failures and success. */

int
proto_failure_encode(struct proto_writer *w)
{
	proto_writer_frame_begin(w, PROTO_SSH_AGENT_FAILURE);
	return proto_writer_frame_end(w);
}

int
proto_ext_failure_encode(struct proto_writer *w, int code, const char *message)
{
	if (w->failed != 0)
		return w->failed;
	if (code >= 0 || code == P11A_E_INCOMPLETE || code == INT_MIN)
		return proto_writer_fail(w, P11A_E_ARGS);
	if (message == NULL)
		message = p11a_strerror(code);
	proto_writer_frame_begin(w, PROTO_SSH_AGENT_EXTENSION_FAILURE);
	proto_write_u32(w, (uint32_t)-code);
	proto_write_cstring(w, message);
	return proto_writer_frame_end(w);
}

int
proto_error_reply_encode(struct proto_writer *w, uint8_t req_type,
                         enum proto_ext ext, int code, const char *message)
{
	if (req_type == PROTO_SSH_AGENTC_EXTENSION &&
	    proto_ext_name(ext) != NULL)
		return proto_ext_failure_encode(w, code, message);
	return proto_failure_encode(w);
}

int
proto_success_encode(struct proto_writer *w)
{
	proto_writer_frame_begin(w, PROTO_SSH_AGENT_SUCCESS);
	return proto_writer_frame_end(w);
}

int
proto_success_decode(const uint8_t *body, size_t len,
                     struct proto_failure *fail)
{
	struct proto_reader r;
	int ret;

	if (fail != NULL)
		failure_clear(fail);
	if ((ret = reply_open(&r, body, len, PROTO_SSH_AGENT_SUCCESS,
	                      PROTO_EXT_UNKNOWN, fail)) != 0)
		return ret;
	return proto_reader_end(&r);
}

/* Replies: identities and SSH signatures. */

int
proto_identities_reply_encode(struct proto_writer *w,
                              const struct proto_identities_reply *rep)
{
	size_t i;
	int ret;

	proto_writer_frame_begin(w, PROTO_SSH_AGENT_IDENTITIES_ANSWER);
	if ((ret = write_count(w, rep->n, rep->ids)) != 0)
		return ret;
	for (i = 0; i < rep->n; i++) {
		proto_write_bytes(w, rep->ids[i].key_blob);
		proto_write_text(w, rep->ids[i].comment);
	}
	return proto_writer_frame_end(w);
}

int
proto_identities_reply_decode(const uint8_t *body, size_t len,
                              struct proto_identities_reply *rep,
                              struct proto_failure *fail)
{
	struct proto_identities_reply q = {0, NULL};
	struct proto_identity *id;
	struct proto_reader r;
	size_t i;
	int ret;

	memset(rep, 0, sizeof(*rep));
	if (fail != NULL)
		failure_clear(fail);
	if ((ret = reply_open(&r, body, len, PROTO_SSH_AGENT_IDENTITIES_ANSWER,
	                      PROTO_EXT_UNKNOWN, fail)) != 0)
		goto out;
	if ((ret = read_count(&r, MIN_IDENTITY, &q.n)) != 0 ||
	    (ret = ALLOC_ARRAY(q.ids, q.n)) != 0)
		goto out;
	for (i = 0; i < q.n; i++) {
		id = &q.ids[i];
		if ((ret = proto_read_string_direct(&r, &id->key_blob)) != 0 ||
		    (ret = proto_read_text_direct(&r, &id->comment)) != 0)
			goto out;
	}
	if ((ret = proto_reader_end(&r)) != 0)
		goto out;
	*rep = q;
	q.ids = NULL;
out:
	free(q.ids);
	return ret;
}

void
proto_identities_reply_cleanup(struct proto_identities_reply *rep)
{
	if (rep == NULL)
		return;
	free(rep->ids);
	rep->ids = NULL;
	rep->n = 0;
}

int
proto_sign_reply_encode(struct proto_writer *w,
                        const struct proto_sign_reply *rep)
{
	proto_writer_frame_begin(w, PROTO_SSH_AGENT_SIGN_RESPONSE);
	proto_write_bytes(w, rep->sig_blob);
	return proto_writer_frame_end(w);
}

int
proto_sign_reply_decode(const uint8_t *body, size_t len,
                        struct proto_sign_reply *rep,
                        struct proto_failure *fail)
{
	struct proto_sign_reply q;
	struct proto_reader r;
	int ret;

	memset(rep, 0, sizeof(*rep));
	if (fail != NULL)
		failure_clear(fail);
	if ((ret = reply_open(&r, body, len, PROTO_SSH_AGENT_SIGN_RESPONSE,
	                      PROTO_EXT_UNKNOWN, fail)) != 0 ||
	    (ret = proto_read_string_direct(&r, &q.sig_blob)) != 0 ||
	    (ret = proto_reader_end(&r)) != 0)
		return ret;
	*rep = q;
	return 0;
}

/* Replies: extensions. */

int
proto_query_reply_encode(struct proto_writer *w,
                         const struct proto_query_reply *rep)
{
	size_t i;
	int ret;

	ext_reply_begin(w, PROTO_EXT_QUERY);
	if ((ret = write_count(w, rep->n, rep->names)) != 0)
		return ret;
	for (i = 0; i < rep->n; i++)
		proto_write_text(w, rep->names[i]);
	return proto_writer_frame_end(w);
}

int
proto_query_reply_decode(const uint8_t *body, size_t len,
                         struct proto_query_reply *rep,
                         struct proto_failure *fail)
{
	struct proto_query_reply q = {0, NULL};
	struct proto_reader r;
	size_t i;
	int ret;

	memset(rep, 0, sizeof(*rep));
	if (fail != NULL)
		failure_clear(fail);
	if ((ret = reply_open(&r, body, len, PROTO_SSH_AGENT_EXTENSION_RESPONSE,
	                      PROTO_EXT_QUERY, fail)) != 0)
		goto out;
	if ((ret = read_count(&r, MIN_NAME, &q.n)) != 0 ||
	    (ret = ALLOC_ARRAY(q.names, q.n)) != 0)
		goto out;
	for (i = 0; i < q.n; i++) {
		if ((ret = proto_read_text_direct(&r, &q.names[i])) != 0)
			goto out;
	}
	if ((ret = proto_reader_end(&r)) != 0)
		goto out;
	*rep = q;
	q.names = NULL;
out:
	free(q.names);
	return ret;
}

void
proto_query_reply_cleanup(struct proto_query_reply *rep)
{
	if (rep == NULL)
		return;
	free(rep->names);
	rep->names = NULL;
	rep->n = 0;
}

int
proto_list_reply_encode(struct proto_writer *w,
                        const struct proto_list_reply *rep)
{
	const struct proto_token_info *t;
	const struct proto_key_info *k;
	size_t i, j;
	int ret;

	ext_reply_begin(w, PROTO_EXT_LIST);
	if ((ret = write_count(w, rep->ntokens, rep->tokens)) != 0)
		return ret;
	for (i = 0; i < rep->ntokens; i++) {
		t = &rep->tokens[i];
		proto_write_text(w, t->uri);
		proto_write_text(w, t->label);
		proto_write_text(w, t->manufacturer);
		proto_write_text(w, t->model);
		proto_write_text(w, t->serial);
		proto_write_u32(w, t->flags);
	}
	if ((ret = write_count(w, rep->nkeys, rep->keys)) != 0)
		return ret;
	for (i = 0; i < rep->nkeys; i++) {
		k = &rep->keys[i];
		proto_write_text(w, k->uri);
		proto_write_text(w, k->token_label);
		proto_write_text(w, k->label);
		proto_write_u32(w, k->key_type);
		proto_write_u32(w, k->bits);
		proto_write_text(w, k->curve);
		proto_write_u32(w, k->flags);
		proto_write_bytes(w, k->cert_der);
		proto_write_bytes(w, k->ssh_blob);
		if ((ret = write_count(w, k->nemails, k->emails)) != 0)
			return ret;
		for (j = 0; j < k->nemails; j++)
			proto_write_text(w, k->emails[j]);
	}
	return proto_writer_frame_end(w);
}

static int
read_token_info(struct proto_reader *r, struct proto_token_info *t)
{
	int ret;

	if ((ret = proto_read_text_direct(r, &t->uri)) != 0 ||
	    (ret = proto_read_text_direct(r, &t->label)) != 0 ||
	    (ret = proto_read_text_direct(r, &t->manufacturer)) != 0 ||
	    (ret = proto_read_text_direct(r, &t->model)) != 0 ||
	    (ret = proto_read_text_direct(r, &t->serial)) != 0 ||
	    (ret = proto_read_u32(r, &t->flags)) != 0)
		return ret;
	return 0;
}

static int
read_key_info(struct proto_reader *r, struct proto_key_info *k)
{
	size_t i;
	int ret;

	if ((ret = proto_read_text_direct(r, &k->uri)) != 0 ||
	    (ret = proto_read_text_direct(r, &k->token_label)) != 0 ||
	    (ret = proto_read_text_direct(r, &k->label)) != 0 ||
	    (ret = proto_read_u32(r, &k->key_type)) != 0 ||
	    (ret = proto_read_u32(r, &k->bits)) != 0 ||
	    (ret = proto_read_text_direct(r, &k->curve)) != 0 ||
	    (ret = proto_read_u32(r, &k->flags)) != 0 ||
	    (ret = proto_read_string_direct(r, &k->cert_der)) != 0 ||
	    (ret = proto_read_string_direct(r, &k->ssh_blob)) != 0 ||
	    (ret = read_count(r, MIN_EMAIL, &k->nemails)) != 0 ||
	    (ret = ALLOC_ARRAY(k->emails, k->nemails)) != 0)
		return ret;
	for (i = 0; i < k->nemails; i++) {
		if ((ret = proto_read_text_direct(r, &k->emails[i])) != 0)
			return ret;
	}
	return 0;
}

int
proto_list_reply_decode(const uint8_t *body, size_t len,
                        struct proto_list_reply *rep,
                        struct proto_failure *fail)
{
	struct proto_list_reply q;
	struct proto_reader r;
	size_t i;
	int ret;

	memset(rep, 0, sizeof(*rep));
	memset(&q, 0, sizeof(q));
	if (fail != NULL)
		failure_clear(fail);
	if ((ret = reply_open(&r, body, len, PROTO_SSH_AGENT_EXTENSION_RESPONSE,
	                      PROTO_EXT_LIST, fail)) != 0)
		goto out;
	if ((ret = read_count(&r, MIN_TOKEN_INFO, &q.ntokens)) != 0 ||
	    (ret = ALLOC_ARRAY(q.tokens, q.ntokens)) != 0)
		goto out;
	for (i = 0; i < q.ntokens; i++) {
		if ((ret = read_token_info(&r, &q.tokens[i])) != 0)
			goto out;
	}
	if ((ret = read_count(&r, MIN_KEY_INFO, &q.nkeys)) != 0 ||
	    (ret = ALLOC_ARRAY(q.keys, q.nkeys)) != 0)
		goto out;
	for (i = 0; i < q.nkeys; i++) {
		if ((ret = read_key_info(&r, &q.keys[i])) != 0)
			goto out;
	}
	if ((ret = proto_reader_end(&r)) != 0)
		goto out;
	*rep = q;
	memset(&q, 0, sizeof(q));
out:
	/* Keys not reached yet are zeroed (calloc), so this is safe. */
	proto_list_reply_cleanup(&q);
	return ret;
}

void
proto_list_reply_cleanup(struct proto_list_reply *rep)
{
	size_t i;

	if (rep == NULL)
		return;
	for (i = 0; i < rep->nkeys && rep->keys != NULL; i++)
		free(rep->keys[i].emails);
	free(rep->keys);
	free(rep->tokens);
	memset(rep, 0, sizeof(*rep));
}

/* Extension replies that carry one string. */
static int
ext_string_reply_encode(struct proto_writer *w, enum proto_ext ext,
                        struct proto_bytes v)
{
	ext_reply_begin(w, ext);
	proto_write_bytes(w, v);
	return proto_writer_frame_end(w);
}

static int
ext_string_reply_decode(const uint8_t *body, size_t len, enum proto_ext ext,
                        struct proto_bytes *v, struct proto_failure *fail)
{
	struct proto_reader r;
	struct proto_bytes q;
	int ret;

	v->p = NULL;
	v->len = 0;
	if (fail != NULL)
		failure_clear(fail);
	if ((ret = reply_open(&r, body, len, PROTO_SSH_AGENT_EXTENSION_RESPONSE,
	                      ext, fail)) != 0 ||
	    (ret = proto_read_string_direct(&r, &q)) != 0 ||
	    (ret = proto_reader_end(&r)) != 0)
		return ret;
	*v = q;
	return 0;
}

int
proto_sign_digest_reply_encode(struct proto_writer *w,
                               const struct proto_sign_digest_reply *rep)
{
	return ext_string_reply_encode(w, PROTO_EXT_SIGN_DIGEST,
	                               rep->signature);
}

int
proto_sign_digest_reply_decode(const uint8_t *body, size_t len,
                               struct proto_sign_digest_reply *rep,
                               struct proto_failure *fail)
{
	return ext_string_reply_decode(body, len, PROTO_EXT_SIGN_DIGEST,
	                               &rep->signature, fail);
}

int
proto_decrypt_reply_encode(struct proto_writer *w,
                           const struct proto_decrypt_reply *rep)
{
	return ext_string_reply_encode(w, PROTO_EXT_DECRYPT, rep->plaintext);
}

int
proto_decrypt_reply_decode(const uint8_t *body, size_t len,
                           struct proto_decrypt_reply *rep,
                           struct proto_failure *fail)
{
	return ext_string_reply_decode(body, len, PROTO_EXT_DECRYPT,
	                               &rep->plaintext, fail);
}

int
proto_derive_reply_encode(struct proto_writer *w,
                          const struct proto_derive_reply *rep)
{
	return ext_string_reply_encode(w, PROTO_EXT_DERIVE, rep->secret);
}

int
proto_derive_reply_decode(const uint8_t *body, size_t len,
                          struct proto_derive_reply *rep,
                          struct proto_failure *fail)
{
	return ext_string_reply_decode(body, len, PROTO_EXT_DERIVE,
	                               &rep->secret, fail);
}

/* The extensions whose reply is one key URI. */
static bool
is_key_uri_ext(enum proto_ext ext)
{
	return ext == PROTO_EXT_IMPORT || ext == PROTO_EXT_KEYGEN ||
	       ext == PROTO_EXT_ATTACH_CERT;
}

int
proto_key_uri_reply_encode(struct proto_writer *w, enum proto_ext ext,
                           const struct proto_key_uri_reply *rep)
{
	if (!is_key_uri_ext(ext))
		return proto_writer_fail(w, P11A_E_ARGS);
	ext_reply_begin(w, ext);
	proto_write_text(w, rep->key_uri);
	return proto_writer_frame_end(w);
}

int
proto_key_uri_reply_decode(const uint8_t *body, size_t len, enum proto_ext ext,
                           struct proto_key_uri_reply *rep,
                           struct proto_failure *fail)
{
	struct proto_key_uri_reply q;
	struct proto_reader r;
	int ret;

	memset(rep, 0, sizeof(*rep));
	if (fail != NULL)
		failure_clear(fail);
	if (!is_key_uri_ext(ext))
		return P11A_E_ARGS;
	if ((ret = reply_open(&r, body, len, PROTO_SSH_AGENT_EXTENSION_RESPONSE,
	                      ext, fail)) != 0 ||
	    (ret = proto_read_text_direct(&r, &q.key_uri)) != 0 ||
	    (ret = proto_reader_end(&r)) != 0)
		return ret;
	*rep = q;
	return 0;
}

/* Extension replies without payload. */
static int
ext_empty_reply_encode(struct proto_writer *w, enum proto_ext ext)
{
	ext_reply_begin(w, ext);
	return proto_writer_frame_end(w);
}

static int
ext_empty_reply_decode(const uint8_t *body, size_t len, enum proto_ext ext,
                       struct proto_failure *fail)
{
	struct proto_reader r;
	int ret;

	if (fail != NULL)
		failure_clear(fail);
	if ((ret = reply_open(&r, body, len, PROTO_SSH_AGENT_EXTENSION_RESPONSE,
	                      ext, fail)) != 0)
		return ret;
	return proto_reader_end(&r);
}

int
proto_login_reply_encode(struct proto_writer *w)
{
	return ext_empty_reply_encode(w, PROTO_EXT_LOGIN);
}

int
proto_login_reply_decode(const uint8_t *body, size_t len,
                         struct proto_failure *fail)
{
	return ext_empty_reply_decode(body, len, PROTO_EXT_LOGIN, fail);
}

int
proto_logout_reply_encode(struct proto_writer *w)
{
	return ext_empty_reply_encode(w, PROTO_EXT_LOGOUT);
}

int
proto_logout_reply_decode(const uint8_t *body, size_t len,
                          struct proto_failure *fail)
{
	return ext_empty_reply_decode(body, len, PROTO_EXT_LOGOUT, fail);
}

int
proto_status_reply_encode(struct proto_writer *w,
                          const struct proto_status_reply *rep)
{
	const struct proto_token_status *t;
	size_t i;
	int ret;

	ext_reply_begin(w, PROTO_EXT_STATUS);
	proto_write_text(w, rep->version);
	proto_write_u64(w, rep->uptime);
	proto_write_u32(w, rep->flags);
	proto_write_u32(w, rep->login_lifetime);
	proto_write_u32(w, rep->idle_timeout);
	if ((ret = write_count(w, rep->ntokens, rep->tokens)) != 0)
		return ret;
	for (i = 0; i < rep->ntokens; i++) {
		t = &rep->tokens[i];
		proto_write_text(w, t->uri);
		proto_write_text(w, t->label);
		proto_write_u32(w, t->flags);
		proto_write_u64(w, t->logged_in_since);
		proto_write_u64(w, t->login_expires);
	}
	return proto_writer_frame_end(w);
}

int
proto_status_reply_decode(const uint8_t *body, size_t len,
                          struct proto_status_reply *rep,
                          struct proto_failure *fail)
{
	struct proto_status_reply q;
	struct proto_token_status *t;
	struct proto_reader r;
	size_t i;
	int ret;

	memset(rep, 0, sizeof(*rep));
	memset(&q, 0, sizeof(q));
	if (fail != NULL)
		failure_clear(fail);
	if ((ret = reply_open(&r, body, len, PROTO_SSH_AGENT_EXTENSION_RESPONSE,
	                      PROTO_EXT_STATUS, fail)) != 0)
		goto out;
	if ((ret = proto_read_text_direct(&r, &q.version)) != 0 ||
	    (ret = proto_read_u64(&r, &q.uptime)) != 0 ||
	    (ret = proto_read_u32(&r, &q.flags)) != 0 ||
	    (ret = proto_read_u32(&r, &q.login_lifetime)) != 0 ||
	    (ret = proto_read_u32(&r, &q.idle_timeout)) != 0 ||
	    (ret = read_count(&r, MIN_TOKEN_STATUS, &q.ntokens)) != 0 ||
	    (ret = ALLOC_ARRAY(q.tokens, q.ntokens)) != 0)
		goto out;
	for (i = 0; i < q.ntokens; i++) {
		t = &q.tokens[i];
		if ((ret = proto_read_text_direct(&r, &t->uri)) != 0 ||
		    (ret = proto_read_text_direct(&r, &t->label)) != 0 ||
		    (ret = proto_read_u32(&r, &t->flags)) != 0 ||
		    (ret = proto_read_u64(&r, &t->logged_in_since)) != 0 ||
		    (ret = proto_read_u64(&r, &t->login_expires)) != 0)
			goto out;
	}
	if ((ret = proto_reader_end(&r)) != 0)
		goto out;
	*rep = q;
	q.tokens = NULL;
out:
	free(q.tokens);
	return ret;
}

void
proto_status_reply_cleanup(struct proto_status_reply *rep)
{
	if (rep == NULL)
		return;
	free(rep->tokens);
	memset(rep, 0, sizeof(*rep));
}
