#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* explicit_bzero() */
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/internal.h"

/* First allocation of a writer; doubles from there up to max. */
#define WRITER_INITIAL_CAP 256

/*
 * Allocation failure injection.  fail_at < 0 means off.  Only unit tests
 * arm it, so production code only ever reads these.
 */
static long alloc_fail_at = -1;
static long alloc_count;

void
proto_test_alloc_fail_at(long n)
{
	alloc_fail_at = n;
	alloc_count = 0;
}

long
proto_test_alloc_count(void)
{
	return alloc_count;
}

static bool
alloc_should_fail(void)
{
	if (alloc_fail_at < 0)
		return false;
	return alloc_count++ == alloc_fail_at;
}

void *
proto_malloc(size_t size)
{
	if (alloc_should_fail())
		return NULL;
	return malloc(size == 0 ? 1 : size);
}

void *
proto_calloc(size_t n, size_t size)
{
	if (alloc_should_fail())
		return NULL;
	if (n == 0 || size == 0)
		return calloc(1, 1);
	return calloc(n, size);
}

void
p11a_secret_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

/* Reader. */

void
proto_reader_init(struct proto_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p != NULL ? len : 0;
	r->off = 0;
}

size_t
proto_reader_left(const struct proto_reader *r)
{
	return r->len - r->off;
}

/* Returns a pointer to the next n bytes and consumes them, or NULL. */
static const uint8_t *
take(struct proto_reader *r, size_t n)
{
	const uint8_t *q;

	if (n > r->len - r->off)
		return NULL;
	q = r->p + r->off;
	r->off += n;
	return q;
}

int
proto_read_u8(struct proto_reader *r, uint8_t *v)
{
	const uint8_t *q;

	*v = 0;
	if ((q = take(r, 1)) == NULL)
		return P11A_E_FORMAT;
	*v = q[0];
	return 0;
}

int
proto_read_u32(struct proto_reader *r, uint32_t *v)
{
	const uint8_t *q;

	*v = 0;
	if ((q = take(r, 4)) == NULL)
		return P11A_E_FORMAT;
	*v = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 |
	     (uint32_t)q[3];
	return 0;
}

int
proto_read_u64(struct proto_reader *r, uint64_t *v)
{
	const uint8_t *q;
	uint64_t x = 0;
	int i;

	*v = 0;
	if ((q = take(r, 8)) == NULL)
		return P11A_E_FORMAT;
	for (i = 0; i < 8; i++)
		x = x << 8 | q[i];
	*v = x;
	return 0;
}

int
proto_read_string_direct(struct proto_reader *r, struct proto_bytes *v)
{
	size_t start = r->off;
	const uint8_t *q;
	uint32_t n;
	int ret;

	v->p = NULL;
	v->len = 0;
	if ((ret = proto_read_u32(r, &n)) != 0)
		return ret;
	if ((q = take(r, n)) == NULL) {
		r->off = start;
		return P11A_E_FORMAT;
	}
	v->p = q;
	v->len = n;
	return 0;
}

int
proto_read_text_direct(struct proto_reader *r, struct proto_text *v)
{
	size_t start = r->off;
	struct proto_bytes b;
	int ret;

	v->p = NULL;
	v->len = 0;
	if ((ret = proto_read_string_direct(r, &b)) != 0)
		return ret;
	if (b.len > 0 && memchr(b.p, '\0', b.len) != NULL) {
		r->off = start;
		return P11A_E_FORMAT;
	}
	v->p = (const char *)b.p;
	v->len = b.len;
	return 0;
}

int
proto_read_cstring(struct proto_reader *r, char **s, size_t *len)
{
	size_t start = r->off;
	struct proto_text t;
	char *copy;
	int ret;

	*s = NULL;
	if (len != NULL)
		*len = 0;
	if ((ret = proto_read_text_direct(r, &t)) != 0)
		return ret;
	if ((copy = proto_text_dup(t)) == NULL) {
		r->off = start;
		return P11A_E_NOMEM;
	}
	*s = copy;
	if (len != NULL)
		*len = t.len;
	return 0;
}

int
proto_read_mpint_direct(struct proto_reader *r, struct proto_bytes *v)
{
	size_t start = r->off;
	struct proto_bytes b;
	int ret;

	v->p = NULL;
	v->len = 0;
	if ((ret = proto_read_string_direct(r, &b)) != 0)
		return ret;
	if (b.len > 0 && (b.p[0] & 0x80) != 0)
		goto bad; /* negative */
	if (b.len > 0 && b.p[0] == 0) {
		/* A zero byte is only allowed in front of a set top bit. */
		if (b.len == 1 || (b.p[1] & 0x80) == 0)
			goto bad;
		b.p++;
		b.len--;
	}
	*v = b;
	return 0;
bad:
	r->off = start;
	return P11A_E_FORMAT;
}

