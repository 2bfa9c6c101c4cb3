/*
 * Readers and sinks of client/smime (io.h).  No libcrypto here: this file
 * is part of the signing library (base64 comes from Nettle).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* explicit_bzero() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/base64.h>

#include "proto/err.h"
#include "io.h"

void
smime_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

/* Readers. */

static int
fill_fd(struct smime_rd *rd, uint8_t *p, size_t cap, size_t *got)
{
	ssize_t n;

	for (;;) {
		n = read(rd->fd, p, cap);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return P11A_E_IO;
	}
	*got = (size_t)n;
	return 0;
}

static int
fill_mem(struct smime_rd *rd, uint8_t *p, size_t cap, size_t *got)
{
	size_t n = rd->memlen - rd->mempos;

	if (n > cap)
		n = cap;
	memcpy(p, rd->mem + rd->mempos, n);
	rd->mempos += n;
	*got = n;
	return 0;
}

static int
rd_init(struct smime_rd *rd)
{
	rd->pos = rd->len = 0;
	rd->eof = false;
	rd->err = 0;
	rd->offset = 0;
	if ((rd->buf = malloc(SMIME_RD_BUF)) == NULL)
		return P11A_E_NOMEM;
	return 0;
}

int
smime_rd_init_fd(struct smime_rd *rd, int fd)
{
	memset(rd, 0, sizeof(*rd));
	rd->fd = fd;
	rd->fill = fill_fd;
	return rd_init(rd);
}

int
smime_rd_init_mem(struct smime_rd *rd, const uint8_t *p, size_t len)
{
	memset(rd, 0, sizeof(*rd));
	rd->fd = -1;
	rd->mem = p;
	rd->memlen = len;
	rd->fill = fill_mem;
	return rd_init(rd);
}

int
smime_rd_init_fn(struct smime_rd *rd,
                 int (*fill)(struct smime_rd *, uint8_t *, size_t, size_t *),
                 void *ctx)
{
	memset(rd, 0, sizeof(*rd));
	rd->fd = -1;
	rd->fill = fill;
	rd->ctx = ctx;
	return rd_init(rd);
}

/*
 * The buffers are large and mostly untouched for small mail; wiping only
 * what was written keeps the untouched pages from being faulted in.
 */
static void
note_touched(size_t *touched, size_t end)
{
	if (end > *touched)
		*touched = end;
}

/* Frees a buffer after wiping what was written to it. */
static void
wipe_free(uint8_t **buf, size_t touched)
{
	smime_wipe(*buf, touched);
	free(*buf);
	*buf = NULL;
}

void
smime_rd_cleanup(struct smime_rd *rd)
{
	if (rd == NULL)
		return;
	/* The window may hold decrypted plaintext. */
	wipe_free(&rd->buf, rd->touched);
}

/* Moves unread bytes to the front and reads more.  Sets rd->eof. */
static int
rd_more(struct smime_rd *rd)
{
	size_t got;
	int r;

	if (rd->err != 0)
		return rd->err;
	if (rd->eof)
		return 0;
	if (rd->pos > 0) {
		memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
		rd->len -= rd->pos;
		rd->pos = 0;
	}
	if (rd->len == SMIME_RD_BUF)
		return 0;
	if ((r = rd->fill(rd, rd->buf + rd->len, SMIME_RD_BUF - rd->len,
	                  &got)) != 0)
		return rd->err = r;
	if (got == 0)
		rd->eof = true;
	rd->len += got;
	note_touched(&rd->touched, rd->len);
	return 0;
}

int
smime_rd_line(struct smime_rd *rd, const char **line, size_t *len,
              enum smime_eol *eol)
{
	uint8_t *start, *nl;
	size_t scanned = 0, n;
	int r;

	*line = NULL;
	*len = 0;
	*eol = SMIME_EOL_NONE;
	for (;;) {
		start = rd->buf + rd->pos;
		nl = memchr(start + scanned, '\n', rd->len - rd->pos - scanned);
		if (nl != NULL)
			break;
		scanned = rd->len - rd->pos;
		if (rd->eof || (rd->pos == 0 && rd->len == SMIME_RD_BUF)) {
			/* End of input or an overlong line: hand out what is
			 * there, keeping a trailing CR for the next round. */
			n = rd->len - rd->pos;
			if (n == 0)
				return rd->err != 0 ? rd->err : SMIME_EOF;
			if (!rd->eof && start[n - 1] == '\r')
				n--;
			*line = (const char *)start;
			*len = n;
			rd->pos += n;
			rd->offset += n;
			return 0;
		}
		if ((r = rd_more(rd)) != 0)
			return r;
		/* rd_more() moved the window; scanned stays relative. */
	}
	n = (size_t)(nl - start);
	*line = (const char *)start;
	rd->pos += n + 1;
	rd->offset += n + 1;
	if (n > 0 && start[n - 1] == '\r') {
		*len = n - 1;
		*eol = SMIME_EOL_CRLF;
	} else {
		*len = n;
		*eol = SMIME_EOL_LF;
	}
	return 0;
}

