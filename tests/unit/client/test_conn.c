/*
 * libp11agent against a fake agent in a thread: every request's bytes,
 * reply decoding and copying, failures with the agent's sentence, and the
 * transport's defences (oversize header, truncated reply with a timeout,
 * connection closed mid-reply, wrong reply type, EINTR).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "p11agent.h"
#include "proto/buf.h"
#include "proto/err.h"
#include "proto/msg.h"
#include "tests.h"

/* Helpers. */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct p11agent_conn *
connect_fake(struct fake_agent *fa, fake_handler h, void *ctx)
{
	struct p11agent_conn *conn = NULL;
	int fd;

	fake_start(fa, h, ctx, &fd);
	assert_int_equal(p11agent_connect_fd(fd, &conn), 0);
	assert_non_null(conn);
	return conn;
}

static void
finish(struct fake_agent *fa, struct p11agent_conn *conn)
{
	p11agent_close(conn);
	fake_stop(fa);
}

/* Decodes the request the fake agent saw last. */
static void
last_request(struct fake_agent *fa, struct proto_request *req)
{
	assert_non_null(fa->last);
	assert_int_equal(proto_request_decode(fa->last, fa->last_len, req), 0);
}

static bool
text_is(struct proto_text t, const char *s)
{
	return t.len == strlen(s) && memcmp(t.p, s, t.len) == 0;
}

/* Handlers. */

static const uint8_t fake_cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
static const uint8_t fake_blob[] = {0,   0,   0,   7,   's', 's',
                                    'h', '-', 'r', 's', 'a'};
static const uint8_t fake_sig[] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t fake_plain[] = "attack at dawn";

static bool
h_list(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	struct proto_token_info tokens[2];
	struct proto_text emails[2];
	struct proto_key_info keys[2];
	struct proto_list_reply rep;
	struct proto_request q;
	struct proto_writer w;

	if (proto_request_decode(req, len, &q) != 0 ||
	    q.type != PROTO_SSH_AGENTC_EXTENSION || q.ext != PROTO_EXT_LIST)
		return false;
	memset(tokens, 0, sizeof(tokens));
	memset(keys, 0, sizeof(keys));
	tokens[0].uri = proto_text_from("pkcs11:token=one");
	tokens[0].label = proto_text_from("one");
	tokens[0].manufacturer = proto_text_from("SoftHSM project");
	tokens[0].model = proto_text_from("SoftHSM v2");
	tokens[0].serial = proto_text_from("1234");
	tokens[0].flags = PROTO_TOKEN_LOGIN_REQUIRED | PROTO_TOKEN_PRESENT;
	tokens[1].uri = proto_text_from("pkcs11:token=two");
	tokens[1].label = proto_text_from("two");
	tokens[1].flags = PROTO_TOKEN_PROTECTED_AUTH_PATH;
	emails[0] = proto_text_from("a@example.org");
	emails[1] = proto_text_from("b@example.org");
	keys[0].uri = proto_text_from("pkcs11:token=one;id=%01;type=private");
	keys[0].token_label = proto_text_from("one");
	keys[0].label = proto_text_from("rsa2048");
	keys[0].key_type = PROTO_KEY_RSA;
	keys[0].bits = 2048;
	keys[0].curve = proto_text_from("");
	keys[0].flags = PROTO_KEY_CAN_SIGN | PROTO_KEY_CAN_DECRYPT;
	keys[0].cert_der.p = fake_cert;
	keys[0].cert_der.len = sizeof(fake_cert);
	keys[0].ssh_blob.p = fake_blob;
	keys[0].ssh_blob.len = sizeof(fake_blob);
	keys[0].nemails = 2;
	keys[0].emails = emails;
	keys[1].uri = proto_text_from("pkcs11:token=one;id=%03;type=private");
	keys[1].token_label = proto_text_from("one");
	keys[1].label = proto_text_from("p256");
	keys[1].key_type = PROTO_KEY_EC;
	keys[1].bits = 256;
	keys[1].curve = proto_text_from("prime256v1");
	keys[1].flags = PROTO_KEY_CAN_DERIVE;
	rep.ntokens = 2;
	rep.tokens = tokens;
	rep.nkeys = 2;
	rep.keys = keys;
	proto_writer_init(&w);
	proto_list_reply_encode(&w, &rep);
	return fake_send_writer(fa, &w);
}

/* Answers every request with an extension failure: code and message. */
struct fail_ctx {
	int code;
	const char *message;
};

static bool
h_fail(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	struct fail_ctx *fc = fa->ctx;
	struct proto_writer w;

	(void)req;
	(void)len;
	proto_writer_init(&w);
	proto_ext_failure_encode(&w, fc->code, fc->message);
	return fake_send_writer(fa, &w);
}

/* SSH_AGENT_FAILURE: "no", without a reason. */
static bool
h_generic_failure(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	struct proto_writer w;

	(void)req;
	(void)len;
	proto_writer_init(&w);
	proto_failure_encode(&w);
	return fake_send_writer(fa, &w);
}

