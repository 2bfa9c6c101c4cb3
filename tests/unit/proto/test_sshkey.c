/*
 * proto/sshkey.h: SSH key and signature blobs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/msg.h"
#include "proto/sshkey.h"
#include "helpers.h"

static const enum proto_curve all_curves[] = {
    PROTO_CURVE_P256, PROTO_CURVE_P384, PROTO_CURVE_P521};

/* Takes the bytes of a writer that must have succeeded. */
static uint8_t *
take(struct proto_writer *w, size_t *len)
{
	uint8_t *p;

	assert_int_equal(proto_writer_take(w, &p, len), 0);
	proto_writer_cleanup(w);
	return p;
}

/* Re-encodes a decoded key and compares with the blob. */
static void
reencode_key(const struct proto_ssh_key *k, const uint8_t *blob, size_t len)
{
	struct proto_writer w;
	uint8_t *p;
	size_t n;

	proto_writer_init(&w);
	switch (k->type) {
	case PROTO_SSH_KEY_RSA:
		proto_ssh_rsa_key_put(&w, k->rsa_e.p, k->rsa_e.len, k->rsa_n.p,
		                      k->rsa_n.len);
		break;
	case PROTO_SSH_KEY_ECDSA:
		proto_ssh_ecdsa_key_put(&w, k->curve, k->ec_q.p, k->ec_q.len);
		break;
	case PROTO_SSH_KEY_ED25519:
		proto_ssh_ed25519_key_put(&w, k->ed25519_pk.p,
		                          k->ed25519_pk.len);
		break;
	default:
		fail_msg("decoded an unknown key type");
	}
	p = take(&w, &n);
	assert_int_equal(n, len);
	assert_memory_equal(p, blob, len);
	free(p);
}

static int
key_fn(const uint8_t *blob, size_t len, void *ctx)
{
	struct proto_ssh_key k;
	int ret;

	(void)ctx;
	if ((ret = proto_ssh_key_decode(blob, len, &k)) == 0)
		reencode_key(&k, blob, len);
	else
		assert_int_equal(k.type, PROTO_SSH_KEY_UNKNOWN);
	return ret;
}

/* Re-encodes a decoded signature and compares with the blob. */
static void
reencode_sig(const struct proto_ssh_sig *s, const uint8_t *blob, size_t len)
{
	struct proto_writer w;
	uint8_t rs[2 * 66], *p;
	size_t field, n;
	char *alg;

	proto_writer_init(&w);
	switch (s->type) {
	case PROTO_SSH_KEY_RSA:
		alg = proto_text_dup(s->alg);
		assert_non_null(alg);
		proto_ssh_rsa_sig_put(&w, alg, s->raw.p, s->raw.len);
		free(alg);
		break;
	case PROTO_SSH_KEY_ECDSA:
		field = proto_curve_field_len(s->curve);
		assert_true(s->r.len <= field && s->s.len <= field);
		memset(rs, 0, sizeof(rs));
		if (s->r.len > 0)
			memcpy(rs + field - s->r.len, s->r.p, s->r.len);
		if (s->s.len > 0)
			memcpy(rs + 2 * field - s->s.len, s->s.p, s->s.len);
		proto_ssh_ecdsa_sig_put(&w, s->curve, rs, 2 * field);
		break;
	case PROTO_SSH_KEY_ED25519:
		proto_ssh_ed25519_sig_put(&w, s->raw.p, s->raw.len);
		break;
	default:
		fail_msg("decoded an unknown signature type");
	}
	p = take(&w, &n);
	assert_int_equal(n, len);
	assert_memory_equal(p, blob, len);
	free(p);
}

static int
sig_fn(const uint8_t *blob, size_t len, void *ctx)
{
	struct proto_ssh_sig s;
	int ret;

	(void)ctx;
	if ((ret = proto_ssh_sig_decode(blob, len, &s)) == 0)
		reencode_sig(&s, blob, len);
	return ret;
}

static void
mutate(const uint8_t *blob, size_t len, body_fn fn)
{
	assert_int_equal(fn(blob, len, NULL), 0);
	check_truncations(blob, len, fn, NULL, SIZE_MAX);
	check_bitflips(blob, len, fn, NULL);
	check_trailing(blob, len, fn, NULL);
}

