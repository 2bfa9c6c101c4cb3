/*
 * test_proto: every proto/ unit test, one cmocka group per source file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "helpers.h"

int
main(void)
{
	int failed = 0;

	failed += run_buf_tests();
	failed += run_err_tests();
	failed += run_frame_tests();
	failed += run_msg_tests();
	failed += run_sshkey_tests();
	return failed != 0;
}
