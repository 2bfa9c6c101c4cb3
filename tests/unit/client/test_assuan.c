/*
 * Assuan for pinentry: parsing canned response lines, percent escaping,
 * and whole conversations with a fake pinentry (a thread on pipes, and a
 * shell script spawned like the real program).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "p11agent.h"
#include "assuan.h"
#include "pinentry.h"
#include "secret.h"
#include "tests.h"

static void
parse_ok(const char *line, enum cli_assuan_kind kind, const char *arg)
{
	struct cli_assuan_line l;

	assert_int_equal(cli_assuan_parse(line, strlen(line), &l), 0);
	assert_int_equal(l.kind, kind);
	assert_int_equal(l.arg_len, strlen(arg));
	assert_memory_equal(l.arg, arg, l.arg_len);
}

static void
parse_bad(const char *line)
{
	struct cli_assuan_line l;

	assert_int_equal(cli_assuan_parse(line, strlen(line), &l),
	                 P11AGENT_E_FORMAT);
}

static void
test_parse(void **state)
{
	struct cli_assuan_line l;
	const char *line;
	char big[1100];

	(void)state;
	parse_ok("OK", CLI_ASSUAN_OK, "");
	parse_ok("OK Pleased to meet you", CLI_ASSUAN_OK,
	         "Pleased to meet you");
	parse_ok("OK Pleased\r", CLI_ASSUAN_OK, "Pleased");
	parse_ok("D 1234", CLI_ASSUAN_DATA, "1234");
	parse_ok("D ", CLI_ASSUAN_DATA, "");
	parse_ok("D %25%0A", CLI_ASSUAN_DATA, "%25%0A");
	parse_ok("S PIN_REPEATED", CLI_ASSUAN_STATUS, "PIN_REPEATED");
	parse_ok("INQUIRE QUALITY 1234", CLI_ASSUAN_INQUIRE, "QUALITY 1234");
	parse_ok("# just a comment", CLI_ASSUAN_COMMENT, " just a comment");
	parse_ok("#", CLI_ASSUAN_COMMENT, "");

	line = "ERR 83886179 Operation cancelled <Pinentry>";
	assert_int_equal(cli_assuan_parse(line, strlen(line), &l), 0);
	assert_int_equal(l.kind, CLI_ASSUAN_ERR);
	assert_int_equal(l.err, 83886179);
	assert_int_equal(l.arg_len, 30);
	assert_memory_equal(l.arg, "Operation cancelled <Pinentry>", 30);
	assert_int_equal(cli_assuan_parse("ERR 5", 5, &l), 0);
	assert_int_equal(l.err, 5);
	assert_int_equal(l.arg_len, 0);

	parse_bad("");
	parse_bad("OKAY");
	parse_bad("ok");
	parse_bad("DATA x");
	parse_bad("ERR");
	parse_bad("ERR x");
	parse_bad("ERR 12x");
	parse_bad("ERR 99999999999999999999 overflow");
	parse_bad("INQUIREX");
	memset(big, 'x', sizeof(big));
	big[0] = 'D';
	big[1] = ' ';
	assert_int_equal(cli_assuan_parse(big, 1000, &l), 0);
	assert_int_equal(cli_assuan_parse(big, 1001, &l), P11AGENT_E_FORMAT);
}

static void
test_unescape(void **state)
{
	char out[16];
	size_t n = 0;

	(void)state;
	assert_int_equal(
	    cli_assuan_unescape("a%25b%0a%0D%7e", 14, out, sizeof(out), &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "a%b\n\r~", 6);
	/* Appends after what is there. */
	assert_int_equal(cli_assuan_unescape("xy", 2, out, sizeof(out), &n), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "a%b\n\r~xy", 8);
	/* A decoded NUL is kept: the caller decides. */
	n = 0;
	assert_int_equal(cli_assuan_unescape("%00", 3, out, sizeof(out), &n),
	                 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], '\0');
	/* Truncated and non-hex escapes. */
	n = 0;
	assert_int_equal(cli_assuan_unescape("ab%2", 4, out, sizeof(out), &n),
	                 P11AGENT_E_FORMAT);
	n = 0;
	assert_int_equal(cli_assuan_unescape("%", 1, out, sizeof(out), &n),
	                 P11AGENT_E_FORMAT);
	n = 0;
	assert_int_equal(cli_assuan_unescape("%g1", 3, out, sizeof(out), &n),
	                 P11AGENT_E_FORMAT);
	n = 0;
	assert_int_equal(cli_assuan_unescape("%1 ", 3, out, sizeof(out), &n),
	                 P11AGENT_E_FORMAT);
	/* Full. */
	n = 0;
	assert_int_equal(cli_assuan_unescape("12345", 5, out, 4, &n),
	                 P11AGENT_E_TOO_LARGE);
	assert_int_equal(n, 4);
	n = 0;
	assert_int_equal(cli_assuan_unescape("1234", 4, out, 4, &n), 0);
}

