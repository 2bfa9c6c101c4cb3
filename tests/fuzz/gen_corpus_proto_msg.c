/*
 * Writes the seed corpus of fuzz_proto_msg: one valid frame per message
 * (and per interesting variant), made by the real encoders, plus bare SSH
 * key and signature blobs.
 *
 * Usage: gen_corpus_proto_msg DIR
 * Regenerate with
 *   build/tests/fuzz/gen_corpus_proto_msg tests/fuzz/corpus/fuzz_proto_msg
 * after adding a message (and commit the new files).
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/msg.h"
#include "proto/sshkey.h"

#define T(s) proto_text_from(s)
#define B(a) ((struct proto_bytes){(a), sizeof(a)})
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *outdir;
static int failures;

static void
fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7);
}

/* Writes the writer's bytes to DIR/name and resets the writer. */
static void
emit(struct proto_writer *w, const char *name)
{
	const uint8_t *p;
	char path[4096];
	size_t len;
	FILE *f;
	int ret;

	if ((ret = proto_writer_finish(w, &p, &len)) != 0) {
		fprintf(stderr, "%s: %s\n", name, p11a_strerror(ret));
		failures++;
		proto_writer_reset(w);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, len, f) != len) {
		perror(path);
		failures++;
	}
	if (f != NULL)
		fclose(f);
	proto_writer_reset(w);
}

