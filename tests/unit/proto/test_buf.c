/*
 * proto/buf.h: reader, writer, mpint, secrets, allocation failures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "helpers.h"

static void
test_read_ints(void **state)
{
	static const uint8_t in[] = {0x7f, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02,
	                             0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
	struct proto_reader r;
	uint64_t v64 = 1;
	uint32_t v32 = 1;
	uint8_t v8 = 1;

	(void)state;
	proto_reader_init(&r, in, sizeof(in));
	assert_int_equal(proto_read_u8(&r, &v8), 0);
	assert_int_equal(v8, 0x7f);
	assert_int_equal(proto_read_u32(&r, &v32), 0);
	assert_int_equal(v32, 0xdeadbeef);
	assert_int_equal(proto_reader_left(&r), 8);
	assert_int_equal(proto_reader_end(&r), P11A_E_FORMAT);
	assert_int_equal(proto_read_u64(&r, &v64), 0);
	assert_true(v64 == 0x0102030405060708ull);
	assert_int_equal(proto_reader_end(&r), 0);

	/* Past the end: error, out-param zeroed, reader unchanged. */
	v8 = 9;
	v32 = 9;
	v64 = 9;
	assert_int_equal(proto_read_u8(&r, &v8), P11A_E_FORMAT);
	assert_int_equal(v8, 0);
	assert_int_equal(proto_read_u32(&r, &v32), P11A_E_FORMAT);
	assert_int_equal(v32, 0);
	assert_int_equal(proto_read_u64(&r, &v64), P11A_E_FORMAT);
	assert_true(v64 == 0);
	assert_int_equal(r.off, sizeof(in));

	/* Short reads leave the offset alone. */
	proto_reader_init(&r, in, 3);
	assert_int_equal(proto_read_u32(&r, &v32), P11A_E_FORMAT);
	assert_int_equal(r.off, 0);
	proto_reader_init(&r, in, 7);
	assert_int_equal(proto_read_u64(&r, &v64), P11A_E_FORMAT);
	assert_int_equal(r.off, 0);

	/* A NULL buffer is an empty one. */
	proto_reader_init(&r, NULL, 5);
	assert_int_equal(proto_reader_left(&r), 0);
	assert_int_equal(proto_reader_end(&r), 0);
	assert_int_equal(proto_read_u8(&r, &v8), P11A_E_FORMAT);
}

static void
test_read_string(void **state)
{
	static const uint8_t in[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0};
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'x'};
	static const uint8_t one_short[] = {0, 0, 0, 2, 'x'};
	struct proto_reader r;
	struct proto_bytes b;
	struct proto_text t;

	(void)state;
	proto_reader_init(&r, in, sizeof(in));
	assert_int_equal(proto_read_string_direct(&r, &b), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.p, "abc", 3);
	assert_ptr_equal(b.p, in + 4);
	assert_int_equal(proto_read_text_direct(&r, &t), 0);
	assert_int_equal(t.len, 0);
	assert_non_null(t.p);
	assert_int_equal(proto_reader_end(&r), 0);

	/* Length 0xffffffff must not wrap or read. */
	proto_reader_init(&r, huge, sizeof(huge));
	b.p = in;
	b.len = 7;
	assert_int_equal(proto_read_string_direct(&r, &b), P11A_E_FORMAT);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(r.off, 0);

	proto_reader_init(&r, one_short, sizeof(one_short));
	assert_int_equal(proto_read_string_direct(&r, &b), P11A_E_FORMAT);
	assert_int_equal(r.off, 0);
}

static int
read_one_string(const uint8_t *p, size_t len, void *ctx)
{
	struct proto_reader r;
	struct proto_bytes b;
	int ret;

	(void)ctx;
	proto_reader_init(&r, p, len);
	if ((ret = proto_read_string_direct(&r, &b)) != 0)
		return ret;
	return proto_reader_end(&r);
}

static void
test_read_string_mutations(void **state)
{
	static const uint8_t in[] = {0, 0, 0, 3, 'a', 'b', 'c'};

	(void)state;
	check_truncations(in, sizeof(in), read_one_string, NULL, SIZE_MAX);
	check_bitflips(in, sizeof(in), read_one_string, NULL);
	check_trailing(in, sizeof(in), read_one_string, NULL);
}