static bool
h_success(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	struct proto_writer w;

	(void)req;
	(void)len;
	proto_writer_init(&w);
	proto_success_encode(&w);
	return fake_send_writer(fa, &w);
}

/* A header announcing 256 KiB + 1, then silence. */
static bool
h_oversize(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	static const uint8_t hdr[] = {0x00, 0x04, 0x00, 0x01};

	(void)req;
	(void)len;
	return fake_send(fa, hdr, sizeof(hdr));
}

/* 10 of 100 announced bytes, then silence with the socket open. */
static bool
h_truncated(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	static const uint8_t part[] = {
	    0, 0, 0, 100, PROTO_SSH_AGENT_EXTENSION_RESPONSE, 0, 0, 0, 4, 'l'};

	(void)req;
	(void)len;
	return fake_send(fa, part, sizeof(part));
}

/* The same, but then the agent hangs up. */
static bool
h_close_mid(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	h_truncated(fa, req, len);
	return false;
}

/* Half a header, then hang up. */
static bool
h_close_in_header(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	static const uint8_t part[] = {0, 0};

	(void)req;
	(void)len;
	fake_send(fa, part, sizeof(part));
	return false;
}

static bool
h_close_now(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	(void)fa;
	(void)req;
	(void)len;
	return false;
}

/* A header that announces an empty body. */
static bool
h_empty_frame(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	static const uint8_t hdr[] = {0, 0, 0, 0};

	(void)req;
	(void)len;
	return fake_send(fa, hdr, sizeof(hdr));
}

/* Answers each request with the right kind of success reply. */
static bool
h_ok(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	struct proto_identity ids[1];
	struct proto_text names[3];
	struct proto_token_status ts[1];
	struct proto_request q;
	struct proto_writer w;
	union {
		struct proto_identities_reply ids;
		struct proto_sign_reply sign;
		struct proto_query_reply query;
		struct proto_sign_digest_reply sd;
		struct proto_decrypt_reply dec;
		struct proto_derive_reply der;
		struct proto_status_reply st;
	} u;

	memset(&u, 0, sizeof(u));
	if (proto_request_decode(req, len, &q) != 0)
		return false;
	proto_writer_init(&w);
	switch (q.type) {
	case PROTO_SSH_AGENTC_REQUEST_IDENTITIES:
		ids[0].key_blob.p = fake_blob;
		ids[0].key_blob.len = sizeof(fake_blob);
		ids[0].comment = proto_text_from("pkcs11:token=one;id=%01");
		u.ids.n = 1;
		u.ids.ids = ids;
		proto_identities_reply_encode(&w, &u.ids);
		break;
	case PROTO_SSH_AGENTC_SIGN_REQUEST:
		u.sign.sig_blob.p = fake_sig;
		u.sign.sig_blob.len = sizeof(fake_sig);
		proto_sign_reply_encode(&w, &u.sign);
		break;
	case PROTO_SSH_AGENTC_LOCK:
	case PROTO_SSH_AGENTC_UNLOCK:
		proto_success_encode(&w);
		break;
	case PROTO_SSH_AGENTC_EXTENSION:
		switch (q.ext) {
		case PROTO_EXT_QUERY:
			names[0] = proto_text_from("query");
			names[1] = proto_text_from("list@p11agent");
			names[2] = proto_text_from("status@p11agent");
			u.query.n = 3;
			u.query.names = names;
			proto_query_reply_encode(&w, &u.query);
			break;
		case PROTO_EXT_SIGN_DIGEST:
			u.sd.signature.p = fake_sig;
			u.sd.signature.len = sizeof(fake_sig);
			proto_sign_digest_reply_encode(&w, &u.sd);
			break;
		case PROTO_EXT_DECRYPT:
			u.dec.plaintext.p = fake_plain;
			u.dec.plaintext.len = sizeof(fake_plain) - 1;
			proto_decrypt_reply_encode(&w, &u.dec);
			break;
		case PROTO_EXT_DERIVE:
			u.der.secret.p = fake_sig;
			u.der.secret.len = sizeof(fake_sig);
			proto_derive_reply_encode(&w, &u.der);
			break;
		case PROTO_EXT_LOGIN:
			proto_login_reply_encode(&w);
			break;
		case PROTO_EXT_LOGOUT:
			proto_logout_reply_encode(&w);
			break;
		case PROTO_EXT_STATUS:
			ts[0].uri = proto_text_from("pkcs11:token=one");
			ts[0].label = proto_text_from("one");
			ts[0].flags = PROTO_TOKEN_LOGGED_IN;
			ts[0].logged_in_since = 1700000000;
			ts[0].login_expires = 1700003600;
			u.st.version = proto_text_from("9.8.7");
			u.st.uptime = 42;
			u.st.flags = PROTO_AGENT_LOCKED;
			u.st.login_lifetime = 3600;
			u.st.idle_timeout = 600;
			u.st.ntokens = 1;
			u.st.tokens = ts;
			proto_status_reply_encode(&w, &u.st);
			break;
		case PROTO_EXT_LIST:
			return h_list(fa, req, len);
		default:
			proto_failure_encode(&w);
			break;
		}
		break;
	default:
		proto_failure_encode(&w);
		break;
	}
	return fake_send_writer(fa, &w);
}

