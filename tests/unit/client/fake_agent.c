/*
 * A fake agent in a thread, for the libp11agent tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/frame.h"
#include "tests.h"

struct start {
	struct fake_agent *fa;
	int listen_fd;
};

static bool
read_exact(int fd, uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void *
fake_main(void *arg)
{
	struct fake_agent *fa = arg;
	uint8_t hdr[PROTO_FRAME_HEADER], *body;
	size_t len;
	bool go_on;

	for (;;) {
		if (!read_exact(fa->fd, hdr, sizeof(hdr)))
			break;
		/* The library never sends more than a frame may hold. */
		if (proto_frame_check(hdr, sizeof(hdr), &len) !=
		    P11A_E_INCOMPLETE)
			break;
		len = proto_frame_size(hdr) - PROTO_FRAME_HEADER;
		if ((body = malloc(len)) == NULL ||
		    !read_exact(fa->fd, body, len)) {
			free(body);
			break;
		}
		fa->nrequests++;
		free(fa->last);
		fa->last = body;
		fa->last_len = len;
		go_on = fa->handler(fa, body, len);
		if (!go_on)
			break;
	}
	close(fa->fd);
	fa->fd = -1;
	return NULL;
}

static void *
fake_accept_main(void *arg)
{
	struct start *st = arg;
	struct fake_agent *fa = st->fa;
	int fd;

	fd = accept(st->listen_fd, NULL, NULL);
	close(st->listen_fd);
	free(st);
	if (fd < 0)
		return NULL;
	fa->fd = fd;
	return fake_main(fa);
}

void
fake_start(struct fake_agent *fa, fake_handler h, void *ctx, int *client_fd)
{
	int sv[2];

	memset(fa, 0, sizeof(*fa));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	                 0);
	fa->fd = sv[1];
	fa->handler = h;
	fa->ctx = ctx;
	fa->client = pthread_self();
	*client_fd = sv[0];
	assert_int_equal(pthread_create(&fa->thread, NULL, fake_main, fa), 0);
}

void
fake_start_listener(struct fake_agent *fa, fake_handler h, void *ctx,
                    int listen_fd)
{
	struct start *st;

	memset(fa, 0, sizeof(*fa));
	fa->fd = -1;
	fa->handler = h;
	fa->ctx = ctx;
	fa->client = pthread_self();
	st = malloc(sizeof(*st));
	assert_non_null(st);
	st->fa = fa;
	st->listen_fd = listen_fd;
	assert_int_equal(
	    pthread_create(&fa->thread, NULL, fake_accept_main, st), 0);
}

void
fake_stop(struct fake_agent *fa)
{
	assert_int_equal(pthread_join(fa->thread, NULL), 0);
	free(fa->last);
	fa->last = NULL;
}

bool
fake_send(struct fake_agent *fa, const void *p, size_t len)
{
	const uint8_t *q = p;
	ssize_t n;

	while (len > 0) {
		n = send(fa->fd, q, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		q += n;
		len -= (size_t)n;
	}
	return true;
}

bool
fake_send_writer(struct fake_agent *fa, struct proto_writer *w)
{
	const uint8_t *p;
	size_t len;
	bool ok;

	/* No cmocka asserts here: this runs in the agent's thread. */
	ok = proto_writer_finish(w, &p, &len) == 0 && fake_send(fa, p, len);
	proto_writer_cleanup(w);
	return ok;
}
