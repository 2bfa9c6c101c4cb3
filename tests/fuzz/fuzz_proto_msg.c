/*
 * libFuzzer target for proto/: the frame check, every request and reply
 * decoder and the SSH blob decoders over arbitrary bytes.  Whatever
 * decodes is encoded again and must give back the same bytes, since our
 * encoding is canonical; a mismatch aborts.
 *
 * When the input starts with a complete frame, its body goes to the
 * message decoders; the whole input always goes to the blob decoders.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a crash for libFuzzer) when an invariant does not hold. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

/* w must hold exactly one frame whose body is body; resets w. */
static void
check_frame(struct proto_writer *w, const uint8_t *body, size_t len)
{
	const uint8_t *p;
	size_t n;

	CHECK(proto_writer_finish(w, &p, &n) == 0);
	CHECK(n == PROTO_FRAME_HEADER + len);
	CHECK(memcmp(p + PROTO_FRAME_HEADER, body, len) == 0);
	proto_writer_reset(w);
}

/* w must hold exactly the bytes blob; resets w. */
static void
check_bytes(struct proto_writer *w, const uint8_t *blob, size_t len)
{
	const uint8_t *p;
	size_t n;

	CHECK(proto_writer_finish(w, &p, &n) == 0);
	CHECK(n == len);
	CHECK(len == 0 || memcmp(p, blob, len) == 0);
	proto_writer_reset(w);
}

/* A decoded failure must be what the agent would have sent. */
static void
check_failure(struct proto_writer *w, const struct proto_failure *f,
              const uint8_t *body, size_t len)
{
	char *msg;

	CHECK(f->code < 0 && f->code != P11A_E_INCOMPLETE);
	if (f->generic) {
		CHECK(len == 1);
		CHECK(body[0] == PROTO_SSH_AGENT_FAILURE ||
		      body[0] == PROTO_SSH_AGENT_EXTENSION_FAILURE);
		return;
	}
	if ((msg = proto_text_dup(f->message)) == NULL)
		abort();
	CHECK(proto_ext_failure_encode(w, f->code, msg) == 0);
	check_frame(w, body, len);
	free(msg);
}

/*
 * After a reply decoder: 0 means re-encode (done by the caller); a code
 * the agent sent must match its bytes; anything else is a plain error.
 */
static bool
reply_ok(struct proto_writer *w, int ret, const struct proto_failure *f,
         const uint8_t *body, size_t len)
{
	if (ret == 0) {
		CHECK(f->code == 0);
		return true;
	}
	if (f->code != 0) {
		CHECK(ret == f->code);
		check_failure(w, f, body, len);
	}
	return false;
}

static bool
request_known(const struct proto_request *req)
{
	switch (req->type) {
	case PROTO_SSH_AGENTC_REQUEST_IDENTITIES:
	case PROTO_SSH_AGENTC_SIGN_REQUEST:
	case PROTO_SSH_AGENTC_LOCK:
	case PROTO_SSH_AGENTC_UNLOCK:
		return true;
	case PROTO_SSH_AGENTC_EXTENSION:
		return req->ext != PROTO_EXT_UNKNOWN;
	default:
		return false;
	}
}

static void
fuzz_request(struct proto_writer *w, const uint8_t *body, size_t len)
{
	struct proto_writer small;
	struct proto_request req;
	enum proto_ext ext;
	uint8_t type;
	int ret;

	ret = proto_request_decode(body, len, &req);
	if (ret != 0) {
		CHECK(ret == P11A_E_FORMAT);
		CHECK(req.type == 0);
		/* The agent still answers: pick and encode its failure. */
		if (proto_request_peek(body, len, &type, &ext) == 0) {
			CHECK(proto_error_reply_encode(
			          w, type, ext, P11A_E_FORMAT, NULL) == 0);
			proto_writer_reset(w);
		}
		return;
	}
	CHECK(proto_request_peek(body, len, &type, &ext) == 0);
	CHECK(type == req.type && ext == req.ext);
	if (!request_known(&req))
		return;
	CHECK(proto_request_encode(w, &req) == 0);
	check_frame(w, body, len);
	/* One byte less room than needed: a clean TOO_LARGE. */
	proto_writer_init_max(&small, PROTO_FRAME_HEADER + len - 1);
	CHECK(proto_request_encode(&small, &req) == P11A_E_TOO_LARGE);
	proto_writer_cleanup(&small);
}

/* The replies that carry one key URI, under each of their names. */
static void
fuzz_key_uri_replies(struct proto_writer *w, const uint8_t *body, size_t len)
{
	static const enum proto_ext exts[] = {
	    PROTO_EXT_IMPORT, PROTO_EXT_KEYGEN, PROTO_EXT_ATTACH_CERT};
	struct proto_key_uri_reply uri;
	struct proto_failure f;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ret = proto_key_uri_reply_decode(body, len, exts[i], &uri, &f);
		if (reply_ok(w, ret, &f, body, len)) {
			CHECK(proto_key_uri_reply_encode(w, exts[i], &uri) ==
			      0);
			check_frame(w, body, len);
		}
	}
}

