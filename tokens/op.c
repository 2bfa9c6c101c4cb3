/*
 * What every private key operation shares: a pooled session, the private
 * key handle, and turning failures into errors that name the key.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "tokens/internal.h"
#include "tokens/op.h"

static int
op_find_private(struct tok_key *k, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[2] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_ID, k->id, k->id_len},
	};
	CK_FUNCTION_LIST *fl = k->token->mod->fl;
	CK_ULONG n = 0;
	CK_RV rv;

	rv = fl->C_FindObjectsInit(s, tmpl, 2);
	if (rv != CKR_OK)
		return tok_ck_fail("C_FindObjectsInit", rv, k->label);
	rv = fl->C_FindObjects(s, out, 1, &n);
	fl->C_FindObjectsFinal(s);
	if (rv != CKR_OK)
		return tok_ck_fail("C_FindObjects", rv, k->label);
	return n == 1 ? 0 : P11A_E_KEY_NOT_FOUND;
}

int
tok_key_handle(struct tok_key *k, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_HANDLE h = atomic_load(&k->handle);
	int r;

	if (h != CK_INVALID_HANDLE) {
		*out = h;
		return 0;
	}
	if ((r = op_find_private(k, s, &h)) != 0)
		return r;
	atomic_store(&k->handle, h);
	*out = h;
	return 0;
}

void
tok_key_forget_handle(struct tok_key *k)
{
	atomic_store(&k->handle, CK_INVALID_HANDLE);
}

int
tok_op_begin(struct tok_key *k, struct tok_op *op, struct tok_err *err)
{
	struct tok_token *t = k->token;
	int r;

	memset(op, 0, sizeof(*op));
	op->key = k;
	op->fl = t->mod->fl;
	if (!atomic_load(&t->present)) {
		tok_errf(err, "token '%s' is not present", t->label);
		return P11A_E_TOKEN_ABSENT;
	}
	if ((r = tok_pool_get(t, &op->s)) != 0) {
		tok_errf(err, "token '%s' is not available: %s", t->label,
		         p11a_strerror(r));
		return r;
	}
	op->have_session = 1;
	r = tok_key_handle(k, op->s, &op->h);
	if (r == P11A_E_KEY_NOT_FOUND && !atomic_load(&t->logged_in) &&
	    (t->ck_flags & CKF_LOGIN_REQUIRED)) {
		tok_errf(err, "login required for token '%s'", t->label);
		return P11A_E_LOGIN_REQUIRED;
	}
	if (r != 0)
		tok_errf(err, "private key '%s' not found on token '%s'",
		         tok_key_get0_label(k), t->label);
	return r;
}

void
tok_op_end(struct tok_op *op)
{
	if (op->have_session)
		tok_pool_put(op->key->token, op->s, op->broken);
	op->have_session = 0;
}

int
tok_op_fail(struct tok_op *op, const char *fn, CK_RV rv, struct tok_err *err)
{
	struct tok_key *k = op->key;
	struct tok_token *t = k->token;
	int r = tok_ck_fail(fn, rv, k->label);

	if (tok_pool_rv_breaks(rv))
		op->broken = 1;
	if (rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT) {
		atomic_store(&t->present, 0);
		atomic_store(&t->logged_in, 0);
	}
	if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID)
		tok_key_forget_handle(k);
	if (rv == CKR_USER_NOT_LOGGED_IN) {
		atomic_store(&t->logged_in, 0);
		tok_errf(err, "login required for token '%s'", t->label);
		return r;
	}
	tok_errf(err, "%s with key '%s' on token '%s' failed: %s (%s)", fn,
	         tok_key_get0_label(k), t->label, p11a_strerror(r),
	         tok_ck_name(rv));
	return r;
}

int
tok_op_is_param_refusal(CK_RV rv)
{
	return rv == CKR_MECHANISM_INVALID ||
	       rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_ARGUMENTS_BAD;
}

void
tok_op_note_fallback(struct tok_key *k, const char *what)
{
	if (atomic_exchange(&k->fallback_logged, 1) == 0)
		tok_log(
		    TOK_LOG_WARNING,
		    "token '%s' refused %s for key '%s': padding on the host "
		    "over raw RSA",
		    k->token->label, what, tok_key_get0_label(k));
	k->flags |= TOK_KF_HOST_PADDING_FALLBACK;
	/* Kept on the token too, so it survives rescans of the key list. */
	atomic_store(&k->token->host_padding_used, 1);
}
