/*
 * proto/msg.h: every message round trips, every truncation fails, every
 * bit flip either fails or decodes to something that re-encodes to the
 * same bytes, and encoders and decoders survive each allocation failing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/msg.h"
#include "helpers.h"

#define T(s) proto_text_from(s)
#define B(a) ((struct proto_bytes){(a), sizeof(a)})
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Sample data, filled by setup_data(). */
static uint8_t key_blob[51], key_blob2[104], sign_data[100], digest[32];
static uint8_t ciphertext[256], point[65], cert[600], signature[256];
static uint8_t plaintext[32], shared[32], sig_blob[83];
static uint8_t pkcs8[150], ca_cert1[300], ca_cert2[200];

static const char uri1[] = "pkcs11:token=Test%20Token;id=%01;type=private";
static const char uri2[] = "pkcs11:token=Card;object=Signing%20Key";

static struct proto_sign_request s_sign;
static struct proto_lock_request s_lock;
static struct proto_sign_digest_request s_sd;
static struct proto_decrypt_request s_dec;
static struct proto_derive_request s_der;
static struct proto_login_request s_login, s_login_pad;
static struct proto_logout_request s_logout, s_logout_all;
static struct proto_identity s_id_arr[2];
static struct proto_identities_reply s_ids, s_ids_empty;
static struct proto_sign_reply s_sign_rep;
static struct proto_text s_names_arr[PROTO_EXT_COUNT - 1];
static struct proto_query_reply s_query;
static struct proto_token_info s_tok_arr[2];
static struct proto_text s_email_arr[2];
static struct proto_key_info s_key_arr[2];
static struct proto_list_reply s_list, s_list_empty;
static struct proto_sign_digest_reply s_sd_rep;
static struct proto_decrypt_reply s_dec_rep;
static struct proto_derive_reply s_der_rep;
static struct proto_token_status s_tstat_arr[2];
static struct proto_status_reply s_status;
static struct proto_import_request s_import0, s_import2;
static struct proto_keygen_request s_keygen;
static struct proto_attach_cert_request s_attach;
static struct proto_key_uri_reply s_import_rep, s_keygen_rep, s_attach_rep;

static void
fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static int
setup_data(void **state)
{
	size_t i;

	(void)state;
	fill(key_blob, sizeof(key_blob), 1);
	fill(key_blob2, sizeof(key_blob2), 2);
	fill(sign_data, sizeof(sign_data), 3);
	fill(digest, sizeof(digest), 4);
	fill(ciphertext, sizeof(ciphertext), 5);
	fill(point, sizeof(point), 6);
	point[0] = 4;
	fill(cert, sizeof(cert), 7);
	fill(signature, sizeof(signature), 8);
	fill(plaintext, sizeof(plaintext), 9);
	fill(shared, sizeof(shared), 10);
	fill(sig_blob, sizeof(sig_blob), 11);
	fill(pkcs8, sizeof(pkcs8), 12);
	fill(ca_cert1, sizeof(ca_cert1), 13);
	fill(ca_cert2, sizeof(ca_cert2), 14);

	s_sign = (struct proto_sign_request){B(key_blob), B(sign_data),
	                                     PROTO_SSH_AGENT_RSA_SHA2_256};
	s_lock.passphrase = T("correct horse battery staple");
	s_sd = (struct proto_sign_digest_request){
	    T(uri1), PROTO_MECH_RSA_PSS, PROTO_HASH_SHA256, PROTO_HASH_SHA256,
	    32,      B(digest)};
	s_dec = (struct proto_decrypt_request){T(uri1),
	                                       PROTO_PADDING_OAEP,
	                                       PROTO_HASH_SHA256,
	                                       PROTO_HASH_SHA1,
	                                       {(const uint8_t *)"label", 5},
	                                       B(ciphertext)};
	s_der = (struct proto_derive_request){T(uri2), B(point)};
	s_login = (struct proto_login_request){T("Test Token"), T("123456")};
	s_login_pad = (struct proto_login_request){T(uri1), T("")};
	s_logout.token = T("Test Token");
	s_logout_all.token = T("");

	s_id_arr[0] = (struct proto_identity){B(key_blob), T(uri1)};
	s_id_arr[1] = (struct proto_identity){B(key_blob2), T("")};
	s_ids = (struct proto_identities_reply){2, s_id_arr};
	s_ids_empty = (struct proto_identities_reply){0, NULL};
	s_sign_rep.sig_blob = B(sig_blob);
	for (i = 0; i < NELEM(s_names_arr); i++)
		s_names_arr[i] = T(proto_ext_name((enum proto_ext)(i + 1)));
	s_query = (struct proto_query_reply){NELEM(s_names_arr), s_names_arr};

	s_tok_arr[0] = (struct proto_token_info){
	    T("pkcs11:token=Test%20Token"),
	    T("Test Token"),
	    T("SoftHSM project"),
	    T("SoftHSM v2"),
	    T("0123456789abcdef"),
	    PROTO_TOKEN_LOGIN_REQUIRED | PROTO_TOKEN_INITIALIZED |
	        PROTO_TOKEN_PRESENT | PROTO_TOKEN_LOGGED_IN};
	s_tok_arr[1] = (struct proto_token_info){
	    T("pkcs11:token=Card"),
	    T("Card"),
	    T("OpenSC"),
	    T("PKCS#15"),
	    T(""),
	    PROTO_TOKEN_PROTECTED_AUTH_PATH | PROTO_TOKEN_USER_PIN_FINAL_TRY};
	s_email_arr[0] = T("alice@example.org");
	s_email_arr[1] = T("alice@example.com");
	s_key_arr[0] =
	    (struct proto_key_info){T(uri1),
	                            T("Test Token"),
	                            T("alice"),
	                            PROTO_KEY_RSA,
	                            4096,
	                            T(""),
	                            PROTO_KEY_CAN_SIGN | PROTO_KEY_CAN_DECRYPT |
	                                PROTO_KEY_HOST_PADDING_FALLBACK,
	                            B(cert),
	                            B(key_blob),
	                            2,
	                            s_email_arr};
	s_key_arr[1] =
	    (struct proto_key_info){T(uri2),
	                            T("Card"),
	                            T("Signing Key"),
	                            PROTO_KEY_EC,
	                            384,
	                            T("secp384r1"),
	                            PROTO_KEY_CAN_SIGN | PROTO_KEY_CAN_DERIVE |
	                                PROTO_KEY_ALWAYS_AUTHENTICATE,
	                            {NULL, 0},
	                            {NULL, 0},
	                            0,
	                            NULL};
	s_list = (struct proto_list_reply){2, s_tok_arr, 2, s_key_arr};
	s_list_empty = (struct proto_list_reply){0, NULL, 0, NULL};
	s_sd_rep.signature = B(signature);
	s_dec_rep.plaintext = B(plaintext);
	s_der_rep.secret = B(shared);
	s_tstat_arr[0] = (struct proto_token_status){
	    T("pkcs11:token=Test"), T("Test"),
	    PROTO_TOKEN_LOGGED_IN | PROTO_TOKEN_PRESENT, 1700000000ull,
	    1700003600ull};
	s_tstat_arr[1] = (struct proto_token_status){T("pkcs11:token=Card"),
	                                             T("Card"), 0, 0, 0};
	s_status = (struct proto_status_reply){
	    T("0.1.0"), 86400ull * 400, PROTO_AGENT_LOCKED, 3600, 600,
	    2,          s_tstat_arr};

	memset(&s_import0, 0, sizeof(s_import0));
	s_import0.token = T("Test Token");
	s_import0.label = T("alice");
	s_import0.pkcs8 = B(pkcs8);
	s_import0.cert = B(cert);
	memset(&s_import2, 0, sizeof(s_import2));
	s_import2.token = T("pkcs11:token=Card");
	s_import2.label = T("");
	s_import2.pkcs8 = B(pkcs8);
	s_import2.nchain = 2;
	s_import2.chain[0] = B(ca_cert1);
	s_import2.chain[1] = B(ca_cert2);
	s_keygen = (struct proto_keygen_request){T("Test Token"), T("gen"),
	                                         PROTO_KEY_EC, 384};
	s_attach.cert = B(cert);
	s_import_rep.key_uri = T(uri1);
	s_keygen_rep.key_uri = T(uri2);
	s_attach_rep.key_uri = T(uri1);
	return 0;
}

/* Encoders of the samples. */

