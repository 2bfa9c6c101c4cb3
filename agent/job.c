/*
 * Jobs on the libuv thread pool: creation, queueing and the after-work
 * callback that hands the reply to its connection.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/agent.h"
#include "agent/job.h"
#include "proto/err.h"

#define AGENT_WORKER_NICE 5

struct agent_job *
agent_job_new(struct agent *a, struct agent_conn *c, enum agent_job_kind kind)
{
	struct agent_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->agent = a;
	j->ctx = a->tokens;
	j->kind = kind;
	j->work.data = j;
	j->conn = c != NULL ? agent_conn_ref(c) : NULL;
	proto_writer_init(&j->reply);
	return j;
}

int
agent_job_set_input(struct agent_job *j, const void *p, size_t len, int secret)
{
	if ((j->in = calloc(1, len > 0 ? len : 1)) == NULL)
		return P11A_E_NOMEM;
	/* PINs and imported private keys: keep them out of swap. */
	if (secret)
		(void)mlock(j->in, len > 0 ? len : 1);
	if (len > 0)
		memcpy(j->in, p, len);
	j->in_len = len;
	j->in_is_secret = secret;
	return 0;
}

char *
agent_job_strdup(struct proto_text t)
{
	char *s = malloc(t.len + 1);

	if (s == NULL)
		return NULL;
	if (t.len > 0)
		memcpy(s, t.p, t.len);
	s[t.len] = '\0';
	return s;
}

uint8_t *
agent_job_memdup(struct proto_bytes b)
{
	uint8_t *p = malloc(b.len > 0 ? b.len : 1);

	if (p != NULL && b.len > 0)
		memcpy(p, b.p, b.len);
	return p;
}

int
agent_job_set_name(struct agent_job *j, struct proto_text name)
{
	j->name = agent_job_strdup(name);
	return j->name != NULL ? 0 : P11A_E_NOMEM;
}

static void
job_free(struct agent_job *j)
{
	if (j->in != NULL && j->in_is_secret) {
		OPENSSL_cleanse(j->in, j->in_len);
		munlock(j->in, j->in_len > 0 ? j->in_len : 1);
	}
	free(j->in);
	free(j->label);
	free(j->name);
	free(j->cert);
	while (j->nchain > 0)
		free(j->chain[--j->nchain]);
	free(j->token_uri);
	tok_key_free(j->key);
	proto_writer_cleanup(&j->reply);
	if (j->conn != NULL)
		agent_conn_unref(j->conn);
	free(j);
}

void
agent_job_queue_cancel(struct agent_job *j)
{
	job_free(j);
}

/*
 * Token work runs a little below the loop's priority: on a busy machine
 * the loop must still answer status requests and accept clients at once,
 * whatever the signers are doing (Linux nice values are per thread).
 */
static void
job_lower_priority_once(void)
{
	static _Thread_local int done;

	if (done)
		return;
	done = 1;
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
	                  AGENT_WORKER_NICE);
}

static void
job_work(uv_work_t *w)
{
	job_lower_priority_once();
	agent_work_run(w->data);
}

/* Applies what the job learned about login state, on the loop thread. */
static void
job_note_login(struct agent_job *j)
{
	struct agent *a = j->agent;
	size_t i;

	if (j->kind == AGENT_JOB_LOGOUT && j->token_uri == NULL) {
		for (i = 0; i < a->nlogins; i++)
			a->logins[i].since = 0;
		return;
	}
	if (j->token_uri == NULL)
		return;
	if (j->kind == AGENT_JOB_LOGIN || j->kind == AGENT_JOB_LOGOUT ||
	    j->result == P11A_E_LOGIN_REQUIRED)
		agent_login_note(a, j->token_uri, j->token_logged_in,
		                 j->token_flags);
	else if (j->result == 0)
		agent_login_touch(a, j->token_uri);
}

static void
job_after(uv_work_t *w, int status)
{
	struct agent_job *j = w->data;
	struct agent *a = j->agent;

	a->jobs_in_flight--;
	if (status == UV_ECANCELED)
		j->result = P11A_E_CANCELLED;
	else
		job_note_login(j);
	agent_list_cache_job_done(j, status == UV_ECANCELED);
	if (j->conn != NULL && !agent_conn_is_closing(j->conn)) {
		if (status == UV_ECANCELED) {
			proto_writer_reset(&j->reply);
			proto_error_reply_encode(&j->reply, j->req_type, j->ext,
			                         P11A_E_CANCELLED,
			                         "agent is shutting down");
		}
		agent_conn_reply(j->conn, &j->reply);
	}
	job_free(j);
	agent_maybe_finish(a);
}

void
agent_job_queue(struct agent_job *j)
{
	struct agent *a = j->agent;
	int r;

	a->jobs_in_flight++;
	agent_list_cache_job_queued(j);
	r = uv_queue_work(a->loop, &j->work, job_work, job_after);
	if (r != 0) {
		a->jobs_in_flight--;
		agent_log(AGENT_LOG_WARNING, "cannot queue work: %s",
		          uv_strerror(r));
		if (j->conn != NULL) {
			proto_writer_reset(&j->reply);
			proto_error_reply_encode(&j->reply, j->req_type, j->ext,
			                         P11A_E_INTERNAL, NULL);
			agent_conn_reply(j->conn, &j->reply);
		}
		job_free(j);
	}
}