/* Interrupts the client a few times with SIGUSR1, then answers. */
static bool
h_eintr(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	int i;

	for (i = 0; i < 5; i++) {
		pthread_kill(fa->client, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return h_list(fa, req, len);
}

/* Tests. */

static void
test_list(void **state)
{
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;

	(void)state;
	conn = connect_fake(&fa, h_ok, NULL);
	assert_int_equal(p11agent_list(conn, &l), 0);
	assert_string_equal(p11agent_conn_errmsg(conn), "");
	assert_non_null(l);
	assert_int_equal(l->ntokens, 2);
	assert_string_equal(l->tokens[0].label, "one");
	assert_string_equal(l->tokens[0].uri, "pkcs11:token=one");
	assert_string_equal(l->tokens[0].manufacturer, "SoftHSM project");
	assert_string_equal(l->tokens[0].serial, "1234");
	assert_int_equal(l->tokens[0].flags, P11AGENT_TOKEN_LOGIN_REQUIRED |
	                                         P11AGENT_TOKEN_PRESENT);
	assert_string_equal(l->tokens[1].model, "");
	assert_int_equal(l->nkeys, 2);
	assert_string_equal(l->keys[0].uri,
	                    "pkcs11:token=one;id=%01;type=private");
	assert_string_equal(l->keys[0].label, "rsa2048");
	assert_int_equal(l->keys[0].key_type, P11AGENT_KEY_RSA);
	assert_int_equal(l->keys[0].bits, 2048);
	assert_string_equal(l->keys[0].curve, "");
	assert_int_equal(l->keys[0].cert_der_len, sizeof(fake_cert));
	assert_memory_equal(l->keys[0].cert_der, fake_cert, sizeof(fake_cert));
	assert_int_equal(l->keys[0].ssh_blob_len, sizeof(fake_blob));
	assert_int_equal(l->keys[0].nemails, 2);
	assert_string_equal(l->keys[0].emails[1], "b@example.org");
	assert_string_equal(l->keys[1].curve, "prime256v1");
	assert_null(l->keys[1].cert_der);
	assert_int_equal(l->keys[1].cert_der_len, 0);
	assert_null(l->keys[1].emails);
	/* The list was copied: it outlives the next request. */
	assert_int_equal(p11agent_logout(conn, NULL), 0);
	assert_string_equal(l->keys[0].emails[0], "a@example.org");
	p11agent_list_free(l);
	p11agent_list_free(NULL);
	finish(&fa, conn);
}

/* The list in two halves: other requests wait until its reply is read. */
static void
test_list_send_recv(void **state)
{
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;

	(void)state;
	conn = connect_fake(&fa, h_ok, NULL);
	assert_int_equal(p11agent_list_recv(conn, &l), P11AGENT_E_ARGS);
	assert_string_not_equal(p11agent_conn_errmsg(conn), "");
	assert_null(l);
	assert_int_equal(p11agent_list_send(conn), 0);
	/* Nothing else goes out before the reply is read. */
	assert_int_equal(p11agent_logout(conn, NULL), P11AGENT_E_ARGS);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "not been read"));
	assert_int_equal(p11agent_list_send(conn), P11AGENT_E_ARGS);
	assert_int_equal(p11agent_list_recv(conn, NULL), P11AGENT_E_ARGS);
	assert_int_equal(p11agent_list_recv(conn, &l), 0);
	assert_int_equal(fa.nrequests, 1);
	assert_non_null(l);
	assert_int_equal(l->nkeys, 2);
	assert_string_equal(l->keys[0].label, "rsa2048");
	p11agent_list_free(l);
	l = NULL;
	/* The connection is in step again. */
	assert_int_equal(p11agent_list_recv(conn, &l), P11AGENT_E_ARGS);
	assert_int_equal(p11agent_list(conn, &l), 0);
	assert_int_equal(fa.nrequests, 2);
	p11agent_list_free(l);
	assert_int_equal(p11agent_list_send(NULL), P11AGENT_E_ARGS);
	assert_int_equal(p11agent_list_recv(NULL, &l), P11AGENT_E_ARGS);
	finish(&fa, conn);
}

static void
test_status_query(void **state)
{
	struct p11agent_status *st = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;
	char **names = NULL;

	(void)state;
	conn = connect_fake(&fa, h_ok, NULL);
	assert_int_equal(p11agent_status(conn, &st), 0);
	assert_string_equal(st->version, "9.8.7");
	assert_int_equal(st->uptime, 42);
	assert_int_equal(st->flags, P11AGENT_AGENT_LOCKED);
	assert_int_equal(st->login_lifetime, 3600);
	assert_int_equal(st->idle_timeout, 600);
	assert_int_equal(st->ntokens, 1);
	assert_string_equal(st->tokens[0].label, "one");
	assert_int_equal(st->tokens[0].logged_in_since, 1700000000);
	assert_int_equal(st->tokens[0].login_expires, 1700003600);
	p11agent_status_free(st);
	assert_int_equal(p11agent_query(conn, &names), 0);
	assert_string_equal(names[0], "query");
	assert_string_equal(names[2], "status@p11agent");
	assert_null(names[3]);
	p11agent_names_free(names);
	finish(&fa, conn);
}