static int
enc_identities_req(struct proto_writer *w)
{
	return proto_identities_request_encode(w);
}
static int
enc_sign_req(struct proto_writer *w)
{
	return proto_sign_request_encode(w, &s_sign);
}
static int
enc_lock(struct proto_writer *w)
{
	return proto_lock_request_encode(w, &s_lock);
}
static int
enc_unlock(struct proto_writer *w)
{
	return proto_unlock_request_encode(w, &s_lock);
}
static int
enc_query_req(struct proto_writer *w)
{
	return proto_query_request_encode(w);
}
static int
enc_list_req(struct proto_writer *w)
{
	return proto_list_request_encode(w, NULL);
}
static int
enc_status_req(struct proto_writer *w)
{
	return proto_status_request_encode(w);
}
static int
enc_sd_req(struct proto_writer *w)
{
	return proto_sign_digest_request_encode(w, &s_sd);
}
static int
enc_dec_req(struct proto_writer *w)
{
	return proto_decrypt_request_encode(w, &s_dec);
}
static int
enc_der_req(struct proto_writer *w)
{
	return proto_derive_request_encode(w, &s_der);
}
static int
enc_login_req(struct proto_writer *w)
{
	return proto_login_request_encode(w, &s_login);
}
static int
enc_login_pad_req(struct proto_writer *w)
{
	return proto_login_request_encode(w, &s_login_pad);
}
static int
enc_logout_req(struct proto_writer *w)
{
	return proto_logout_request_encode(w, &s_logout);
}
static int
enc_logout_all_req(struct proto_writer *w)
{
	return proto_logout_request_encode(w, &s_logout_all);
}
static int
enc_failure(struct proto_writer *w)
{
	return proto_failure_encode(w);
}
static int
enc_ext_failure(struct proto_writer *w)
{
	return proto_ext_failure_encode(w, P11A_E_PIN_INCORRECT,
	                                "PIN incorrect, 2 tries left");
}
static int
enc_success(struct proto_writer *w)
{
	return proto_success_encode(w);
}
static int
enc_ids(struct proto_writer *w)
{
	return proto_identities_reply_encode(w, &s_ids);
}
static int
enc_ids_empty(struct proto_writer *w)
{
	return proto_identities_reply_encode(w, &s_ids_empty);
}
static int
enc_sign_rep(struct proto_writer *w)
{
	return proto_sign_reply_encode(w, &s_sign_rep);
}
static int
enc_query_rep(struct proto_writer *w)
{
	return proto_query_reply_encode(w, &s_query);
}
static int
enc_list_rep(struct proto_writer *w)
{
	return proto_list_reply_encode(w, &s_list);
}
static int
enc_list_empty_rep(struct proto_writer *w)
{
	return proto_list_reply_encode(w, &s_list_empty);
}
static int
enc_sd_rep(struct proto_writer *w)
{
	return proto_sign_digest_reply_encode(w, &s_sd_rep);
}
static int
enc_dec_rep(struct proto_writer *w)
{
	return proto_decrypt_reply_encode(w, &s_dec_rep);
}
static int
enc_der_rep(struct proto_writer *w)
{
	return proto_derive_reply_encode(w, &s_der_rep);
}
static int
enc_login_rep(struct proto_writer *w)
{
	return proto_login_reply_encode(w);
}
static int
enc_logout_rep(struct proto_writer *w)
{
	return proto_logout_reply_encode(w);
}
static int
enc_status_rep(struct proto_writer *w)
{
	return proto_status_reply_encode(w, &s_status);
}
static int
enc_import0_req(struct proto_writer *w)
{
	return proto_import_request_encode(w, &s_import0);
}
static int
enc_import2_req(struct proto_writer *w)
{
	return proto_import_request_encode(w, &s_import2);
}
static int
enc_keygen_req(struct proto_writer *w)
{
	return proto_keygen_request_encode(w, &s_keygen);
}
static int
enc_attach_req(struct proto_writer *w)
{
	return proto_attach_cert_request_encode(w, &s_attach);
}
static int
enc_import_rep(struct proto_writer *w)
{
	return proto_key_uri_reply_encode(w, PROTO_EXT_IMPORT, &s_import_rep);
}
static int
enc_keygen_rep(struct proto_writer *w)
{
	return proto_key_uri_reply_encode(w, PROTO_EXT_KEYGEN, &s_keygen_rep);
}
static int
enc_attach_rep(struct proto_writer *w)
{
	return proto_key_uri_reply_encode(w, PROTO_EXT_ATTACH_CERT,
	                                  &s_attach_rep);
}

/* Which decoder reads a sample. */
enum kind {
	K_REQUEST,
	K_FAILURE,
	K_SUCCESS,
	K_IDENTITIES,
	K_SIGN,
	K_QUERY,
	K_LIST,
	K_SIGN_DIGEST,
	K_DECRYPT,
	K_DERIVE,
	K_LOGIN,
	K_LOGOUT,
	K_STATUS,
	K_IMPORT,      /* key URI reply of import@p11agent */
	K_KEYGEN,      /* ... of keygen@p11agent */
	K_ATTACH_CERT, /* ... of attach-cert@p11agent */
};

struct sample {
	const char *name;
	enum kind kind;
	int (*encode)(struct proto_writer *w);
	size_t ok_prefix; /* a strict prefix that is valid, or SIZE_MAX */
};

static const struct sample samples[] = {
    {"identities-request", K_REQUEST, enc_identities_req, SIZE_MAX},
    {"sign-request", K_REQUEST, enc_sign_req, SIZE_MAX},
    {"lock", K_REQUEST, enc_lock, SIZE_MAX},
    {"unlock", K_REQUEST, enc_unlock, SIZE_MAX},
    {"query-request", K_REQUEST, enc_query_req, SIZE_MAX},
    {"list-request", K_REQUEST, enc_list_req, SIZE_MAX},
    {"status-request", K_REQUEST, enc_status_req, SIZE_MAX},
    {"sign-digest-request", K_REQUEST, enc_sd_req, SIZE_MAX},
    {"decrypt-request", K_REQUEST, enc_dec_req, SIZE_MAX},
    {"derive-request", K_REQUEST, enc_der_req, SIZE_MAX},
    {"login-request", K_REQUEST, enc_login_req, SIZE_MAX},
    {"login-pinpad-request", K_REQUEST, enc_login_pad_req, SIZE_MAX},
    {"logout-request", K_REQUEST, enc_logout_req, SIZE_MAX},
    {"logout-all-request", K_REQUEST, enc_logout_all_req, SIZE_MAX},
    {"failure", K_FAILURE, enc_failure, SIZE_MAX},
    /* The lone type byte 28 is the payload-less foreign failure. */
    {"ext-failure", K_FAILURE, enc_ext_failure, 1},
    {"success", K_SUCCESS, enc_success, SIZE_MAX},
    {"identities-answer", K_IDENTITIES, enc_ids, SIZE_MAX},
    {"identities-answer-empty", K_IDENTITIES, enc_ids_empty, SIZE_MAX},
    {"sign-response", K_SIGN, enc_sign_rep, SIZE_MAX},
    {"query-reply", K_QUERY, enc_query_rep, SIZE_MAX},
    {"list-reply", K_LIST, enc_list_rep, SIZE_MAX},
    {"list-reply-empty", K_LIST, enc_list_empty_rep, SIZE_MAX},
    {"sign-digest-reply", K_SIGN_DIGEST, enc_sd_rep, SIZE_MAX},
    {"decrypt-reply", K_DECRYPT, enc_dec_rep, SIZE_MAX},
    {"derive-reply", K_DERIVE, enc_der_rep, SIZE_MAX},
    {"login-reply", K_LOGIN, enc_login_rep, SIZE_MAX},
    {"logout-reply", K_LOGOUT, enc_logout_rep, SIZE_MAX},
    {"status-reply", K_STATUS, enc_status_rep, SIZE_MAX},
    {"import-request", K_REQUEST, enc_import0_req, SIZE_MAX},
    {"import-chain-request", K_REQUEST, enc_import2_req, SIZE_MAX},
    {"keygen-request", K_REQUEST, enc_keygen_req, SIZE_MAX},
    {"attach-cert-request", K_REQUEST, enc_attach_req, SIZE_MAX},
    {"import-reply", K_IMPORT, enc_import_rep, SIZE_MAX},
    {"keygen-reply", K_KEYGEN, enc_keygen_rep, SIZE_MAX},
    {"attach-cert-reply", K_ATTACH_CERT, enc_attach_rep, SIZE_MAX},
};

/* The sample called name. */
static const struct sample *
sample_named(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(samples); i++) {
		if (strcmp(samples[i].name, name) == 0)
			return &samples[i];
	}
	fail_msg("no sample %s", name);
	return NULL;
}

/* Encodes a sample into a new heap frame. */
static uint8_t *
encode_sample(const struct sample *s, size_t *len)
{
	struct proto_writer w;
	uint8_t *p;

	proto_writer_init(&w);
	assert_int_equal(s->encode(&w), 0);
	assert_int_equal(proto_writer_take(&w, &p, len), 0);
	assert_true(*len > PROTO_FRAME_HEADER);
	return p;
}

