/*
 * One client connection.  Requests are handled one at a time, in order,
 * as SSH agent clients expect: reading pauses while a request is in
 * flight and resumes once its reply is written.  A connection is freed
 * when its last reference goes: the handle (dropped in the close
 * callback) and every queued job hold one.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "agent/agent.h"
#include "agent/conn.h"
#include "proto/err.h"
#include "proto/frame.h"

#define CONN_INITIAL_BUF 4096
/*
 * PIN and passphrase frames are small: the first bytes of every read
 * buffer are locked in memory so that they never reach swap.  Big frames
 * (ciphertexts, certificates) carry no such secret.
 */
#define CONN_LOCKED_PREFIX 16384

static void
conn_buf_free(uint8_t *p, size_t cap)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, cap);
	munlock(p, cap < CONN_LOCKED_PREFIX ? cap : CONN_LOCKED_PREFIX);
	free(p);
}

static uint8_t *
conn_buf_new(size_t cap)
{
	uint8_t *p = calloc(1, cap);

	if (p != NULL)
		(void)mlock(p, cap < CONN_LOCKED_PREFIX ? cap
		                                        : CONN_LOCKED_PREFIX);
	return p;
}

struct agent *
agent_conn_agent(const struct agent_conn *c)
{
	return c->agent;
}

int
agent_conn_is_closing(const struct agent_conn *c)
{
	return c->closing;
}

struct agent_conn *
agent_conn_ref(struct agent_conn *c)
{
	c->refs++;
	return c;
}

static void
conn_unlink(struct agent_conn *c)
{
	struct agent *a = c->agent;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	a->nconns--;
}

void
agent_conn_unref(struct agent_conn *c)
{
	struct agent *a = c->agent;

	agent_require(c->refs > 0);
	if (--c->refs > 0)
		return;
	conn_unlink(c);
	/* The buffer may still hold a PIN or a passphrase. */
	conn_buf_free(c->rbuf, c->rcap);
	free(c);
	agent_maybe_finish(a);
}

static void
conn_on_close(uv_handle_t *h)
{
	agent_conn_unref(h->data);
}

void
agent_conn_close(struct agent_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_close((uv_handle_t *)&c->pipe, conn_on_close);
}

static void conn_process(struct agent_conn *c);

static void
conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct agent_conn *c = h->data;
	size_t want = CONN_INITIAL_BUF, frame;
	uint8_t *nb;

	(void)suggested;
	/* Grow only to the size the (already checked) header announces. */
	if (c->rlen >= PROTO_FRAME_HEADER) {
		frame = proto_frame_size(c->rbuf);
		if (frame > want)
			want = frame;
	}
	if (c->rlen == want)
		want += CONN_INITIAL_BUF; /* room for the next header */
	if (want > c->rcap) {
		nb = conn_buf_new(want);
		if (nb == NULL) {
			buf->base = NULL;
			buf->len = 0;
			return;
		}
		if (c->rbuf != NULL)
			memcpy(nb, c->rbuf, c->rlen);
		conn_buf_free(c->rbuf, c->rcap);
		c->rbuf = nb;
		c->rcap = want;
	}
	buf->base = (char *)c->rbuf + c->rlen;
	buf->len = c->rcap - c->rlen;
}

static void
conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct agent_conn *c = s->data;

	(void)buf;
	if (nread == 0)
		return; /* EAGAIN */
	if (nread < 0) {
		if (nread == UV_ENOBUFS)
			agent_log(AGENT_LOG_WARNING,
			          "connection %u: out of memory", c->id);
		else if (nread != UV_EOF)
			agent_log(AGENT_LOG_DEBUG, "connection %u: %s", c->id,
			          uv_strerror((int)nread));
		agent_conn_close(c);
		return;
	}
	c->rlen += (size_t)nread;
	conn_process(c);
}

/* Drops the first n bytes of the read buffer, wiping them. */
static void
conn_consume(struct agent_conn *c, size_t n)
{
	OPENSSL_cleanse(c->rbuf, n);
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	c->rlen -= n;
	OPENSSL_cleanse(c->rbuf + c->rlen, n);
}

