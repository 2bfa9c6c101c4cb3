/*
 * Connections to the agent: finding the socket, connecting, and one
 * request/reply exchange with a deadline.
 *
 * The socket is non-blocking and every wait goes through poll() with the
 * time left until the request's deadline, so a silent or slow agent cannot
 * hang a client, and a signal (EINTR) only makes us wait again for what is
 * left.  Replies are read in two steps: the 4-byte header first, checked
 * against the 256 KiB cap before anything is allocated, then exactly the
 * body it announces.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "p11agent.h"
#include "internal.h"
#include "proto/buf.h"
#include "proto/err.h"
#include "proto/frame.h"
#include "proto/msg.h"

#ifndef P11AGENT_LIB_VERSION
#define P11AGENT_LIB_VERSION "0.0.0"
#endif

/* How long connect() may wait for room in the agent's backlog. */
#define CONNECT_TIMEOUT_MS 5000

const char *
p11agent_version(void)
{
	return P11AGENT_LIB_VERSION;
}

const char *
p11agent_strerror(int code)
{
	return p11a_strerror(code);
}

const char *
p11agent_errname(int code)
{
	return p11a_errname(code);
}

/* Paths. */

static int
path_put(char *buf, size_t len, const char *a, const char *b)
{
	int n;

	if (buf == NULL || len == 0)
		return P11A_E_ARGS;
	n = snprintf(buf, len, "%s%s", a, b);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return P11A_E_ARGS;
	}
	return 0;
}

int
p11agent_default_socket_path(char *buf, size_t len)
{
	const char *xdg = secure_getenv("XDG_RUNTIME_DIR");
	char tmp[64];

	/* Same rule as the agent (agent/sock.c): only an absolute path. */
	if (xdg != NULL && xdg[0] == '/')
		return path_put(buf, len, xdg, "/p11agent/agent.sock");
	snprintf(tmp, sizeof(tmp), "/tmp/p11agent-%lu",
	         (unsigned long)getuid());
	return path_put(buf, len, tmp, "/agent.sock");
}

int
p11agent_socket_path(const char *path, char *buf, size_t len)
{
	const char *env;

	if (path != NULL && path[0] != '\0')
		return path_put(buf, len, path, "");
	env = secure_getenv("P11AGENT_SOCK");
	if (env != NULL && env[0] != '\0')
		return path_put(buf, len, env, "");
	return p11agent_default_socket_path(buf, len);
}

/* Time. */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A deadline timeout_ms from now; -1 means none. */
static int64_t
deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/*
 * Waits until fd is ready for events or the deadline passes.  Returns 0
 * (ready, or an error/hangup the next read or write will report),
 * P11A_E_INCOMPLETE on timeout, or P11A_E_IO with errno set.
 */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		left = -1;
		if (deadline >= 0) {
			left = deadline - now_ms();
			if (left <= 0)
				return P11A_E_INCOMPLETE;
			if (left > INT_MAX)
				left = INT_MAX;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			continue; /* the loop head decides about the time */
		if (errno != EINTR)
			return P11A_E_IO;
	}
}

static int
set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return P11A_E_IO;
	return 0;
}

/* Maps a failed connect's errno to our codes. */
static int
connect_errno(int err)
{
	switch (err) {
	case ENOENT:
	case ECONNREFUSED:
	case ENOTDIR:
		return P11A_E_NO_AGENT;
	case EACCES:
	case EPERM:
		return P11A_E_DENIED;
	default:
		return P11A_E_IO;
	}
}

/*
 * Connects the non-blocking socket fd to sun, retrying interrupted calls
 * and a full backlog until CONNECT_TIMEOUT_MS.  Returns 0 or a code with
 * errno set.
 */
static int
connect_unix(int fd, const struct sockaddr_un *sun)
{
	int64_t deadline = deadline_after(CONNECT_TIMEOUT_MS);
	socklen_t slen;
	int err, r;

	for (;;) {
		if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) ==
		    0)
			return 0;
		switch (errno) {
		case EISCONN:
			return 0;
		case EINTR:
			continue;
		case EAGAIN:
			/* Backlog full: wait a little and try again. */
			if (now_ms() >= deadline) {
				errno = ETIMEDOUT;
				return P11A_E_IO;
			}
			(void)poll(NULL, 0, 10);
			continue;
		case EINPROGRESS:
		case EALREADY:
			if ((r = wait_fd(fd, POLLOUT, deadline)) != 0) {
				if (r == P11A_E_INCOMPLETE)
					errno = ETIMEDOUT;
				return P11A_E_IO;
			}
			err = 0;
			slen = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &slen) !=
			    0)
				return P11A_E_IO;
			if (err == 0)
				return 0;
			errno = err;
			return connect_errno(err);
		default:
			return connect_errno(errno);
		}
	}
}

