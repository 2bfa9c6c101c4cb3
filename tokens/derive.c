/*
 * ECDH key agreement (CKM_ECDH1_DERIVE with no KDF).  The shared secret
 * becomes a temporary session object that we read and destroy at once;
 * the KDF of CMS (X9.63 over ECC-CMS-SharedInfo) runs in the client.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>

#include "proto/err.h"
#include "tokens/internal.h"
#include "tokens/op.h"

static int
derive_once(struct tok_op *op, const uint8_t *peer, size_t peer_len,
            uint8_t *secret, size_t *secret_len, CK_RV *rv_out,
            struct tok_err *err)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_SENSITIVE, &no, sizeof(no)},
	    {CKA_EXTRACTABLE, &yes, sizeof(yes)},
	};
	CK_ECDH1_DERIVE_PARAMS params = {CKD_NULL, 0, NULL, (CK_ULONG)peer_len,
	                                 (CK_BYTE_PTR)peer};
	CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &params, sizeof(params)};
	CK_ATTRIBUTE value = {CKA_VALUE, secret, (CK_ULONG)*secret_len};
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
	CK_RV rv;
	int r;

	rv = op->fl->C_DeriveKey(op->s, &mech, op->h, tmpl,
	                         sizeof(tmpl) / sizeof(tmpl[0]), &obj);
	*rv_out = rv;
	if (rv != CKR_OK)
		return tok_op_fail(op, "C_DeriveKey", rv, err);
	rv = op->fl->C_GetAttributeValue(op->s, obj, &value, 1);
	r = rv == CKR_OK ? 0 : tok_op_fail(op, "C_GetAttributeValue", rv, err);
	if (r == 0)
		*secret_len = value.ulValueLen;
	op->fl->C_DestroyObject(op->s, obj);
	return r;
}

/* The peer point wrapped as a DER OCTET STRING, for modules that want it. */
static uint8_t *
derive_wrap_point(const uint8_t *peer, size_t peer_len, size_t *out_len)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	unsigned char *der = NULL;
	int n = -1;

	if (os != NULL && ASN1_OCTET_STRING_set(os, peer, (int)peer_len))
		n = i2d_ASN1_OCTET_STRING(os, &der);
	ASN1_OCTET_STRING_free(os);
	if (n <= 0)
		return NULL;
	*out_len = (size_t)n;
	return der;
}

int
tok_key_derive(struct tok_key *k, const uint8_t *peer, size_t peer_len,
               uint8_t *secret, size_t *secret_len, struct tok_err *err)
{
	struct tok_op op;
	uint8_t *wrapped;
	size_t wrapped_len = 0, cap = *secret_len;
	CK_RV rv = CKR_OK;
	int r;

	if (k->type != TOK_KEY_EC || !(tok_key_flags(k) & TOK_KF_CAN_DERIVE)) {
		tok_errf(err, "key '%s' cannot do key agreement",
		         tok_key_get0_label(k));
		return P11A_E_KEY_TYPE;
	}
	if (peer_len != k->ec_point_len || peer_len == 0 || peer[0] != 0x04) {
		tok_errf(err,
		         "peer public key is not an uncompressed point "
		         "on %s",
		         k->curve);
		return P11A_E_FORMAT;
	}
	if ((r = tok_op_begin(k, &op, err)) != 0)
		goto out;
	r = derive_once(&op, peer, peer_len, secret, secret_len, &rv, err);
	/*
	 * PKCS#11 2.40 leaves the encoding of the peer point open; some
	 * modules insist on the DER OCTET STRING form.
	 */
	if (r != 0 &&
	    (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID ||
	     rv == CKR_DOMAIN_PARAMS_INVALID)) {
		wrapped = derive_wrap_point(peer, peer_len, &wrapped_len);
		if (wrapped == NULL) {
			r = P11A_E_NOMEM;
			goto out;
		}
		*secret_len = cap;
		r = derive_once(&op, wrapped, wrapped_len, secret, secret_len,
		                &rv, err);
		OPENSSL_free(wrapped);
	}
out:
	tok_op_end(&op);
	return r;
}