static void
test_sign_digest(void **state)
{
	static const uint8_t digest[32] = {0xaa, 0xbb};
	struct p11agent_conn *conn;
	struct proto_request q;
	struct fake_agent fa;
	uint8_t sig[64];
	size_t siglen = sizeof(sig);

	(void)state;
	conn = connect_fake(&fa, h_ok, NULL);
	assert_int_equal(
	    p11agent_sign_digest(conn, "pkcs11:id=%01", P11AGENT_MECH_RSA_PSS,
	                         P11AGENT_HASH_SHA256, P11AGENT_HASH_SHA256, 32,
	                         digest, sizeof(digest), sig, &siglen),
	    0);
	assert_int_equal(siglen, sizeof(fake_sig));
	assert_memory_equal(sig, fake_sig, sizeof(fake_sig));
	last_request(&fa, &q);
	assert_int_equal(q.ext, PROTO_EXT_SIGN_DIGEST);
	assert_true(text_is(q.u.sign_digest.key_uri, "pkcs11:id=%01"));
	assert_int_equal(q.u.sign_digest.mechanism, PROTO_MECH_RSA_PSS);
	assert_int_equal(q.u.sign_digest.hash, PROTO_HASH_SHA256);
	assert_int_equal(q.u.sign_digest.mgf1_hash, PROTO_HASH_SHA256);
	assert_int_equal(q.u.sign_digest.salt_len, 32);
	assert_int_equal(q.u.sign_digest.digest.len, 32);
	assert_memory_equal(q.u.sign_digest.digest.p, digest, 32);

	/* A buffer too small: refused, nothing written, size told. */
	memset(sig, 0, sizeof(sig));
	siglen = 4;
	assert_int_equal(
	    p11agent_sign_digest(conn, "pkcs11:id=%01", P11AGENT_MECH_RSA_PKCS1,
	                         P11AGENT_HASH_SHA256, 0, 0, digest,
	                         sizeof(digest), sig, &siglen),
	    P11AGENT_E_ARGS);
	assert_int_equal(siglen, 0);
	assert_int_equal(sig[0], 0);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "8 bytes"));
	/* That was a local refusal: the connection still works. */
	siglen = sizeof(sig);
	assert_int_equal(
	    p11agent_sign_digest(conn, "pkcs11:id=%01", P11AGENT_MECH_ECDSA,
	                         P11AGENT_HASH_SHA256, 0, 0, digest,
	                         sizeof(digest), sig, &siglen),
	    0);
	/* Bad arguments never reach the agent. */
	assert_int_equal(p11agent_sign_digest(conn, NULL, 1, 3, 0, 0, digest,
	                                      32, sig, &siglen),
	                 P11AGENT_E_ARGS);
	assert_int_equal(fa.nrequests, 3);
	finish(&fa, conn);
}

/* The signature in two halves: nothing else goes out in between. */
static void
test_sign_digest_send_recv(void **state)
{
	static const uint8_t digest[32] = {0xcc};
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;
	uint8_t sig[64];
	size_t siglen = sizeof(sig);

	(void)state;
	conn = connect_fake(&fa, h_ok, NULL);
	assert_int_equal(p11agent_sign_digest_recv(conn, sig, &siglen),
	                 P11AGENT_E_ARGS);
	assert_int_equal(p11agent_sign_digest_send(conn, "pkcs11:id=%01",
	                                           P11AGENT_MECH_RSA_PKCS1,
	                                           P11AGENT_HASH_SHA256, 0, 0,
	                                           digest, sizeof(digest)),
	                 0);
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_ARGS);
	assert_null(l);
	assert_int_equal(p11agent_sign_digest_send(conn, "pkcs11:id=%01",
	                                           P11AGENT_MECH_RSA_PKCS1,
	                                           P11AGENT_HASH_SHA256, 0, 0,
	                                           digest, sizeof(digest)),
	                 P11AGENT_E_ARGS);
	siglen = sizeof(sig);
	assert_int_equal(p11agent_sign_digest_recv(conn, sig, &siglen), 0);
	assert_int_equal(siglen, sizeof(fake_sig));
	assert_memory_equal(sig, fake_sig, sizeof(fake_sig));
	assert_int_equal(fa.nrequests, 1);
	/* In step again; arguments are checked before anything is sent. */
	assert_int_equal(
	    p11agent_sign_digest_send(conn, NULL, 1, 3, 0, 0, digest, 32),
	    P11AGENT_E_ARGS);
	assert_int_equal(p11agent_list(conn, &l), 0);
	p11agent_list_free(l);
	assert_int_equal(fa.nrequests, 2);
	assert_int_equal(p11agent_sign_digest_send(NULL, "pkcs11:id=%01", 1, 3,
	                                           0, 0, digest, 32),
	                 P11AGENT_E_ARGS);
	assert_int_equal(p11agent_sign_digest_recv(NULL, sig, &siglen),
	                 P11AGENT_E_ARGS);
	finish(&fa, conn);
}