/* Refuses an agent that runs as another user (and is not root). */
static int
check_peer(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return P11A_E_IO;
	if (cred.uid != geteuid() && cred.uid != 0) {
		errno = EPERM;
		return P11A_E_DENIED;
	}
	return 0;
}

static struct p11agent_conn *
conn_new(int fd, const char *path)
{
	struct p11agent_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->path = strdup(path)) == NULL) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->timeout_ms = P11AGENT_TIMEOUT_DEFAULT_MS;
	c->login_timeout_ms = P11AGENT_LOGIN_TIMEOUT_DEFAULT_MS;
	return c;
}

int
p11agent_connect(const char *path, struct p11agent_conn **out)
{
	struct p11agent_conn *c = NULL;
	struct sockaddr_un sun;
	char buf[PATH_MAX];
	int fd = -1, r, saved;

	if (out == NULL)
		return P11A_E_ARGS;
	*out = NULL;
	if ((r = p11agent_socket_path(path, buf, sizeof(buf))) != 0)
		goto out;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(buf) >= sizeof(sun.sun_path)) {
		r = P11A_E_ARGS;
		errno = ENAMETOOLONG;
		goto out;
	}
	memcpy(sun.sun_path, buf, strlen(buf) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = P11A_E_IO;
		goto out;
	}
	if ((r = connect_unix(fd, &sun)) != 0 || (r = check_peer(fd)) != 0)
		goto out;
	if ((c = conn_new(fd, buf)) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	fd = -1;
	*out = c;
	r = 0;
out:
	if (fd >= 0) {
		/* Keep the errno that explains the failure for the caller. */
		saved = errno;
		close(fd);
		errno = saved;
	}
	return r;
}