int
smime_rd_peek(struct smime_rd *rd, size_t n, const uint8_t **p, size_t *avail)
{
	int r;

	if (n > SMIME_RD_BUF)
		n = SMIME_RD_BUF;
	while (rd->len - rd->pos < n && !rd->eof) {
		if ((r = rd_more(rd)) != 0)
			return r;
	}
	*p = rd->buf + rd->pos;
	*avail = rd->len - rd->pos;
	return 0;
}

int
smime_rd_read(struct smime_rd *rd, uint8_t *p, size_t cap, size_t *got)
{
	size_t n;
	int r;

	*got = 0;
	if (rd->pos == rd->len) {
		if (rd->eof)
			return rd->err;
		/* Large reads go straight to the caller's buffer. */
		if (cap >= SMIME_RD_BUF / 2) {
			if (rd->err != 0)
				return rd->err;
			if ((r = rd->fill(rd, p, cap, got)) != 0)
				return rd->err = r;
			if (*got == 0)
				rd->eof = true;
			rd->offset += *got;
			return 0;
		}
		if ((r = rd_more(rd)) != 0)
			return r;
	}
	n = rd->len - rd->pos;
	if (n > cap)
		n = cap;
	memcpy(p, rd->buf + rd->pos, n);
	rd->pos += n;
	rd->offset += n;
	*got = n;
	return 0;
}

/* Sinks. */

int
smime_put(struct smime_sink *s, const void *p, size_t n)
{
	int r;

	if (s->err != 0)
		return s->err;
	if (n == 0)
		return 0;
	if ((r = s->write(s, p, n)) != 0)
		s->err = r;
	return r;
}

int
smime_puts(struct smime_sink *s, const char *str)
{
	return smime_put(s, str, strlen(str));
}

int
smime_finish(struct smime_sink *s)
{
	int r;

	if (s->err != 0)
		return s->err;
	if (s->finish == NULL)
		return 0;
	if ((r = s->finish(s)) != 0)
		s->err = r;
	return r;
}

/* File descriptor. */

#define FDSINK_BUF (128 * 1024)

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return P11A_E_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fdsink_flush(struct smime_sink *base)
{
	struct smime_fdsink *s = (struct smime_fdsink *)base;
	int r;

	if ((r = write_all(s->fd, s->buf, s->len)) != 0)
		return r;
	s->len = 0;
	return 0;
}

