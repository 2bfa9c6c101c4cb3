#include <stdint.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/internal.h"
#include "proto/msg.h"
#include "proto/sshkey.h"

#define RSA_NAME "ssh-rsa"
#define RSA_SHA256_NAME "rsa-sha2-256"
#define RSA_SHA512_NAME "rsa-sha2-512"
#define ED25519_NAME "ssh-ed25519"

struct curve_info {
	const char *ssh_name;
	const char *keytype;
	const char *openssl_name;
	size_t field_len;
};

static const struct curve_info curves[] = {
    [PROTO_CURVE_NONE] = {NULL, NULL, NULL, 0},
    [PROTO_CURVE_P256] = {"nistp256", "ecdsa-sha2-nistp256", "prime256v1", 32},
    [PROTO_CURVE_P384] = {"nistp384", "ecdsa-sha2-nistp384", "secp384r1", 48},
    [PROTO_CURVE_P521] = {"nistp521", "ecdsa-sha2-nistp521", "secp521r1", 66},
};

#define NCURVES (sizeof(curves) / sizeof(curves[0]))

static const struct curve_info *
curve_get(enum proto_curve c)
{
	if ((unsigned)c >= NCURVES)
		return &curves[PROTO_CURVE_NONE];
	return &curves[c];
}

const char *
proto_curve_ssh_name(enum proto_curve c)
{
	return curve_get(c)->ssh_name;
}

const char *
proto_curve_ssh_keytype(enum proto_curve c)
{
	return curve_get(c)->keytype;
}

const char *
proto_curve_openssl_name(enum proto_curve c)
{
	return curve_get(c)->openssl_name;
}

size_t
proto_curve_field_len(enum proto_curve c)
{
	return curve_get(c)->field_len;
}

enum proto_curve
proto_curve_from_openssl_name(struct proto_text name)
{
	size_t i;

	for (i = 1; i < NCURVES; i++) {
		if (proto_text_eq(name, curves[i].openssl_name))
			return (enum proto_curve)i;
	}
	return PROTO_CURVE_NONE;
}

/* Curve whose SSH key type (and signature algorithm) is name. */
static enum proto_curve
curve_from_keytype(struct proto_text name)
{
	size_t i;

	for (i = 1; i < NCURVES; i++) {
		if (proto_text_eq(name, curves[i].keytype))
			return (enum proto_curve)i;
	}
	return PROTO_CURVE_NONE;
}

/* True when a big-endian magnitude is zero (or empty). */
static bool
is_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] != 0)
			return false;
	}
	return true;
}

/* Public keys. */

int
proto_ssh_rsa_key_put(struct proto_writer *w, const uint8_t *e, size_t elen,
                      const uint8_t *n, size_t nlen)
{
	if (e == NULL || n == NULL || is_zero(e, elen) || is_zero(n, nlen))
		return proto_writer_fail(w, P11A_E_ARGS);
	proto_write_cstring(w, RSA_NAME);
	proto_write_mpint(w, e, elen);
	return proto_write_mpint(w, n, nlen);
}

static bool
point_ok(enum proto_curve c, const uint8_t *q, size_t qlen)
{
	size_t field = proto_curve_field_len(c);

	return field != 0 && q != NULL && qlen == 1 + 2 * field && q[0] == 4;
}

int
proto_ssh_ecdsa_key_put(struct proto_writer *w, enum proto_curve c,
                        const uint8_t *q, size_t qlen)
{
	if (!point_ok(c, q, qlen))
		return proto_writer_fail(w, P11A_E_ARGS);
	proto_write_cstring(w, proto_curve_ssh_keytype(c));
	proto_write_cstring(w, proto_curve_ssh_name(c));
	return proto_write_string(w, q, qlen);
}

int
proto_ssh_ed25519_key_put(struct proto_writer *w, const uint8_t *pk,
                          size_t pklen)
{
	if (pk == NULL || pklen != PROTO_ED25519_PK_LEN)
		return proto_writer_fail(w, P11A_E_ARGS);
	proto_write_cstring(w, ED25519_NAME);
	return proto_write_string(w, pk, pklen);
}

int
proto_ssh_key_decode(const uint8_t *blob, size_t len, struct proto_ssh_key *key)
{
	struct proto_ssh_key k;
	struct proto_reader r;
	struct proto_text curve_name;
	int ret;

	memset(key, 0, sizeof(*key));
	memset(&k, 0, sizeof(k));
	proto_reader_init(&r, blob, len);
	if ((ret = proto_read_text_direct(&r, &k.alg)) != 0)
		return ret;
	if (proto_text_eq(k.alg, RSA_NAME)) {
		k.type = PROTO_SSH_KEY_RSA;
		if ((ret = proto_read_mpint_direct(&r, &k.rsa_e)) != 0 ||
		    (ret = proto_read_mpint_direct(&r, &k.rsa_n)) != 0)
			return ret;
		if (k.rsa_e.len == 0 || k.rsa_n.len == 0)
			return P11A_E_FORMAT;
	} else if (proto_text_eq(k.alg, ED25519_NAME)) {
		k.type = PROTO_SSH_KEY_ED25519;
		if ((ret = proto_read_string_direct(&r, &k.ed25519_pk)) != 0)
			return ret;
		if (k.ed25519_pk.len != PROTO_ED25519_PK_LEN)
			return P11A_E_FORMAT;
	} else if ((k.curve = curve_from_keytype(k.alg)) != PROTO_CURVE_NONE) {
		k.type = PROTO_SSH_KEY_ECDSA;
		if ((ret = proto_read_text_direct(&r, &curve_name)) != 0 ||
		    (ret = proto_read_string_direct(&r, &k.ec_q)) != 0)
			return ret;
		if (!proto_text_eq(curve_name, proto_curve_ssh_name(k.curve)) ||
		    !point_ok(k.curve, k.ec_q.p, k.ec_q.len))
			return P11A_E_FORMAT;
	} else {
		return P11A_E_KEY_TYPE;
	}
	if ((ret = proto_reader_end(&r)) != 0)
		return ret;
	*key = k;
	return 0;
}