int
p11agent_connect_fd(int fd, struct p11agent_conn **out)
{
	struct p11agent_conn *c;
	int r;

	if (out != NULL)
		*out = NULL;
	if (fd < 0 || out == NULL) {
		r = P11A_E_ARGS;
		goto out;
	}
	if ((r = set_nonblock(fd)) != 0)
		goto out;
	if ((c = conn_new(fd, "")) == NULL) {
		r = P11A_E_NOMEM;
		goto out;
	}
	*out = c;
	return 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

void
p11agent_close(struct p11agent_conn *conn)
{
	if (conn == NULL)
		return;
	if (conn->fd >= 0)
		close(conn->fd);
	free(conn->path);
	free(conn);
}

int
p11agent_conn_set_timeout(struct p11agent_conn *conn, int ms)
{
	if (conn == NULL || ms == 0)
		return P11A_E_ARGS;
	conn->timeout_ms = ms < 0 ? -1 : ms;
	return 0;
}

int
p11agent_conn_set_login_timeout(struct p11agent_conn *conn, int ms)
{
	if (conn == NULL || ms == 0)
		return P11A_E_ARGS;
	conn->login_timeout_ms = ms < 0 ? -1 : ms;
	return 0;
}

const char *
p11agent_conn_errmsg(const struct p11agent_conn *conn)
{
	return conn != NULL ? conn->errmsg : "";
}

const char *
p11agent_conn_path(const struct p11agent_conn *conn)
{
	return conn != NULL ? conn->path : "";
}

/* Errors. */

/*
 * The checks before a request (want_pending false) or before reading the
 * reply to one that clib_post() sent (want_pending true).
 */
static int
begin_step(struct p11agent_conn *conn, bool want_pending)
{
	if (conn == NULL)
		return P11A_E_ARGS;
	conn->errmsg[0] = '\0';
	if (conn->broken)
		return clib_fail(conn, P11A_E_IO,
		                 "connection to the agent is no longer usable");
	if (conn->pending != want_pending)
		return clib_fail(conn, P11A_E_ARGS,
		                 want_pending
		                     ? "no request is waiting for its reply"
		                     : "the reply to an earlier request has "
		                       "not been read yet");
	return 0;
}

int
clib_begin(struct p11agent_conn *conn)
{
	return begin_step(conn, false);
}

int
clib_begin_collect(struct p11agent_conn *conn)
{
	return begin_step(conn, true);
}

int
clib_fail(struct p11agent_conn *conn, int code, const char *fmt, ...)
{
	va_list ap;

	if (conn == NULL)
		return code;
	if (fmt == NULL) {
		snprintf(conn->errmsg, sizeof(conn->errmsg), "%s",
		         p11a_strerror(code));
		return code;
	}
	va_start(ap, fmt);
	vsnprintf(conn->errmsg, sizeof(conn->errmsg), fmt, ap);
	va_end(ap);
	return code;
}

/* A failure that leaves the stream out of step: no further requests. */
static int
conn_break(struct p11agent_conn *conn, int code, const char *what, int err)
{
	conn->broken = true;
	if (err != 0)
		return clib_fail(conn, code, "%s: %s", what, strerror(err));
	return clib_fail(conn, code, "%s", what);
}

static int
conn_timeout(struct p11agent_conn *conn, int timeout_ms)
{
	conn->broken = true;
	if (timeout_ms % 1000 == 0)
		return clib_fail(conn, P11A_E_IO,
		                 "the agent did not answer within %d s",
		                 timeout_ms / 1000);
	return clib_fail(conn, P11A_E_IO,
	                 "the agent did not answer within %d ms", timeout_ms);
}

int
clib_reply(struct p11agent_conn *conn, int ret,
           const struct proto_failure *fail, const char *what)
{
	if (ret == 0)
		return 0;
	if (fail->code != 0) {
		if (fail->code == P11A_E_UNKNOWN_REQUEST && fail->generic)
			return clib_fail(conn, ret,
			                 "the agent does not support %s", what);
		if (fail->message.len == 0)
			return clib_fail(conn, ret, NULL);
		clib_text_sanitize(conn->errmsg, sizeof(conn->errmsg),
		                   fail->message.p, fail->message.len);
		return ret;
	}
	conn->broken = true;
	return clib_fail(conn, ret == P11A_E_NOMEM ? ret : P11A_E_FORMAT,
	                 ret == P11A_E_NOMEM ? NULL : "malformed reply to %s",
	                 what);
}

/* I/O. */

/* Waits for the socket to be ready; a failure or timeout breaks conn. */
static int
conn_wait(struct p11agent_conn *conn, short events, int64_t deadline,
          int timeout_ms)
{
	int r = wait_fd(conn->fd, events, deadline);

	if (r == P11A_E_INCOMPLETE)
		return conn_timeout(conn, timeout_ms);
	if (r != 0)
		return conn_break(conn, P11A_E_IO, "cannot wait for the agent",
		                  errno);
	return 0;
}

static int
send_all(struct p11agent_conn *conn, const uint8_t *p, size_t len,
         int64_t deadline, int timeout_ms)
{
	ssize_t n;
	int r;

	while (len > 0) {
		n = send(conn->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((r = conn_wait(conn, POLLOUT, deadline,
			                   timeout_ms)) != 0)
				return r;
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return conn_break(conn, P11A_E_IO,
			                  "the agent closed the connection", 0);
		return conn_break(conn, P11A_E_IO, "cannot send to the agent",
		                  n < 0 ? errno : EIO);
	}
	return 0;
}

/*
 * Reads exactly len bytes.  in_reply says that part of the reply came
 * already, to word the error for a reply that stops in the middle.
 */
static int
recv_all(struct p11agent_conn *conn, uint8_t *p, size_t len, int64_t deadline,
         int timeout_ms, bool in_reply)
{
	size_t got = 0;
	ssize_t n;
	int r;

	while (got < len) {
		n = read(conn->fd, p + got, len - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return conn_break(
			    conn, P11A_E_IO,
			    in_reply || got > 0
			        ? "the agent closed the connection in the "
			          "middle of a reply"
			        : "the agent closed the connection",
			    0);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((r = conn_wait(conn, POLLIN, deadline,
			                   timeout_ms)) != 0)
				return r;
			continue;
		}
		if (errno == ECONNRESET)
			return conn_break(conn, P11A_E_IO,
			                  "the agent closed the connection", 0);
		return conn_break(conn, P11A_E_IO, "cannot read from the agent",
		                  errno);
	}
	return 0;
}

static int
encode_fail(struct p11agent_conn *conn, int enc)
{
	switch (enc) {
	case P11A_E_TOO_LARGE:
		return clib_fail(conn, enc,
		                 "request too large (the limit is 256 KiB)");
	case P11A_E_ARGS:
		return clib_fail(conn, enc,
		                 "invalid argument (text with a NUL byte?)");
	default:
		return clib_fail(conn, enc, NULL);
	}
}

int
clib_post(struct p11agent_conn *conn, struct proto_writer *w, int enc,
          int timeout_ms)
{
	const uint8_t *req;
	size_t reqlen;
	int64_t deadline = deadline_after(timeout_ms);
	int r;

	if (enc != 0 || (enc = proto_writer_finish(w, &req, &reqlen)) != 0) {
		r = encode_fail(conn, enc);
		goto out;
	}
	r = send_all(conn, req, reqlen, deadline, timeout_ms);
	if (r == 0) {
		conn->pending = true;
		conn->pending_deadline = deadline;
		conn->pending_timeout_ms = timeout_ms;
	}
out:
	/* The request may carry a PIN or passphrase: wipe it now. */
	proto_writer_cleanup(w);
	return r;
}

int
clib_collect(struct p11agent_conn *conn, uint8_t **body, size_t *len)
{
	uint8_t hdr[PROTO_FRAME_HEADER], *buf = NULL;
	int64_t deadline = conn->pending_deadline;
	int timeout_ms = conn->pending_timeout_ms;
	size_t n = 0;
	int r;

	*body = NULL;
	*len = 0;
	conn->pending = false;
	if ((r = recv_all(conn, hdr, sizeof(hdr), deadline, timeout_ms,
	                  false)) != 0)
		goto out;
	r = proto_frame_check(hdr, sizeof(hdr), &n);
	if (r == P11A_E_TOO_LARGE) {
		r = conn_break(conn, r,
		               "the agent's reply is larger than 256 KiB", 0);
		goto out;
	}
	if (r != P11A_E_INCOMPLETE) {
		/* 0 cannot happen with 4 bytes; FORMAT is an empty body. */
		r = conn_break(conn, P11A_E_FORMAT,
		               "malformed reply header from the agent", 0);
		goto out;
	}
	n = proto_frame_size(hdr) - PROTO_FRAME_HEADER;
	if ((buf = malloc(n)) == NULL) {
		r = conn_break(conn, P11A_E_NOMEM, "out of memory", 0);
		goto out;
	}
	if ((r = recv_all(conn, buf, n, deadline, timeout_ms, true)) != 0)
		goto out;
	*body = buf;
	*len = n;
	buf = NULL;
	r = 0;
out:
	/* A partial reply may hold part of a secret. */
	p11a_secret_free(buf, n);
	return r;
}

int
clib_transact(struct p11agent_conn *conn, struct proto_writer *w, int enc,
              int timeout_ms, uint8_t **body, size_t *len)
{
	int r;

	*body = NULL;
	*len = 0;
	if ((r = clib_post(conn, w, enc, timeout_ms)) != 0)
		return r;
	return clib_collect(conn, body, len);
}

int
clib_call_start(struct p11agent_conn *conn, struct clib_call *c, bool args_ok)
{
	int r;

	memset(c, 0, sizeof(*c));
	proto_writer_init(&c->w);
	if ((r = clib_begin(conn)) != 0)
		return r;
	if (!args_ok)
		return clib_fail(conn, P11A_E_ARGS, NULL);
	return 0;
}

int
clib_call_collect(struct p11agent_conn *conn, struct clib_call *c, bool args_ok)
{
	int r;

	memset(c, 0, sizeof(*c));
	proto_writer_init(&c->w);
	if ((r = clib_begin_collect(conn)) != 0)
		return r;
	if (!args_ok)
		return clib_fail(conn, P11A_E_ARGS, NULL);
	return clib_collect(conn, &c->body, &c->len);
}

int
clib_call_send(struct p11agent_conn *conn, struct clib_call *c, int enc,
               int timeout_ms)
{
	return clib_transact(conn, &c->w, enc, timeout_ms, &c->body, &c->len);
}

void
clib_call_cleanup(struct clib_call *c)
{
	p11a_secret_free(c->body, c->len);
	c->body = NULL;
	c->len = 0;
	proto_writer_cleanup(&c->w);
}