static int
fdsink_write(struct smime_sink *base, const void *p, size_t n)
{
	struct smime_fdsink *s = (struct smime_fdsink *)base;
	int r;

	s->written += n;
	if (n > FDSINK_BUF - s->len) {
		if ((r = fdsink_flush(base)) != 0)
			return r;
		if (n >= FDSINK_BUF)
			return write_all(s->fd, p, n);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	note_touched(&s->touched, s->len);
	return 0;
}

int
smime_fdsink_init(struct smime_fdsink *s, int fd)
{
	memset(s, 0, sizeof(*s));
	s->base.write = fdsink_write;
	s->base.finish = fdsink_flush;
	s->fd = fd;
	if ((s->buf = malloc(FDSINK_BUF)) == NULL)
		return P11A_E_NOMEM;
	return 0;
}

void
smime_fdsink_cleanup(struct smime_fdsink *s)
{
	if (s == NULL)
		return;
	wipe_free(&s->buf, s->touched);
}

/* Memory. */

/*
 * realloc() that leaves no copy of the old contents behind: a new block,
 * the bytes copied over, the old block wiped and freed.
 */
static uint8_t *
clear_realloc(uint8_t *old, size_t oldlen, size_t len)
{
	uint8_t *p;

	if ((p = malloc(len)) == NULL)
		return NULL;
	if (old != NULL) {
		memcpy(p, old, oldlen < len ? oldlen : len);
		smime_wipe(old, oldlen);
		free(old);
	}
	return p;
}

static int
memsink_write(struct smime_sink *base, const void *p, size_t n)
{
	struct smime_memsink *s = (struct smime_memsink *)base;
	size_t ncap;
	uint8_t *nb;

	if (n > s->max - s->len)
		return P11A_E_TOO_LARGE;
	if (n > s->cap - s->len) {
		ncap = s->cap < 4096 ? 4096 : s->cap;
		while (ncap - s->len < n)
			ncap = ncap > s->max / 2 ? s->max : ncap * 2;
		if ((nb = clear_realloc(s->buf, s->cap, ncap)) == NULL)
			return P11A_E_NOMEM;
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

void
smime_memsink_init(struct smime_memsink *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->base.write = memsink_write;
	s->max = max;
}

void
smime_memsink_cleanup(struct smime_memsink *s)
{
	if (s == NULL)
		return;
	wipe_free(&s->buf, s->cap);
	s->len = s->cap = 0;
}

/* Base64 encoder. */

static int
b64sink_line(struct smime_b64sink *s, const uint8_t *p, size_t n)
{
	char out[BASE64_ENCODE_RAW_LENGTH(sizeof(s->in))];
	size_t len = BASE64_ENCODE_RAW_LENGTH(n);

	base64_encode_raw(out, n, p);
	if (smime_put(s->next, out, len) != 0 ||
	    smime_puts(s->next, s->eol) != 0)
		return s->next->err;
	return 0;
}

static int
b64sink_write(struct smime_sink *base, const void *vp, size_t n)
{
	struct smime_b64sink *s = (struct smime_b64sink *)base;
	const uint8_t *p = vp;
	size_t take;
	int r;

	if (s->inlen > 0) {
		take = sizeof(s->in) - s->inlen;
		if (take > n)
			take = n;
		memcpy(s->in + s->inlen, p, take);
		s->inlen += take;
		p += take;
		n -= take;
		if (s->inlen < sizeof(s->in))
			return 0;
		if ((r = b64sink_line(s, s->in, s->inlen)) != 0)
			return r;
		s->inlen = 0;
	}
	while (n >= sizeof(s->in)) {
		if ((r = b64sink_line(s, p, sizeof(s->in))) != 0)
			return r;
		p += sizeof(s->in);
		n -= sizeof(s->in);
	}
	memcpy(s->in, p, n);
	s->inlen = n;
	return 0;
}

static int
b64sink_finish(struct smime_sink *base)
{
	struct smime_b64sink *s = (struct smime_b64sink *)base;
	int r;

	if (s->inlen > 0) {
		if ((r = b64sink_line(s, s->in, s->inlen)) != 0)
			return r;
		s->inlen = 0;
	}
	return 0;
}

void
smime_b64sink_init(struct smime_b64sink *s, struct smime_sink *next,
                   const char *eol)
{
	memset(s, 0, sizeof(*s));
	s->base.write = b64sink_write;
	s->base.finish = b64sink_finish;
	s->next = next;
	s->eol = eol;
}

/* BER OCTET STRING chunks. */

#define BER_CHUNK (16 * 1024)

static int
bersink_flush(struct smime_sink *base)
{
	struct smime_bersink *s = (struct smime_bersink *)base;
	uint8_t hdr[4];

	if (s->len == 0)
		return 0;
	hdr[0] = 0x04;
	hdr[1] = 0x82;
	hdr[2] = (uint8_t)(s->len >> 8);
	hdr[3] = (uint8_t)s->len;
	if (smime_put(s->next, hdr, sizeof(hdr)) != 0 ||
	    smime_put(s->next, s->buf, s->len) != 0)
		return s->next->err;
	s->len = 0;
	return 0;
}

static int
bersink_write(struct smime_sink *base, const void *vp, size_t n)
{
	struct smime_bersink *s = (struct smime_bersink *)base;
	const uint8_t *p = vp;
	size_t take;
	int r;

	while (n > 0) {
		take = BER_CHUNK - s->len;
		if (take > n)
			take = n;
		memcpy(s->buf + s->len, p, take);
		s->len += take;
		note_touched(&s->touched, s->len);
		p += take;
		n -= take;
		if (s->len == BER_CHUNK && (r = bersink_flush(base)) != 0)
			return r;
	}
	return 0;
}

int
smime_bersink_init(struct smime_bersink *s, struct smime_sink *next)
{
	memset(s, 0, sizeof(*s));
	s->base.write = bersink_write;
	s->base.finish = bersink_flush;
	s->next = next;
	if ((s->buf = malloc(BER_CHUNK)) == NULL)
		return P11A_E_NOMEM;
	return 0;
}

void
smime_bersink_cleanup(struct smime_bersink *s)
{
	if (s == NULL)
		return;
	wipe_free(&s->buf, s->touched);
}

/* Digests. */

#define HASH_BUF (64 * 1024)

static int
hashsink_flush(struct smime_sink *base)
{
	struct smime_hashsink *s = (struct smime_hashsink *)base;
	int i;

	for (i = 0; i < s->nmd; i++)
		smime_digest_update(&s->md[i], s->buf, s->len);
	s->len = 0;
	return 0;
}

static int
hashsink_write(struct smime_sink *base, const void *p, size_t n)
{
	struct smime_hashsink *s = (struct smime_hashsink *)base;
	int i, r;

	if (n > HASH_BUF - s->len) {
		if ((r = hashsink_flush(base)) != 0)
			return r;
		if (n >= HASH_BUF) {
			for (i = 0; i < s->nmd; i++)
				smime_digest_update(&s->md[i], p, n);
			return 0;
		}
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	note_touched(&s->touched, s->len);
	return 0;
}

int
smime_hashsink_init(struct smime_hashsink *s)
{
	memset(s, 0, sizeof(*s));
	s->base.write = hashsink_write;
	s->base.finish = hashsink_flush;
	if ((s->buf = malloc(HASH_BUF)) == NULL)
		return P11A_E_NOMEM;
	return 0;
}

int
smime_hashsink_add(struct smime_hashsink *s, int md_nid)
{
	int r;

	if (s->nmd == SMIME_MAX_MDS)
		return P11A_E_ARGS;
	if ((r = smime_digest_init(&s->md[s->nmd], md_nid)) != 0)
		return r;
	s->nmd++;
	return 0;
}

int
smime_hashsink_final(struct smime_hashsink *s, int i, uint8_t *out,
                     unsigned *len)
{
	size_t n;
	int r;

	*len = 0;
	if (i < 0 || i >= s->nmd)
		return P11A_E_ARGS;
	if ((r = smime_finish(&s->base)) != 0)
		return r;
	if ((r = smime_digest_final(&s->md[i], out, &n)) != 0)
		return r;
	*len = (unsigned)n;
	return 0;
}

void
smime_hashsink_cleanup(struct smime_hashsink *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nmd; i++)
		smime_digest_cleanup(&s->md[i]);
	s->nmd = 0;
	wipe_free(&s->buf, s->touched);
}

/* Base64 decoder. */

/* Base64 alphabet values; -2 for '=', -3 for white space, -1 else. */
static const signed char b64tab[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -3, -3, -1, -1, -3, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -3, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, 62, -1, -1, -1, 63, 52, 53, 54, 55, 56, 57, 58, 59, 60,
    61, -1, -1, -1, -2, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1,
    -1, -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
    43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int
b64dec_write(struct smime_sink *base, const void *vp, size_t n)
{
	struct smime_b64dec *d = (struct smime_b64dec *)base;
	const uint8_t *p = vp;
	uint8_t out[3 * 1024];
	size_t o = 0, i;
	int v, r;

	for (i = 0; i < n; i++) {
		v = b64tab[p[i]];
		if (v == -3)
			continue;
		if (v == -1 || d->done)
			return P11A_E_FORMAT;
		if (v == -2) {
			/* "xx==" or "xxx=": padding only after 2 or 3 chars. */
			if (d->nacc + d->pad < 2)
				return P11A_E_FORMAT;
			d->pad++;
			if (d->nacc + d->pad < 4)
				continue;
			if (d->nacc == 2) {
				out[o++] = (uint8_t)(d->acc >> 4);
			} else {
				out[o++] = (uint8_t)(d->acc >> 10);
				out[o++] = (uint8_t)(d->acc >> 2);
			}
			d->done = true;
			d->nacc = 0;
			continue;
		}
		if (d->pad > 0)
			return P11A_E_FORMAT;
		d->acc = (d->acc << 6) | (uint32_t)v;
		if (++d->nacc == 4) {
			out[o++] = (uint8_t)(d->acc >> 16);
			out[o++] = (uint8_t)(d->acc >> 8);
			out[o++] = (uint8_t)d->acc;
			d->nacc = 0;
			d->acc = 0;
			if (o > sizeof(out) - 3) {
				if ((r = smime_put(d->next, out, o)) != 0)
					return r;
				o = 0;
			}
		}
	}
	return smime_put(d->next, out, o);
}

static int
b64dec_finish(struct smime_sink *base)
{
	struct smime_b64dec *d = (struct smime_b64dec *)base;

	if (d->nacc != 0 || (d->pad > 0 && !d->done))
		return P11A_E_FORMAT;
	return 0;
}

void
smime_b64dec_init(struct smime_b64dec *d, struct smime_sink *next)
{
	memset(d, 0, sizeof(*d));
	d->base.write = b64dec_write;
	d->base.finish = b64dec_finish;
	d->next = next;
}

int
smime_tmpfile(const char *dir, int *fd)
{
	const char *t;

	*fd = -1;
	if (dir == NULL) {
		t = getenv("TMPDIR");
		dir = (t != NULL && t[0] == '/') ? t : "/tmp";
	}
	*fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (*fd < 0) {
		char path[4096];

		if ((size_t)snprintf(path, sizeof(path), "%s/.p11-XXXXXX",
		                     dir) >= sizeof(path))
			return P11A_E_ARGS;
		if ((*fd = mkostemp(path, O_CLOEXEC)) < 0)
			return P11A_E_IO;
		unlink(path);
	}
	return 0;
}
