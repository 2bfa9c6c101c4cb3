/*
 * Shared helpers of the proto/ unit tests.
 */
#ifndef P11AGENT_TESTS_UNIT_PROTO_HELPERS_H
#define P11AGENT_TESTS_UNIT_PROTO_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"

/*
 * A decoder under test: returns what the decoder returned (0 on success),
 * after checking whatever it can about a successful result.
 */
typedef int (*body_fn)(const uint8_t *body, size_t len, void *ctx);

/* Named in failure messages of the checks below (may be NULL). */
extern const char *check_label;

/*
 * Copies len bytes into a heap buffer of exactly that size, so that
 * AddressSanitizer reports any read past the end.  Never NULL.
 */
uint8_t *dup_exact(const void *p, size_t len);

/*
 * Runs fn over every strict prefix of body (each in an exact-size copy)
 * and fails the test unless fn returns non-zero for each, except for the
 * prefix of length allow_len (SIZE_MAX: none).
 */
void check_truncations(const uint8_t *body, size_t len, body_fn fn, void *ctx,
                       size_t allow_len);

/*
 * Runs fn over every single-bit flip of body.  Any return value is fine;
 * crashes and sanitizer reports are not.  Returns how many flips decoded.
 */
size_t check_bitflips(const uint8_t *body, size_t len, body_fn fn, void *ctx);

/* Runs fn over body followed by one extra byte; fails unless non-zero. */
void check_trailing(const uint8_t *body, size_t len, body_fn fn, void *ctx);

/* Test groups, one per source file. */
int run_buf_tests(void);
int run_err_tests(void);
int run_frame_tests(void);
int run_msg_tests(void);
int run_sshkey_tests(void);

#endif