/* Signatures. */

const char *
proto_ssh_rsa_sig_alg(uint32_t flags, uint32_t *hash)
{
	if ((flags & PROTO_SSH_AGENT_RSA_SHA2_256) != 0) {
		*hash = PROTO_HASH_SHA256;
		return RSA_SHA256_NAME;
	}
	if ((flags & PROTO_SSH_AGENT_RSA_SHA2_512) != 0) {
		*hash = PROTO_HASH_SHA512;
		return RSA_SHA512_NAME;
	}
	*hash = PROTO_HASH_SHA1;
	return RSA_NAME;
}

static bool
rsa_sig_alg_ok(struct proto_text alg)
{
	return proto_text_eq(alg, RSA_NAME) ||
	       proto_text_eq(alg, RSA_SHA256_NAME) ||
	       proto_text_eq(alg, RSA_SHA512_NAME);
}

int
proto_ssh_rsa_sig_put(struct proto_writer *w, const char *alg,
                      const uint8_t *sig, size_t siglen)
{
	if (alg == NULL || !rsa_sig_alg_ok(proto_text_from(alg)) ||
	    sig == NULL || siglen == 0)
		return proto_writer_fail(w, P11A_E_ARGS);
	proto_write_cstring(w, alg);
	return proto_write_string(w, sig, siglen);
}

int
proto_ssh_ecdsa_sig_put(struct proto_writer *w, enum proto_curve c,
                        const uint8_t *rs, size_t rslen)
{
	size_t field = proto_curve_field_len(c), mark;

	if (field == 0 || rs == NULL || rslen != 2 * field)
		return proto_writer_fail(w, P11A_E_ARGS);
	proto_write_cstring(w, proto_curve_ssh_keytype(c));
	proto_write_nested_begin(w, &mark);
	proto_write_mpint(w, rs, field);
	proto_write_mpint(w, rs + field, field);
	return proto_write_nested_end(w, mark);
}

int
proto_ssh_ed25519_sig_put(struct proto_writer *w, const uint8_t *sig,
                          size_t siglen)
{
	if (sig == NULL || siglen != PROTO_ED25519_SIG_LEN)
		return proto_writer_fail(w, P11A_E_ARGS);
	proto_write_cstring(w, ED25519_NAME);
	return proto_write_string(w, sig, siglen);
}

int
proto_ssh_sig_decode(const uint8_t *blob, size_t len, struct proto_ssh_sig *sig)
{
	struct proto_reader r, inner;
	struct proto_ssh_sig s;
	struct proto_bytes rs;
	size_t field;
	int ret;

	memset(sig, 0, sizeof(*sig));
	memset(&s, 0, sizeof(s));
	proto_reader_init(&r, blob, len);
	if ((ret = proto_read_text_direct(&r, &s.alg)) != 0)
		return ret;
	if (rsa_sig_alg_ok(s.alg)) {
		s.type = PROTO_SSH_KEY_RSA;
		if ((ret = proto_read_string_direct(&r, &s.raw)) != 0)
			return ret;
		if (s.raw.len == 0)
			return P11A_E_FORMAT;
	} else if (proto_text_eq(s.alg, ED25519_NAME)) {
		s.type = PROTO_SSH_KEY_ED25519;
		if ((ret = proto_read_string_direct(&r, &s.raw)) != 0)
			return ret;
		if (s.raw.len != PROTO_ED25519_SIG_LEN)
			return P11A_E_FORMAT;
	} else if ((s.curve = curve_from_keytype(s.alg)) != PROTO_CURVE_NONE) {
		s.type = PROTO_SSH_KEY_ECDSA;
		field = proto_curve_field_len(s.curve);
		if ((ret = proto_read_string_direct(&r, &rs)) != 0)
			return ret;
		proto_reader_init(&inner, rs.p, rs.len);
		if ((ret = proto_read_mpint_direct(&inner, &s.r)) != 0 ||
		    (ret = proto_read_mpint_direct(&inner, &s.s)) != 0 ||
		    (ret = proto_reader_end(&inner)) != 0)
			return ret;
		if (s.r.len > field || s.s.len > field)
			return P11A_E_FORMAT;
	} else {
		return P11A_E_KEY_TYPE;
	}
	if ((ret = proto_reader_end(&r)) != 0)
		return ret;
	*sig = s;
	return 0;
}
