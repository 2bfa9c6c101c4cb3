/*
 * proto/frame.h: deciding from the header alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/err.h"
#include "proto/frame.h"
#include "helpers.h"

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
test_incomplete(void **state)
{
	static const uint8_t frame[] = {0, 0, 0, 3, 11, 'a', 'b'};
	size_t body = 7, n;

	(void)state;
	assert_int_equal(proto_frame_check(NULL, 0, &body), P11A_E_INCOMPLETE);
	assert_int_equal(body, 0);
	for (n = 1; n < sizeof(frame); n++) {
		uint8_t *c = dup_exact(frame, n);
		body = 7;
		assert_int_equal(proto_frame_check(c, n, &body),
		                 P11A_E_INCOMPLETE);
		assert_int_equal(body, 0);
		if (n >= PROTO_FRAME_HEADER)
			assert_int_equal(proto_frame_size(c), 7);
		free(c);
	}
	assert_int_equal(proto_frame_check(frame, sizeof(frame), &body), 0);
	assert_int_equal(body, 3);
}

static void
test_complete_with_more(void **state)
{
	/* Two frames back to back: the first is reported alone. */
	static const uint8_t two[] = {0, 0, 0, 1, 11, 0, 0, 0, 1, 5};
	size_t body;

	(void)state;
	assert_int_equal(proto_frame_check(two, sizeof(two), &body), 0);
	assert_int_equal(body, 1);
	assert_int_equal(proto_frame_size(two), 5);
	assert_int_equal(proto_frame_check(two + 5, 5, &body), 0);
	assert_int_equal(body, 1);
}

static void
test_empty_frame(void **state)
{
	static const uint8_t empty[] = {0, 0, 0, 0};
	size_t body = 1;

	(void)state;
	assert_int_equal(proto_frame_check(empty, sizeof(empty), &body),
	                 P11A_E_FORMAT);
	assert_int_equal(body, 0);
}

static void
test_too_large(void **state)
{
	uint8_t hdr[4];
	size_t body = 1;

	(void)state;
	/* Exactly the limit is fine (only the header is here: incomplete). */
	put_be32(hdr, PROTO_FRAME_MAX);
	assert_int_equal(proto_frame_check(hdr, 4, &body), P11A_E_INCOMPLETE);
	assert_int_equal(proto_frame_size(hdr), 4 + PROTO_FRAME_MAX);
	/* One more, 1 GiB and 4 GiB - 1 are refused from the header. */
	put_be32(hdr, PROTO_FRAME_MAX + 1);
	assert_int_equal(proto_frame_check(hdr, 4, &body), P11A_E_TOO_LARGE);
	assert_int_equal(body, 0);
	put_be32(hdr, 1u << 30);
	assert_int_equal(proto_frame_check(hdr, 4, &body), P11A_E_TOO_LARGE);
	put_be32(hdr, 0xffffffffu);
	assert_int_equal(proto_frame_check(hdr, 4, &body), P11A_E_TOO_LARGE);
}

static void
test_max_frame_complete(void **state)
{
	size_t total = PROTO_FRAME_HEADER + PROTO_FRAME_MAX, body;
	uint8_t *buf = calloc(1, total);

	(void)state;
	assert_non_null(buf);
	put_be32(buf, PROTO_FRAME_MAX);
	assert_int_equal(proto_frame_check(buf, total - 1, &body),
	                 P11A_E_INCOMPLETE);
	assert_int_equal(proto_frame_check(buf, total, &body), 0);
	assert_int_equal(body, PROTO_FRAME_MAX);
	free(buf);
}

static int
frame_fn(const uint8_t *p, size_t len, void *ctx)
{
	size_t body;

	(void)ctx;
	return proto_frame_check(p, len, &body);
}

static void
test_frame_mutations(void **state)
{
	static const uint8_t frame[] = {0, 0, 0, 2, 13, 0};

	(void)state;
	check_truncations(frame, sizeof(frame), frame_fn, NULL, SIZE_MAX);
	check_bitflips(frame, sizeof(frame), frame_fn, NULL);
}

int
run_frame_tests(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_incomplete),
	    cmocka_unit_test(test_complete_with_more),
	    cmocka_unit_test(test_empty_frame),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_max_frame_complete),
	    cmocka_unit_test(test_frame_mutations),
	};

	return cmocka_run_group_tests_name("proto_frame", tests, NULL, NULL);
}
