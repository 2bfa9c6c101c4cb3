/*
 * Pure helpers of the p11 command line, built into a static library of
 * their own so that unit tests can reach them: JSON strings, terminal-safe
 * text, dates and durations, and the error-to-exit-code map (exit.h).
 */
#ifndef P11AGENT_CLI_UTIL_H
#define P11AGENT_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/*
 * Escapes len bytes of s as the inside of a JSON string (RFC 8259, no
 * quotes added) into dst (cap bytes; dst may be NULL when cap is 0).  '"'
 * and '\' get a backslash, control characters (and DEL) become \n, \t...
 * or \u00XX, U+2028 and U+2029 become \u2028 and \u2029 (for JavaScript),
 * and bytes that are not well-formed UTF-8 become \ufffd, so the result
 * is always valid JSON whatever s holds.  Like snprintf(), returns the
 * length of the whole escaped text and writes at most cap - 1 bytes and a
 * NUL (when cap > 0).
 */
size_t cli_json_escape(char *dst, size_t cap, const char *s, size_t len);

/* Writes s (NULL as null) to f as a quoted JSON string. */
void cli_json_string(FILE *f, const char *s);

/*
 * Copies untrusted text into dst (cap bytes) for printing on a terminal:
 * control characters and invalid UTF-8 become '?'.  Returns dst.
 */
char *cli_safe(char *dst, size_t cap, const char *s);

/* Number of terminal columns s takes (UTF-8 characters; all width 1). */
size_t cli_text_width(const char *s);

/*
 * Formats seconds as a short duration: "45s", "12m 5s", "3h 4m",
 * "2d 5h".  Returns dst.
 */
char *cli_fmt_duration(char *dst, size_t cap, uint64_t secs);

/*
 * Formats unix seconds as local "YYYY-MM-DD HH:MM:SS" (utc != 0: UTC and
 * a trailing "Z").  Returns dst ("-" when t does not fit a time_t).
 */
char *cli_fmt_time(char *dst, size_t cap, uint64_t t, int utc);

#endif
