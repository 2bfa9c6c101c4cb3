/*
 * The loop's lifetime: listening, signals, and an orderly stop that
 * finishes in-flight requests before the loop ends.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/conn.h"
#include "agent/job.h"
#include "proto/err.h"

static void
server_on_connection(uv_stream_t *s, int status)
{
	struct agent *a = s->data;

	if (status != 0) {
		agent_log(AGENT_LOG_WARNING, "accept: %s", uv_strerror(status));
		return;
	}
	agent_conn_accept(a);
}

static void
server_on_stop_signal(uv_signal_t *s, int signum)
{
	agent_log(AGENT_LOG_INFO, "signal %d: stopping", signum);
	agent_server_stop(s->data);
}

static void
server_on_hup(uv_signal_t *s, int signum)
{
	struct agent *a = s->data;
	struct agent_job *j;

	(void)signum;
	agent_log(AGENT_LOG_INFO, "SIGHUP: scanning tokens again");
	if ((j = agent_job_new(a, NULL, AGENT_JOB_RESCAN)) != NULL)
		agent_job_queue(j);
}

int
agent_server_start(struct agent *a, int listen_fd)
{
	int r;

	a->started = time(NULL);
	if ((r = uv_pipe_init(a->loop, &a->listener, 0)) != 0 ||
	    (r = uv_pipe_open(&a->listener, listen_fd)) != 0) {
		agent_log(AGENT_LOG_ERROR, "listener: %s", uv_strerror(r));
		return P11A_E_IO;
	}
	a->listener.data = a;
	if ((r = uv_listen((uv_stream_t *)&a->listener, 128,
	                   server_on_connection)) != 0) {
		agent_log(AGENT_LOG_ERROR, "listen: %s", uv_strerror(r));
		return P11A_E_IO;
	}
	uv_signal_init(a->loop, &a->sig_term);
	uv_signal_init(a->loop, &a->sig_int);
	uv_signal_init(a->loop, &a->sig_hup);
	a->sig_term.data = a->sig_int.data = a->sig_hup.data = a;
	uv_signal_start(&a->sig_term, server_on_stop_signal, SIGTERM);
	uv_signal_start(&a->sig_int, server_on_stop_signal, SIGINT);
	uv_signal_start(&a->sig_hup, server_on_hup, SIGHUP);
	agent_login_start_timer(a);
	return 0;
}

void
agent_server_stop(struct agent *a)
{
	struct agent_conn *c, *next;

	if (a->stopping)
		return;
	a->stopping = 1;
	uv_close((uv_handle_t *)&a->listener, NULL);
	if (a->socket_owned && a->socket_path != NULL)
		unlink(a->socket_path);
	/* Idle connections go now; busy ones after their reply is written. */
	for (c = a->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->busy)
			agent_conn_close(c);
	}
	agent_maybe_finish(a);
}

/* Once stopping and nothing is left in flight, close the last handles. */
void
agent_maybe_finish(struct agent *a)
{
	if (!a->stopping || a->nconns > 0 || a->jobs_in_flight > 0)
		return;
	if (uv_is_closing((uv_handle_t *)&a->sig_term))
		return;
	uv_close((uv_handle_t *)&a->sig_term, NULL);
	uv_close((uv_handle_t *)&a->sig_int, NULL);
	uv_close((uv_handle_t *)&a->sig_hup, NULL);
	uv_close((uv_handle_t *)&a->expiry_timer, NULL);
}