static void
test_escape(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(cli_assuan_escape("PIN for \"x\":", out, sizeof(out)),
	                 0);
	assert_string_equal(out, "PIN for \"x\":");
	assert_int_equal(cli_assuan_escape("100%\nsure\r", out, sizeof(out)),
	                 0);
	assert_string_equal(out, "100%25%0Asure%0D");
	assert_int_equal(cli_assuan_escape("abc", out, 4), 0);
	assert_int_equal(cli_assuan_escape("abcd", out, 4),
	                 P11AGENT_E_TOO_LARGE);
	assert_string_equal(out, "");
	assert_int_equal(cli_assuan_escape("%", out, 3), P11AGENT_E_TOO_LARGE);
	assert_int_equal(cli_assuan_escape("", out, 0), P11AGENT_E_TOO_LARGE);
}

static void
test_cancelled(void **state)
{
	(void)state;
	assert_true(cli_assuan_err_cancelled(83886179)); /* pinentry, 99 */
	assert_true(cli_assuan_err_cancelled(99));
	assert_true(cli_assuan_err_cancelled(83886278)); /* fully, 198 */
	assert_true(cli_assuan_err_cancelled(83886142)); /* timeout, 62 */
	assert_false(cli_assuan_err_cancelled(83886081));
	assert_false(cli_assuan_err_cancelled(0));
}

/* A fake pinentry in a thread. */

struct fake_pe {
	int rfd, wfd;         /* its ends: reads commands, writes answers */
	const char *greeting; /* written first */
	/*
	 * Answers to the first and second GETPIN; a '|' in one means "read
	 * (and log) one line from the client here, then go on".
	 */
	const char *getpin[2];
	unsigned ngetpin;
	char log[4096]; /* the commands received, one per line */
	size_t loglen;
};

static bool
pe_readline(struct fake_pe *pe, char *line, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(pe->rfd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		if (c == '\n')
			break;
		if (n + 1 < cap)
			line[n++] = c;
	}
	line[n] = '\0';
	if (pe->loglen + n + 2 < sizeof(pe->log)) {
		memcpy(pe->log + pe->loglen, line, n);
		pe->loglen += n;
		pe->log[pe->loglen++] = '\n';
		pe->log[pe->loglen] = '\0';
	}
	return true;
}