static void
test_curves(void **state)
{
	(void)state;
	assert_string_equal(proto_curve_ssh_name(PROTO_CURVE_P256), "nistp256");
	assert_string_equal(proto_curve_ssh_keytype(PROTO_CURVE_P384),
	                    "ecdsa-sha2-nistp384");
	assert_string_equal(proto_curve_openssl_name(PROTO_CURVE_P256),
	                    "prime256v1");
	assert_string_equal(proto_curve_openssl_name(PROTO_CURVE_P384),
	                    "secp384r1");
	assert_string_equal(proto_curve_openssl_name(PROTO_CURVE_P521),
	                    "secp521r1");
	assert_int_equal(proto_curve_field_len(PROTO_CURVE_P256), 32);
	assert_int_equal(proto_curve_field_len(PROTO_CURVE_P384), 48);
	assert_int_equal(proto_curve_field_len(PROTO_CURVE_P521), 66);
	assert_int_equal(proto_curve_field_len(PROTO_CURVE_NONE), 0);
	assert_null(proto_curve_ssh_name(PROTO_CURVE_NONE));
	assert_null(proto_curve_ssh_name((enum proto_curve)42));
	assert_int_equal(
	    proto_curve_from_openssl_name(proto_text_from("secp521r1")),
	    PROTO_CURVE_P521);
	assert_int_equal(
	    proto_curve_from_openssl_name(proto_text_from("secp256k1")),
	    PROTO_CURVE_NONE);
}

