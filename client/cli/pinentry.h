/*
 * Asking for a PIN or passphrase with a pinentry program (GnuPG's
 * pinentry-curses, -gtk, -gnome3, -qt, -tty...), for sessions without a
 * terminal.  The program is spawned with its standard input and output on
 * pipes and spoken to in Assuan: SETTITLE, SETDESC, SETPROMPT, GETPIN,
 * BYE.  The PIN comes back in "D" lines; every buffer that holds it is a
 * struct cli_secret.
 */
#ifndef P11AGENT_CLI_PINENTRY_H
#define P11AGENT_CLI_PINENTRY_H

#include <stddef.h>

#include "secret.h"

/* Program run when none is given (looked up in $PATH). */
#define CLI_PINENTRY_DEFAULT "pinentry"

struct cli_pinentry {
	const char *program; /* path, or a name looked up in $PATH */
	const char *title;   /* window title, or NULL */
	const char *desc;    /* the explanation shown above the entry */
	const char *prompt;  /* the label in front of the entry */
	/*
	 * When not NULL, a second GETPIN follows with this description, for
	 * a passphrase that must be typed twice; its answer goes to again.
	 */
	const char *repeat_desc;
	const char *ttyname; /* OPTION ttyname, or NULL */
	const char *ttytype; /* OPTION ttytype, or NULL */
};

/*
 * Runs pe->program and asks.  On success pin (and again, with
 * repeat_desc) hold what the user typed.  Returns 0,
 * P11AGENT_E_CANCELLED (the user cancelled, closed the window, or it
 * timed out), P11AGENT_E_TOO_LARGE, or P11AGENT_E_IO (the program could
 * not be run or broke the protocol).  On failure a sentence for the user
 * is written to err (errlen bytes; never holds a secret) and pin/again
 * are cleared.
 */
int cli_pinentry_get(const struct cli_pinentry *pe, struct cli_secret *pin,
                     struct cli_secret *again, char *err, size_t errlen);

/*
 * The conversation alone, with a pinentry that reads from wfd and writes
 * to rfd (already running): what cli_pinentry_get() does after spawning
 * it, and what the unit tests drive with canned answers.  Returns like
 * cli_pinentry_get(); sends BYE at the end but closes nothing.
 */
int cli_pinentry_converse(int rfd, int wfd, const struct cli_pinentry *pe,
                          struct cli_secret *pin, struct cli_secret *again,
                          char *err, size_t errlen);

#endif