static void
pe_write(struct fake_pe *pe, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(pe->wfd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void *
fake_pe_main(void *arg)
{
	struct fake_pe *pe = arg;
	const char *ans, *bar;
	char line[1100];

	pe_write(pe, pe->greeting, strlen(pe->greeting));
	while (pe_readline(pe, line, sizeof(line))) {
		if (strcmp(line, "BYE") == 0) {
			pe_write(pe, "OK closing connection\n", 22);
			break;
		}
		if (strcmp(line, "GETPIN") != 0) {
			pe_write(pe, "OK\n", 3);
			continue;
		}
		ans = pe->ngetpin < 2 ? pe->getpin[pe->ngetpin++] : NULL;
		if (ans == NULL)
			ans = "ERR 83886179 Operation cancelled\n";
		while ((bar = strchr(ans, '|')) != NULL) {
			pe_write(pe, ans, (size_t)(bar - ans));
			if (!pe_readline(pe, line, sizeof(line)))
				goto out;
			ans = bar + 1;
		}
		pe_write(pe, ans, strlen(ans));
		/* An answer cut short: the program died. */
		if (ans[0] != '\0' && ans[strlen(ans) - 1] != '\n')
			break;
	}
out:
	close(pe->rfd);
	close(pe->wfd);
	return NULL;
}

/* Runs one conversation against the fake; returns what converse did. */
static int
converse(struct fake_pe *pe, const struct cli_pinentry *opts,
         struct cli_secret *pin, struct cli_secret *again, char *err,
         size_t errlen)
{
	int to_pe[2], from_pe[2], r;
	pthread_t t;

	assert_int_equal(pipe(to_pe), 0);
	assert_int_equal(pipe(from_pe), 0);
	pe->rfd = to_pe[0];
	pe->wfd = from_pe[1];
	assert_int_equal(pthread_create(&t, NULL, fake_pe_main, pe), 0);
	r = cli_pinentry_converse(from_pe[0], to_pe[1], opts, pin, again, err,
	                          errlen);
	close(to_pe[1]);
	close(from_pe[0]);
	assert_int_equal(pthread_join(t, NULL), 0);
	return r;
}

static const struct cli_pinentry pe_opts = {
    .program = NULL,
    .title = "p11",
    .desc = "Enter the PIN of \"tok\"\n100% sure",
    .prompt = "PIN:",
    .repeat_desc = NULL,
    .ttyname = "/dev/pts/9",
    .ttytype = "xterm",
};

static void
test_pinentry_getpin(void **state)
{
	struct fake_pe pe = {
	    .greeting = "OK Pleased to meet you\n",
	    .getpin = {"S SOMETHING\n# comment\nD 12%2534%0A\nD 56\nOK\n"},
	};
	struct cli_secret pin;
	char err[128];

	(void)state;
	assert_int_equal(cli_secret_init(&pin), 0);
	assert_int_equal(converse(&pe, &pe_opts, &pin, NULL, err, sizeof(err)),
	                 0);
	assert_int_equal(pin.len, 8);
	assert_string_equal(pin.buf, "12%34\n56");
	assert_string_equal(pe.log,
	                    "OPTION ttyname=/dev/pts/9\n"
	                    "OPTION ttytype=xterm\n"
	                    "SETTITLE p11\n"
	                    "SETDESC Enter the PIN of \"tok\"%0A100%25 sure\n"
	                    "SETPROMPT PIN:\n"
	                    "GETPIN\n"
	                    "BYE\n");
	cli_secret_cleanup(&pin);
}

static void
test_pinentry_repeat_and_inquire(void **state)
{
	struct fake_pe pe = {
	    .greeting = "# hello\nOK\n",
	    .getpin = {"INQUIRE QUALITY 1\n|D secret\nOK\n", "D secret\nOK\n"},
	};
	struct cli_pinentry opts = pe_opts;
	struct cli_secret pin, again;
	char err[128];

	(void)state;
	opts.repeat_desc = "Again, please";
	opts.ttyname = NULL;
	opts.ttytype = NULL;
	opts.title = NULL;
	assert_int_equal(cli_secret_init(&pin), 0);
	assert_int_equal(cli_secret_init(&again), 0);
	assert_int_equal(converse(&pe, &opts, &pin, &again, err, sizeof(err)),
	                 0);
	assert_string_equal(pin.buf, "secret");
	assert_string_equal(again.buf, "secret");
	/* We answered the INQUIRE with CAN. */
	assert_string_equal(pe.log,
	                    "SETDESC Enter the PIN of \"tok\"%0A100%25 sure\n"
	                    "SETPROMPT PIN:\n"
	                    "GETPIN\n"
	                    "CAN\n"
	                    "SETDESC Again, please\n"
	                    "GETPIN\n"
	                    "BYE\n");
	cli_secret_cleanup(&pin);
	cli_secret_cleanup(&again);
}

static void
check_fails(const char *greeting, const char *getpin, int want,
            const char *want_err)
{
	struct fake_pe pe;
	struct cli_secret pin;
	char err[128];

	memset(&pe, 0, sizeof(pe));
	pe.greeting = greeting;
	pe.getpin[0] = getpin;
	assert_int_equal(cli_secret_init(&pin), 0);
	assert_int_equal(converse(&pe, &pe_opts, &pin, NULL, err, sizeof(err)),
	                 want);
	/* Nothing of a failed entry is kept. */
	assert_int_equal(pin.len, 0);
	assert_int_equal(pin.buf[0], '\0');
	if (strstr(err, want_err) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want_err);
	cli_secret_cleanup(&pin);
}

static void
test_pinentry_failures(void **state)
{
	(void)state;
	/* The user cancels. */
	check_fails("OK\n", "ERR 83886179 Operation cancelled <Pinentry>\n",
	            P11AGENT_E_CANCELLED, "cancelled");
	/* Some other error, its text shown. */
	check_fails("OK\n", "ERR 83886360 No pinentry\n", P11AGENT_E_IO,
	            "No pinentry");
	/* Data before the error is wiped too. */
	check_fails("OK\n", "D 1234\nERR 83886179 cancelled\n",
	            P11AGENT_E_CANCELLED, "cancelled");
	/* No greeting. */
	check_fails("ERR 1 go away\n", NULL, P11AGENT_E_IO, "greet");
	/* Gone in the middle of an answer. */
	check_fails("OK\n", "D 12", P11AGENT_E_IO, "exited");
	/* Garbage. */
	check_fails("OK\n", "HELLO\n", P11AGENT_E_IO, "malformed");
	check_fails("OK\n", "D 12%zz\nOK\n", P11AGENT_E_IO, "malformed");
	check_fails("OK\n", "D 12%0034\nOK\n", P11AGENT_E_PIN_INVALID, "NUL");
}

/* Writes an executable script into dir and returns its path (static). */
static const char *
write_script(const char *dir, const char *name, const char *body)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0700), 0);
	return path;
}

