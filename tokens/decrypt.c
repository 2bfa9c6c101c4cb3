/*
 * RSA decryption: PKCS#1 v1.5 and OAEP on the token.  SoftHSM 2.6 (and
 * some cards) accept OAEP only with SHA-1 and no label; then, unless
 * switched off, the token does raw RSA and the OAEP decoding runs on the
 * host with OpenSSL's constant-time code (tokens/hostpad.c).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "proto/err.h"
#include "tokens/internal.h"
#include "tokens/op.h"

#define DECRYPT_MAX_MODULUS 1024 /* 8192-bit keys */

/*
 * Whatever made C_Decrypt refuse the ciphertext (bad padding, wrong key,
 * SoftHSM's CKR_GENERAL_ERROR for bad OAEP padding), the client hears one
 * and the same answer: different answers would be a padding oracle.
 * Token and login problems keep their own errors.
 */
static int
decrypt_uniform_error(struct tok_op *op, int r, struct tok_err *err)
{
	if (r == P11A_E_LOGIN_REQUIRED || r == P11A_E_TOKEN_ABSENT ||
	    r == P11A_E_NOMEM || op->broken)
		return r;
	tok_errf(err, "ciphertext does not decrypt with key '%s'",
	         tok_key_get0_label(op->key));
	return P11A_E_DECRYPT;
}

static int
decrypt_once(struct tok_op *op, CK_MECHANISM *mech, const uint8_t *ct,
             size_t ct_len, uint8_t *pt, size_t *pt_len, CK_RV *rv_out,
             struct tok_err *err)
{
	CK_ULONG n = (CK_ULONG)*pt_len;
	CK_RV rv;
	int r;

	rv = op->fl->C_DecryptInit(op->s, mech, op->h);
	*rv_out = rv;
	if (rv != CKR_OK)
		return tok_op_fail(op, "C_DecryptInit", rv, err);
	if ((r = tok_key_context_login(op->key, op->s, err)) != 0) {
		op->fl->C_DecryptInit(op->s, NULL, op->h);
		return r;
	}
	rv =
	    op->fl->C_Decrypt(op->s, (CK_BYTE_PTR)ct, (CK_ULONG)ct_len, pt, &n);
	*rv_out = rv;
	if (rv != CKR_OK)
		return decrypt_uniform_error(
		    op, tok_op_fail(op, "C_Decrypt", rv, err), err);
	*pt_len = n;
	return 0;
}

static int
decrypt_oaep_on_host(struct tok_op *op, const struct tok_decrypt_params *p,
                     const uint8_t *ct, size_t ct_len, uint8_t *pt,
                     size_t *pt_len, struct tok_err *err)
{
	struct tok_key *k = op->key;
	CK_MECHANISM raw = {CKM_RSA_X_509, NULL, 0};
	uint8_t em[DECRYPT_MAX_MODULUS];
	size_t em_len = sizeof(em);
	unsigned mod_bytes = (k->bits + 7) / 8;
	CK_RV rv;
	int r;

	if (mod_bytes > sizeof(em))
		return P11A_E_MECH_UNSUPPORTED;
	tok_op_note_fallback(k, "RSA-OAEP parameters");
	r = decrypt_once(op, &raw, ct, ct_len, em, &em_len, &rv, err);
	if (r == 0) {
		r = tok_hostpad_oaep_unpad(p, mod_bytes, em, em_len, pt,
		                           pt_len);
		if (r != 0)
			r = decrypt_uniform_error(op, P11A_E_DECRYPT, err);
	}
	OPENSSL_cleanse(em, sizeof(em));
	return r;
}

static int
decrypt_dispatch(struct tok_op *op, const struct tok_decrypt_params *p,
                 const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t *pt_len,
                 struct tok_err *err)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	struct tok_token *t = op->key->token;
	CK_RV rv = CKR_OK;
	int r;

	if (p->padding == TOK_PAD_PKCS1)
		return decrypt_once(op, &mech, ct, ct_len, pt, pt_len, &rv,
		                    err);
	if (p->padding != TOK_PAD_OAEP) {
		tok_errf(err, "unknown padding %d", (int)p->padding);
		return P11A_E_MECH_UNSUPPORTED;
	}
	oaep.hashAlg = tok_hash_ckm(p->oaep_hash);
	oaep.mgf = tok_hash_mgf(p->mgf1_hash ? p->mgf1_hash : p->oaep_hash);
	oaep.source = CKZ_DATA_SPECIFIED;
	oaep.pSourceData = p->label_len > 0 ? (void *)p->label : NULL;
	oaep.ulSourceDataLen = p->label_len;
	if (oaep.hashAlg == CK_UNAVAILABLE_INFORMATION || oaep.mgf == 0) {
		tok_errf(err, "unknown OAEP hash");
		return P11A_E_MECH_UNSUPPORTED;
	}
	mech.mechanism = CKM_RSA_PKCS_OAEP;
	mech.pParameter = &oaep;
	mech.ulParameterLen = sizeof(oaep);
	if (atomic_load(&t->oaep_label_on_host) && p->label_len > 0 &&
	    !t->no_host_padding)
		return decrypt_oaep_on_host(op, p, ct, ct_len, pt, pt_len, err);
	r = decrypt_once(op, &mech, ct, ct_len, pt, pt_len, &rv, err);
	if (r == 0 || t->no_host_padding)
		return r;
	if (tok_op_is_param_refusal(rv))
		return decrypt_oaep_on_host(op, p, ct, ct_len, pt, pt_len, err);
	/*
	 * SoftHSM 2.6 takes an OAEP label at C_DecryptInit and then fails
	 * every C_Decrypt (CKR_GENERAL_ERROR).  Try the host once; if that
	 * works, the token's labels are broken and the host does them from
	 * now on.  Either way the caller hears one uniform answer.
	 */
	if (p->label_len > 0 && r == P11A_E_DECRYPT && !op->broken &&
	    (r = decrypt_oaep_on_host(op, p, ct, ct_len, pt, pt_len, err)) == 0)
		atomic_store(&t->oaep_label_on_host, 1);
	return r;
}

int
tok_key_decrypt(struct tok_key *k, const struct tok_decrypt_params *p,
                const uint8_t *ct, size_t ct_len, uint8_t *pt, size_t *pt_len,
                struct tok_err *err)
{
	struct tok_op op;
	int r;

	if (k->type != TOK_KEY_RSA ||
	    !(tok_key_flags(k) & TOK_KF_CAN_DECRYPT)) {
		tok_errf(err, "key '%s' cannot decrypt", tok_key_get0_label(k));
		return P11A_E_KEY_TYPE;
	}
	if (ct_len != (k->bits + 7) / 8) {
		tok_errf(err, "ciphertext is %zu bytes; key '%s' needs %u",
		         ct_len, tok_key_get0_label(k), (k->bits + 7) / 8);
		return P11A_E_DECRYPT;
	}
	if (*pt_len < ct_len) {
		tok_errf(err, "plaintext buffer too small");
		return P11A_E_ARGS;
	}
	if ((r = tok_op_begin(k, &op, err)) == 0)
		r = decrypt_dispatch(&op, p, ct, ct_len, pt, pt_len, err);
	tok_op_end(&op);
	if (r == P11A_E_FORMAT)
		r = P11A_E_DECRYPT; /* CKR_DATA_INVALID etc.: not for us */
	return r;
}
