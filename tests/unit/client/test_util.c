/*
 * The pure helpers of p11: the JSON string escaper, terminal-safe text,
 * durations, exit codes, and reading a secret from a descriptor.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "p11agent.h"
#include "exit.h"
#include "secret.h"
#include "tests.h"
#include "util.h"

/* Escapes s (len bytes) and checks the whole result. */
static void
check_json(const char *s, size_t len, const char *want)
{
	char buf[512];
	size_t n;

	n = cli_json_escape(buf, sizeof(buf), s, len);
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void
test_json_plain(void **state)
{
	(void)state;
	check_json("", 0, "");
	check_json("hello world", 11, "hello world");
	check_json("a/b", 3, "a/b");
	check_json("pkcs11:token=x;id=%01", 21, "pkcs11:token=x;id=%01");
}

static void
test_json_specials(void **state)
{
	(void)state;
	check_json("\"", 1, "\\\"");
	check_json("\\", 1, "\\\\");
	check_json("say \"hi\"\\", 9, "say \\\"hi\\\"\\\\");
	check_json("\b\f\n\r\t", 5, "\\b\\f\\n\\r\\t");
	check_json("\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f");
	/* An embedded NUL is data like any other. */
	check_json("a\0b", 3, "a\\u0000b");
	/* JavaScript's line separators. */
	check_json("\xe2\x80\xa8\xe2\x80\xa9", 6, "\\u2028\\u2029");
}

static void
test_json_utf8(void **state)
{
	(void)state;
	/* Well-formed UTF-8 passes unchanged: 2, 3 and 4 bytes. */
	check_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* Invalid bytes become U+FFFD, one per byte. */
	check_json("\xff", 1, "\\ufffd");
	check_json("a\x80z", 3, "a\\ufffdz");
	/* Truncated sequence. */
	check_json("\xe2\x82", 2, "\\ufffd\\ufffd");
	/* Overlong '/', surrogate, above U+10FFFF. */
	check_json("\xc0\xaf", 2, "\\ufffd\\ufffd");
	check_json("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd");
	check_json("\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd");
	/* C1 controls are valid characters in JSON: kept. */
	check_json("\xc2\x9b", 2, "\xc2\x9b");
}

static void
test_json_truncation(void **state)
{
	char buf[8];
	size_t n;

	(void)state;
	/* snprintf() rules: whole length returned, output cut, NUL kept. */
	n = cli_json_escape(buf, sizeof(buf), "\"quoted\"", 8);
	assert_int_equal(n, 10);
	assert_string_equal(buf, "\\\"quote");
	n = cli_json_escape(NULL, 0, "\n", 1);
	assert_int_equal(n, 2);
	n = cli_json_escape(buf, 1, "abc", 3);
	assert_int_equal(n, 3);
	assert_string_equal(buf, "");
}

static void
test_json_string_file(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	char big[2000];

	(void)state;
	f = open_memstream(&out, &len);
	assert_non_null(f);
	cli_json_string(f, "a\"b\n\xff");
	fputc(' ', f);
	cli_json_string(f, NULL);
	fputc(' ', f);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[1000] = '"';
	cli_json_string(f, big);
	fclose(f);
	assert_int_equal(strncmp(out, "\"a\\\"b\\n\\ufffd\" null \"xxx", 24),
	                 0);
	/* 1999 characters, one of them escaped (two bytes), in quotes. */
	assert_int_equal(strlen(out), 14 + 6 + 2 + 2000);
	free(out);
}

static void
test_safe_text(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(cli_safe(buf, sizeof(buf), "plain"), "plain");
	assert_string_equal(cli_safe(buf, sizeof(buf), "a\x1b[2Jb"), "a?[2Jb");
	assert_string_equal(cli_safe(buf, sizeof(buf), "\xc3\xa9\xff\n"),
	                    "\xc3\xa9??");
	assert_string_equal(cli_safe(buf, sizeof(buf), NULL), "");
	/* Truncation never splits a character. */
	assert_string_equal(cli_safe(buf, 4, "ab\xc3\xa9"), "ab");
	assert_string_equal(cli_safe(buf, 5, "ab\xc3\xa9"), "ab\xc3\xa9");
	assert_int_equal(cli_text_width("ab\xc3\xa9\xe2\x82\xac"), 4);
}

static void
test_duration(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(cli_fmt_duration(buf, sizeof(buf), 0), "0s");
	assert_string_equal(cli_fmt_duration(buf, sizeof(buf), 59), "59s");
	assert_string_equal(cli_fmt_duration(buf, sizeof(buf), 61), "1m 1s");
	assert_string_equal(cli_fmt_duration(buf, sizeof(buf), 3600 * 8),
	                    "8h 0m");
	assert_string_equal(cli_fmt_duration(buf, sizeof(buf), 90061), "1d 1h");
	assert_string_equal(cli_fmt_time(buf, sizeof(buf), 0, 1),
	                    "1970-01-01 00:00:00Z");
	assert_string_equal(cli_fmt_time(buf, sizeof(buf), 1700000000, 1),
	                    "2023-11-14 22:13:20Z");
	assert_string_equal(cli_fmt_time(buf, sizeof(buf), UINT64_MAX, 1), "-");
}

static void
test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(cli_exit_code(0), P11_EXIT_OK);
	assert_int_equal(cli_exit_code(P11AGENT_E_NO_AGENT), 3);
	assert_int_equal(cli_exit_code(P11AGENT_E_PIN_INCORRECT), 4);
	assert_int_equal(cli_exit_code(P11AGENT_E_PIN_INVALID), 4);
	assert_int_equal(cli_exit_code(P11AGENT_E_KEY_NOT_FOUND), 5);
	assert_int_equal(cli_exit_code(P11AGENT_E_AGENT_LOCKED), 6);
	assert_int_equal(cli_exit_code(P11AGENT_E_LOGIN_REQUIRED), 7);
	assert_int_equal(cli_exit_code(P11AGENT_E_PIN_LOCKED), 8);
	assert_int_equal(cli_exit_code(P11AGENT_E_TOKEN_ABSENT), 9);
	assert_int_equal(cli_exit_code(P11AGENT_E_CANCELLED), 10);
	assert_int_equal(cli_exit_code(P11AGENT_E_MECH_UNSUPPORTED), 11);
	assert_int_equal(cli_exit_code(P11AGENT_E_UNKNOWN_REQUEST), 11);
	assert_int_equal(cli_exit_code(P11AGENT_E_DENIED), 12);
	assert_int_equal(cli_exit_code(P11AGENT_E_IO), 1);
	assert_int_equal(cli_exit_code(-999), 1);
}

