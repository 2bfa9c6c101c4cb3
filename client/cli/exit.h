/*
 * Exit codes of p11.  They are part of the interface (scripts test them),
 * documented in `p11 --help`, docs/cli.md and p11(1): keep the numbers,
 * only ever add new ones.
 */
#ifndef P11AGENT_CLI_EXIT_H
#define P11AGENT_CLI_EXIT_H

enum p11_exit {
	P11_EXIT_OK = 0,             /* success */
	P11_EXIT_ERROR = 1,          /* any other failure */
	P11_EXIT_USAGE = 2,          /* bad command line */
	P11_EXIT_NO_AGENT = 3,       /* no agent, none could be started */
	P11_EXIT_PIN_INCORRECT = 4,  /* wrong (or malformed) PIN */
	P11_EXIT_KEY_NOT_FOUND = 5,  /* no such key */
	P11_EXIT_AGENT_LOCKED = 6,   /* agent locked: p11 unlock-agent */
	P11_EXIT_LOGIN_REQUIRED = 7, /* token not logged in: p11 unlock */
	P11_EXIT_PIN_LOCKED = 8,     /* PIN blocked on the token */
	P11_EXIT_TOKEN_ABSENT = 9,   /* token not present or not found */
	P11_EXIT_CANCELLED = 10,     /* PIN entry cancelled, nothing sent */
	P11_EXIT_UNSUPPORTED = 11,   /* agent or token cannot do that */
	P11_EXIT_DENIED = 12,        /* refused by the agent */
	/* S/MIME verdicts (p11 verify, p11 decrypt). */
	P11_EXIT_BAD_SIGNATURE = 20,     /* signature does not match */
	P11_EXIT_UNTRUSTED = 21,         /* no chain to a trusted root */
	P11_EXIT_EXPIRED = 22,           /* a certificate is out of date */
	P11_EXIT_REVOKED = 23,           /* a certificate is revoked */
	P11_EXIT_SENDER_MISMATCH = 24,   /* From: not in the certificate */
	P11_EXIT_NOT_SIGNED = 25,        /* no signature to check */
	P11_EXIT_MALFORMED = 26,         /* not a well-formed message */
	P11_EXIT_NOT_A_RECIPIENT = 27,   /* none of our keys can decrypt */
	P11_EXIT_INTEGRITY_FAILURE = 28, /* authenticated decryption failed */
};

/* Maps a negative P11A_E_* / P11AGENT_E_* code to an exit code. */
int cli_exit_code(int err);

#endif
