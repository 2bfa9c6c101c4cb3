/*
 * proto/err.h: names and sentences, and the wire code table of
 * docs/protocol.md kept in step with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/err.h"
#include "helpers.h"

static void
test_names(void **state)
{
	int code;

	(void)state;
	for (code = 0; code >= P11A_E_LAST; code--) {
		assert_non_null(p11a_errname(code));
		assert_string_not_equal(p11a_errname(code), "unknown");
		assert_string_not_equal(p11a_strerror(code), "unknown error");
	}
	assert_string_equal(p11a_errname(P11A_E_LAST - 1), "unknown");
	assert_string_equal(p11a_errname(1), "unknown");
	assert_string_equal(p11a_strerror(-1000), "unknown error");
}

/* Reads a whole text file into a NUL-terminated heap string. */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Every code has its row "| N | `name` |" in docs/protocol.md. */
static void
test_documented(void **state)
{
	char *doc = slurp(P11A_PROTOCOL_MD), row[128];
	int code;

	(void)state;
	for (code = 0; code >= P11A_E_LAST; code--) {
		snprintf(row, sizeof(row), "\n| %d | `%s` |", -code,
		         p11a_errname(code));
		if (strstr(doc, row) == NULL)
			fail_msg("docs/protocol.md lacks the row%s", row);
	}
	free(doc);
}

int
run_err_tests(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_documented),
	};

	return cmocka_run_group_tests_name("proto_err", tests, NULL, NULL);
}