/* Checks that w holds exactly one frame whose body is body. */
static void
expect_frame(struct proto_writer *w, const uint8_t *body, size_t len)
{
	const uint8_t *p;
	size_t n, blen;

	assert_int_equal(proto_writer_finish(w, &p, &n), 0);
	assert_int_equal(proto_frame_check(p, n, &blen), 0);
	assert_int_equal(n, PROTO_FRAME_HEADER + len);
	assert_int_equal(blen, len);
	assert_memory_equal(p + PROTO_FRAME_HEADER, body, len);
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

/*
 * Re-encodes a failure the way the agent would and compares: a decoded
 * failure must have come from exactly those bytes.
 */
static void
check_failure_bytes(const struct proto_failure *f, const uint8_t *body,
                    size_t len)
{
	struct proto_writer w;
	char *msg;

	assert_true(f->code < 0);
	if (f->generic) {
		assert_int_equal(len, 1);
		assert_true(body[0] == PROTO_SSH_AGENT_FAILURE ||
		            body[0] == PROTO_SSH_AGENT_EXTENSION_FAILURE);
		return;
	}
	msg = proto_text_dup(f->message);
	assert_non_null(msg);
	proto_writer_init(&w);
	assert_int_equal(proto_ext_failure_encode(&w, f->code, msg), 0);
	expect_frame(&w, body, len);
	proto_writer_cleanup(&w);
	free(msg);
}

/*
 * Decodes body as kind; on success re-encodes the result and checks that
 * the bytes are the same (our encoding is canonical).  Returns what the
 * decoder returned.
 */
static int
decode_kind(enum kind kind, const uint8_t *body, size_t len)
{
	struct proto_identities_reply ids;
	struct proto_sign_digest_reply sd;
	struct proto_decrypt_reply dec;
	struct proto_derive_reply der;
	struct proto_status_reply st;
	struct proto_query_reply q;
	struct proto_list_reply list;
	struct proto_sign_reply sign;
	struct proto_key_uri_reply uri;
	struct proto_request req;
	struct proto_failure f;
	struct proto_writer w;
	enum proto_ext ext;
	int ret = 0;

	memset(&f, 0, sizeof(f));
	proto_writer_init(&w);
	switch (kind) {
	case K_REQUEST:
		ret = proto_request_decode(body, len, &req);
		if (ret == 0 && request_known(&req)) {
			assert_int_equal(proto_request_encode(&w, &req), 0);
			expect_frame(&w, body, len);
		}
		break;
	case K_FAILURE:
		ret = proto_failure_decode(body, len, &f);
		if (ret == 0)
			check_failure_bytes(&f, body, len);
		memset(&f, 0, sizeof(f)); /* checked here already */
		break;
	case K_SUCCESS:
		if ((ret = proto_success_decode(body, len, &f)) == 0) {
			proto_success_encode(&w);
			expect_frame(&w, body, len);
		}
		break;
	case K_IDENTITIES:
		ret = proto_identities_reply_decode(body, len, &ids, &f);
		if (ret == 0) {
			proto_identities_reply_encode(&w, &ids);
			expect_frame(&w, body, len);
		}
		proto_identities_reply_cleanup(&ids);
		break;
	case K_SIGN:
		if ((ret = proto_sign_reply_decode(body, len, &sign, &f)) ==
		    0) {
			proto_sign_reply_encode(&w, &sign);
			expect_frame(&w, body, len);
		}
		break;
	case K_QUERY:
		if ((ret = proto_query_reply_decode(body, len, &q, &f)) == 0) {
			proto_query_reply_encode(&w, &q);
			expect_frame(&w, body, len);
		}
		proto_query_reply_cleanup(&q);
		break;
	case K_LIST:
		if ((ret = proto_list_reply_decode(body, len, &list, &f)) ==
		    0) {
			proto_list_reply_encode(&w, &list);
			expect_frame(&w, body, len);
		}
		proto_list_reply_cleanup(&list);
		break;
	case K_SIGN_DIGEST:
		ret = proto_sign_digest_reply_decode(body, len, &sd, &f);
		if (ret == 0) {
			proto_sign_digest_reply_encode(&w, &sd);
			expect_frame(&w, body, len);
		}
		break;
	case K_DECRYPT:
		ret = proto_decrypt_reply_decode(body, len, &dec, &f);
		if (ret == 0) {
			proto_decrypt_reply_encode(&w, &dec);
			expect_frame(&w, body, len);
		}
		break;
	case K_DERIVE:
		ret = proto_derive_reply_decode(body, len, &der, &f);
		if (ret == 0) {
			proto_derive_reply_encode(&w, &der);
			expect_frame(&w, body, len);
		}
		break;
	case K_LOGIN:
		if ((ret = proto_login_reply_decode(body, len, &f)) == 0) {
			proto_login_reply_encode(&w);
			expect_frame(&w, body, len);
		}
		break;
	case K_LOGOUT:
		if ((ret = proto_logout_reply_decode(body, len, &f)) == 0) {
			proto_logout_reply_encode(&w);
			expect_frame(&w, body, len);
		}
		break;
	case K_STATUS:
		if ((ret = proto_status_reply_decode(body, len, &st, &f)) ==
		    0) {
			proto_status_reply_encode(&w, &st);
			expect_frame(&w, body, len);
		}
		proto_status_reply_cleanup(&st);
		break;
	case K_IMPORT:
	case K_KEYGEN:
	case K_ATTACH_CERT:
		ext = kind == K_IMPORT   ? PROTO_EXT_IMPORT
		      : kind == K_KEYGEN ? PROTO_EXT_KEYGEN
		                         : PROTO_EXT_ATTACH_CERT;
		ret = proto_key_uri_reply_decode(body, len, ext, &uri, &f);
		if (ret == 0) {
			proto_key_uri_reply_encode(&w, ext, &uri);
			expect_frame(&w, body, len);
		}
		break;
	}
	proto_writer_cleanup(&w);
	if (ret != 0 && f.code != 0) {
		/* The agent said no: that must be what the bytes say. */
		assert_int_equal(ret, f.code);
		check_failure_bytes(&f, body, len);
	}
	return ret;
}

static int
decode_fn(const uint8_t *body, size_t len, void *ctx)
{
	const struct sample *s = ctx;

	return decode_kind(s->kind, body, len);
}

static void
test_roundtrip_all(void **state)
{
	const struct sample *s;
	uint8_t *frame;
	size_t i, len;

	(void)state;
	for (i = 0; i < NELEM(samples); i++) {
		s = &samples[i];
		check_label = s->name;
		frame = encode_sample(s, &len);
		if (decode_kind(s->kind, frame + 4, len - 4) != 0 &&
		    s->kind != K_FAILURE)
			fail_msg("%s did not decode", s->name);
		free(frame);
	}
	check_label = NULL;
}

static void
test_truncations_all(void **state)
{
	const struct sample *s;
	uint8_t *frame;
	size_t i, len;

	(void)state;
	for (i = 0; i < NELEM(samples); i++) {
		s = &samples[i];
		check_label = s->name;
		frame = encode_sample(s, &len);
		check_truncations(frame + 4, len - 4, decode_fn, (void *)s,
		                  s->ok_prefix);
		free(frame);
	}
	check_label = NULL;
}

static void
test_bitflips_all(void **state)
{
	const struct sample *s;
	uint8_t *frame;
	size_t i, len;

	(void)state;
	for (i = 0; i < NELEM(samples); i++) {
		s = &samples[i];
		check_label = s->name;
		frame = encode_sample(s, &len);
		check_bitflips(frame + 4, len - 4, decode_fn, (void *)s);
		free(frame);
	}
	check_label = NULL;
}

static void
test_trailing_all(void **state)
{
	const struct sample *s;
	uint8_t *frame;
	size_t i, len;

	(void)state;
	for (i = 0; i < NELEM(samples); i++) {
		s = &samples[i];
		check_label = s->name;
		frame = encode_sample(s, &len);
		check_trailing(frame + 4, len - 4, decode_fn, (void *)s);
		free(frame);
	}
	check_label = NULL;
}

/* Frame-level mutations: truncated frames are incomplete, never more. */
static void
test_frame_truncations_all(void **state)
{
	uint8_t *frame, *c;
	size_t i, n, len, body;

	(void)state;
	for (i = 0; i < NELEM(samples); i++) {
		frame = encode_sample(&samples[i], &len);
		for (n = 0; n < len; n++) {
			c = dup_exact(frame, n);
			assert_int_equal(proto_frame_check(c, n, &body),
			                 P11A_E_INCOMPLETE);
			free(c);
		}
		assert_int_equal(proto_frame_check(frame, len, &body), 0);
		assert_int_equal(body, len - 4);
		free(frame);
	}
}

/* Each allocation of each encoder fails in turn: clean NOMEM, no leak. */
static void
test_encoder_alloc_failures(void **state)
{
	const struct sample *s;
	struct proto_writer w;
	const uint8_t *p;
	uint8_t *ref;
	size_t i, len, reflen;
	long n;
	int ret;

	(void)state;
	for (i = 0; i < NELEM(samples); i++) {
		s = &samples[i];
		ref = encode_sample(s, &reflen);
		for (n = 0;; n++) {
			proto_writer_init(&w);
			proto_test_alloc_fail_at(n);
			ret = s->encode(&w);
			proto_test_alloc_fail_at(-1);
			if (ret == 0) {
				assert_int_equal(
				    proto_writer_finish(&w, &p, &len), 0);
				assert_int_equal(len, reflen);
				assert_memory_equal(p, ref, len);
				proto_writer_cleanup(&w);
				break;
			}
			assert_int_equal(ret, P11A_E_NOMEM);
			assert_int_equal(proto_writer_error(&w), P11A_E_NOMEM);
			proto_writer_cleanup(&w);
		}
		/* Every encoder allocates at least its first buffer. */
		if (n < 1)
			fail_msg("%s: no allocation failed", s->name);
		free(ref);
	}
}

/* Each allocation of each allocating decoder fails in turn. */
static void
test_decoder_alloc_failures(void **state)
{
	const struct sample *s;
	uint8_t *frame;
	size_t i, len;
	long n, allocs;
	int ret;

	(void)state;
	for (i = 0; i < NELEM(samples); i++) {
		s = &samples[i];
		if (s->kind != K_IDENTITIES && s->kind != K_QUERY &&
		    s->kind != K_LIST && s->kind != K_STATUS)
			continue;
		frame = encode_sample(s, &len);
		allocs = 0;
		for (n = 0;; n++) {
			struct proto_identities_reply ids;
			struct proto_query_reply q;
			struct proto_list_reply list;
			struct proto_status_reply st;
			const uint8_t *b = frame + 4;

			proto_test_alloc_fail_at(n);
			switch (s->kind) {
			case K_IDENTITIES:
				ret = proto_identities_reply_decode(b, len - 4,
				                                    &ids, NULL);
				proto_identities_reply_cleanup(&ids);
				break;
			case K_QUERY:
				ret = proto_query_reply_decode(b, len - 4, &q,
				                               NULL);
				proto_query_reply_cleanup(&q);
				break;
			case K_LIST:
				ret = proto_list_reply_decode(b, len - 4, &list,
				                              NULL);
				proto_list_reply_cleanup(&list);
				break;
			default:
				ret = proto_status_reply_decode(b, len - 4, &st,
				                                NULL);
				proto_status_reply_cleanup(&st);
				break;
			}
			allocs = proto_test_alloc_count();
			proto_test_alloc_fail_at(-1);
			if (ret == 0)
				break;
			assert_int_equal(ret, P11A_E_NOMEM);
		}
		/* list: tokens, keys, one emails array; others one array. */
		if (s->kind == K_LIST && s->encode == enc_list_rep)
			assert_int_equal(n, 3);
		else if (s->encode == enc_list_empty_rep ||
		         s->encode == enc_ids_empty)
			assert_int_equal(n, 0);
		else
			assert_int_equal(n, 1);
		assert_int_equal(allocs, n);
		free(frame);
	}
}

/* Decoded fields equal what was encoded. */
/*
 * The list flags came after the first agents: a bare list request stays
 * valid (flags 0), a cut or overlong flags field does not.
 */
static void
test_list_request_flags(void **state)
{
	static const struct proto_list_request rescan = {PROTO_LIST_RESCAN,
	                                                 false};
	struct proto_request req;
	struct proto_writer w;
	const uint8_t *p;
	uint8_t buf[64];
	size_t len, cut;

	(void)state;
	proto_writer_init(&w);
	assert_int_equal(proto_list_request_encode(&w, &rescan), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_true(len + 1 <= sizeof(buf));
	memcpy(buf, p, len);
	proto_writer_cleanup(&w);
	len -= PROTO_FRAME_HEADER;
	assert_int_equal(
	    proto_request_decode(buf + PROTO_FRAME_HEADER, len, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_LIST);
	assert_int_equal(req.u.list.flags, PROTO_LIST_RESCAN);
	assert_int_equal(
	    proto_request_decode(buf + PROTO_FRAME_HEADER, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_LIST);
	assert_int_equal(req.u.list.flags, 0);
	for (cut = 1; cut < 4; cut++)
		assert_int_not_equal(
		    proto_request_decode(buf + PROTO_FRAME_HEADER, len - cut,
		                         &req),
		    0);
	buf[PROTO_FRAME_HEADER + len] = 0;
	assert_int_not_equal(
	    proto_request_decode(buf + PROTO_FRAME_HEADER, len + 1, &req), 0);
	/* An explicit 0 is kept on the wire when encoded again. */
	memset(buf + PROTO_FRAME_HEADER + len - 4, 0, 4);
	assert_int_equal(
	    proto_request_decode(buf + PROTO_FRAME_HEADER, len, &req), 0);
	assert_int_equal(req.u.list.flags, 0);
	assert_true(req.u.list.has_flags);
	proto_writer_init(&w);
	assert_int_equal(proto_list_request_encode(&w, &req.u.list), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &cut), 0);
	assert_int_equal(cut, PROTO_FRAME_HEADER + len);
	proto_writer_cleanup(&w);
}

static void
test_request_fields(void **state)
{
	struct proto_request req;
	uint8_t *frame;
	size_t len;

	(void)state;
	frame = encode_sample(&samples[1], &len); /* sign-request */
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.type, PROTO_SSH_AGENTC_SIGN_REQUEST);
	assert_int_equal(req.u.sign.key_blob.len, sizeof(key_blob));
	assert_memory_equal(req.u.sign.key_blob.p, key_blob, sizeof(key_blob));
	assert_int_equal(req.u.sign.data.len, sizeof(sign_data));
	assert_memory_equal(req.u.sign.data.p, sign_data, sizeof(sign_data));
	assert_int_equal(req.u.sign.flags, PROTO_SSH_AGENT_RSA_SHA2_256);
	free(frame);

	frame = encode_sample(&samples[3], &len); /* unlock */
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.type, PROTO_SSH_AGENTC_UNLOCK);
	assert_true(proto_text_eq(req.u.lock.passphrase,
	                          "correct horse battery staple"));
	p11a_secret_free(frame, len);

	frame = encode_sample(&samples[7], &len); /* sign-digest */
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.type, PROTO_SSH_AGENTC_EXTENSION);
	assert_int_equal(req.ext, PROTO_EXT_SIGN_DIGEST);
	assert_true(proto_text_eq(req.ext_name, "sign-digest@p11agent"));
	assert_true(proto_text_eq(req.u.sign_digest.key_uri, uri1));
	assert_int_equal(req.u.sign_digest.mechanism, PROTO_MECH_RSA_PSS);
	assert_int_equal(req.u.sign_digest.hash, PROTO_HASH_SHA256);
	assert_int_equal(req.u.sign_digest.mgf1_hash, PROTO_HASH_SHA256);
	assert_int_equal(req.u.sign_digest.salt_len, 32);
	assert_int_equal(req.u.sign_digest.digest.len, sizeof(digest));
	assert_memory_equal(req.u.sign_digest.digest.p, digest, sizeof(digest));
	free(frame);

	frame = encode_sample(&samples[8], &len); /* decrypt */
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_DECRYPT);
	assert_true(proto_text_eq(req.u.decrypt.key_uri, uri1));
	assert_int_equal(req.u.decrypt.padding, PROTO_PADDING_OAEP);
	assert_int_equal(req.u.decrypt.oaep_hash, PROTO_HASH_SHA256);
	assert_int_equal(req.u.decrypt.mgf1_hash, PROTO_HASH_SHA1);
	assert_int_equal(req.u.decrypt.label.len, 5);
	assert_memory_equal(req.u.decrypt.label.p, "label", 5);
	assert_int_equal(req.u.decrypt.ciphertext.len, sizeof(ciphertext));
	free(frame);

	frame = encode_sample(&samples[9], &len); /* derive */
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_DERIVE);
	assert_true(proto_text_eq(req.u.derive.key_uri, uri2));
	assert_int_equal(req.u.derive.peer_point.len, sizeof(point));
	assert_memory_equal(req.u.derive.peer_point.p, point, sizeof(point));
	free(frame);

	frame = encode_sample(&samples[10], &len); /* login */
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_LOGIN);
	assert_true(proto_text_eq(req.u.login.token, "Test Token"));
	assert_true(proto_text_eq(req.u.login.pin, "123456"));
	p11a_secret_free(frame, len);

	frame = encode_sample(&samples[13], &len); /* logout all */
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_LOGOUT);
	assert_int_equal(req.u.logout.token.len, 0);
	free(frame);

	frame = encode_sample(&samples[5], &len); /* list */
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_LIST);
	free(frame);
}