static void
test_cstring(void **state)
{
	static const uint8_t ok[] = {0, 0, 0, 3, 'a', 'b', 'c'};
	static const uint8_t nul[] = {0, 0, 0, 4, 'a', 'b', 0, 'c'};
	static const uint8_t nul_end[] = {0, 0, 0, 1, 0};
	static const uint8_t empty[] = {0, 0, 0, 0};
	struct proto_reader r;
	struct proto_text t;
	size_t len = 99;
	char *s = (char *)"x";

	(void)state;
	proto_reader_init(&r, ok, sizeof(ok));
	assert_int_equal(proto_read_cstring(&r, &s, &len), 0);
	assert_string_equal(s, "abc");
	assert_int_equal(len, 3);
	free(s);

	proto_reader_init(&r, nul, sizeof(nul));
	assert_int_equal(proto_read_cstring(&r, &s, &len), P11A_E_FORMAT);
	assert_null(s);
	assert_int_equal(len, 0);
	assert_int_equal(r.off, 0);
	assert_int_equal(proto_read_text_direct(&r, &t), P11A_E_FORMAT);
	assert_null(t.p);
	assert_int_equal(r.off, 0);
	/* The bytes view accepts what text refuses. */
	assert_int_equal(read_one_string(nul, sizeof(nul), NULL), 0);

	proto_reader_init(&r, nul_end, sizeof(nul_end));
	assert_int_equal(proto_read_cstring(&r, &s, NULL), P11A_E_FORMAT);

	proto_reader_init(&r, empty, sizeof(empty));
	assert_int_equal(proto_read_cstring(&r, &s, NULL), 0);
	assert_string_equal(s, "");
	free(s);

	/* Allocation failure: clean error, reader unchanged. */
	proto_reader_init(&r, ok, sizeof(ok));
	proto_test_alloc_fail_at(0);
	assert_int_equal(proto_read_cstring(&r, &s, &len), P11A_E_NOMEM);
	proto_test_alloc_fail_at(-1);
	assert_null(s);
	assert_int_equal(r.off, 0);
}

/* Reads one mpint from a bare string body. */
static int
read_mpint(const uint8_t *p, size_t len, struct proto_bytes *v)
{
	struct proto_reader r;
	int ret;

	proto_reader_init(&r, p, len);
	if ((ret = proto_read_mpint_direct(&r, v)) != 0)
		return ret;
	return proto_reader_end(&r);
}

static void
test_mpint_read(void **state)
{
	static const uint8_t zero[] = {0, 0, 0, 0};
	static const uint8_t zero_byte[] = {0, 0, 0, 1, 0};
	static const uint8_t one[] = {0, 0, 0, 1, 1};
	static const uint8_t max_pos[] = {0, 0, 0, 1, 0x7f};
	static const uint8_t high[] = {0, 0, 0, 2, 0, 0x80};
	static const uint8_t neg[] = {0, 0, 0, 1, 0x80};
	static const uint8_t neg_ff[] = {0, 0, 0, 2, 0xff, 0x01};
	static const uint8_t nonmin[] = {0, 0, 0, 2, 0, 0x7f};
	static const uint8_t nonmin2[] = {0, 0, 0, 3, 0, 0, 0x80};
	static const uint8_t big[] = {0, 0, 0, 4, 0, 0x80, 0, 1};
	struct proto_bytes v;

	(void)state;
	assert_int_equal(read_mpint(zero, sizeof(zero), &v), 0);
	assert_int_equal(v.len, 0);
	assert_int_equal(read_mpint(one, sizeof(one), &v), 0);
	assert_int_equal(v.len, 1);
	assert_int_equal(v.p[0], 1);
	assert_int_equal(read_mpint(max_pos, sizeof(max_pos), &v), 0);
	assert_int_equal(v.p[0], 0x7f);
	assert_int_equal(read_mpint(high, sizeof(high), &v), 0);
	assert_int_equal(v.len, 1);
	assert_int_equal(v.p[0], 0x80);
	assert_int_equal(read_mpint(big, sizeof(big), &v), 0);
	assert_int_equal(v.len, 3);
	assert_memory_equal(v.p, "\x80\x00\x01", 3);

	assert_int_equal(read_mpint(zero_byte, sizeof(zero_byte), &v),
	                 P11A_E_FORMAT);
	assert_null(v.p);
	assert_int_equal(read_mpint(neg, sizeof(neg), &v), P11A_E_FORMAT);
	assert_int_equal(read_mpint(neg_ff, sizeof(neg_ff), &v), P11A_E_FORMAT);
	assert_int_equal(read_mpint(nonmin, sizeof(nonmin), &v), P11A_E_FORMAT);
	assert_int_equal(read_mpint(nonmin2, sizeof(nonmin2), &v),
	                 P11A_E_FORMAT);
}