/* Writes s to a new pipe and returns its reading end. */
static int
pipe_with(const char *s, size_t len)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], s, len), (ssize_t)len);
	close(p[1]);
	return p[0];
}

static void
test_secret_read_fd(void **state)
{
	struct cli_secret s;
	char rest[16];
	int fd;

	(void)state;
	assert_int_equal(cli_secret_init(&s), 0);
	/* One line, CRLF removed, the rest left unread. */
	fd = pipe_with("12 34\r\nnext", 11);
	assert_int_equal(cli_secret_read_fd(fd, &s), 0);
	assert_int_equal(s.len, 5);
	assert_string_equal(s.buf, "12 34");
	assert_int_equal(read(fd, rest, sizeof(rest)), 4);
	close(fd);
	/* No newline at the end: fine. */
	fd = pipe_with("654321", 6);
	assert_int_equal(cli_secret_read_fd(fd, &s), 0);
	assert_string_equal(s.buf, "654321");
	close(fd);
	/* Nothing at all: cancelled.  An empty line: an empty secret. */
	fd = pipe_with("", 0);
	assert_int_equal(cli_secret_read_fd(fd, &s), P11AGENT_E_CANCELLED);
	close(fd);
	fd = pipe_with("\n", 1);
	assert_int_equal(cli_secret_read_fd(fd, &s), 0);
	assert_int_equal(s.len, 0);
	close(fd);
	assert_int_equal(cli_secret_read_fd(-1, &s), P11AGENT_E_IO);
	cli_secret_cleanup(&s);
	cli_secret_cleanup(&s);
}

static void
test_secret_too_long(void **state)
{
	struct cli_secret s;
	char *big;
	int p[2];

	(void)state;
	big = malloc(CLI_SECRET_MAX + 10);
	assert_non_null(big);
	memset(big, '7', CLI_SECRET_MAX + 10);
	assert_int_equal(cli_secret_init(&s), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], big, CLI_SECRET_MAX + 10),
	                 CLI_SECRET_MAX + 10);
	close(p[1]);
	assert_int_equal(cli_secret_read_fd(p[0], &s), P11AGENT_E_TOO_LARGE);
	assert_int_equal(s.len, 0);
	assert_int_equal(s.buf[0], '\0');
	close(p[0]);
	/* Exactly the maximum is fine. */
	assert_int_equal(cli_secret_append(&s, big, CLI_SECRET_MAX), 0);
	assert_int_equal(cli_secret_append(&s, big, 1), P11AGENT_E_TOO_LARGE);
	assert_int_equal(s.len, 0);
	cli_secret_cleanup(&s);
	free(big);
}

int
run_util_tests(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_plain),
	    cmocka_unit_test(test_json_specials),
	    cmocka_unit_test(test_json_utf8),
	    cmocka_unit_test(test_json_truncation),
	    cmocka_unit_test(test_json_string_file),
	    cmocka_unit_test(test_safe_text),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_exit_codes),
	    cmocka_unit_test(test_secret_read_fd),
	    cmocka_unit_test(test_secret_too_long),
	};

	return cmocka_run_group_tests_name("client/util", tests, NULL, NULL);
}
