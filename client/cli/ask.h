/*
 * Asking the user for a PIN or passphrase (ask.c).
 */
#ifndef P11AGENT_CLI_ASK_H
#define P11AGENT_CLI_ASK_H

#include <stddef.h>

#include "secret.h"

struct cli_ask {
	const char *what;     /* "PIN" or "passphrase", for messages */
	int fd;               /* read one line from here when >= 0 */
	const char *pinentry; /* --pinentry: use this program, not the tty */
	const char *prompt;   /* terminal prompt, e.g. "PIN for X: " */
	const char *desc;     /* pinentry description */
	const char *pinentry_prompt; /* pinentry label, e.g. "PIN:" */
	const char *notice; /* warning shown first (final try), or NULL */
	/* For a new passphrase: ask again and compare.  NULL: ask once. */
	const char *repeat_prompt; /* terminal */
	const char *repeat_desc;   /* pinentry */
};

/*
 * Reads a secret into out (initialised by the caller): from a->fd when it
 * is >= 0, else from the terminal when there is one and no pinentry was
 * asked for, else from a pinentry program.  An empty answer counts as
 * cancelled, because an empty PIN would mean "use the PIN pad".  Returns
 * 0, or a negative code with a sentence in err (errlen bytes); out is
 * then cleared.
 */
int cli_ask_secret(const struct cli_ask *a, struct cli_secret *out, char *err,
                   size_t errlen);

#endif