static void
test_decrypt_derive(void **state)
{
	static const uint8_t ct[256] = {1}, label[] = {'L'}, point[65] = {4};
	struct p11agent_conn *conn;
	struct proto_request q;
	struct fake_agent fa;
	uint8_t pt[512];
	size_t ptlen = sizeof(pt);

	(void)state;
	conn = connect_fake(&fa, h_ok, NULL);
	assert_int_equal(
	    p11agent_decrypt(conn, "pkcs11:id=%02", P11AGENT_PADDING_OAEP,
	                     P11AGENT_HASH_SHA256, P11AGENT_HASH_SHA1, label,
	                     sizeof(label), ct, sizeof(ct), pt, &ptlen),
	    0);
	assert_int_equal(ptlen, sizeof(fake_plain) - 1);
	assert_memory_equal(pt, fake_plain, ptlen);
	last_request(&fa, &q);
	assert_int_equal(q.ext, PROTO_EXT_DECRYPT);
	assert_int_equal(q.u.decrypt.padding, PROTO_PADDING_OAEP);
	assert_int_equal(q.u.decrypt.oaep_hash, PROTO_HASH_SHA256);
	assert_int_equal(q.u.decrypt.mgf1_hash, PROTO_HASH_SHA1);
	assert_int_equal(q.u.decrypt.label.len, 1);
	assert_int_equal(q.u.decrypt.ciphertext.len, sizeof(ct));

	ptlen = 3;
	assert_int_equal(p11agent_decrypt(conn, "pkcs11:id=%02",
	                                  P11AGENT_PADDING_PKCS1, 0, 0, NULL, 0,
	                                  ct, sizeof(ct), pt, &ptlen),
	                 P11AGENT_E_ARGS);
	assert_int_equal(ptlen, 0);

	ptlen = sizeof(pt);
	assert_int_equal(p11agent_derive(conn, "pkcs11:id=%03", point,
	                                 sizeof(point), pt, &ptlen),
	                 0);
	assert_int_equal(ptlen, sizeof(fake_sig));
	last_request(&fa, &q);
	assert_int_equal(q.ext, PROTO_EXT_DERIVE);
	assert_int_equal(q.u.derive.peer_point.len, sizeof(point));
	finish(&fa, conn);
}

static void
test_login_logout_lock(void **state)
{
	struct p11agent_conn *conn;
	struct proto_request q;
	struct fake_agent fa;

	(void)state;
	conn = connect_fake(&fa, h_ok, NULL);
	assert_int_equal(p11agent_login(conn, "one", "123456", 6), 0);
	last_request(&fa, &q);
	assert_int_equal(q.ext, PROTO_EXT_LOGIN);
	assert_true(text_is(q.u.login.token, "one"));
	assert_true(text_is(q.u.login.pin, "123456"));
	/* PIN pad: no PIN at all; NULL token: the agent picks. */
	assert_int_equal(p11agent_login(conn, NULL, NULL, 0), 0);
	last_request(&fa, &q);
	assert_true(text_is(q.u.login.token, ""));
	assert_true(text_is(q.u.login.pin, ""));
	/* A PIN with a NUL byte cannot travel as text. */
	assert_int_equal(p11agent_login(conn, "one",
	                                "12\0"
	                                "34",
	                                5),
	                 P11AGENT_E_ARGS);
	assert_int_equal(p11agent_login(conn, "one", NULL, 3), P11AGENT_E_ARGS);
	assert_int_equal(p11agent_logout(conn, "pkcs11:token=one"), 0);
	last_request(&fa, &q);
	assert_int_equal(q.ext, PROTO_EXT_LOGOUT);
	assert_true(text_is(q.u.logout.token, "pkcs11:token=one"));
	assert_int_equal(p11agent_lock(conn, "sesame", 6), 0);
	last_request(&fa, &q);
	assert_int_equal(q.type, PROTO_SSH_AGENTC_LOCK);
	assert_true(text_is(q.u.lock.passphrase, "sesame"));
	assert_int_equal(p11agent_unlock(conn, "sesame", 6), 0);
	last_request(&fa, &q);
	assert_int_equal(q.type, PROTO_SSH_AGENTC_UNLOCK);
	assert_int_equal(fa.nrequests, 5);
	finish(&fa, conn);
}

