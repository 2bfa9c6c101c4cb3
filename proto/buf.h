/*
 * Bounded buffers for the wire codec.
 *
 * struct proto_reader walks borrowed bytes and never allocates except in
 * proto_read_cstring().  Every length is checked against what is left by
 * subtraction before it is used.  A failed read leaves the reader where it
 * was and its out-parameters zeroed.
 *
 * struct proto_writer grows up to a maximum (by default one whole frame).
 * The first failure (no memory, too large, bad argument) is remembered in
 * `failed` and turns every later write into a no-op, so a message can be
 * written in one go and checked once, with proto_writer_finish().  The
 * writer wipes every buffer it lets go of, because replies to decrypt and
 * derive carry secrets.
 *
 * Wire types follow RFC 4251: uint32/uint64 big endian, "string" is a
 * uint32 length followed by that many bytes, "mpint" is a string holding a
 * minimal two's complement big-endian integer.
 */
#ifndef P11AGENT_PROTO_BUF_H
#define P11AGENT_PROTO_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"

/* A view of bytes owned by someone else (usually the received frame). */
struct proto_bytes {
	const uint8_t *p;
	size_t len;
};

/*
 * A view of text owned by someone else: no embedded NUL, and NOT
 * NUL-terminated (print it with "%.*s").  Decoded text is not checked for
 * UTF-8.
 */
struct proto_text {
	const char *p;
	size_t len;
};

struct proto_reader {
	const uint8_t *p;
	size_t len, off;
};

/* Default writer limit: one whole frame, header included. */
#define PROTO_WRITER_MAX_DEFAULT (PROTO_FRAME_HEADER + PROTO_FRAME_MAX)

struct proto_writer {
	uint8_t *buf;     /* owned; wiped before it is freed or moved */
	size_t len, cap;  /* bytes written, bytes allocated */
	size_t max;       /* the writer never holds more than this */
	size_t frame_off; /* start of the open frame, if in_frame */
	bool in_frame;
	int failed; /* first error (a negative P11A_E_*), or 0: sticky */
};

/*
 * Points r at len bytes at p (borrowed; they must outlive the reader).
 * p may be NULL when len is 0.
 */
void proto_reader_init(struct proto_reader *r, const void *p, size_t len);

/* Returns how many bytes are left to read. */
size_t proto_reader_left(const struct proto_reader *r);

/*
 * Fixed-size integers, big endian.  Return 0, or P11A_E_FORMAT when too
 * few bytes are left.  *v is zeroed on entry and set only on success.
 */
int proto_read_u8(struct proto_reader *r, uint8_t *v);
int proto_read_u32(struct proto_reader *r, uint32_t *v);
int proto_read_u64(struct proto_reader *r, uint64_t *v);

/*
 * Reads a string and returns a view of its bytes, valid as long as the
 * reader's buffer.  Returns 0 or P11A_E_FORMAT (length beyond the data).
 */
int proto_read_string_direct(struct proto_reader *r, struct proto_bytes *v);

/*
 * Like proto_read_string_direct(), but for text: also fails with
 * P11A_E_FORMAT when the string holds a NUL byte.
 */
int proto_read_text_direct(struct proto_reader *r, struct proto_text *v);

/*
 * Reads a string into a new NUL-terminated heap string (*s, length in
 * *len when len is not NULL).  Returns 0, P11A_E_FORMAT (truncated, or an
 * embedded NUL) or P11A_E_NOMEM.  The caller frees *s with free(), or with
 * p11a_secret_free() when it held a secret.
 */
int proto_read_cstring(struct proto_reader *r, char **s, size_t *len);

/*
 * Reads an SSH mpint that must be non-negative and minimally encoded, and
 * returns a view of its unsigned big-endian magnitude without the sign
 * byte (zero is an empty view).  Returns 0 or P11A_E_FORMAT (truncated,
 * negative, or a superfluous leading zero byte).
 */
int proto_read_mpint_direct(struct proto_reader *r, struct proto_bytes *v);

/* Returns a view of everything left and moves to the end.  Never fails. */
int proto_read_rest_direct(struct proto_reader *r, struct proto_bytes *v);

/* Returns 0 when every byte was read, else P11A_E_FORMAT. */
int proto_reader_end(const struct proto_reader *r);

/*
 * Initialises an empty writer with PROTO_WRITER_MAX_DEFAULT, or with max
 * bytes.  Nothing is allocated until the first write.
 */
void proto_writer_init(struct proto_writer *w);
void proto_writer_init_max(struct proto_writer *w, size_t max);

/*
 * Wipes and frees the buffer; the writer is then empty and may be reused
 * (same max).  Safe on a writer that never wrote.
 */