/* The real path: spawn a program and talk to it over pipes. */
static void
test_pinentry_spawn(void **state)
{
	char dir[] = "/tmp/p11a-pe-XXXXXX", err[256], path[300];
	struct cli_pinentry opts = pe_opts;
	struct cli_secret pin;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cli_secret_init(&pin), 0);
	opts.program =
	    write_script(dir, "pinentry-ok",
	                 "#!/bin/sh\n"
	                 "echo 'OK Pleased to meet you'\n"
	                 "while IFS= read -r line; do\n"
	                 "  case \"$line\" in\n"
	                 "  GETPIN) printf 'D s%%25cret\\nOK\\n' ;;\n"
	                 "  BYE) echo 'OK closing connection'; exit 0 ;;\n"
	                 "  *) echo OK ;;\n"
	                 "  esac\n"
	                 "done\n");
	snprintf(path, sizeof(path), "%s", opts.program);
	opts.program = path;
	assert_int_equal(cli_pinentry_get(&opts, &pin, NULL, err, sizeof(err)),
	                 0);
	assert_string_equal(pin.buf, "s%cret");
	unlink(path);

	opts.program = write_script(
	    dir, "pinentry-cancel",
	    "#!/bin/sh\n"
	    "echo OK\n"
	    "while IFS= read -r line; do\n"
	    "  case \"$line\" in\n"
	    "  GETPIN) echo 'ERR 83886179 Operation cancelled' ;;\n"
	    "  *) echo OK ;;\n"
	    "  esac\n"
	    "done\n");
	snprintf(path, sizeof(path), "%s", opts.program);
	opts.program = path;
	assert_int_equal(cli_pinentry_get(&opts, &pin, NULL, err, sizeof(err)),
	                 P11AGENT_E_CANCELLED);
	assert_int_equal(pin.len, 0);
	unlink(path);

	snprintf(path, sizeof(path), "%s/does-not-exist", dir);
	opts.program = path;
	assert_int_equal(cli_pinentry_get(&opts, &pin, NULL, err, sizeof(err)),
	                 P11AGENT_E_IO);
	assert_non_null(strstr(err, "cannot run"));
	cli_secret_cleanup(&pin);
	rmdir(dir);
}

int
run_assuan_tests(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_unescape),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_cancelled),
	    cmocka_unit_test(test_pinentry_getpin),
	    cmocka_unit_test(test_pinentry_repeat_and_inquire),
	    cmocka_unit_test(test_pinentry_failures),
	    cmocka_unit_test(test_pinentry_spawn),
	};

	return cmocka_run_group_tests_name("client/assuan", tests, NULL, NULL);
}