static void
test_ssh(void **state)
{
	static const uint8_t data[] = "session id and more";
	struct p11agent_identity *ids = NULL;
	struct p11agent_conn *conn;
	struct proto_request q;
	struct fake_agent fa;
	uint8_t *sig = NULL;
	size_t n = 0, siglen = 0;

	(void)state;
	conn = connect_fake(&fa, h_ok, NULL);
	assert_int_equal(p11agent_ssh_identities(conn, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0].key_blob_len, sizeof(fake_blob));
	assert_string_equal(ids[0].comment, "pkcs11:token=one;id=%01");
	assert_int_equal(
	    p11agent_ssh_sign(conn, ids[0].key_blob, ids[0].key_blob_len, data,
	                      sizeof(data), P11AGENT_SSH_RSA_SHA2_256, &sig,
	                      &siglen),
	    0);
	assert_int_equal(siglen, sizeof(fake_sig));
	assert_memory_equal(sig, fake_sig, siglen);
	last_request(&fa, &q);
	assert_int_equal(q.type, PROTO_SSH_AGENTC_SIGN_REQUEST);
	assert_int_equal(q.u.sign.flags, PROTO_SSH_AGENT_RSA_SHA2_256);
	assert_int_equal(q.u.sign.data.len, sizeof(data));
	free(sig);
	p11agent_identities_free(ids, n);
	finish(&fa, conn);
}

/* An agent's failure reaches the caller: code and sentence. */
static void
test_error_reply(void **state)
{
	struct fail_ctx fc = {P11A_E_PIN_INCORRECT,
	                      "PIN incorrect for token 'one'; 2 tries left"};
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;
	uint8_t sig[16];
	size_t siglen = sizeof(sig);

	(void)state;
	conn = connect_fake(&fa, h_fail, &fc);
	assert_int_equal(p11agent_login(conn, "one", "000000", 6),
	                 P11AGENT_E_PIN_INCORRECT);
	assert_string_equal(p11agent_conn_errmsg(conn),
	                    "PIN incorrect for token 'one'; 2 tries left");
	/* The connection stays usable after a failure reply. */
	fc.code = P11A_E_KEY_NOT_FOUND;
	fc.message = "no key pkcs11:id=%09";
	assert_int_equal(p11agent_sign_digest(conn, "pkcs11:id=%09", 1, 3, 0, 0,
	                                      (const uint8_t *)"x", 1, sig,
	                                      &siglen),
	                 P11AGENT_E_KEY_NOT_FOUND);
	assert_string_equal(p11agent_conn_errmsg(conn), "no key pkcs11:id=%09");
	assert_int_equal(siglen, 0);
	/* Terminal escapes in the agent's words are defused. */
	fc.code = P11A_E_TOKEN;
	fc.message = "bad\x1b[31mred\x7f\xc2\x9b!";
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_TOKEN);
	assert_null(l);
	assert_string_equal(p11agent_conn_errmsg(conn), "bad?[31mred?"
	                                                "?!");
	/* A code this build does not know still comes through. */
	fc.code = -99;
	fc.message = "from the future";
	assert_int_equal(p11agent_logout(conn, NULL), -99);
	assert_string_equal(p11agent_conn_errmsg(conn), "from the future");
	/* An empty message gives the generic sentence. */
	fc.code = P11A_E_AGENT_LOCKED;
	fc.message = "";
	assert_int_equal(p11agent_logout(conn, NULL), P11AGENT_E_AGENT_LOCKED);
	assert_string_equal(p11agent_conn_errmsg(conn),
	                    p11agent_strerror(P11AGENT_E_AGENT_LOCKED));
	finish(&fa, conn);
}

/* SSH_AGENT_FAILURE: to an extension, to lock/unlock, to sign. */
static void
test_generic_failure(void **state)
{
	struct p11agent_status *st = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;
	uint8_t *sig = NULL;
	size_t siglen = 0;

	(void)state;
	conn = connect_fake(&fa, h_generic_failure, NULL);
	assert_int_equal(p11agent_status(conn, &st),
	                 P11AGENT_E_UNKNOWN_REQUEST);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "status@p11agent"));
	assert_int_equal(p11agent_unlock(conn, "x", 1), P11AGENT_E_DENIED);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "unlock"));
	assert_int_equal(p11agent_ssh_sign(conn, fake_blob, sizeof(fake_blob),
	                                   (const uint8_t *)"d", 1, 0, &sig,
	                                   &siglen),
	                 P11AGENT_E_DENIED);
	assert_null(sig);
	finish(&fa, conn);
}

/* A reply of the wrong type is garbage: the connection is given up. */
static void
test_wrong_type(void **state)
{
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;

	(void)state;
	conn = connect_fake(&fa, h_success, NULL);
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_FORMAT);
	assert_null(l);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "malformed"));
	assert_int_equal(p11agent_logout(conn, NULL), P11AGENT_E_IO);
	assert_int_equal(fa.nrequests, 1);
	finish(&fa, conn);
}

/* The 256 KiB cap is enforced from the header, before any allocation. */
static void
test_oversize(void **state)
{
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;

	(void)state;
	conn = connect_fake(&fa, h_oversize, NULL);
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_TOO_LARGE);
	assert_null(l);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "256 KiB"));
	/* Out of step now: later requests fail at once. */
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_IO);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "no longer"));
	assert_int_equal(fa.nrequests, 1);
	finish(&fa, conn);
}

static void
test_empty_frame(void **state)
{
	struct p11agent_conn *conn;
	struct fake_agent fa;

	(void)state;
	conn = connect_fake(&fa, h_empty_frame, NULL);
	assert_int_equal(p11agent_logout(conn, NULL), P11AGENT_E_FORMAT);
	finish(&fa, conn);
}