/* Writes one mpint and compares with the expected encoding. */
static void
check_mpint_write(const uint8_t *in, size_t inlen, const uint8_t *want,
                  size_t wantlen)
{
	struct proto_writer w;
	struct proto_bytes back;
	const uint8_t *p;
	size_t len;

	proto_writer_init(&w);
	assert_int_equal(proto_write_mpint(&w, in, inlen), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, wantlen);
	assert_memory_equal(p, want, wantlen);
	/* And it reads back as the stripped magnitude. */
	assert_int_equal(read_mpint(p, len, &back), 0);
	while (inlen > 0 && in[0] == 0) {
		in++;
		inlen--;
	}
	assert_int_equal(back.len, inlen);
	if (inlen > 0)
		assert_memory_equal(back.p, in, inlen);
	proto_writer_cleanup(&w);
}

static void
test_mpint_write(void **state)
{
	(void)state;
	check_mpint_write(NULL, 0, (const uint8_t *)"\0\0\0\0", 4);
	check_mpint_write((const uint8_t *)"\0\0", 2,
	                  (const uint8_t *)"\0\0\0\0", 4);
	check_mpint_write((const uint8_t *)"\x01", 1,
	                  (const uint8_t *)"\0\0\0\1\1", 5);
	check_mpint_write((const uint8_t *)"\0\x01", 2,
	                  (const uint8_t *)"\0\0\0\1\1", 5);
	check_mpint_write((const uint8_t *)"\x80", 1,
	                  (const uint8_t *)"\0\0\0\2\0\x80", 6);
	check_mpint_write((const uint8_t *)"\0\0\xff\x01", 4,
	                  (const uint8_t *)"\0\0\0\3\0\xff\x01", 7);
	check_mpint_write((const uint8_t *)"\x7f\xff", 2,
	                  (const uint8_t *)"\0\0\0\2\x7f\xff", 6);
}

static int
read_mpint_fn(const uint8_t *p, size_t len, void *ctx)
{
	struct proto_bytes v;

	(void)ctx;
	return read_mpint(p, len, &v);
}

static void
test_mpint_mutations(void **state)
{
	static const uint8_t in[] = {0, 0, 0, 3, 0, 0x80, 0x01};

	(void)state;
	check_truncations(in, sizeof(in), read_mpint_fn, NULL, SIZE_MAX);
	check_bitflips(in, sizeof(in), read_mpint_fn, NULL);
	check_trailing(in, sizeof(in), read_mpint_fn, NULL);
}