static void
conn_process(struct agent_conn *c)
{
	size_t body_len;
	int r;

	while (!c->closing && !c->busy) {
		r = proto_frame_check(c->rbuf, c->rlen, &body_len);
		if (r == P11A_E_INCOMPLETE) {
			uv_read_start((uv_stream_t *)&c->pipe, conn_alloc,
			              conn_on_read);
			return;
		}
		if (r != 0) {
			/* Oversized or empty frame: the stream can't resync. */
			agent_log(AGENT_LOG_INFO,
			          "connection %u: %s; closing it", c->id,
			          p11a_strerror(r));
			agent_conn_close(c);
			return;
		}
		c->busy = 1;
		uv_read_stop((uv_stream_t *)&c->pipe);
		agent_dispatch(c, c->rbuf + PROTO_FRAME_HEADER, body_len);
		conn_consume(c, PROTO_FRAME_HEADER + body_len);
	}
}

static void
conn_on_write(uv_write_t *req, int status)
{
	struct agent_write *wr = req->data;
	struct agent_conn *c = wr->conn;

	OPENSSL_cleanse(wr->buf, wr->len);
	free(wr->buf);
	free(wr);
	if (status != 0) {
		agent_log(AGENT_LOG_DEBUG, "connection %u: write: %s", c->id,
		          uv_strerror(status));
		agent_conn_close(c);
	} else if (!c->closing) {
		c->busy = 0;
		if (c->agent->stopping)
			agent_conn_close(c);
		else
			conn_process(c);
	}
	agent_conn_unref(c);
}

void
agent_conn_reply(struct agent_conn *c, struct proto_writer *w)
{
	struct agent_write *wr;
	uv_buf_t b;
	uint8_t *p = NULL;
	size_t len = 0;

	if (c->closing)
		return;
	if (proto_writer_take(w, &p, &len) != 0 || len == 0 ||
	    (wr = calloc(1, sizeof(*wr))) == NULL) {
		agent_log(AGENT_LOG_WARNING,
		          "connection %u: reply could not be built", c->id);
		if (p != NULL) {
			OPENSSL_cleanse(p, len);
			free(p);
		}
		agent_conn_close(c);
		return;
	}
	wr->conn = agent_conn_ref(c);
	wr->buf = p;
	wr->len = len;
	wr->req.data = wr;
	b = uv_buf_init((char *)p, (unsigned)len);
	if (uv_write(&wr->req, (uv_stream_t *)&c->pipe, &b, 1, conn_on_write) !=
	    0) {
		OPENSSL_cleanse(p, len);
		free(p);
		free(wr);
		agent_conn_close(c);
		agent_conn_unref(c);
	}
}

static int
conn_peer_ok(struct agent_conn *c)
{
	uv_os_fd_t fd;
	uid_t uid;
	pid_t pid;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    agent_peer_uid(fd, &uid, &pid) != 0) {
		agent_log(AGENT_LOG_WARNING, "cannot identify a client");
		return 0;
	}
	if (uid != getuid()) {
		agent_log(
		    AGENT_LOG_WARNING,
		    "refused a client of uid %u (pid %d): only uid %u may "
		    "connect",
		    (unsigned)uid, (int)pid, (unsigned)getuid());
		return 0;
	}
	agent_log(AGENT_LOG_DEBUG, "connection %u from pid %d", c->id,
	          (int)pid);
	return 1;
}

void
agent_conn_accept(struct agent *a)
{
	static unsigned next_id;
	struct agent_conn *c = calloc(1, sizeof(*c));

	if (c == NULL || uv_pipe_init(a->loop, &c->pipe, 0) != 0) {
		free(c);
		agent_log(AGENT_LOG_WARNING, "out of memory accepting");
		return;
	}
	c->agent = a;
	c->refs = 1; /* the handle */
	c->id = ++next_id;
	c->pipe.data = c;
	c->next = a->conns;
	if (a->conns != NULL)
		a->conns->prev = c;
	a->conns = c;
	a->nconns++;
	if (uv_accept((uv_stream_t *)&a->listener, (uv_stream_t *)&c->pipe) !=
	        0 ||
	    !conn_peer_ok(c)) {
		agent_conn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, conn_alloc, conn_on_read);
}
