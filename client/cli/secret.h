/*
 * Reading PINs and passphrases: from the terminal without echo, from a
 * file descriptor (--pin-fd), or from a pinentry program (pinentry.c).
 *
 * A secret lives in a struct cli_secret: one page of its own, locked in
 * memory (mlock) and left out of core dumps (MADV_DONTDUMP), wiped with
 * OPENSSL_cleanse() when cleaned up.  The first cli_secret_init() also
 * makes the process non-dumpable, so that other programs of the same user
 * cannot read the PIN with ptrace.  A PIN is never put in argv, the
 * environment or an error message.
 */
#ifndef P11AGENT_CLI_SECRET_H
#define P11AGENT_CLI_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Longest secret accepted, in bytes. */
#define CLI_SECRET_MAX 1024

struct cli_secret {
	char *buf;   /* NUL-terminated, cap bytes */
	size_t len;  /* bytes of secret */
	size_t cap;  /* allocated bytes (a whole page) */
	bool locked; /* mlock() succeeded */
};

/* Allocates the page.  Returns 0 or P11AGENT_E_NOMEM. */
int cli_secret_init(struct cli_secret *s);

/* Wipes, unlocks and frees; the struct may be initialised again. */
void cli_secret_cleanup(struct cli_secret *s);

/* Wipes the contents, keeping the page. */
void cli_secret_clear(struct cli_secret *s);

/*
 * Appends n bytes.  Returns 0, or P11AGENT_E_TOO_LARGE past
 * CLI_SECRET_MAX (the secret is then cleared).
 */
int cli_secret_append(struct cli_secret *s, const char *p, size_t n);

/*
 * Reads one line from fd into s, without the line end ("\n" or "\r\n");
 * end of file ends the line too.  Reads byte by byte so that nothing after
 * the line is consumed.  Returns 0, P11AGENT_E_CANCELLED when fd is at end
 * of file before any byte, P11AGENT_E_TOO_LARGE, or P11AGENT_E_IO (errno
 * set).
 */
int cli_secret_read_fd(int fd, struct cli_secret *s);

/* True when the process has a controlling terminal to prompt on. */
bool cli_have_tty(void);

/*
 * Prints prompt on /dev/tty and reads a line with echo off.  Terminal
 * settings are restored on every path, also when a signal arrives: the
 * signal is delivered again after the restore (as readpassphrase(3)
 * does), and after a stop (^Z) and continue the prompt starts over.
 * Returns 0, P11AGENT_E_CANCELLED (end of file, or a signal that did not
 * kill us), P11AGENT_E_TOO_LARGE or P11AGENT_E_IO.
 */
int cli_secret_read_tty(const char *prompt, struct cli_secret *s);

#endif