static void
test_reply_fields(void **state)
{
	struct proto_list_reply list;
	struct proto_status_reply st;
	struct proto_identities_reply ids;
	struct proto_query_reply q;
	struct proto_decrypt_reply dec;
	struct proto_failure f;
	uint8_t *frame;
	size_t len, i;

	(void)state;
	frame = encode_sample(&samples[21], &len); /* list */
	assert_int_equal(proto_list_reply_decode(frame + 4, len - 4, &list, &f),
	                 0);
	assert_int_equal(f.code, 0);
	assert_int_equal(list.ntokens, 2);
	assert_true(
	    proto_text_eq(list.tokens[0].manufacturer, "SoftHSM project"));
	assert_true(proto_text_eq(list.tokens[1].serial, ""));
	assert_int_equal(list.tokens[1].flags,
	                 PROTO_TOKEN_PROTECTED_AUTH_PATH |
	                     PROTO_TOKEN_USER_PIN_FINAL_TRY);
	assert_int_equal(list.nkeys, 2);
	assert_true(proto_text_eq(list.keys[0].uri, uri1));
	assert_int_equal(list.keys[0].key_type, PROTO_KEY_RSA);
	assert_int_equal(list.keys[0].bits, 4096);
	assert_int_equal(list.keys[0].cert_der.len, sizeof(cert));
	assert_memory_equal(list.keys[0].cert_der.p, cert, sizeof(cert));
	assert_int_equal(list.keys[0].nemails, 2);
	assert_true(proto_text_eq(list.keys[0].emails[1], "alice@example.com"));
	assert_true(proto_text_eq(list.keys[1].curve, "secp384r1"));
	assert_int_equal(list.keys[1].cert_der.len, 0);
	assert_int_equal(list.keys[1].nemails, 0);
	assert_null(list.keys[1].emails);
	assert_int_equal(list.keys[1].flags, PROTO_KEY_CAN_SIGN |
	                                         PROTO_KEY_CAN_DERIVE |
	                                         PROTO_KEY_ALWAYS_AUTHENTICATE);
	proto_list_reply_cleanup(&list);
	proto_list_reply_cleanup(&list); /* twice is fine */
	proto_list_reply_cleanup(NULL);
	free(frame);

	frame = encode_sample(&samples[28], &len); /* status */
	assert_int_equal(
	    proto_status_reply_decode(frame + 4, len - 4, &st, NULL), 0);
	assert_true(proto_text_eq(st.version, "0.1.0"));
	assert_true(st.uptime == 86400ull * 400);
	assert_int_equal(st.flags, PROTO_AGENT_LOCKED);
	assert_int_equal(st.login_lifetime, 3600);
	assert_int_equal(st.idle_timeout, 600);
	assert_int_equal(st.ntokens, 2);
	assert_true(st.tokens[0].logged_in_since == 1700000000ull);
	assert_true(st.tokens[0].login_expires == 1700003600ull);
	assert_true(proto_text_eq(st.tokens[1].label, "Card"));
	proto_status_reply_cleanup(&st);
	proto_status_reply_cleanup(NULL);
	free(frame);

	frame = encode_sample(&samples[17], &len); /* identities */
	assert_int_equal(
	    proto_identities_reply_decode(frame + 4, len - 4, &ids, NULL), 0);
	assert_int_equal(ids.n, 2);
	assert_int_equal(ids.ids[1].key_blob.len, sizeof(key_blob2));
	assert_true(proto_text_eq(ids.ids[0].comment, uri1));
	proto_identities_reply_cleanup(&ids);
	proto_identities_reply_cleanup(NULL);
	free(frame);

	frame = encode_sample(&samples[20], &len); /* query */
	assert_int_equal(proto_query_reply_decode(frame + 4, len - 4, &q, NULL),
	                 0);
	assert_int_equal(q.n, PROTO_EXT_COUNT - 1);
	for (i = 0; i < q.n; i++)
		assert_int_equal(proto_ext_from_name(q.names[i]),
		                 (enum proto_ext)(i + 1));
	proto_query_reply_cleanup(&q);
	proto_query_reply_cleanup(NULL);
	free(frame);

	frame = encode_sample(&samples[24], &len); /* decrypt */
	assert_int_equal(
	    proto_decrypt_reply_decode(frame + 4, len - 4, &dec, NULL), 0);
	assert_int_equal(dec.plaintext.len, sizeof(plaintext));
	assert_memory_equal(dec.plaintext.p, plaintext, sizeof(plaintext));
	p11a_secret_free(frame, len);
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	fail_msg("bad hex digit '%c'", c);
	return 0;
}

