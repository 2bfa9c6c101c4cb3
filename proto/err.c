#include <stddef.h>

#include "err.h"

struct err_entry {
	const char *name;
	const char *text;
};

/* Indexed by -code. */
static const struct err_entry err_table[] = {
    {"ok", "success"},
    {"incomplete", "message incomplete"},
    {"format", "malformed message or argument"},
    {"too-large", "message too large (limit 256 KiB)"},
    {"no-memory", "out of memory"},
    {"pin-incorrect", "PIN incorrect"},
    {"pin-locked", "PIN locked on the token"},
    {"token-absent", "token not present"},
    {"key-not-found", "key not found"},
    {"agent-locked", "agent is locked"},
    {"mechanism-unsupported", "mechanism or parameters not supported"},
    {"login-required", "token login required"},
    {"token-error", "token or module failure"},
    {"pin-invalid", "PIN has an invalid length or characters"},
    {"internal", "internal error"},
    {"unknown-request", "unknown request"},
    {"denied", "request denied"},
    {"decrypt-failed", "ciphertext could not be decrypted with this key"},
    {"cancelled", "cancelled"},
    {"io", "input/output error"},
    {"no-agent", "no agent is running"},
    {"bad-argument", "bad argument"},
    {"already", "already in that state"},
    {"pin-expired", "PIN expired and must be changed"},
    {"key-type", "key type cannot do this operation"},
    {"bad-signature", "signature did not verify"},
};

static const struct err_entry *
err_lookup(int code)
{
	if (code > 0 || code < P11A_E_LAST)
		return NULL;
	return &err_table[-code];
}

const char *
p11a_strerror(int code)
{
	const struct err_entry *e = err_lookup(code);

	return e != NULL ? e->text : "unknown error";
}

const char *
p11a_errname(int code)
{
	const struct err_entry *e = err_lookup(code);

	return e != NULL ? e->name : "unknown";
}

_Static_assert(sizeof(err_table) / sizeof(err_table[0]) == 1 - P11A_E_LAST,
               "err_table must have one entry per code");