/* A reply that stops in the middle times out instead of hanging. */
static void
test_truncated_timeout(void **state)
{
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;
	int64_t t0;

	(void)state;
	conn = connect_fake(&fa, h_truncated, NULL);
	assert_int_equal(p11agent_conn_set_timeout(conn, 0), P11AGENT_E_ARGS);
	assert_int_equal(p11agent_conn_set_timeout(conn, 200), 0);
	t0 = now_ms();
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_IO);
	assert_true(now_ms() - t0 >= 150);
	assert_true(now_ms() - t0 < 5000);
	assert_null(l);
	assert_string_equal(p11agent_conn_errmsg(conn),
	                    "the agent did not answer within 200 ms");
	/* The login timeout is separate. */
	assert_int_equal(p11agent_conn_set_login_timeout(conn, 3000), 0);
	finish(&fa, conn);
}

/* Same for a login, which has its own timeout. */
static void
test_login_timeout(void **state)
{
	struct p11agent_conn *conn;
	struct fake_agent fa;
	int64_t t0;

	(void)state;
	conn = connect_fake(&fa, h_truncated, NULL);
	assert_int_equal(p11agent_conn_set_login_timeout(conn, 1000), 0);
	t0 = now_ms();
	assert_int_equal(p11agent_login(conn, "one", "1", 1), P11AGENT_E_IO);
	assert_true(now_ms() - t0 >= 900);
	assert_string_equal(p11agent_conn_errmsg(conn),
	                    "the agent did not answer within 1 s");
	finish(&fa, conn);
}

static void
test_closed_mid_reply(void **state)
{
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;

	(void)state;
	conn = connect_fake(&fa, h_close_mid, NULL);
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_IO);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "middle"));
	finish(&fa, conn);

	conn = connect_fake(&fa, h_close_in_header, NULL);
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_IO);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "middle"));
	finish(&fa, conn);

	conn = connect_fake(&fa, h_close_now, NULL);
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_IO);
	assert_string_equal(p11agent_conn_errmsg(conn),
	                    "the agent closed the connection");
	assert_int_equal(p11agent_list(conn, &l), P11AGENT_E_IO);
	finish(&fa, conn);
}

/* Sending to a peer that is gone: an error, not SIGPIPE. */
static void
test_send_to_closed(void **state)
{
	struct p11agent_conn *conn = NULL;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(p11agent_connect_fd(sv[0], &conn), 0);
	assert_int_equal(p11agent_logout(conn, NULL), P11AGENT_E_IO);
	assert_non_null(strstr(p11agent_conn_errmsg(conn), "closed"));
	p11agent_close(conn);
}

static void
on_usr1(int sig)
{
	(void)sig;
}

/* Signals interrupt poll() and read(); the library waits on. */
static void
test_eintr(void **state)
{
	struct sigaction sa, old;
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: calls do fail with EINTR */
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	conn = connect_fake(&fa, h_eintr, NULL);
	assert_int_equal(p11agent_conn_set_timeout(conn, 5000), 0);
	assert_int_equal(p11agent_list(conn, &l), 0);
	assert_int_equal(l->nkeys, 2);
	p11agent_list_free(l);
	finish(&fa, conn);
	sigaction(SIGUSR1, &old, NULL);
}

static void
test_null_args(void **state)
{
	struct p11agent_list *l = (void *)1;
	struct p11agent_conn *conn = (void *)1;

	(void)state;
	assert_int_equal(p11agent_list(NULL, &l), P11AGENT_E_ARGS);
	assert_string_equal(p11agent_conn_errmsg(NULL), "");
	assert_string_equal(p11agent_conn_path(NULL), "");
	assert_int_equal(p11agent_connect_fd(-1, &conn), P11AGENT_E_ARGS);
	assert_null(conn);
	p11agent_close(NULL);
	p11agent_identities_free(NULL, 3);
	p11agent_names_free(NULL);
	p11agent_status_free(NULL);
	assert_string_equal(p11agent_errname(P11AGENT_E_PIN_INCORRECT),
	                    "pin-incorrect");
	assert_non_null(p11agent_strerror(-12345));
	assert_non_null(p11agent_version());
}

/* A real Unix socket: connect by path, by $P11AGENT_SOCK, and failures. */
static void
test_unix_socket(void **state)
{
	char dir[] = "/tmp/p11a-test-XXXXXX", path[200], longpath[300];
	struct p11agent_conn *conn = NULL;
	struct p11agent_status *st = NULL;
	struct sockaddr_un sun;
	struct fake_agent fa;
	int lfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.sock", dir);

	/* Nobody there. */
	assert_int_equal(p11agent_connect(path, &conn), P11AGENT_E_NO_AGENT);
	assert_null(conn);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(p11agent_connect(longpath, &conn), P11AGENT_E_ARGS);

	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	fake_start_listener(&fa, h_ok, NULL, lfd);
	/* Found through the environment. */
	setenv("P11AGENT_SOCK", path, 1);
	assert_int_equal(p11agent_connect(NULL, &conn), 0);
	unsetenv("P11AGENT_SOCK");
	assert_string_equal(p11agent_conn_path(conn), path);
	assert_int_equal(p11agent_status(conn, &st), 0);
	assert_string_equal(st->version, "9.8.7");
	p11agent_status_free(st);
	finish(&fa, conn);

	/* A socket nobody listens on any more: refused, so "no agent". */
	assert_int_equal(p11agent_connect(path, &conn), P11AGENT_E_NO_AGENT);
	unlink(path);
	rmdir(dir);
}