int
proto_read_rest_direct(struct proto_reader *r, struct proto_bytes *v)
{
	v->len = r->len - r->off;
	v->p = r->p != NULL ? r->p + r->off : NULL;
	r->off = r->len;
	return 0;
}

int
proto_reader_end(const struct proto_reader *r)
{
	return r->off == r->len ? 0 : P11A_E_FORMAT;
}

/* Writer. */

void
proto_writer_init(struct proto_writer *w)
{
	proto_writer_init_max(w, PROTO_WRITER_MAX_DEFAULT);
}

void
proto_writer_init_max(struct proto_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void
proto_writer_cleanup(struct proto_writer *w)
{
	size_t max = w->max;

	p11a_secret_free(w->buf, w->cap);
	proto_writer_init_max(w, max);
}

void
proto_writer_reset(struct proto_writer *w)
{
	if (w->buf != NULL)
		explicit_bzero(w->buf, w->cap);
	w->len = 0;
	w->frame_off = 0;
	w->in_frame = false;
	w->failed = 0;
}

int
proto_writer_error(const struct proto_writer *w)
{
	return w->failed;
}

int
proto_writer_fail(struct proto_writer *w, int code)
{
	if (w->failed == 0)
		w->failed = code;
	return w->failed;
}

int
proto_writer_finish(const struct proto_writer *w, const uint8_t **p,
                    size_t *len)
{
	*p = NULL;
	*len = 0;
	if (w->failed != 0)
		return w->failed;
	if (w->in_frame)
		return P11A_E_INTERNAL;
	*p = w->buf;
	*len = w->len;
	return 0;
}

int
proto_writer_take(struct proto_writer *w, uint8_t **p, size_t *len)
{
	const uint8_t *view;
	size_t n, max = w->max;
	int ret;

	*p = NULL;
	*len = 0;
	if ((ret = proto_writer_finish(w, &view, &n)) != 0)
		return ret;
	if (w->buf != NULL && n < w->cap)
		explicit_bzero(w->buf + n, w->cap - n); /* nothing stale */
	*p = w->buf;
	*len = n;
	proto_writer_init_max(w, max);
	return 0;
}

/*
 * Makes room for n more bytes and returns where they go, or NULL after
 * recording the error.  Growing never uses realloc(): the old buffer is
 * wiped before it is freed, so no copy of a secret is left behind.
 */
static uint8_t *
reserve(struct proto_writer *w, size_t n)
{
	uint8_t *nbuf;
	size_t ncap;

	if (w->failed != 0)
		return NULL;
	if (n > w->max || w->len > w->max - n) {
		proto_writer_fail(w, P11A_E_TOO_LARGE);
		return NULL;
	}
	if (n > w->cap - w->len) {
		ncap = w->cap != 0 ? w->cap : WRITER_INITIAL_CAP;
		while (ncap - w->len < n) {
			if (ncap > SIZE_MAX / 2) {
				ncap = w->len + n;
				break;
			}
			ncap *= 2;
		}
		if (ncap > w->max)
			ncap = w->max;
		if ((nbuf = proto_malloc(ncap)) == NULL) {
			proto_writer_fail(w, P11A_E_NOMEM);
			return NULL;
		}
		if (w->len > 0)
			memcpy(nbuf, w->buf, w->len);
		p11a_secret_free(w->buf, w->cap);
		w->buf = nbuf;
		w->cap = ncap;
	}
	nbuf = w->buf + w->len;
	w->len += n;
	return nbuf;
}

static void
put_be32(uint8_t *q, uint32_t v)
{
	q[0] = (uint8_t)(v >> 24);
	q[1] = (uint8_t)(v >> 16);
	q[2] = (uint8_t)(v >> 8);
	q[3] = (uint8_t)v;
}

int
proto_write_u8(struct proto_writer *w, uint8_t v)
{
	uint8_t *q;

	if ((q = reserve(w, 1)) != NULL)
		q[0] = v;
	return w->failed;
}

int
proto_write_u32(struct proto_writer *w, uint32_t v)
{
	uint8_t *q;

	if ((q = reserve(w, 4)) != NULL)
		put_be32(q, v);
	return w->failed;
}

int
proto_write_u64(struct proto_writer *w, uint64_t v)
{
	uint8_t *q;
	int i;

	if ((q = reserve(w, 8)) != NULL) {
		for (i = 7; i >= 0; i--) {
			q[i] = (uint8_t)v;
			v >>= 8;
		}
	}
	return w->failed;
}

int
proto_write_raw(struct proto_writer *w, const void *p, size_t len)
{
	uint8_t *q;

	if (p == NULL && len != 0)
		return proto_writer_fail(w, P11A_E_ARGS);
	if ((q = reserve(w, len)) != NULL && len > 0)
		memcpy(q, p, len);
	return w->failed;
}

int
proto_write_string(struct proto_writer *w, const void *p, size_t len)
{
	if (w->failed != 0)
		return w->failed;
	if (p == NULL && len != 0)
		return proto_writer_fail(w, P11A_E_ARGS);
	if (len > UINT32_MAX)
		return proto_writer_fail(w, P11A_E_TOO_LARGE);
	proto_write_u32(w, (uint32_t)len);
	return proto_write_raw(w, p, len);
}

int
proto_write_bytes(struct proto_writer *w, struct proto_bytes v)
{
	return proto_write_string(w, v.p, v.len);
}

int
proto_write_cstring(struct proto_writer *w, const char *s)
{
	return proto_write_string(w, s, s != NULL ? strlen(s) : 0);
}

int
proto_write_text(struct proto_writer *w, struct proto_text t)
{
	if (t.p != NULL && t.len > 0 && memchr(t.p, '\0', t.len) != NULL)
		return proto_writer_fail(w, P11A_E_ARGS);
	return proto_write_string(w, t.p, t.len);
}

int
proto_write_mpint(struct proto_writer *w, const uint8_t *be, size_t len)
{
	bool pad;

	if (be == NULL && len != 0)
		return proto_writer_fail(w, P11A_E_ARGS);
	while (len > 0 && be[0] == 0) {
		be++;
		len--;
	}
	pad = len > 0 && (be[0] & 0x80) != 0;
	if (len > UINT32_MAX - 1)
		return proto_writer_fail(w, P11A_E_TOO_LARGE);
	proto_write_u32(w, (uint32_t)(len + pad));
	if (pad)
		proto_write_u8(w, 0);
	return proto_write_raw(w, be, len);
}

int
proto_write_nested_begin(struct proto_writer *w, size_t *mark)
{
	*mark = w->len;
	return proto_write_u32(w, 0);
}

int
proto_write_nested_end(struct proto_writer *w, size_t mark)
{
	size_t n;

	if (w->failed != 0)
		return w->failed;
	if (mark > w->len || w->len - mark < 4)
		return proto_writer_fail(w, P11A_E_INTERNAL);
	n = w->len - mark - 4;
	if (n > UINT32_MAX)
		return proto_writer_fail(w, P11A_E_TOO_LARGE);
	put_be32(w->buf + mark, (uint32_t)n);
	return 0;
}

int
proto_writer_frame_begin(struct proto_writer *w, uint8_t type)
{
	size_t mark;

	if (w->failed != 0)
		return w->failed;
	if (w->in_frame)
		return proto_writer_fail(w, P11A_E_INTERNAL);
	if (proto_write_nested_begin(w, &mark) != 0 ||
	    proto_write_u8(w, type) != 0)
		return w->failed;
	w->frame_off = mark;
	w->in_frame = true;
	return 0;
}

int
proto_writer_frame_end(struct proto_writer *w)
{
	if (w->failed != 0)
		return w->failed;
	if (!w->in_frame)
		return proto_writer_fail(w, P11A_E_INTERNAL);
	if (w->len - w->frame_off - PROTO_FRAME_HEADER > PROTO_FRAME_MAX)
		return proto_writer_fail(w, P11A_E_TOO_LARGE);
	w->in_frame = false;
	return proto_write_nested_end(w, w->frame_off);
}

/* Text helpers. */

struct proto_text
proto_text_from(const char *s)
{
	struct proto_text t = {"", 0};

	if (s != NULL) {
		t.p = s;
		t.len = strlen(s);
	}
	return t;
}

bool
proto_text_eq(struct proto_text t, const char *s)
{
	size_t n = strlen(s);

	return t.len == n && (n == 0 || memcmp(t.p, s, n) == 0);
}

char *
proto_text_dup(struct proto_text t)
{
	char *s;

	if (t.len == SIZE_MAX)
		return NULL;
	if ((s = proto_malloc(t.len + 1)) == NULL)
		return NULL;
	if (t.len > 0)
		memcpy(s, t.p, t.len);
	s[t.len] = '\0';
	return s;
}
