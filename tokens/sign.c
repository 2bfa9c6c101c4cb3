/*
 * Signing a digest: RSA PKCS#1 v1.5 over a DigestInfo, RSA-PSS, ECDSA and
 * EdDSA.  When a token refuses PSS parameters but allows raw RSA, the PSS
 * encoding is made on the host (tokens/hostpad.c).
 */
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "tokens/hash.h"
#include "tokens/internal.h"
#include "tokens/op.h"

#define SIGN_MAX_INPUT 1024

static int
sign_once(struct tok_op *op, CK_MECHANISM *mech, const uint8_t *in,
          size_t in_len, uint8_t *sig, size_t *sig_len, CK_RV *rv_out,
          struct tok_err *err)
{
	CK_ULONG n = (CK_ULONG)*sig_len;
	CK_RV rv;
	int r;

	rv = op->fl->C_SignInit(op->s, mech, op->h);
	*rv_out = rv;
	if (rv != CKR_OK)
		return tok_op_fail(op, "C_SignInit", rv, err);
	if ((r = tok_key_context_login(op->key, op->s, err)) != 0) {
		/* End the operation the token still holds open. */
		op->fl->C_SignInit(op->s, NULL, op->h);
		return r;
	}
	rv = op->fl->C_Sign(op->s, (CK_BYTE_PTR)in, (CK_ULONG)in_len, sig, &n);
	*rv_out = rv;
	if (rv != CKR_OK)
		return tok_op_fail(op, "C_Sign", rv, err);
	*sig_len = n;
	return 0;
}

static int
sign_check(const struct tok_key *k, const struct tok_sign_params *p,
           size_t digest_len, size_t sig_len, struct tok_err *err)
{
	size_t want = tok_hash_len(p->hash);
	int rsa = p->mech == TOK_SIGN_RSA_PKCS1 || p->mech == TOK_SIGN_RSA_PSS;

	if (!(tok_key_flags(k) & TOK_KF_CAN_SIGN) ||
	    (rsa && k->type != TOK_KEY_RSA) ||
	    (p->mech == TOK_SIGN_ECDSA && k->type != TOK_KEY_EC) ||
	    (p->mech == TOK_SIGN_EDDSA && k->type != TOK_KEY_ED25519)) {
		tok_errf(err, "key '%s' cannot make this kind of signature",
		         tok_key_get0_label(k));
		return P11A_E_KEY_TYPE;
	}
	if (digest_len > SIGN_MAX_INPUT || (want != 0 && digest_len != want) ||
	    (want == 0 && p->mech == TOK_SIGN_RSA_PSS)) {
		tok_errf(err, "digest length %zu does not fit the hash",
		         digest_len);
		return P11A_E_FORMAT;
	}
	if (sig_len < tok_key_max_output(k)) {
		tok_errf(err, "signature buffer too small");
		return P11A_E_ARGS;
	}
	return 0;
}

static int
sign_pss(struct tok_op *op, const struct tok_sign_params *p,
         const uint8_t *digest, size_t digest_len, uint8_t *sig,
         size_t *sig_len, struct tok_err *err)
{
	struct tok_key *k = op->key;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_MECHANISM mech = {CKM_RSA_PKCS_PSS, &pss, sizeof(pss)};
	CK_MECHANISM raw = {CKM_RSA_X_509, NULL, 0};
	uint8_t em[SIGN_MAX_INPUT];
	size_t em_len = (k->bits + 7) / 8;
	CK_RV rv;
	int r;

	pss.hashAlg = tok_hash_ckm(p->hash);
	pss.mgf = tok_hash_mgf(p->mgf1_hash ? p->mgf1_hash : p->hash);
	pss.sLen = p->salt_len;
	r = sign_once(op, &mech, digest, digest_len, sig, sig_len, &rv, err);
	if (r == 0 || !tok_op_is_param_refusal(rv) ||
	    k->token->no_host_padding || em_len > sizeof(em))
		return r;
	if ((r = tok_hostpad_pss_pad(p, k, digest, digest_len, em, em_len)) !=
	    0) {
		tok_errf(err, "RSA-PSS with these parameters is not supported");
		return r;
	}
	tok_op_note_fallback(k, "RSA-PSS parameters");
	r = sign_once(op, &raw, em, em_len, sig, sig_len, &rv, err);
	return r;
}

static int
sign_dispatch(struct tok_op *op, const struct tok_sign_params *p,
              const uint8_t *digest, size_t digest_len, uint8_t *sig,
              size_t *sig_len, struct tok_err *err)
{
	CK_MECHANISM mech = {0, NULL, 0};
	uint8_t di[TOK_DIGEST_INFO_MAX];
	size_t di_len = sizeof(di);
	CK_RV rv;
	int r;

	switch (p->mech) {
	case TOK_SIGN_RSA_PKCS1:
		mech.mechanism = CKM_RSA_PKCS;
		if (p->hash == TOK_HASH_NONE)
			return sign_once(op, &mech, digest, digest_len, sig,
			                 sig_len, &rv, err);
		if ((r = tok_hash_digest_info(p->hash, digest, digest_len, di,
		                              &di_len)) != 0)
			return r;
		return sign_once(op, &mech, di, di_len, sig, sig_len, &rv, err);
	case TOK_SIGN_RSA_PSS:
		return sign_pss(op, p, digest, digest_len, sig, sig_len, err);
	case TOK_SIGN_ECDSA:
		mech.mechanism = CKM_ECDSA;
		return sign_once(op, &mech, digest, digest_len, sig, sig_len,
		                 &rv, err);
	case TOK_SIGN_EDDSA:
		mech.mechanism = CKM_EDDSA;
		return sign_once(op, &mech, digest, digest_len, sig, sig_len,
		                 &rv, err);
	}
	tok_errf(err, "unknown signature mechanism %d", (int)p->mech);
	return P11A_E_MECH_UNSUPPORTED;
}

int
tok_key_sign(struct tok_key *k, const struct tok_sign_params *p,
             const uint8_t *digest, size_t digest_len, uint8_t *sig,
             size_t *sig_len, struct tok_err *err)
{
	struct tok_op op;
	int r;

	if ((r = sign_check(k, p, digest_len, *sig_len, err)) != 0)
		return r;
	if ((r = tok_op_begin(k, &op, err)) == 0) {
		r = sign_dispatch(&op, p, digest, digest_len, sig, sig_len,
		                  err);
		/* A stale cached handle: look the key up once more. */
		if (r == P11A_E_KEY_NOT_FOUND) {
			tok_op_end(&op);
			if ((r = tok_op_begin(k, &op, err)) == 0)
				r = sign_dispatch(&op, p, digest, digest_len,
				                  sig, sig_len, err);
		}
	}
	tok_op_end(&op);
	return r;
}