/* Sends the bytes in its context (a mangled reply), then hangs up. */
struct raw_ctx {
	const uint8_t *p;
	size_t len;
};

static bool
h_raw(struct fake_agent *fa, const uint8_t *req, size_t len)
{
	struct raw_ctx *rc = fa->ctx;

	(void)req;
	(void)len;
	fake_send(fa, rc->p, rc->len);
	return false;
}

/* Runs one list request against a fake that answers with p/len. */
static int
list_with_reply(const uint8_t *p, size_t len)
{
	struct raw_ctx rc = {p, len};
	struct p11agent_list *l = NULL;
	struct p11agent_conn *conn;
	struct fake_agent fa;
	int r;

	conn = connect_fake(&fa, h_raw, &rc);
	assert_int_equal(p11agent_conn_set_timeout(conn, 5000), 0);
	r = p11agent_list(conn, &l);
	if (r == 0)
		assert_non_null(l);
	else
		assert_null(l);
	p11agent_list_free(l);
	finish(&fa, conn);
	return r;
}

/*
 * A valid list reply frame (header included), for mangling: what h_list
 * writes, read back from a socketpair.
 */
static uint8_t *
list_reply_frame(size_t *len)
{
	static const uint8_t list_req[] = {PROTO_SSH_AGENTC_EXTENSION,
	                                   0,
	                                   0,
	                                   0,
	                                   13,
	                                   'l',
	                                   'i',
	                                   's',
	                                   't',
	                                   '@',
	                                   'p',
	                                   '1',
	                                   '1',
	                                   'a',
	                                   'g',
	                                   'e',
	                                   'n',
	                                   't'};
	struct fake_agent fa;
	uint8_t *frame;
	ssize_t n;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(&fa, 0, sizeof(fa));
	fa.fd = sv[1];
	assert_true(h_list(&fa, list_req, sizeof(list_req)));
	close(sv[1]);
	frame = malloc(PROTO_WRITER_MAX_DEFAULT);
	assert_non_null(frame);
	*len = 0;
	while ((n = read(sv[0], frame + *len,
	                 PROTO_WRITER_MAX_DEFAULT - *len)) > 0)
		*len += (size_t)n;
	assert_int_equal(n, 0);
	close(sv[0]);
	return frame;
}

/* Every truncation of a reply is an error; none hangs or crashes. */
static void
test_reply_truncations(void **state)
{
	uint8_t *frame;
	size_t len, n;

	(void)state;
	frame = list_reply_frame(&len);
	assert_int_equal(list_with_reply(frame, len), 0);
	for (n = 0; n < len; n++) {
		if (list_with_reply(frame, n) == 0)
			fail_msg("a reply cut to %zu of %zu bytes decoded", n,
			         len);
	}
	free(frame);
}

/* Every byte of a reply mangled: any result, but no crash or leak. */
static void
test_reply_mutations(void **state)
{
	uint8_t *frame;
	size_t len, i;
	unsigned ok = 0;

	(void)state;
	frame = list_reply_frame(&len);
	for (i = 0; i < len; i++) {
		frame[i] ^= 0xff;
		ok += list_with_reply(frame, len) == 0;
		frame[i] ^= 0xff;
		frame[i] ^= 0x01;
		ok += list_with_reply(frame, len) == 0;
		frame[i] ^= 0x01;
	}
	/* Flipping data inside strings keeps some replies valid. */
	assert_true(ok > 0);
	assert_true(ok < 2 * len);
	free(frame);
}

int
run_conn_tests(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_list_send_recv),
	    cmocka_unit_test(test_status_query),
	    cmocka_unit_test(test_sign_digest),
	    cmocka_unit_test(test_sign_digest_send_recv),
	    cmocka_unit_test(test_decrypt_derive),
	    cmocka_unit_test(test_login_logout_lock),
	    cmocka_unit_test(test_ssh),
	    cmocka_unit_test(test_error_reply),
	    cmocka_unit_test(test_generic_failure),
	    cmocka_unit_test(test_wrong_type),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_empty_frame),
	    cmocka_unit_test(test_truncated_timeout),
	    cmocka_unit_test(test_login_timeout),
	    cmocka_unit_test(test_closed_mid_reply),
	    cmocka_unit_test(test_send_to_closed),
	    cmocka_unit_test(test_eintr),
	    cmocka_unit_test(test_null_args),
	    cmocka_unit_test(test_unix_socket),
	    cmocka_unit_test(test_reply_truncations),
	    cmocka_unit_test(test_reply_mutations),
	};

	return cmocka_run_group_tests_name("client/conn", tests, NULL, NULL);
}
