/*
 * Where the client looks for the agent: explicit path, $P11AGENT_SOCK,
 * $XDG_RUNTIME_DIR/p11agent/agent.sock, /tmp/p11agent-<uid>/agent.sock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "p11agent.h"
#include "tests.h"

static char tmp_default[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmp_default, sizeof(tmp_default),
	         "/tmp/p11agent-%lu/agent.sock", (unsigned long)getuid());
	unsetenv("P11AGENT_SOCK");
	unsetenv("XDG_RUNTIME_DIR");
	return 0;
}

static void
test_default_xdg(void **state)
{
	char buf[256];

	(void)state;
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	assert_int_equal(p11agent_default_socket_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/1000/p11agent/agent.sock");
}

static void
test_default_no_xdg(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(p11agent_default_socket_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, tmp_default);
	/* Empty or relative: ignored, like the agent does. */
	setenv("XDG_RUNTIME_DIR", "", 1);
	assert_int_equal(p11agent_default_socket_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, tmp_default);
	setenv("XDG_RUNTIME_DIR", "run/user/1000", 1);
	assert_int_equal(p11agent_default_socket_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, tmp_default);
}

static void
test_default_small_buffer(void **state)
{
	char buf[256];

	(void)state;
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	/* Exactly enough, then one byte short. */
	assert_int_equal(p11agent_default_socket_path(buf, 35), 0);
	assert_string_equal(buf, "/run/user/1000/p11agent/agent.sock");
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(p11agent_default_socket_path(buf, 34),
	                 P11AGENT_E_ARGS);
	assert_string_equal(buf, "");
	assert_int_equal(p11agent_default_socket_path(NULL, 10),
	                 P11AGENT_E_ARGS);
	assert_int_equal(p11agent_default_socket_path(buf, 0), P11AGENT_E_ARGS);
}

static void
test_socket_path_order(void **state)
{
	char buf[256];

	(void)state;
	setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
	assert_int_equal(p11agent_socket_path(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/7/p11agent/agent.sock");
	setenv("P11AGENT_SOCK", "/somewhere/else.sock", 1);
	assert_int_equal(p11agent_socket_path(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/somewhere/else.sock");
	assert_int_equal(p11agent_socket_path("", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/somewhere/else.sock");
	assert_int_equal(
	    p11agent_socket_path("/explicit.sock", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/explicit.sock");
	/* An empty $P11AGENT_SOCK is as good as none. */
	setenv("P11AGENT_SOCK", "", 1);
	assert_int_equal(p11agent_socket_path(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/7/p11agent/agent.sock");
	assert_int_equal(p11agent_socket_path("/explicit.sock", buf, 5),
	                 P11AGENT_E_ARGS);
	assert_string_equal(buf, "");
}

int
run_path_tests(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_default_xdg, setup),
	    cmocka_unit_test_setup(test_default_no_xdg, setup),
	    cmocka_unit_test_setup(test_default_small_buffer, setup),
	    cmocka_unit_test_setup(test_socket_path_order, setup),
	};
	int r;

	r = cmocka_run_group_tests_name("client/path", tests, NULL, NULL);
	unsetenv("P11AGENT_SOCK");
	unsetenv("XDG_RUNTIME_DIR");
	return r;
}