static void
test_writer_basic(void **state)
{
	static const uint8_t want[] = {
	    0x42, 0,   0,   0, 5, 0, 0, 0, 0, 0, 0, 1,   2,   0,   0,  0,
	    2,    'h', 'i', 0, 0, 0, 0, 0, 0, 0, 1, 'x', 'r', 'a', 'w'};
	struct proto_writer w;
	const uint8_t *p;
	uint8_t *owned;
	size_t len;

	(void)state;
	proto_writer_init(&w);
	assert_int_equal(w.max, PROTO_FRAME_HEADER + PROTO_FRAME_MAX);
	proto_write_u8(&w, 0x42);
	proto_write_u32(&w, 5);
	proto_write_u64(&w, 0x102);
	proto_write_cstring(&w, "hi");
	proto_write_cstring(&w, NULL);
	proto_write_text(&w, proto_text_from("x"));
	proto_write_raw(&w, "raw", 3);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(p, want, sizeof(want));

	assert_int_equal(proto_writer_take(&w, &owned, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(owned, want, sizeof(want));
	assert_null(w.buf);
	assert_int_equal(w.len, 0);
	p11a_secret_free(owned, len);

	/* An empty writer finishes with nothing. */
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(proto_writer_take(&w, &owned, &len), 0);
	assert_null(owned);
	proto_writer_cleanup(&w);
	proto_writer_cleanup(&w); /* twice is fine */
	p11a_secret_free(NULL, 10);
}

static void
test_writer_max_sticky(void **state)
{
	struct proto_writer w;
	const uint8_t *p = (const uint8_t *)"x";
	uint8_t *owned;
	size_t len = 9;

	(void)state;
	proto_writer_init_max(&w, 10);
	assert_int_equal(proto_write_u64(&w, 1), 0);
	assert_int_equal(proto_write_u32(&w, 1), P11A_E_TOO_LARGE);
	assert_int_equal(w.len, 8);
	/* Sticky: a write that would fit still fails. */
	assert_int_equal(proto_write_u8(&w, 1), P11A_E_TOO_LARGE);
	assert_int_equal(w.len, 8);
	assert_int_equal(proto_writer_error(&w), P11A_E_TOO_LARGE);
	assert_int_equal(proto_writer_finish(&w, &p, &len), P11A_E_TOO_LARGE);
	assert_null(p);
	assert_int_equal(len, 0);
	assert_int_equal(proto_writer_take(&w, &owned, &len), P11A_E_TOO_LARGE);
	assert_null(owned);

	/* reset clears the error, wipes and keeps the buffer. */
	proto_writer_reset(&w);
	assert_int_equal(proto_writer_error(&w), 0);
	assert_non_null(w.buf);
	for (size_t i = 0; i < w.cap; i++)
		assert_int_equal(w.buf[i], 0);
	assert_int_equal(proto_write_u8(&w, 7), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, 1);
	proto_writer_cleanup(&w);
	assert_int_equal(w.max, 10);

	/* Exactly max fits. */
	proto_writer_init_max(&w, 4);
	assert_int_equal(proto_write_u32(&w, 1), 0);
	assert_int_equal(proto_write_raw(&w, NULL, 0), 0);
	assert_int_equal(proto_write_u8(&w, 1), P11A_E_TOO_LARGE);
	proto_writer_cleanup(&w);

	/* A string that cannot fit, even with a length that wraps. */
	proto_writer_init(&w);
	assert_int_equal(proto_write_string(&w, p, SIZE_MAX - 2),
	                 P11A_E_TOO_LARGE);
	proto_writer_cleanup(&w);

	/* Bad arguments. */
	proto_writer_init(&w);
	assert_int_equal(proto_write_string(&w, NULL, 1), P11A_E_ARGS);
	proto_writer_cleanup(&w);
	proto_writer_init(&w);
	assert_int_equal(proto_write_mpint(&w, NULL, 1), P11A_E_ARGS);
	proto_writer_cleanup(&w);
	proto_writer_init(&w);
	assert_int_equal(proto_write_text(&w, (struct proto_text){"a\0b", 3}),
	                 P11A_E_ARGS);
	assert_int_equal(w.len, 0);
	proto_writer_cleanup(&w);
}

static void
test_writer_growth(void **state)
{
	struct proto_writer w;
	const uint8_t *p;
	uint8_t chunk[1000];
	size_t len, i;

	(void)state;
	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	proto_writer_init(&w);
	for (i = 0; i < 200; i++)
		assert_int_equal(proto_write_raw(&w, chunk, sizeof(chunk)), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, 200 * sizeof(chunk));
	for (i = 0; i < 200; i++)
		assert_memory_equal(p + i * sizeof(chunk), chunk,
		                    sizeof(chunk));
	assert_true(w.cap <= w.max);
	/* Fill to the brim: PROTO_WRITER_MAX_DEFAULT exactly. */
	for (i = len; i < w.max; i++)
		assert_int_equal(proto_write_u8(&w, 1), 0);
	assert_int_equal(w.cap, w.max);
	assert_int_equal(proto_write_u8(&w, 1), P11A_E_TOO_LARGE);
	proto_writer_cleanup(&w);
}

static void
test_writer_alloc_failure(void **state)
{
	struct proto_writer w;
	const uint8_t *p;
	uint8_t chunk[700];
	long n, fails = 0;
	size_t len;
	int ret, i;

	(void)state;
	memset(chunk, 0xa5, sizeof(chunk));
	for (n = 0;; n++) {
		proto_writer_init(&w);
		proto_test_alloc_fail_at(n);
		for (i = 0; i < 10; i++)
			proto_write_string(&w, chunk, sizeof(chunk));
		ret = proto_writer_finish(&w, &p, &len);
		proto_test_alloc_fail_at(-1);
		if (ret == 0) {
			assert_int_equal(len, 10 * (4 + sizeof(chunk)));
			proto_writer_cleanup(&w);
			break;
		}
		assert_int_equal(ret, P11A_E_NOMEM);
		proto_writer_cleanup(&w);
		fails++;
	}
	/*
	 * The first uint32 gets 256 bytes, the first string then 1024, and
	 * doubling reaches 8192: five allocations, each failed once.
	 */
	assert_int_equal(fails, 5);
}

static void
test_nested(void **state)
{
	static const uint8_t want[] = {0, 0, 0, 6, 0, 0, 0, 2, 'a', 'b'};
	struct proto_writer w;
	const uint8_t *p;
	size_t len, mark;

	(void)state;
	proto_writer_init(&w);
	assert_int_equal(proto_write_nested_begin(&w, &mark), 0);
	proto_write_cstring(&w, "ab");
	assert_int_equal(proto_write_nested_end(&w, mark), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(p, want, sizeof(want));
	/* A bogus mark is an internal error. */
	assert_int_equal(proto_write_nested_end(&w, len), P11A_E_INTERNAL);
	proto_writer_cleanup(&w);
}

static void
test_frame_helpers(void **state)
{
	static const uint8_t want[] = {0, 0, 0, 5, 13, 0, 0, 0, 7};
	struct proto_writer w;
	const uint8_t *p;
	uint8_t *big;
	size_t len;

	(void)state;
	proto_writer_init(&w);
	assert_int_equal(proto_writer_frame_begin(&w, 13), 0);
	proto_write_u32(&w, 7);
	/* finish refuses an open frame. */
	assert_int_equal(proto_writer_finish(&w, &p, &len), P11A_E_INTERNAL);
	assert_int_equal(proto_writer_frame_end(&w), 0);
	assert_int_equal(proto_writer_finish(&w, &p, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(p, want, sizeof(want));
	/* end without begin, and nested begin, are internal errors. */
	assert_int_equal(proto_writer_frame_end(&w), P11A_E_INTERNAL);
	proto_writer_reset(&w);
	proto_writer_frame_begin(&w, 1);
	assert_int_equal(proto_writer_frame_begin(&w, 1), P11A_E_INTERNAL);
	proto_writer_cleanup(&w);

	/* A body of exactly PROTO_FRAME_MAX is fine, one more byte is not. */
	big = calloc(1, PROTO_FRAME_MAX);
	assert_non_null(big);
	proto_writer_init(&w);
	proto_writer_frame_begin(&w, 1);
	proto_write_raw(&w, big, PROTO_FRAME_MAX - 1);
	assert_int_equal(proto_writer_frame_end(&w), 0);
	assert_int_equal(w.len, PROTO_FRAME_HEADER + PROTO_FRAME_MAX);
	proto_writer_cleanup(&w);
	/* With a larger max the frame cap still holds. */
	proto_writer_init_max(&w, 2 * PROTO_FRAME_MAX);
	proto_writer_frame_begin(&w, 1);
	proto_write_raw(&w, big, PROTO_FRAME_MAX);
	assert_int_equal(proto_writer_frame_end(&w), P11A_E_TOO_LARGE);
	proto_writer_cleanup(&w);
	free(big);
}

static void
test_text_helpers(void **state)
{
	struct proto_text t = proto_text_from(NULL);
	char *s;

	(void)state;
	assert_non_null(t.p);
	assert_int_equal(t.len, 0);
	assert_true(proto_text_eq(t, ""));
	t = proto_text_from("abc");
	assert_true(proto_text_eq(t, "abc"));
	assert_false(proto_text_eq(t, "ab"));
	assert_false(proto_text_eq(t, "abcd"));
	t.len = 2;
	s = proto_text_dup(t);
	assert_string_equal(s, "ab");
	free(s);
	proto_test_alloc_fail_at(0);
	assert_null(proto_text_dup(t));
	proto_test_alloc_fail_at(-1);
}

static void
test_alloc_hook(void **state)
{
	struct proto_writer w;

	(void)state;
	proto_test_alloc_fail_at(LONG_MAX);
	proto_writer_init(&w);
	proto_write_u8(&w, 1);
	assert_int_equal(proto_test_alloc_count(), 1);
	proto_writer_cleanup(&w);
	proto_test_alloc_fail_at(1);
	proto_writer_init(&w);
	assert_int_equal(proto_write_u8(&w, 1), 0); /* call 0 works */
	proto_writer_cleanup(&w);
	assert_int_equal(proto_write_u8(&w, 1), P11A_E_NOMEM); /* call 1 */
	proto_writer_cleanup(&w);
	assert_int_equal(proto_write_u8(&w, 1), 0); /* only that one */
	proto_writer_cleanup(&w);
	proto_test_alloc_fail_at(-1);
}

int
run_buf_tests(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_ints),
	    cmocka_unit_test(test_read_string),
	    cmocka_unit_test(test_read_string_mutations),
	    cmocka_unit_test(test_cstring),
	    cmocka_unit_test(test_mpint_read),
	    cmocka_unit_test(test_mpint_write),
	    cmocka_unit_test(test_mpint_mutations),
	    cmocka_unit_test(test_writer_basic),
	    cmocka_unit_test(test_writer_max_sticky),
	    cmocka_unit_test(test_writer_growth),
	    cmocka_unit_test(test_writer_alloc_failure),
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_frame_helpers),
	    cmocka_unit_test(test_text_helpers),
	    cmocka_unit_test(test_alloc_hook),
	};

	return cmocka_run_group_tests_name("proto_buf", tests, NULL, NULL);
}