void proto_writer_cleanup(struct proto_writer *w);

/*
 * Wipes what was written and clears the error, keeping the allocation:
 * the way to reuse a writer after a failed message.
 */
void proto_writer_reset(struct proto_writer *w);

/* Returns the sticky error (0 if none). */
int proto_writer_error(const struct proto_writer *w);

/*
 * The one check after writing: returns the sticky error, or
 * P11A_E_INTERNAL when a frame was begun and not ended; otherwise 0 with a
 * view of the written bytes in *p and *len, owned by the writer (valid until
 * the next write, reset or cleanup).
 */
int proto_writer_finish(const struct proto_writer *w, const uint8_t **p,
                        size_t *len);

/*
 * Like proto_writer_finish(), but hands the buffer over: the caller frees
 * it with p11a_secret_free(*p, *len) (or free() when it holds no secret).
 * The writer is left empty.  On error nothing is handed over and the
 * writer is unchanged.  An empty writer hands over NULL with *len 0.
 */
int proto_writer_take(struct proto_writer *w, uint8_t **p, size_t *len);

/*
 * Writers.  Each returns the sticky error after the write (0 when all went
 * well).  P11A_E_TOO_LARGE when the data would pass max (or a string is
 * longer than a uint32), P11A_E_NOMEM when growing failed, P11A_E_ARGS
 * for bad arguments (text with a NUL byte, NULL with a non-zero length).
 */
int proto_write_u8(struct proto_writer *w, uint8_t v);
int proto_write_u32(struct proto_writer *w, uint32_t v);
int proto_write_u64(struct proto_writer *w, uint64_t v);
/* len raw bytes, without a length prefix. */
int proto_write_raw(struct proto_writer *w, const void *p, size_t len);
/* A string: uint32 len, then the bytes. */
int proto_write_string(struct proto_writer *w, const void *p, size_t len);
int proto_write_bytes(struct proto_writer *w, struct proto_bytes v);
/* A string from a C string (NULL writes an empty string). */
int proto_write_cstring(struct proto_writer *w, const char *s);
/* A string from a text view; P11A_E_ARGS when it contains a NUL byte. */
int proto_write_text(struct proto_writer *w, struct proto_text t);
/*
 * An mpint from an unsigned big-endian magnitude: leading zero bytes are
 * stripped and a zero byte is prepended when the top bit is set, so the
 * result is the minimal non-negative encoding (zero is an empty string).
 */
int proto_write_mpint(struct proto_writer *w, const uint8_t *be, size_t len);

/*
 * Nested strings whose length is known only at the end: _begin reserves
 * the uint32 and stores its offset in *mark; _end patches it.  Both
 * return the sticky error.
 */
int proto_write_nested_begin(struct proto_writer *w, size_t *mark);
int proto_write_nested_end(struct proto_writer *w, size_t mark);

/*
 * Frames: _begin reserves the 4-byte length and writes the type byte;
 * _end patches the length.  Frames do not nest (P11A_E_INTERNAL).  _end
 * fails with P11A_E_TOO_LARGE when the body exceeds PROTO_FRAME_MAX, even
 * if the writer's max is larger.
 */
int proto_writer_frame_begin(struct proto_writer *w, uint8_t type);
int proto_writer_frame_end(struct proto_writer *w);

/* Text helpers. */

/* A view of a C string; NULL gives the empty text. */
struct proto_text proto_text_from(const char *s);

/* True when t holds exactly the bytes of s (s not NULL). */
bool proto_text_eq(struct proto_text t, const char *s);

/*
 * Copies t to a new NUL-terminated heap string (free() it), or returns
 * NULL when out of memory.
 */
char *proto_text_dup(struct proto_text t);

/*
 * Wipes len bytes at p with explicit_bzero() and frees p.  For PINs,
 * passphrases, plaintext and derived secrets, on every exit path.
 * p11a_secret_free(NULL, n) is a no-op.
 */
void p11a_secret_free(void *p, size_t len);

/*
 * Test hook (curl torture style), not for production code: after
 * proto_test_alloc_fail_at(n) with n >= 0, the n-th allocation made by
 * proto/ from now on (counting from 0) fails and the others succeed;
 * n < 0 switches failures off.  proto_test_alloc_count() returns how many
 * allocations were attempted since the last proto_test_alloc_fail_at()
 * with n >= 0 (arm with LONG_MAX to count without failing).
 * This is the only global state of proto/; it is not thread-safe while a
 * test has it armed.
 */
void proto_test_alloc_fail_at(long n);
long proto_test_alloc_count(void);

#endif