int
main(int argc, char **argv)
{
	static uint8_t n2048[256], ec_q[3][133], ed_pk[32], rsa_sig[256];
	static uint8_t ec_rs[3][132], ed_sig[64], data[64], dgst[64];
	static uint8_t ct[256], cert[700], plain[48], shared[66];
	static uint8_t pkcs8[1218], ca[2][500];
	static const uint8_t e[] = {0x01, 0x00, 0x01};
	/* DigestInfo prefix of SHA-256 (RFC 8017), signed with hash NONE. */
	static const uint8_t di_sha256[] = {
	    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
	static const enum proto_curve curves[] = {
	    PROTO_CURVE_P256, PROTO_CURVE_P384, PROTO_CURVE_P521};
	static const char uri_rsa[] =
	    "pkcs11:token=Test%20Token;id=%01;object=alice;type=private";
	static const char uri_ec[] = "pkcs11:token=Card;id=%02";
	uint8_t *blobs[5], *sigs[5], di[19 + 32];
	size_t bloblen[5], siglen[5], i, field;
	struct proto_writer w, b;
	char name[64];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	fill(n2048, sizeof(n2048), 1);
	n2048[0] |= 0x80;
	fill(ed_pk, sizeof(ed_pk), 2);
	fill(rsa_sig, sizeof(rsa_sig), 3);
	fill(ed_sig, sizeof(ed_sig), 4);
	fill(data, sizeof(data), 5);
	fill(dgst, sizeof(dgst), 6);
	fill(ct, sizeof(ct), 7);
	fill(cert, sizeof(cert), 8);
	fill(plain, sizeof(plain), 9);
	fill(shared, sizeof(shared), 10);
	fill(pkcs8, sizeof(pkcs8), 11);
	fill(ca[0], sizeof(ca[0]), 12);
	fill(ca[1], sizeof(ca[1]), 13);
	memcpy(di, di_sha256, sizeof(di_sha256));
	memcpy(di + sizeof(di_sha256), dgst, 32);
	proto_writer_init(&w);
	proto_writer_init(&b);

	/* Bare blobs: keys 0 RSA, 1-3 ECDSA, 4 Ed25519; same for sigs. */
	proto_ssh_rsa_key_put(&b, e, sizeof(e), n2048, sizeof(n2048));
	proto_writer_take(&b, &blobs[0], &bloblen[0]);
	proto_ssh_rsa_sig_put(&b, "rsa-sha2-256", rsa_sig, sizeof(rsa_sig));
	proto_writer_take(&b, &sigs[0], &siglen[0]);
	for (i = 0; i < NELEM(curves); i++) {
		field = proto_curve_field_len(curves[i]);
		fill(ec_q[i], 1 + 2 * field, (uint8_t)(20 + i));
		ec_q[i][0] = 4;
		proto_ssh_ecdsa_key_put(&b, curves[i], ec_q[i], 1 + 2 * field);
		proto_writer_take(&b, &blobs[1 + i], &bloblen[1 + i]);
		fill(ec_rs[i], 2 * field, (uint8_t)(30 + i));
		ec_rs[i][0] |= 0x80; /* r needs a sign byte */
		ec_rs[i][field] = 0; /* s has a leading zero */
		proto_ssh_ecdsa_sig_put(&b, curves[i], ec_rs[i], 2 * field);
		proto_writer_take(&b, &sigs[1 + i], &siglen[1 + i]);
	}
	proto_ssh_ed25519_key_put(&b, ed_pk, sizeof(ed_pk));
	proto_writer_take(&b, &blobs[4], &bloblen[4]);
	proto_ssh_ed25519_sig_put(&b, ed_sig, sizeof(ed_sig));
	proto_writer_take(&b, &sigs[4], &siglen[4]);
	for (i = 0; i < 5; i++) {
		if (blobs[i] == NULL || sigs[i] == NULL) {
			fprintf(stderr, "blob %zu failed\n", i);
			return 1;
		}
		proto_write_raw(&w, blobs[i], bloblen[i]);
		snprintf(name, sizeof(name), "blob-key-%zu", i);
		emit(&w, name);
		proto_write_raw(&w, sigs[i], siglen[i]);
		snprintf(name, sizeof(name), "blob-sig-%zu", i);
		emit(&w, name);
	}

	/* Requests. */
	proto_identities_request_encode(&w);
	emit(&w, "req-identities");
	for (i = 0; i < 3; i++) {
		static const uint32_t flags[] = {0,
		                                 PROTO_SSH_AGENT_RSA_SHA2_256,
		                                 PROTO_SSH_AGENT_RSA_SHA2_512};
		struct proto_sign_request r = {
		    {blobs[0], bloblen[0]}, B(data), flags[i]};

		proto_sign_request_encode(&w, &r);
		snprintf(name, sizeof(name), "req-sign-rsa-%u",
		         (unsigned)flags[i]);
		emit(&w, name);
	}
	{
		struct proto_sign_request r = {
		    {blobs[2], bloblen[2]}, B(data), 0};

		proto_sign_request_encode(&w, &r);
		emit(&w, "req-sign-ecdsa");
	}
	{
		struct proto_lock_request r = {T("hunter2")};

		proto_lock_request_encode(&w, &r);
		emit(&w, "req-lock");
		proto_unlock_request_encode(&w, &r);
		emit(&w, "req-unlock");
	}
	proto_query_request_encode(&w);
	emit(&w, "req-query");
	proto_list_request_encode(&w, NULL);
	emit(&w, "req-list");
	{
		struct proto_list_request r = {PROTO_LIST_RESCAN, false};

		proto_list_request_encode(&w, &r);
		emit(&w, "req-list-rescan");
	}
	proto_status_request_encode(&w);
	emit(&w, "req-status");
	{
		struct proto_sign_digest_request r[] = {
		    {T(uri_rsa),
		     PROTO_MECH_RSA_PKCS1,
		     PROTO_HASH_SHA256,
		     0,
		     0,
		     {dgst, 32}},
		    {T(uri_rsa), PROTO_MECH_RSA_PKCS1, PROTO_HASH_NONE, 0, 0,
		     B(di)},
		    {T(uri_rsa),
		     PROTO_MECH_RSA_PSS,
		     PROTO_HASH_SHA512,
		     PROTO_HASH_SHA512,
		     64,
		     {dgst, 64}},
		    {T(uri_ec),
		     PROTO_MECH_ECDSA,
		     PROTO_HASH_SHA384,
		     0,
		     0,
		     {dgst, 48}},
		    {T(uri_ec), PROTO_MECH_EDDSA, PROTO_HASH_NONE, 0, 0,
		     B(data)},
		};

		for (i = 0; i < NELEM(r); i++) {
			proto_sign_digest_request_encode(&w, &r[i]);
			snprintf(name, sizeof(name), "req-sign-digest-%zu", i);
			emit(&w, name);
		}
	}
	{
		struct proto_decrypt_request r[] = {
		    {T(uri_rsa), PROTO_PADDING_PKCS1, 0, 0, {NULL, 0}, B(ct)},
		    {T(uri_rsa),
		     PROTO_PADDING_OAEP,
		     PROTO_HASH_SHA256,
		     PROTO_HASH_SHA256,
		     {(const uint8_t *)"label", 5},
		     B(ct)},
		};

		for (i = 0; i < NELEM(r); i++) {
			proto_decrypt_request_encode(&w, &r[i]);
			snprintf(name, sizeof(name), "req-decrypt-%zu", i);
			emit(&w, name);
		}
	}
	{
		struct proto_derive_request r = {T(uri_ec), {ec_q[1], 97}};

		proto_derive_request_encode(&w, &r);
		emit(&w, "req-derive");
	}
	{
		struct proto_login_request r1 = {T("Test Token"), T("123456")};
		struct proto_login_request r2 = {T("pkcs11:token=Card"), T("")};
		struct proto_logout_request r3 = {T("Test Token")};
		struct proto_logout_request r4 = {T("")};

		proto_login_request_encode(&w, &r1);
		emit(&w, "req-login");
		proto_login_request_encode(&w, &r2);
		emit(&w, "req-login-pinpad");
		proto_logout_request_encode(&w, &r3);
		emit(&w, "req-logout");
		proto_logout_request_encode(&w, &r4);
		emit(&w, "req-logout-all");
	}
	{
		struct proto_import_request r;

		memset(&r, 0, sizeof(r));
		r.token = T("Test Token");
		r.label = T("alice");
		r.pkcs8 = B(pkcs8);
		r.cert = B(cert);
		proto_import_request_encode(&w, &r);
		emit(&w, "req-import");
		r.token = T("pkcs11:token=Card");
		r.cert.len = 0;
		r.nchain = 2;
		r.chain[0] = B(ca[0]);
		r.chain[1] = B(ca[1]);
		proto_import_request_encode(&w, &r);
		emit(&w, "req-import-chain");
	}
	{
		struct proto_keygen_request r1 = {T("Test Token"), T("rsa"),
		                                  PROTO_KEY_RSA, 3072};
		struct proto_keygen_request r2 = {T("pkcs11:token=Card"),
		                                  T("ec"), PROTO_KEY_EC, 256};
		struct proto_attach_cert_request r3 = {B(cert)};

		proto_keygen_request_encode(&w, &r1);
		emit(&w, "req-keygen-rsa");
		proto_keygen_request_encode(&w, &r2);
		emit(&w, "req-keygen-ec");
		proto_attach_cert_request_encode(&w, &r3);
		emit(&w, "req-attach-cert");
	}
	/* Requests the agent must refuse politely. */
	proto_writer_frame_begin(&w, PROTO_SSH_AGENTC_EXTENSION);
	proto_write_cstring(&w, "session-bind@openssh.com");
	proto_write_string(&w, blobs[4], bloblen[4]);
	proto_writer_frame_end(&w);
	emit(&w, "req-ext-unknown");
	proto_writer_frame_begin(&w, PROTO_SSH_AGENTC_REMOVE_ALL_IDENTITIES);
	proto_writer_frame_end(&w);
	emit(&w, "req-type-unknown");

	/* Replies. */
	proto_failure_encode(&w);
	emit(&w, "rep-failure");
	proto_writer_frame_begin(&w, PROTO_SSH_AGENT_EXTENSION_FAILURE);
	proto_writer_frame_end(&w);
	emit(&w, "rep-ext-failure-bare");
	proto_ext_failure_encode(&w, P11A_E_PIN_INCORRECT,
	                         "PIN incorrect, 2 tries left");
	emit(&w, "rep-ext-failure-pin");
	proto_ext_failure_encode(&w, P11A_E_TOKEN_ABSENT, NULL);
	emit(&w, "rep-ext-failure-absent");
	proto_success_encode(&w);
	emit(&w, "rep-success");
	{
		struct proto_identity ids[5];
		struct proto_identities_reply r = {5, ids};

		for (i = 0; i < 5; i++) {
			ids[i].key_blob.p = blobs[i];
			ids[i].key_blob.len = bloblen[i];
			ids[i].comment = T(i == 0 ? uri_rsa : uri_ec);
		}
		proto_identities_reply_encode(&w, &r);
		emit(&w, "rep-identities");
	}
	for (i = 0; i < 5; i++) {
		struct proto_sign_reply r = {{sigs[i], siglen[i]}};

		proto_sign_reply_encode(&w, &r);
		snprintf(name, sizeof(name), "rep-sign-%zu", i);
		emit(&w, name);
	}
	{
		struct proto_text names[PROTO_EXT_COUNT - 1];
		struct proto_query_reply r = {NELEM(names), names};

		for (i = 0; i < NELEM(names); i++)
			names[i] = T(proto_ext_name((enum proto_ext)(i + 1)));
		proto_query_reply_encode(&w, &r);
		emit(&w, "rep-query");
	}
	{
		struct proto_token_info toks[] = {
		    {T("pkcs11:token=Test%20Token"), T("Test Token"),
		     T("SoftHSM project"), T("SoftHSM v2"),
		     T("5a1b2c3d4e5f6071"),
		     PROTO_TOKEN_LOGIN_REQUIRED | PROTO_TOKEN_INITIALIZED |
		         PROTO_TOKEN_PRESENT},
		    {T("pkcs11:token=Card"), T("Card"), T("OpenSC"),
		     T("PKCS#15 emulated"), T("0001"),
		     PROTO_TOKEN_PROTECTED_AUTH_PATH | PROTO_TOKEN_LOGGED_IN |
		         PROTO_TOKEN_PRESENT},
		};
		struct proto_text emails[] = {T("alice@example.org"),
		                              T("a.smith@example.org")};
		struct proto_key_info keys[] = {
		    {T(uri_rsa),
		     T("Test Token"),
		     T("alice"),
		     PROTO_KEY_RSA,
		     2048,
		     T(""),
		     PROTO_KEY_CAN_SIGN | PROTO_KEY_CAN_DECRYPT |
		         PROTO_KEY_HOST_PADDING_FALLBACK,
		     B(cert),
		     {blobs[0], bloblen[0]},
		     2,
		     emails},
		    {T(uri_ec),
		     T("Card"),
		     T("sign"),
		     PROTO_KEY_EC,
		     384,
		     T("secp384r1"),
		     PROTO_KEY_CAN_SIGN | PROTO_KEY_CAN_DERIVE |
		         PROTO_KEY_ALWAYS_AUTHENTICATE,
		     {NULL, 0},
		     {blobs[2], bloblen[2]},
		     0,
		     NULL},
		};
		struct proto_list_reply r = {NELEM(toks), toks, NELEM(keys),
		                             keys};
		struct proto_list_reply empty = {0, NULL, 0, NULL};

		proto_list_reply_encode(&w, &r);
		emit(&w, "rep-list");
		proto_list_reply_encode(&w, &empty);
		emit(&w, "rep-list-empty");
	}
	{
		struct proto_sign_digest_reply r1 = {B(rsa_sig)};
		struct proto_sign_digest_reply r2 = {{ec_rs[1], 96}};
		struct proto_decrypt_reply r3 = {B(plain)};
		struct proto_derive_reply r4 = {B(shared)};

		proto_sign_digest_reply_encode(&w, &r1);
		emit(&w, "rep-sign-digest-rsa");
		proto_sign_digest_reply_encode(&w, &r2);
		emit(&w, "rep-sign-digest-ecdsa");
		proto_decrypt_reply_encode(&w, &r3);
		emit(&w, "rep-decrypt");
		proto_derive_reply_encode(&w, &r4);
		emit(&w, "rep-derive");
	}
	proto_login_reply_encode(&w);
	emit(&w, "rep-login");
	proto_logout_reply_encode(&w);
	emit(&w, "rep-logout");
	{
		struct proto_token_status toks[] = {
		    {T("pkcs11:token=Test%20Token"), T("Test Token"),
		     PROTO_TOKEN_LOGGED_IN | PROTO_TOKEN_PRESENT, 1700000000u,
		     1700003600u},
		    {T("pkcs11:token=Card"), T("Card"), PROTO_TOKEN_PRESENT, 0,
		     0},
		};
		struct proto_status_reply r = {T("0.1.0"),  3600, 0, 28800, 900,
		                               NELEM(toks), toks};

		proto_status_reply_encode(&w, &r);
		emit(&w, "rep-status");
	}
	{
		struct proto_key_uri_reply r1 = {T(uri_rsa)};
		struct proto_key_uri_reply r2 = {T(uri_ec)};

		proto_key_uri_reply_encode(&w, PROTO_EXT_IMPORT, &r1);
		emit(&w, "rep-import");
		proto_key_uri_reply_encode(&w, PROTO_EXT_KEYGEN, &r2);
		emit(&w, "rep-keygen");
		proto_key_uri_reply_encode(&w, PROTO_EXT_ATTACH_CERT, &r1);
		emit(&w, "rep-attach-cert");
	}

	for (i = 0; i < 5; i++) {
		free(blobs[i]);
		free(sigs[i]);
	}
	proto_writer_cleanup(&w);
	proto_writer_cleanup(&b);
	return failures != 0;
}