/* Builds bytes from hex; spaces are allowed between bytes only. */
static uint8_t *
unhex(const char *hex, size_t *len)
{
	uint8_t *p = malloc(strlen(hex) / 2 + 1);
	size_t n = 0, i = 0;

	assert_non_null(p);
	while (hex[i] != '\0') {
		if (hex[i] == ' ') {
			i++;
			continue;
		}
		assert_true(hex[i + 1] != '\0' && hex[i + 1] != ' ');
		p[n++] = (uint8_t)(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
		i += 2;
	}
	*len = n;
	return p;
}

/* Byte-exact checks against docs/protocol.md. */
static void
expect_hex(int (*encode)(struct proto_writer *), const char *hex)
{
	struct proto_writer w;
	const uint8_t *p;
	uint8_t *want;
	size_t len, wantlen;

	want = unhex(hex, &wantlen);
	proto_writer_init(&w);
	assert_int_equal(encode(&w), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, wantlen);
	assert_memory_equal(p, want, len);
	proto_writer_cleanup(&w);
	free(want);
}

static int
enc_golden_sd(struct proto_writer *w)
{
	struct proto_sign_digest_request r = {T("pkcs11:id=%01"),
	                                      PROTO_MECH_ECDSA,
	                                      PROTO_HASH_SHA256,
	                                      0,
	                                      0,
	                                      {(const uint8_t *)"\xaa\xbb", 2}};

	return proto_sign_digest_request_encode(w, &r);
}

static int
enc_golden_ext_failure(struct proto_writer *w)
{
	return proto_ext_failure_encode(w, P11A_E_KEY_NOT_FOUND, "no key");
}

static int
enc_golden_import(struct proto_writer *w)
{
	struct proto_import_request r;

	memset(&r, 0, sizeof(r));
	r.token = T("t");
	r.label = T("k");
	r.pkcs8 =
	    (struct proto_bytes){(const uint8_t *)"\x30\x03\x02\x01\x00", 5};
	r.nchain = 1;
	r.chain[0] = (struct proto_bytes){(const uint8_t *)"\x30\x00", 2};
	return proto_import_request_encode(w, &r);
}

static int
enc_golden_keygen(struct proto_writer *w)
{
	struct proto_keygen_request r = {T("t"), T("k"), PROTO_KEY_EC, 256};

	return proto_keygen_request_encode(w, &r);
}

static int
enc_golden_attach(struct proto_writer *w)
{
	struct proto_attach_cert_request r = {{(const uint8_t *)"\x30\x00", 2}};

	return proto_attach_cert_request_encode(w, &r);
}

static int
enc_golden_key_uri(struct proto_writer *w)
{
	struct proto_key_uri_reply r = {T("pkcs11:id=%01")};

	return proto_key_uri_reply_encode(w, PROTO_EXT_KEYGEN, &r);
}

static int
enc_golden_status(struct proto_writer *w)
{
	struct proto_token_status t = {T("u"), T("l"), 0x180, 2, 3};
	struct proto_status_reply r = {T("1"), 5, 1, 6, 7, 1, &t};

	return proto_status_reply_encode(w, &r);
}

static void
test_golden_bytes(void **state)
{
	(void)state;
	expect_hex(enc_identities_req, "00000001 0b");
	expect_hex(enc_failure, "00000001 05");
	expect_hex(enc_success, "00000001 06");
	expect_hex(enc_list_req,
	           "00000012 1b 0000000d 6c697374407031316167656e74");
	expect_hex(enc_login_rep,
	           "00000013 1d 0000000e 6c6f67696e407031316167656e74");
	expect_hex(
	    enc_golden_sd,
	    "00000040 1b 00000014 7369676e2d646967657374407031316167656e74"
	    " 0000000d 706b637331313a69643d253031"
	    " 00000003 00000003 00000000 00000000 00000002 aabb");
	expect_hex(enc_golden_ext_failure,
	           "0000000f 1c 00000008 00000006 6e6f206b6579");
	expect_hex(enc_golden_status,
	           "0000004f 1d 0000000f 737461747573407031316167656e74"
	           " 00000001 31 0000000000000005 00000001 00000006 00000007"
	           " 00000001 00000001 75 00000001 6c 00000180"
	           " 0000000000000002 0000000000000003");
	expect_hex(enc_golden_import,
	           "00000035 1b 0000000f 696d706f7274407031316167656e74"
	           " 00000001 74 00000001 6b 00000005 3003020100 00000000"
	           " 00000001 00000002 3000");
	expect_hex(enc_golden_keygen,
	           "00000026 1b 0000000f 6b657967656e407031316167656e74"
	           " 00000001 74 00000001 6b 00000002 00000100");
	expect_hex(
	    enc_golden_attach,
	    "0000001f 1b 00000014 6174746163682d63657274407031316167656e74"
	    " 00000002 3000");
	expect_hex(enc_golden_key_uri,
	           "00000025 1d 0000000f 6b657967656e407031316167656e74"
	           " 0000000d 706b637331313a69643d253031");
}

static void
test_failures(void **state)
{
	static const uint8_t plain[] = {PROTO_SSH_AGENT_FAILURE};
	static const uint8_t plain28[] = {PROTO_SSH_AGENT_EXTENSION_FAILURE};
	struct proto_sign_digest_reply sd;
	struct proto_sign_reply sign;
	struct proto_failure f;
	uint8_t *body;
	size_t len;

	(void)state;
	/* A plain SSH_AGENT_FAILURE to a standard request: denied. */
	assert_int_equal(proto_sign_reply_decode(plain, 1, &sign, &f),
	                 P11A_E_DENIED);
	assert_int_equal(f.code, P11A_E_DENIED);
	assert_true(f.generic);
	assert_non_null(f.message.p);
	assert_int_equal(f.message.len, 0);
	assert_int_equal(proto_success_decode(plain, 1, NULL), P11A_E_DENIED);
	/* ... to an extension: the agent does not know it. */
	assert_int_equal(proto_sign_digest_reply_decode(plain, 1, &sd, &f),
	                 P11A_E_UNKNOWN_REQUEST);
	assert_true(f.generic);
	assert_int_equal(proto_login_reply_decode(plain, 1, NULL),
	                 P11A_E_UNKNOWN_REQUEST);
	/* A payload-less extension failure from a foreign agent. */
	assert_int_equal(proto_sign_digest_reply_decode(plain28, 1, &sd, &f),
	                 P11A_E_DENIED);
	assert_true(f.generic);
	/* 28 is not an answer to a standard request. */
	assert_int_equal(proto_sign_reply_decode(plain28, 1, &sign, &f),
	                 P11A_E_FORMAT);
	assert_int_equal(f.code, 0);

	/* Codes: 0 and 1 never travel, nor does anything past INT_MAX. */
	body = unhex("1c 00000000 00000000", &len);
	assert_int_equal(proto_failure_decode(body, len, &f), P11A_E_FORMAT);
	free(body);
	body = unhex("1c 00000001 00000000", &len);
	assert_int_equal(proto_failure_decode(body, len, &f), P11A_E_FORMAT);
	free(body);
	body = unhex("1c 80000000 00000000", &len);
	assert_int_equal(proto_failure_decode(body, len, &f), P11A_E_FORMAT);
	free(body);
	body = unhex("1c 7fffffff 00000000", &len);
	assert_int_equal(proto_failure_decode(body, len, &f), 0);
	assert_int_equal(f.code, -INT_MAX);
	free(body);
	/* A code from a newer agent is passed on as is. */
	body = unhex("1c 000003e7 00000002 6869", &len);
	assert_int_equal(
	    proto_decrypt_reply_decode(
	        body, len, &(struct proto_decrypt_reply){{NULL, 0}}, &f),
	    -999);
	assert_int_equal(f.code, -999);
	assert_false(f.generic);
	assert_true(proto_text_eq(f.message, "hi"));
	assert_string_equal(p11a_errname(f.code), "unknown");
	free(body);
	/* A message with a NUL, a code without message, a stray byte. */
	body = unhex("1c 00000005 00000002 6800", &len);
	assert_int_equal(proto_failure_decode(body, len, &f), P11A_E_FORMAT);
	free(body);
	body = unhex("1c 00000005", &len);
	assert_int_equal(proto_failure_decode(body, len, &f), P11A_E_FORMAT);
	free(body);
	body = unhex("05 00", &len);
	assert_int_equal(proto_failure_decode(body, len, &f), P11A_E_FORMAT);
	free(body);
	body = unhex("06", &len);
	assert_int_equal(proto_failure_decode(body, len, &f), P11A_E_FORMAT);
	free(body);
	assert_int_equal(proto_failure_decode(NULL, 0, &f), P11A_E_FORMAT);
}

static void
test_failure_encode(void **state)
{
	struct proto_writer w;
	struct proto_failure f;
	const uint8_t *p;
	size_t len;

	(void)state;
	/* No message: the stable sentence of the code. */
	proto_writer_init(&w);
	assert_int_equal(
	    proto_ext_failure_encode(&w, P11A_E_TOKEN_ABSENT, NULL), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(proto_failure_decode(p + 4, len - 4, &f), 0);
	assert_int_equal(f.code, P11A_E_TOKEN_ABSENT);
	assert_true(
	    proto_text_eq(f.message, p11a_strerror(P11A_E_TOKEN_ABSENT)));
	proto_writer_cleanup(&w);

	/* Codes that must not travel. */
	assert_int_equal(proto_ext_failure_encode(&w, 0, "x"), P11A_E_ARGS);
	proto_writer_cleanup(&w);
	assert_int_equal(proto_ext_failure_encode(&w, 3, "x"), P11A_E_ARGS);
	proto_writer_cleanup(&w);
	assert_int_equal(proto_ext_failure_encode(&w, P11A_E_INCOMPLETE, "x"),
	                 P11A_E_ARGS);
	proto_writer_cleanup(&w);
	assert_int_equal(proto_ext_failure_encode(&w, INT_MIN, "x"),
	                 P11A_E_ARGS);
	proto_writer_cleanup(&w);

	/* The right failure for each kind of request. */
	proto_writer_init(&w);
	assert_int_equal(
	    proto_error_reply_encode(&w, PROTO_SSH_AGENTC_EXTENSION,
	                             PROTO_EXT_DECRYPT, P11A_E_DECRYPT, NULL),
	    0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(p[4], PROTO_SSH_AGENT_EXTENSION_FAILURE);
	proto_writer_reset(&w);
	assert_int_equal(proto_error_reply_encode(
	                     &w, PROTO_SSH_AGENTC_EXTENSION, PROTO_EXT_UNKNOWN,
	                     P11A_E_UNKNOWN_REQUEST, NULL),
	                 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, 5);
	assert_int_equal(p[4], PROTO_SSH_AGENT_FAILURE);
	proto_writer_reset(&w);
	assert_int_equal(
	    proto_error_reply_encode(&w, PROTO_SSH_AGENTC_SIGN_REQUEST,
	                             PROTO_EXT_UNKNOWN, P11A_E_KEY_NOT_FOUND,
	                             "ignored"),
	    0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, 5);
	assert_int_equal(p[4], PROTO_SSH_AGENT_FAILURE);
	proto_writer_cleanup(&w);
}

static void
test_unknown_requests(void **state)
{
	struct proto_request req;
	enum proto_ext ext;
	uint8_t *body, type;
	size_t len;

	(void)state;
	/* A type we do not implement decodes, for a polite failure. */
	body = unhex("11 00000003 616263", &len); /* ADD_IDENTITY + junk */
	assert_int_equal(proto_request_decode(body, len, &req), 0);
	assert_int_equal(req.type, PROTO_SSH_AGENTC_ADD_IDENTITY);
	free(body);
	body = unhex("ff", &len);
	assert_int_equal(proto_request_decode(body, len, &req), 0);
	assert_int_equal(req.type, 0xff);
	free(body);
	assert_int_equal(proto_request_decode(NULL, 0, &req), P11A_E_FORMAT);

	/* An unknown extension: name and payload, unparsed. */
	body =
	    unhex("1b 00000018 73657373696f6e2d62696e64406f70656e7373682e636f"
	          "6d 0102",
	          &len);
	assert_int_equal(proto_request_decode(body, len, &req), 0);
	assert_int_equal(req.type, PROTO_SSH_AGENTC_EXTENSION);
	assert_int_equal(req.ext, PROTO_EXT_UNKNOWN);
	assert_true(proto_text_eq(req.ext_name, "session-bind@openssh.com"));
	assert_int_equal(req.ext_payload.len, 2);
	assert_memory_equal(req.ext_payload.p, "\x01\x02", 2);
	assert_int_equal(proto_request_peek(body, len, &type, &ext), 0);
	assert_int_equal(type, PROTO_SSH_AGENTC_EXTENSION);
	assert_int_equal(ext, PROTO_EXT_UNKNOWN);
	free(body);

	/* A malformed known extension: FORMAT, but peek names it. */
	body = unhex("1b 0000000f 646572697665407031316167656e74 000000", &len);
	assert_int_equal(proto_request_decode(body, len, &req), P11A_E_FORMAT);
	assert_int_equal(req.type, 0);
	assert_int_equal(proto_request_peek(body, len, &type, &ext), 0);
	assert_int_equal(ext, PROTO_EXT_DERIVE);
	free(body);
	/* An extension name with a NUL. */
	body = unhex("1b 00000002 6100", &len);
	assert_int_equal(proto_request_decode(body, len, &req), P11A_E_FORMAT);
	assert_int_equal(proto_request_peek(body, len, &type, &ext),
	                 P11A_E_FORMAT);
	free(body);
	assert_int_equal(proto_request_peek(NULL, 0, &type, &ext),
	                 P11A_E_FORMAT);
	/* An extension without a name at all. */
	body = unhex("1b", &len);
	assert_int_equal(proto_request_decode(body, len, &req), P11A_E_FORMAT);
	free(body);
}

static void
test_bad_requests(void **state)
{
	struct proto_request req;
	struct proto_writer w;
	uint8_t *body, *big;
	size_t len;

	(void)state;
	/* String length 0xffffffff. */
	body = unhex("0d ffffffff 00", &len);
	assert_int_equal(proto_request_decode(body, len, &req), P11A_E_FORMAT);
	free(body);
	/* A key URI with a NUL in it. */
	body = unhex("1b 0000000f 6c6f676f7574407031316167656e74"
	             " 00000003 610062",
	             &len);
	assert_int_equal(proto_request_decode(body, len, &req), P11A_E_FORMAT);
	free(body);
	/* Identities request with a payload. */
	body = unhex("0b 00", &len);
	assert_int_equal(proto_request_decode(body, len, &req), P11A_E_FORMAT);
	free(body);

	/* Encoders refuse text with a NUL and what cannot be encoded. */
	proto_writer_init(&w);
	assert_int_equal(proto_logout_request_encode(
	                     &w, &(struct proto_logout_request){{"a\0b", 3}}),
	                 P11A_E_ARGS);
	proto_writer_cleanup(&w);
	req.type = PROTO_SSH_AGENTC_ADD_IDENTITY;
	assert_int_equal(proto_request_encode(&w, &req), P11A_E_ARGS);
	proto_writer_cleanup(&w);
	req.type = PROTO_SSH_AGENTC_EXTENSION;
	req.ext = PROTO_EXT_UNKNOWN;
	assert_int_equal(proto_request_encode(&w, &req), P11A_E_ARGS);
	proto_writer_cleanup(&w);

	/* A request bigger than a frame. */
	big = calloc(1, PROTO_FRAME_MAX);
	assert_non_null(big);
	assert_int_equal(proto_sign_request_encode(
	                     &w,
	                     &(struct proto_sign_request){
	                         {big, 16}, {big, PROTO_FRAME_MAX - 20}, 0}),
	                 P11A_E_TOO_LARGE);
	proto_writer_cleanup(&w);
	/* The largest that fits. */
	assert_int_equal(proto_sign_request_encode(
	                     &w,
	                     &(struct proto_sign_request){
	                         {big, 16}, {big, PROTO_FRAME_MAX - 29}, 0}),
	                 0);
	assert_int_equal(w.len, PROTO_FRAME_HEADER + PROTO_FRAME_MAX);
	proto_writer_cleanup(&w);
	free(big);
}

static void
test_bad_replies(void **state)
{
	struct proto_identities_reply ids;
	struct proto_list_reply list;
	struct proto_status_reply st;
	struct proto_query_reply q;
	struct proto_sign_digest_reply sd;
	struct proto_writer w;
	uint8_t *body, *frame;
	size_t len;

	(void)state;
	/* Huge counts are refused before anything is allocated. */
	proto_test_alloc_fail_at(LONG_MAX);
	body = unhex("0c ffffffff", &len);
	assert_int_equal(proto_identities_reply_decode(body, len, &ids, NULL),
	                 P11A_E_FORMAT);
	free(body);
	body = unhex("1d 00000005 7175657279 ffffffff", &len);
	assert_int_equal(proto_query_reply_decode(body, len, &q, NULL),
	                 P11A_E_FORMAT);
	free(body);
	body = unhex("1d 0000000d 6c697374407031316167656e74 ffffffff", &len);
	assert_int_equal(proto_list_reply_decode(body, len, &list, NULL),
	                 P11A_E_FORMAT);
	free(body);
	body = unhex("1d 0000000d 6c697374407031316167656e74 00000000 40000000",
	             &len);
	assert_int_equal(proto_list_reply_decode(body, len, &list, NULL),
	                 P11A_E_FORMAT);
	free(body);
	assert_int_equal(proto_test_alloc_count(), 0);
	proto_test_alloc_fail_at(-1);

	/* A reply for another extension. */
	frame = encode_sample(&samples[24], &len); /* decrypt reply */
	assert_int_equal(
	    proto_sign_digest_reply_decode(frame + 4, len - 4, &sd, NULL),
	    P11A_E_FORMAT);
	assert_null(sd.signature.p);
	free(frame);
	/* A status reply that is a list reply. */
	frame = encode_sample(&samples[22], &len);
	assert_int_equal(
	    proto_status_reply_decode(frame + 4, len - 4, &st, NULL),
	    P11A_E_FORMAT);
	free(frame);
	/* An empty body. */
	assert_int_equal(proto_status_reply_decode(NULL, 0, &st, NULL),
	                 P11A_E_FORMAT);

	/* Arrays missing behind a count. */
	proto_writer_init(&w);
	assert_int_equal(proto_list_reply_encode(
	                     &w, &(struct proto_list_reply){1, NULL, 0, NULL}),
	                 P11A_E_ARGS);
	proto_writer_cleanup(&w);
	assert_int_equal(proto_identities_reply_encode(
	                     &w, &(struct proto_identities_reply){3, NULL}),
	                 P11A_E_ARGS);
	proto_writer_cleanup(&w);
}

static void
test_ext_names(void **state)
{
	int i;

	(void)state;
	for (i = PROTO_EXT_UNKNOWN + 1; i < PROTO_EXT_COUNT; i++) {
		const char *name = proto_ext_name((enum proto_ext)i);

		assert_non_null(name);
		assert_int_equal(proto_ext_from_name(T(name)), i);
	}
	assert_null(proto_ext_name(PROTO_EXT_UNKNOWN));
	assert_null(proto_ext_name((enum proto_ext)PROTO_EXT_COUNT));
	assert_string_equal(proto_ext_name(PROTO_EXT_QUERY), "query");
	assert_string_equal(proto_ext_name(PROTO_EXT_SIGN_DIGEST),
	                    "sign-digest@p11agent");
	assert_int_equal(proto_ext_from_name(T("list@p11agentx")),
	                 PROTO_EXT_UNKNOWN);
	assert_int_equal(proto_ext_from_name(T("")), PROTO_EXT_UNKNOWN);
	assert_int_equal(proto_ext_from_name((struct proto_text){"query\0", 6}),
	                 PROTO_EXT_UNKNOWN);
	assert_int_equal(proto_ext_from_name((struct proto_text){NULL, 0}),
	                 PROTO_EXT_UNKNOWN);

	assert_int_equal(proto_hash_size(PROTO_HASH_NONE), 0);
	assert_int_equal(proto_hash_size(PROTO_HASH_SHA1), 20);
	assert_int_equal(proto_hash_size(PROTO_HASH_SHA224), 28);
	assert_int_equal(proto_hash_size(PROTO_HASH_SHA256), 32);
	assert_int_equal(proto_hash_size(PROTO_HASH_SHA384), 48);
	assert_int_equal(proto_hash_size(PROTO_HASH_SHA512), 64);
	assert_int_equal(proto_hash_size(99), 0);
}

/* import, keygen and attach-cert requests and their key URI replies. */
static void
test_admin_fields(void **state)
{
	struct proto_key_uri_reply uri;
	struct proto_request req;
	struct proto_failure f;
	uint8_t *frame;
	size_t len;

	(void)state;
	frame = encode_sample(sample_named("import-request"), &len);
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.type, PROTO_SSH_AGENTC_EXTENSION);
	assert_int_equal(req.ext, PROTO_EXT_IMPORT);
	assert_true(proto_text_eq(req.ext_name, "import@p11agent"));
	assert_true(proto_text_eq(req.u.import.token, "Test Token"));
	assert_true(proto_text_eq(req.u.import.label, "alice"));
	assert_int_equal(req.u.import.pkcs8.len, sizeof(pkcs8));
	assert_memory_equal(req.u.import.pkcs8.p, pkcs8, sizeof(pkcs8));
	assert_int_equal(req.u.import.cert.len, sizeof(cert));
	assert_memory_equal(req.u.import.cert.p, cert, sizeof(cert));
	assert_int_equal(req.u.import.nchain, 0);
	assert_null(req.u.import.chain[0].p);
	p11a_secret_free(frame, len); /* the PKCS#8 key is a secret */

	frame = encode_sample(sample_named("import-chain-request"), &len);
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_IMPORT);
	assert_true(proto_text_eq(req.u.import.token, "pkcs11:token=Card"));
	assert_int_equal(req.u.import.label.len, 0);
	assert_int_equal(req.u.import.cert.len, 0);
	assert_int_equal(req.u.import.nchain, 2);
	assert_int_equal(req.u.import.chain[0].len, sizeof(ca_cert1));
	assert_memory_equal(req.u.import.chain[0].p, ca_cert1,
	                    sizeof(ca_cert1));
	assert_int_equal(req.u.import.chain[1].len, sizeof(ca_cert2));
	assert_memory_equal(req.u.import.chain[1].p, ca_cert2,
	                    sizeof(ca_cert2));
	assert_null(req.u.import.chain[2].p);
	p11a_secret_free(frame, len);

	frame = encode_sample(sample_named("keygen-request"), &len);
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_KEYGEN);
	assert_true(proto_text_eq(req.u.keygen.token, "Test Token"));
	assert_true(proto_text_eq(req.u.keygen.label, "gen"));
	assert_int_equal(req.u.keygen.key_type, PROTO_KEY_EC);
	assert_int_equal(req.u.keygen.bits, 384);
	free(frame);

	frame = encode_sample(sample_named("attach-cert-request"), &len);
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_ATTACH_CERT);
	assert_int_equal(req.u.attach_cert.cert.len, sizeof(cert));
	assert_memory_equal(req.u.attach_cert.cert.p, cert, sizeof(cert));
	free(frame);

	frame = encode_sample(sample_named("keygen-reply"), &len);
	assert_int_equal(proto_key_uri_reply_decode(frame + 4, len - 4,
	                                            PROTO_EXT_KEYGEN, &uri, &f),
	                 0);
	assert_int_equal(f.code, 0);
	assert_true(proto_text_eq(uri.key_uri, uri2));
	free(frame);
}