static void
test_rsa_key(void **state)
{
	static const uint8_t e[] = {0x01, 0x00, 0x01};
	static const uint8_t golden[] = {0,   0,   0,   7, 's', 's',  'h', '-',
	                                 'r', 's', 'a', 0, 0,   0,    1,   3,
	                                 0,   0,   0,   3, 0,   0x80, 0x01};
	struct proto_writer w;
	struct proto_ssh_key k;
	uint8_t n[257], *blob, *blob2;
	size_t len, len2, i;

	(void)state;
	n[0] = 0;
	for (i = 1; i < sizeof(n); i++)
		n[i] = (uint8_t)(0xc3 + i);
	proto_writer_init(&w);
	assert_int_equal(proto_ssh_rsa_key_put(&w, e, sizeof(e), n + 1, 256),
	                 0);
	blob = take(&w, &len);
	/* Leading zeros in the input do not change the blob. */
	assert_int_equal(proto_ssh_rsa_key_put(&w, e, sizeof(e), n, 257), 0);
	blob2 = take(&w, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(blob, blob2, len);
	assert_int_equal(len, 4 + 7 + 4 + 3 + 4 + 1 + 256);

	assert_int_equal(proto_ssh_key_decode(blob, len, &k), 0);
	assert_int_equal(k.type, PROTO_SSH_KEY_RSA);
	assert_true(proto_text_eq(k.alg, "ssh-rsa"));
	assert_int_equal(k.rsa_e.len, 3);
	assert_memory_equal(k.rsa_e.p, e, 3);
	assert_int_equal(k.rsa_n.len, 256);
	assert_memory_equal(k.rsa_n.p, n + 1, 256);
	mutate(blob, len, key_fn);
	free(blob);
	free(blob2);

	proto_writer_init(&w);
	assert_int_equal(proto_ssh_rsa_key_put(&w, (const uint8_t *)"\3", 1,
	                                       (const uint8_t *)"\x80\x01", 2),
	                 0);
	blob = take(&w, &len);
	assert_int_equal(len, sizeof(golden));
	assert_memory_equal(blob, golden, len);
	free(blob);

	/* Zero numbers are refused both ways. */
	proto_writer_init(&w);
	assert_int_equal(
	    proto_ssh_rsa_key_put(&w, (const uint8_t *)"\0", 1, n + 1, 256),
	    P11A_E_ARGS);
	proto_writer_cleanup(&w);
	assert_int_equal(proto_ssh_rsa_key_put(&w, e, 3, NULL, 0), P11A_E_ARGS);
	proto_writer_cleanup(&w);
	proto_writer_init(&w);
	proto_write_cstring(&w, "ssh-rsa");
	proto_write_mpint(&w, e, 3);
	proto_write_mpint(&w, NULL, 0);
	blob = take(&w, &len);
	assert_int_equal(proto_ssh_key_decode(blob, len, &k), P11A_E_FORMAT);
	free(blob);
}

static void
test_ecdsa_key(void **state)
{
	struct proto_writer w;
	struct proto_ssh_key k;
	uint8_t q[133], *blob;
	size_t i, len, field;

	(void)state;
	for (i = 0; i < sizeof(all_curves) / sizeof(all_curves[0]); i++) {
		enum proto_curve c = all_curves[i];

		field = proto_curve_field_len(c);
		memset(q, 0x5a, sizeof(q));
		q[0] = 4;
		proto_writer_init(&w);
		assert_int_equal(
		    proto_ssh_ecdsa_key_put(&w, c, q, 1 + 2 * field), 0);
		blob = take(&w, &len);
		assert_int_equal(proto_ssh_key_decode(blob, len, &k), 0);
		assert_int_equal(k.type, PROTO_SSH_KEY_ECDSA);
		assert_int_equal(k.curve, c);
		assert_true(proto_text_eq(k.alg, proto_curve_ssh_keytype(c)));
		assert_int_equal(k.ec_q.len, 1 + 2 * field);
		mutate(blob, len, key_fn);
		free(blob);

		/* Wrong size, compressed point, no curve. */
		assert_int_equal(proto_ssh_ecdsa_key_put(&w, c, q, 2 * field),
		                 P11A_E_ARGS);
		proto_writer_cleanup(&w);
		q[0] = 2;
		assert_int_equal(
		    proto_ssh_ecdsa_key_put(&w, c, q, 1 + 2 * field),
		    P11A_E_ARGS);
		proto_writer_cleanup(&w);
		q[0] = 4;
	}
	assert_int_equal(proto_ssh_ecdsa_key_put(&w, PROTO_CURVE_NONE, q, 1),
	                 P11A_E_ARGS);
	proto_writer_cleanup(&w);

	/* The curve name must match the key type. */
	proto_writer_init(&w);
	proto_write_cstring(&w, "ecdsa-sha2-nistp256");
	proto_write_cstring(&w, "nistp384");
	proto_write_string(&w, q, 65);
	blob = take(&w, &len);
	assert_int_equal(proto_ssh_key_decode(blob, len, &k), P11A_E_FORMAT);
	free(blob);
}

static void
test_ed25519_key(void **state)
{
	struct proto_writer w;
	struct proto_ssh_key k;
	uint8_t pk[32], *blob;
	size_t len;

	(void)state;
	memset(pk, 0xed, sizeof(pk));
	proto_writer_init(&w);
	assert_int_equal(proto_ssh_ed25519_key_put(&w, pk, sizeof(pk)), 0);
	blob = take(&w, &len);
	assert_int_equal(len, 4 + 11 + 4 + 32);
	assert_int_equal(proto_ssh_key_decode(blob, len, &k), 0);
	assert_int_equal(k.type, PROTO_SSH_KEY_ED25519);
	assert_memory_equal(k.ed25519_pk.p, pk, 32);
	mutate(blob, len, key_fn);
	free(blob);
	assert_int_equal(proto_ssh_ed25519_key_put(&w, pk, 31), P11A_E_ARGS);
	proto_writer_cleanup(&w);
}

static void
test_unknown_key(void **state)
{
	struct proto_writer w;
	struct proto_ssh_key k;
	uint8_t *blob;
	size_t len;

	(void)state;
	proto_writer_init(&w);
	proto_write_cstring(&w, "ssh-rsa-cert-v01@openssh.com");
	proto_write_string(&w, "nonce", 5);
	blob = take(&w, &len);
	assert_int_equal(proto_ssh_key_decode(blob, len, &k), P11A_E_KEY_TYPE);
	assert_int_equal(k.type, PROTO_SSH_KEY_UNKNOWN);
	free(blob);
	assert_int_equal(proto_ssh_key_decode(NULL, 0, &k), P11A_E_FORMAT);
}

static void
test_rsa_sig(void **state)
{
	static const char *const algs[] = {"ssh-rsa", "rsa-sha2-256",
	                                   "rsa-sha2-512"};
	struct proto_writer w;
	struct proto_ssh_sig s;
	uint8_t raw[256], *blob;
	uint32_t hash;
	size_t i, len;

	(void)state;
	assert_string_equal(proto_ssh_rsa_sig_alg(0, &hash), "ssh-rsa");
	assert_int_equal(hash, PROTO_HASH_SHA1);
	assert_string_equal(
	    proto_ssh_rsa_sig_alg(PROTO_SSH_AGENT_RSA_SHA2_256, &hash),
	    "rsa-sha2-256");
	assert_int_equal(hash, PROTO_HASH_SHA256);
	assert_string_equal(
	    proto_ssh_rsa_sig_alg(PROTO_SSH_AGENT_RSA_SHA2_512, &hash),
	    "rsa-sha2-512");
	assert_int_equal(hash, PROTO_HASH_SHA512);
	assert_string_equal(
	    proto_ssh_rsa_sig_alg(PROTO_SSH_AGENT_RSA_SHA2_256 |
	                              PROTO_SSH_AGENT_RSA_SHA2_512,
	                          &hash),
	    "rsa-sha2-256");

	memset(raw, 0x81, sizeof(raw));
	for (i = 0; i < 3; i++) {
		proto_writer_init(&w);
		assert_int_equal(
		    proto_ssh_rsa_sig_put(&w, algs[i], raw, sizeof(raw)), 0);
		blob = take(&w, &len);
		assert_int_equal(proto_ssh_sig_decode(blob, len, &s), 0);
		assert_int_equal(s.type, PROTO_SSH_KEY_RSA);
		assert_true(proto_text_eq(s.alg, algs[i]));
		assert_int_equal(s.raw.len, sizeof(raw));
		mutate(blob, len, sig_fn);
		free(blob);
	}
	proto_writer_init(&w);
	assert_int_equal(proto_ssh_rsa_sig_put(&w, "rsa-sha2-384", raw, 256),
	                 P11A_E_ARGS);
	proto_writer_cleanup(&w);
	assert_int_equal(proto_ssh_rsa_sig_put(&w, "ssh-rsa", raw, 0),
	                 P11A_E_ARGS);
	proto_writer_cleanup(&w);
}

static void
test_ecdsa_sig(void **state)
{
	struct proto_reader r, inner;
	struct proto_bytes rb, sb, v;
	struct proto_writer w;
	struct proto_ssh_sig s;
	struct proto_text alg;
	uint8_t rs[132], *blob;
	size_t i, len, field;

	(void)state;
	for (i = 0; i < sizeof(all_curves) / sizeof(all_curves[0]); i++) {
		enum proto_curve c = all_curves[i];

		field = proto_curve_field_len(c);
		/* r has its top bit set, s two leading zero bytes. */
		memset(rs, 0x11, sizeof(rs));
		rs[0] = 0x80;
		rs[field] = 0;
		rs[field + 1] = 0;
		proto_writer_init(&w);
		assert_int_equal(proto_ssh_ecdsa_sig_put(&w, c, rs, 2 * field),
		                 0);
		blob = take(&w, &len);

		/* Walk it by hand: string alg, string (mpint r, mpint s). */
		proto_reader_init(&r, blob, len);
		assert_int_equal(proto_read_text_direct(&r, &alg), 0);
		assert_true(proto_text_eq(alg, proto_curve_ssh_keytype(c)));
		assert_int_equal(proto_read_string_direct(&r, &v), 0);
		assert_int_equal(proto_reader_end(&r), 0);
		proto_reader_init(&inner, v.p, v.len);
		assert_int_equal(proto_read_string_direct(&inner, &rb), 0);
		assert_int_equal(rb.len, field + 1); /* sign byte */
		assert_int_equal(rb.p[0], 0);
		assert_int_equal(proto_read_string_direct(&inner, &sb), 0);
		assert_int_equal(sb.len, field - 2); /* zeros stripped */
		assert_int_equal(proto_reader_end(&inner), 0);

		assert_int_equal(proto_ssh_sig_decode(blob, len, &s), 0);
		assert_int_equal(s.type, PROTO_SSH_KEY_ECDSA);
		assert_int_equal(s.curve, c);
		assert_int_equal(s.r.len, field);
		assert_memory_equal(s.r.p, rs, field);
		assert_int_equal(s.s.len, field - 2);
		assert_memory_equal(s.s.p, rs + field + 2, field - 2);
		mutate(blob, len, sig_fn);
		free(blob);

		assert_int_equal(
		    proto_ssh_ecdsa_sig_put(&w, c, rs, 2 * field - 1),
		    P11A_E_ARGS);
		proto_writer_cleanup(&w);
	}

	/* r longer than the field. */
	memset(rs, 0x22, sizeof(rs));
	proto_writer_init(&w);
	proto_write_cstring(&w, "ecdsa-sha2-nistp256");
	{
		size_t mark;

		proto_write_nested_begin(&w, &mark);
		proto_write_mpint(&w, rs, 33);
		proto_write_mpint(&w, rs, 32);
		proto_write_nested_end(&w, mark);
	}
	blob = take(&w, &len);
	assert_int_equal(proto_ssh_sig_decode(blob, len, &s), P11A_E_FORMAT);
	assert_int_equal(s.type, PROTO_SSH_KEY_UNKNOWN);
	free(blob);
}

static void
test_ed25519_sig(void **state)
{
	struct proto_writer w;
	struct proto_ssh_sig s;
	uint8_t raw[64], *blob;
	size_t len;

	(void)state;
	memset(raw, 0x44, sizeof(raw));
	proto_writer_init(&w);
	assert_int_equal(proto_ssh_ed25519_sig_put(&w, raw, sizeof(raw)), 0);
	blob = take(&w, &len);
	assert_int_equal(proto_ssh_sig_decode(blob, len, &s), 0);
	assert_int_equal(s.type, PROTO_SSH_KEY_ED25519);
	assert_int_equal(s.raw.len, 64);
	mutate(blob, len, sig_fn);
	free(blob);
	assert_int_equal(proto_ssh_ed25519_sig_put(&w, raw, 63), P11A_E_ARGS);
	proto_writer_cleanup(&w);

	proto_writer_init(&w);
	proto_write_cstring(&w, "ssh-dss");
	proto_write_string(&w, raw, 40);
	blob = take(&w, &len);
	assert_int_equal(proto_ssh_sig_decode(blob, len, &s), P11A_E_KEY_TYPE);
	free(blob);
}

/* A key blob embedded in a frame with the nested helpers. */
static void
test_nested_blob(void **state)
{
	struct proto_identities_reply ids;
	struct proto_writer w;
	struct proto_ssh_key k;
	const uint8_t *p;
	uint8_t pk[32];
	size_t len, mark;

	(void)state;
	memset(pk, 1, sizeof(pk));
	proto_writer_init(&w);
	proto_writer_frame_begin(&w, PROTO_SSH_AGENT_IDENTITIES_ANSWER);
	proto_write_u32(&w, 1);
	proto_write_nested_begin(&w, &mark);
	proto_ssh_ed25519_key_put(&w, pk, sizeof(pk));
	proto_write_nested_end(&w, mark);
	proto_write_cstring(&w, "card key");
	proto_writer_frame_end(&w);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(
	    proto_identities_reply_decode(p + 4, len - 4, &ids, NULL), 0);
	assert_int_equal(ids.n, 1);
	assert_int_equal(proto_ssh_key_decode(ids.ids[0].key_blob.p,
	                                      ids.ids[0].key_blob.len, &k),
	                 0);
	assert_int_equal(k.type, PROTO_SSH_KEY_ED25519);
	proto_identities_reply_cleanup(&ids);
	proto_writer_cleanup(&w);
}

int
run_sshkey_tests(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_curves),
	    cmocka_unit_test(test_rsa_key),
	    cmocka_unit_test(test_ecdsa_key),
	    cmocka_unit_test(test_ed25519_key),
	    cmocka_unit_test(test_unknown_key),
	    cmocka_unit_test(test_rsa_sig),
	    cmocka_unit_test(test_ecdsa_sig),
	    cmocka_unit_test(test_ed25519_sig),
	    cmocka_unit_test(test_nested_blob),
	};

	return cmocka_run_group_tests_name("proto_sshkey", tests, NULL, NULL);
}
