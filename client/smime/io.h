/*
 * Streams for client/smime: a buffered reader with a line interface, and
 * write-only sinks that can be stacked (base64, BER OCTET STRING chunks,
 * a file descriptor).  Everything runs in constant memory: the reader
 * keeps one window of SMIME_RD_BUF bytes, each sink at most one buffer.
 *
 * All functions return 0 or a negative P11A_E_* code, except where said.
 * Errors are sticky: once a reader or sink failed, every later call fails
 * with the same code, so callers may check once at the end.
 */
#ifndef P11AGENT_SMIME_IO_H
#define P11AGENT_SMIME_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#define SMIME_RD_BUF (64 * 1024)

/* smime_rd_line() reached the end of the input. */
#define SMIME_EOF 1

/* Line endings, as smime_rd_line() reports them. */
enum smime_eol {
	SMIME_EOL_NONE = 0, /* end of input, or a chunk of an overlong line */
	SMIME_EOL_LF = 1,
	SMIME_EOL_CRLF = 2,
};

struct smime_rd {
	/* Fills p with up to cap bytes; *got = 0 at the end of the input. */
	int (*fill)(struct smime_rd *rd, uint8_t *p, size_t cap, size_t *got);
	int fd;             /* for smime_rd_init_fd() */
	const uint8_t *mem; /* for smime_rd_init_mem() */
	size_t memlen, mempos;
	void *ctx; /* for other fill functions */
	uint8_t *buf;
	size_t pos, len; /* unread bytes are buf[pos..len) */
	size_t touched;  /* bytes of buf ever written: what cleanup wipes */
	bool eof;
	int err;
	uint64_t offset; /* bytes handed out so far */
};

/* A reader over fd (not closed by smime_rd_cleanup()). */
int smime_rd_init_fd(struct smime_rd *rd, int fd);

/* A reader over len bytes at p (borrowed; must outlive the reader). */
int smime_rd_init_mem(struct smime_rd *rd, const uint8_t *p, size_t len);

/* A reader with a fill function of the caller's. */
int smime_rd_init_fn(struct smime_rd *rd,
                     int (*fill)(struct smime_rd *, uint8_t *, size_t,
                                 size_t *),
                     void *ctx);

void smime_rd_cleanup(struct smime_rd *rd);

/*
 * Returns the next line in *line and *len without its line ending, and the
 * ending in *eol.  A line longer than the buffer comes in chunks with
 * SMIME_EOL_NONE.  The view is valid until the next call.  Returns 0,
 * SMIME_EOF when nothing is left, or a negative code.
 */
int smime_rd_line(struct smime_rd *rd, const char **line, size_t *len,
                  enum smime_eol *eol);

/*
 * Makes up to n bytes visible without consuming them: *p and *avail
 * (less than n only at the end of the input).
 */
int smime_rd_peek(struct smime_rd *rd, size_t n, const uint8_t **p,
                  size_t *avail);

/*
 * Reads up to cap bytes; *got = 0 only at the end of the input.  Returns
 * 0 or a negative code.
 */
int smime_rd_read(struct smime_rd *rd, uint8_t *p, size_t cap, size_t *got);

/* Sinks. */
struct smime_sink {
	int (*write)(struct smime_sink *s, const void *p, size_t n);
	int (*finish)(struct smime_sink *s); /* flush; may be NULL */
	int err;
};

int smime_put(struct smime_sink *s, const void *p, size_t n);
int smime_puts(struct smime_sink *s, const char *str);
int smime_finish(struct smime_sink *s);

/* Buffered writes to a file descriptor. */
struct smime_fdsink {
	struct smime_sink base;
	int fd;
	uint8_t *buf;
	size_t len;
	size_t touched; /* bytes of buf ever written: what cleanup wipes */
	uint64_t written;
};
int smime_fdsink_init(struct smime_fdsink *s, int fd);
void smime_fdsink_cleanup(struct smime_fdsink *s);

/* Growable memory (bounded by max). */
struct smime_memsink {
	struct smime_sink base;
	uint8_t *buf;
	size_t len, cap, max;
};
void smime_memsink_init(struct smime_memsink *s, size_t max);
void smime_memsink_cleanup(struct smime_memsink *s);

/* Base64 lines of 76 characters, each followed by eol, into next. */
struct smime_b64sink {
	struct smime_sink base;
	struct smime_sink *next;
	const char *eol;
	uint8_t in[57];
	size_t inlen;
};
void smime_b64sink_init(struct smime_b64sink *s, struct smime_sink *next,
                        const char *eol);

/*
 * Bytes wrapped as the primitive chunks of an indefinite-length
 * constructed OCTET STRING (the caller writes 24 80 before and 00 00
 * after), up to 16 KiB a chunk.
 */
struct smime_bersink {
	struct smime_sink base;
	struct smime_sink *next;
	uint8_t *buf;
	size_t len;
	size_t touched; /* bytes of buf ever written: what cleanup wipes */
};
int smime_bersink_init(struct smime_bersink *s, struct smime_sink *next);
void smime_bersink_cleanup(struct smime_bersink *s);

/* A sink that feeds up to 4 digests, with a 64 KiB buffer in front. */
#define SMIME_MAX_MDS 4
struct smime_hashsink {
	struct smime_sink base;
	struct smime_digest md[SMIME_MAX_MDS];
	int nmd;
	uint8_t *buf;
	size_t len;
	size_t touched; /* bytes of buf ever written: what cleanup wipes */
};
int smime_hashsink_init(struct smime_hashsink *s);

/*
 * Adds a digest made with md_nid (digest.h); the digests are numbered
 * 0, 1... in the order they were added.  Returns 0, or P11A_E_ARGS for
 * a fifth digest or one digest.h does not know.
 */
int smime_hashsink_add(struct smime_hashsink *s, int md_nid);

/*
 * Flushes the buffer and writes digest number i into out (room for
 * SMIME_DIGEST_MAX bytes) and its size into *len.  Once per digest.
 */
int smime_hashsink_final(struct smime_hashsink *s, int i, uint8_t *out,
                         unsigned *len);

/* Frees the buffer and wipes it and the digest states. */
void smime_hashsink_cleanup(struct smime_hashsink *s);

/*
 * Streaming base64 decoder: feed text, get bytes into next.  Whitespace
 * is skipped; any other character outside the alphabet, data after the
 * padding, or a truncated final quantum is P11A_E_FORMAT.
 */
struct smime_b64dec {
	struct smime_sink base;
	struct smime_sink *next;
	uint32_t acc;
	int nacc, pad;
	bool done;
};
void smime_b64dec_init(struct smime_b64dec *d, struct smime_sink *next);

/*
 * Wipes n bytes at p with explicit_bzero(): the one wipe of the streams,
 * the canonicalizer and the signing code, which run in the libcrypto-free
 * `p11 sign` process (no OPENSSL_cleanse() there).  p may be NULL.
 */
void smime_wipe(void *p, size_t n);

/* Opens an unlinked temporary file in dir (NULL: $TMPDIR or /tmp). */
int smime_tmpfile(const char *dir, int *fd);

#endif