/*
 * Writes an import request body whose chain count says count and which
 * carries nstrings chain certificates; returns it as a heap frame.
 */
static uint8_t *
import_with_chain(uint32_t count, size_t nstrings, size_t *len)
{
	struct proto_writer w;
	uint8_t *p;
	size_t i;

	proto_writer_init(&w);
	proto_writer_frame_begin(&w, PROTO_SSH_AGENTC_EXTENSION);
	proto_write_cstring(&w, "import@p11agent");
	proto_write_cstring(&w, "Test Token");
	proto_write_cstring(&w, "ca");
	proto_write_string(&w, pkcs8, sizeof(pkcs8));
	proto_write_string(&w, NULL, 0);
	proto_write_u32(&w, count);
	for (i = 0; i < nstrings; i++)
		proto_write_string(&w, ca_cert2, 10 + i);
	assert_int_equal(proto_writer_frame_end(&w), 0);
	assert_int_equal(proto_writer_take(&w, &p, len), 0);
	return p;
}

static void
test_import_chain_limit(void **state)
{
	struct proto_import_request im;
	struct proto_request req;
	struct proto_writer w;
	enum proto_ext ext;
	uint8_t *frame, type;
	size_t len;

	(void)state;
	/* The most the array holds decodes, and round trips. */
	frame = import_with_chain(PROTO_IMPORT_MAX_CHAIN,
	                          PROTO_IMPORT_MAX_CHAIN, &len);
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req), 0);
	assert_int_equal(req.u.import.nchain, PROTO_IMPORT_MAX_CHAIN);
	assert_int_equal(req.u.import.chain[PROTO_IMPORT_MAX_CHAIN - 1].len,
	                 10 + PROTO_IMPORT_MAX_CHAIN - 1);
	proto_writer_init(&w);
	assert_int_equal(proto_request_encode(&w, &req), 0);
	expect_frame(&w, frame + 4, len - 4);
	proto_writer_cleanup(&w);
	p11a_secret_free(frame, len);

	/* One more is malformed, whether the strings are there or not. */
	frame = import_with_chain(PROTO_IMPORT_MAX_CHAIN + 1,
	                          PROTO_IMPORT_MAX_CHAIN + 1, &len);
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req),
	                 P11A_E_FORMAT);
	assert_int_equal(req.type, 0);
	assert_int_equal(req.u.import.nchain, 0);
	/* ... and the agent still answers with an extension failure. */
	assert_int_equal(proto_request_peek(frame + 4, len - 4, &type, &ext),
	                 0);
	assert_int_equal(ext, PROTO_EXT_IMPORT);
	p11a_secret_free(frame, len);
	frame = import_with_chain(PROTO_IMPORT_MAX_CHAIN + 1,
	                          PROTO_IMPORT_MAX_CHAIN, &len);
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req),
	                 P11A_E_FORMAT);
	p11a_secret_free(frame, len);

	/* A huge count is refused at once, without allocating. */
	frame = import_with_chain(UINT32_MAX, 0, &len);
	proto_test_alloc_fail_at(LONG_MAX);
	assert_int_equal(proto_request_decode(frame + 4, len - 4, &req),
	                 P11A_E_FORMAT);
	assert_int_equal(proto_test_alloc_count(), 0);
	proto_test_alloc_fail_at(-1);
	p11a_secret_free(frame, len);

	/* The encoder refuses too long a chain and writes nothing. */
	im = s_import2;
	im.nchain = PROTO_IMPORT_MAX_CHAIN + 1;
	proto_writer_init(&w);
	assert_int_equal(proto_import_request_encode(&w, &im), P11A_E_ARGS);
	assert_int_equal(proto_writer_error(&w), P11A_E_ARGS);
	assert_int_equal(w.len, 0);
	proto_writer_cleanup(&w);
}

