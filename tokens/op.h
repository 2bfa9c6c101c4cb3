/*
 * Shared scaffolding of tokens/ key operations (private to tokens/).
 */
#ifndef P11AGENT_TOKENS_OP_H
#define P11AGENT_TOKENS_OP_H

#include "tokens/internal.h"

struct tok_op {
	struct tok_key *key;
	CK_FUNCTION_LIST *fl;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h;
	int have_session;
	int broken;
};

/* Takes a session and finds the private key; errors are explained in err. */
int tok_op_begin(struct tok_key *k, struct tok_op *op, struct tok_err *err);
/* Gives the session back (closed instead when it broke). */
void tok_op_end(struct tok_op *op);
/* Maps a failed call, updates token state, explains it in err. */
int tok_op_fail(struct tok_op *op, const char *fn, CK_RV rv,
                struct tok_err *err);
/* The token refused the mechanism or its parameters. */
int tok_op_is_param_refusal(CK_RV rv);
/* Records (and logs once) that host padding replaced a token mechanism. */
void tok_op_note_fallback(struct tok_key *k, const char *what);

#endif
