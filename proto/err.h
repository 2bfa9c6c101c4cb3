/*
 * Error codes shared by every layer of p11agent.
 *
 * Functions return int: 0 (P11A_OK) or a negative P11A_E_* code.  The
 * absolute value of a code is its stable wire number (docs/protocol.md):
 * codes are only ever appended, never renumbered.  P11A_E_INCOMPLETE never
 * leaves the process.
 */
#ifndef P11AGENT_PROTO_ERR_H
#define P11AGENT_PROTO_ERR_H

enum p11a_err {
	P11A_OK = 0,
	P11A_E_INCOMPLETE = -1,        /* need more bytes (in-process only) */
	P11A_E_FORMAT = -2,            /* malformed message or argument */
	P11A_E_TOO_LARGE = -3,         /* over the 256 KiB frame limit */
	P11A_E_NOMEM = -4,             /* out of memory */
	P11A_E_PIN_INCORRECT = -5,     /* wrong PIN; no retry was made */
	P11A_E_PIN_LOCKED = -6,        /* PIN blocked on the token */
	P11A_E_TOKEN_ABSENT = -7,      /* token removed or not found */
	P11A_E_KEY_NOT_FOUND = -8,     /* no such key */
	P11A_E_AGENT_LOCKED = -9,      /* agent locked with a passphrase */
	P11A_E_MECH_UNSUPPORTED = -10, /* mechanism or parameters refused */
	P11A_E_LOGIN_REQUIRED = -11,   /* the token needs a login first */
	P11A_E_TOKEN = -12,            /* other token or module failure */
	P11A_E_PIN_INVALID = -13,      /* PIN of the wrong length or charset */
	P11A_E_INTERNAL = -14,         /* bug or impossible state */
	P11A_E_UNKNOWN_REQUEST = -15,  /* request type not known */
	P11A_E_DENIED = -16,           /* refused by policy */
	P11A_E_DECRYPT = -17,          /* ciphertext invalid for this key */
	P11A_E_CANCELLED = -18,        /* user or shutdown cancelled it */
	P11A_E_IO = -19,               /* socket or file I/O failed */
	P11A_E_NO_AGENT = -20,         /* no agent answers on the socket */
	P11A_E_ARGS = -21,             /* bad argument from the caller */
	P11A_E_ALREADY = -22,          /* already in that state (e.g. exists) */
	P11A_E_PIN_EXPIRED = -23,      /* PIN must be changed first */
	P11A_E_KEY_TYPE = -24,         /* key cannot do this operation */
	P11A_E_SIGNATURE = -25,        /* signature did not verify */
};

/* Lowest (most negative) code currently defined. */
#define P11A_E_LAST P11A_E_SIGNATURE

/*
 * Returns a static, human sentence for a code.  Unknown codes (for instance
 * from a newer agent) get a generic sentence; never NULL.
 */
const char *p11a_strerror(int code);

/*
 * Returns the short stable name of a code ("pin-incorrect"), for JSON and
 * logs; "unknown" for codes this build does not know.
 */
const char *p11a_errname(int code);

#endif