static void
test_keygen_unknown_type(void **state)
{
	struct proto_keygen_request kg = {T("t"), T("k"), 99, 12345};
	struct proto_request req;
	struct proto_writer w;
	const uint8_t *p;
	size_t len;

	(void)state;
	/* Key type and size are not the codec's to judge: the agent is. */
	proto_writer_init(&w);
	assert_int_equal(proto_keygen_request_encode(&w, &kg), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(proto_request_decode(p + 4, len - 4, &req), 0);
	assert_int_equal(req.ext, PROTO_EXT_KEYGEN);
	assert_int_equal(req.u.keygen.key_type, 99);
	assert_int_equal(req.u.keygen.bits, 12345);
	proto_writer_cleanup(&w);

	/* The encoder refuses a label with a NUL. */
	kg.label = (struct proto_text){"a\0b", 3};
	assert_int_equal(proto_keygen_request_encode(&w, &kg), P11A_E_ARGS);
	proto_writer_cleanup(&w);
}

static void
test_key_uri_replies(void **state)
{
	static const uint8_t plain[] = {PROTO_SSH_AGENT_FAILURE};
	struct proto_key_uri_reply uri;
	struct proto_decrypt_reply dec;
	struct proto_failure f;
	struct proto_writer w;
	uint8_t *frame, *body;
	size_t len;

	(void)state;
	/* The reply of another extension, key URI or not. */
	frame = encode_sample(sample_named("import-reply"), &len);
	assert_int_equal(proto_key_uri_reply_decode(frame + 4, len - 4,
	                                            PROTO_EXT_KEYGEN, &uri, &f),
	                 P11A_E_FORMAT);
	assert_null(uri.key_uri.p);
	assert_int_equal(f.code, 0);
	assert_int_equal(proto_key_uri_reply_decode(frame + 4, len - 4,
	                                            PROTO_EXT_ATTACH_CERT, &uri,
	                                            NULL),
	                 P11A_E_FORMAT);
	assert_int_equal(
	    proto_decrypt_reply_decode(frame + 4, len - 4, &dec, NULL),
	    P11A_E_FORMAT);
	free(frame);
	frame = encode_sample(sample_named("decrypt-reply"), &len);
	assert_int_equal(proto_key_uri_reply_decode(frame + 4, len - 4,
	                                            PROTO_EXT_IMPORT, &uri, &f),
	                 P11A_E_FORMAT);
	p11a_secret_free(frame, len);

	/* Extensions without a key URI reply are the caller's mistake. */
	frame = encode_sample(sample_named("import-reply"), &len);
	assert_int_equal(proto_key_uri_reply_decode(
	                     frame + 4, len - 4, PROTO_EXT_DECRYPT, &uri, &f),
	                 P11A_E_ARGS);
	assert_int_equal(f.code, 0);
	assert_int_equal(proto_key_uri_reply_decode(
	                     frame + 4, len - 4, PROTO_EXT_UNKNOWN, &uri, NULL),
	                 P11A_E_ARGS);
	free(frame);
	proto_writer_init(&w);
	assert_int_equal(
	    proto_key_uri_reply_encode(&w, PROTO_EXT_LOGIN, &s_import_rep),
	    P11A_E_ARGS);
	assert_int_equal(w.len, 0);
	proto_writer_cleanup(&w);
	assert_int_equal(
	    proto_key_uri_reply_encode(&w, (enum proto_ext)PROTO_EXT_COUNT,
	                               &s_import_rep),
	    P11A_E_ARGS);
	proto_writer_cleanup(&w);

	/* An older agent that does not know the extension. */
	assert_int_equal(
	    proto_key_uri_reply_decode(plain, 1, PROTO_EXT_IMPORT, &uri, &f),
	    P11A_E_UNKNOWN_REQUEST);
	assert_true(f.generic);
	/* A failure with a code. */
	proto_writer_init(&w);
	assert_int_equal(proto_ext_failure_encode(&w, P11A_E_ALREADY, NULL), 0);
	assert_int_equal(proto_writer_take(&w, &frame, &len), 0);
	assert_int_equal(proto_key_uri_reply_decode(frame + 4, len - 4,
	                                            PROTO_EXT_ATTACH_CERT, &uri,
	                                            &f),
	                 P11A_E_ALREADY);
	assert_int_equal(f.code, P11A_E_ALREADY);
	assert_null(uri.key_uri.p);
	free(frame);
	proto_writer_cleanup(&w);

	/* A key URI with a NUL in it. */
	body = unhex("1d 0000000f 6b657967656e407031316167656e74"
	             " 00000003 610062",
	             &len);
	assert_int_equal(
	    proto_key_uri_reply_decode(body, len, PROTO_EXT_KEYGEN, &uri, &f),
	    P11A_E_FORMAT);
	free(body);
}

/* A writer may hold several frames; a failed one is reset and reused. */
static void
test_writer_reuse(void **state)
{
	struct proto_writer w;
	const uint8_t *p;
	size_t len, body;

	(void)state;
	proto_writer_init(&w);
	assert_int_equal(proto_success_encode(&w), 0);
	assert_int_equal(proto_failure_encode(&w), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, 10);
	assert_int_equal(proto_frame_check(p, len, &body), 0);
	assert_int_equal(proto_frame_check(p + 5, len - 5, &body), 0);
	proto_writer_reset(&w);
	/* A list reply too large for a frame, then the error reply. */
	{
		static uint8_t big[PROTO_FRAME_MAX / 2];
		struct proto_key_info keys[2];
		struct proto_list_reply l = {0, NULL, 2, keys};

		memset(keys, 0, sizeof(keys));
		keys[0].cert_der = B(big);
		keys[1].cert_der = B(big);
		assert_int_equal(proto_list_reply_encode(&w, &l),
		                 P11A_E_TOO_LARGE);
		assert_int_equal(proto_writer_finish(&w, &p, &len),
		                 P11A_E_TOO_LARGE);
		proto_writer_reset(&w);
		assert_int_equal(
		    proto_ext_failure_encode(&w, P11A_E_TOO_LARGE, NULL), 0);
		assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
		assert_int_equal(proto_frame_check(p, len, &body), 0);
		assert_int_equal(body, len - 4);
	}
	proto_writer_cleanup(&w);
}

int
run_msg_tests(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_all),
	    cmocka_unit_test(test_truncations_all),
	    cmocka_unit_test(test_bitflips_all),
	    cmocka_unit_test(test_trailing_all),
	    cmocka_unit_test(test_frame_truncations_all),
	    cmocka_unit_test(test_encoder_alloc_failures),
	    cmocka_unit_test(test_decoder_alloc_failures),
	    cmocka_unit_test(test_request_fields),
	    cmocka_unit_test(test_list_request_flags),
	    cmocka_unit_test(test_reply_fields),
	    cmocka_unit_test(test_golden_bytes),
	    cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_failure_encode),
	    cmocka_unit_test(test_unknown_requests),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_bad_replies),
	    cmocka_unit_test(test_ext_names),
	    cmocka_unit_test(test_writer_reuse),
	    cmocka_unit_test(test_admin_fields),
	    cmocka_unit_test(test_import_chain_limit),
	    cmocka_unit_test(test_keygen_unknown_type),
	    cmocka_unit_test(test_key_uri_replies),
	};

	return cmocka_run_group_tests_name("proto_msg", tests, setup_data,
	                                   NULL);
}
