/*
 * test_client: every client/ unit test, one cmocka group per source file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests.h"

int
main(void)
{
	int failed = 0;

	/* As in p11: a closed pipe is an error, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	failed += run_util_tests();
	failed += run_assuan_tests();
	failed += run_path_tests();
	failed += run_conn_tests();
	return failed != 0;
}