static void
fuzz_replies(struct proto_writer *w, const uint8_t *body, size_t len)
{
	struct proto_identities_reply ids;
	struct proto_sign_digest_reply sd;
	struct proto_decrypt_reply dec;
	struct proto_derive_reply der;
	struct proto_status_reply st;
	struct proto_list_reply list;
	struct proto_query_reply q;
	struct proto_sign_reply sign;
	struct proto_failure f;
	int ret;

	if (proto_failure_decode(body, len, &f) == 0)
		check_failure(w, &f, body, len);

	ret = proto_success_decode(body, len, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_success_encode(w) == 0);
		check_frame(w, body, len);
	}
	ret = proto_identities_reply_decode(body, len, &ids, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_identities_reply_encode(w, &ids) == 0);
		check_frame(w, body, len);
	}
	proto_identities_reply_cleanup(&ids);
	ret = proto_sign_reply_decode(body, len, &sign, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_sign_reply_encode(w, &sign) == 0);
		check_frame(w, body, len);
	}
	ret = proto_query_reply_decode(body, len, &q, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_query_reply_encode(w, &q) == 0);
		check_frame(w, body, len);
	}
	proto_query_reply_cleanup(&q);
	ret = proto_list_reply_decode(body, len, &list, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_list_reply_encode(w, &list) == 0);
		check_frame(w, body, len);
	}
	proto_list_reply_cleanup(&list);
	ret = proto_sign_digest_reply_decode(body, len, &sd, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_sign_digest_reply_encode(w, &sd) == 0);
		check_frame(w, body, len);
	}
	ret = proto_decrypt_reply_decode(body, len, &dec, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_decrypt_reply_encode(w, &dec) == 0);
		check_frame(w, body, len);
	}
	ret = proto_derive_reply_decode(body, len, &der, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_derive_reply_encode(w, &der) == 0);
		check_frame(w, body, len);
	}
	ret = proto_login_reply_decode(body, len, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_login_reply_encode(w) == 0);
		check_frame(w, body, len);
	}
	ret = proto_logout_reply_decode(body, len, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_logout_reply_encode(w) == 0);
		check_frame(w, body, len);
	}
	ret = proto_status_reply_decode(body, len, &st, &f);
	if (reply_ok(w, ret, &f, body, len)) {
		CHECK(proto_status_reply_encode(w, &st) == 0);
		check_frame(w, body, len);
	}
	proto_status_reply_cleanup(&st);
	fuzz_key_uri_replies(w, body, len);
}

static void
fuzz_key_blob(struct proto_writer *w, const uint8_t *blob, size_t len)
{
	struct proto_ssh_key k;

	if (proto_ssh_key_decode(blob, len, &k) != 0)
		return;
	switch (k.type) {
	case PROTO_SSH_KEY_RSA:
		CHECK(proto_ssh_rsa_key_put(w, k.rsa_e.p, k.rsa_e.len,
		                            k.rsa_n.p, k.rsa_n.len) == 0);
		break;
	case PROTO_SSH_KEY_ECDSA:
		CHECK(proto_ssh_ecdsa_key_put(w, k.curve, k.ec_q.p,
		                              k.ec_q.len) == 0);
		break;
	case PROTO_SSH_KEY_ED25519:
		CHECK(proto_ssh_ed25519_key_put(w, k.ed25519_pk.p,
		                                k.ed25519_pk.len) == 0);
		break;
	default:
		abort();
	}
	check_bytes(w, blob, len);
}

static void
fuzz_sig_blob(struct proto_writer *w, const uint8_t *blob, size_t len)
{
	struct proto_ssh_sig s;
	uint8_t rs[2 * 66];
	size_t field;
	char *alg;

	if (proto_ssh_sig_decode(blob, len, &s) != 0)
		return;
	switch (s.type) {
	case PROTO_SSH_KEY_RSA:
		if ((alg = proto_text_dup(s.alg)) == NULL)
			abort();
		CHECK(proto_ssh_rsa_sig_put(w, alg, s.raw.p, s.raw.len) == 0);
		free(alg);
		break;
	case PROTO_SSH_KEY_ECDSA:
		/* Back to the fixed-length r||s a token returns. */
		field = proto_curve_field_len(s.curve);
		CHECK(field <= 66 && s.r.len <= field && s.s.len <= field);
		memset(rs, 0, sizeof(rs));
		if (s.r.len > 0)
			memcpy(rs + field - s.r.len, s.r.p, s.r.len);
		if (s.s.len > 0)
			memcpy(rs + 2 * field - s.s.len, s.s.p, s.s.len);
		CHECK(proto_ssh_ecdsa_sig_put(w, s.curve, rs, 2 * field) == 0);
		break;
	case PROTO_SSH_KEY_ED25519:
		CHECK(proto_ssh_ed25519_sig_put(w, s.raw.p, s.raw.len) == 0);
		break;
	default:
		abort();
	}
	check_bytes(w, blob, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_writer w;
	size_t body_len;
	int ret;

	proto_writer_init(&w);
	ret = proto_frame_check(data, size, &body_len);
	if (ret == 0) {
		CHECK(body_len >= 1 && body_len <= PROTO_FRAME_MAX);
		CHECK(body_len <= size - PROTO_FRAME_HEADER);
		CHECK(proto_frame_size(data) == PROTO_FRAME_HEADER + body_len);
		fuzz_request(&w, data + PROTO_FRAME_HEADER, body_len);
		fuzz_replies(&w, data + PROTO_FRAME_HEADER, body_len);
	} else {
		CHECK(ret == P11A_E_INCOMPLETE || ret == P11A_E_TOO_LARGE ||
		      ret == P11A_E_FORMAT);
		CHECK(body_len == 0);
	}
	fuzz_key_blob(&w, data, size);
	fuzz_sig_blob(&w, data, size);
	proto_writer_cleanup(&w);
	return 0;
}
