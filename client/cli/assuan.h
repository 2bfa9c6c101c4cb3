/*
 * The few pieces of the Assuan protocol that p11 needs to ask a pinentry
 * program (GnuPG's) for a PIN: percent escaping and parsing one response
 * line.  Pure functions; pinentry.c does the talking.
 *
 * An Assuan response line is one of
 *   OK [text]            the command succeeded
 *   ERR <code> [text]    it failed; code is a libgpg-error code
 *   D <data>             data, percent-escaped (%25 %0A %0D ...)
 *   S <keyword> [args]   status
 *   INQUIRE <keyword>    the server wants data from us
 *   # text               a comment
 * Lines are at most 1000 bytes, without the newline.
 */
#ifndef P11AGENT_CLI_ASSUAN_H
#define P11AGENT_CLI_ASSUAN_H

#include <stdbool.h>
#include <stddef.h>

/* Longest line, newline excluded (ASSUAN_LINELENGTH is 1002 with CRLF). */
#define CLI_ASSUAN_LINE_MAX 1000

enum cli_assuan_kind {
	CLI_ASSUAN_OK,
	CLI_ASSUAN_ERR,
	CLI_ASSUAN_DATA,
	CLI_ASSUAN_STATUS,
	CLI_ASSUAN_INQUIRE,
	CLI_ASSUAN_COMMENT,
};

struct cli_assuan_line {
	enum cli_assuan_kind kind;
	unsigned long err; /* ERR only: the gpg-error code */
	const char *arg;   /* what follows the keyword and one space; */
	size_t arg_len;    /* a view into the line, not NUL-terminated */
};

/*
 * Parses one response line (len bytes, newline already removed; a
 * trailing CR is tolerated).  Returns 0 with *out filled, or P11A_E_FORMAT
 * for anything else (unknown keyword, ERR without a number, a line longer
 * than CLI_ASSUAN_LINE_MAX).
 */
int cli_assuan_parse(const char *line, size_t len, struct cli_assuan_line *out);

/*
 * Decodes %XX escapes (hex, either case) of len bytes at in, appending to
 * out (cap bytes) after the *out_len bytes already there, and advances
 * *out_len.  Other bytes are copied.  Returns 0, P11A_E_FORMAT for a
 * truncated or non-hex escape, or P11A_E_TOO_LARGE when out is full (out
 * may then hold part of the result: the caller wipes it).  No NUL is
 * added; decoded NUL bytes are kept (the caller decides about them).
 */
int cli_assuan_unescape(const char *in, size_t len, char *out, size_t cap,
                        size_t *out_len);

/*
 * Escapes s for a command argument: '%', CR and LF become %25, %0D and
 * %0A (pinentry shows %0A as a line break).  Writes a NUL-terminated
 * string to out (cap bytes).  Returns 0 or P11A_E_TOO_LARGE.
 */
int cli_assuan_escape(const char *s, char *out, size_t cap);

/*
 * True when an ERR code means the user cancelled or closed the dialog or
 * it timed out (GPG_ERR_CANCELED, GPG_ERR_FULLY_CANCELED,
 * GPG_ERR_TIMEOUT), whatever the error source.
 */
bool cli_assuan_err_cancelled(unsigned long err);

#endif
