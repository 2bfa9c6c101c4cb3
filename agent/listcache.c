/*
 * The last list@p11agent reply, answered again on the loop for a moment.
 *
 * Clients list before every signature (p11 sign picks its key by the
 * From: address).  A list on the thread pool wakes a worker and reads
 * every token's info, about 0.5-1 ms on our test VM, more than half of
 * what the agent adds to a signature.  A list that comes within
 * AGENT_LIST_CACHE_MS of the last one made on the pool gets the same
 * bytes again, at once.
 *
 * Anything done through the agent that can change what a list shows
 * (login, logout, lock, import, keygen, attach-cert, rescan, and any job
 * that failed: a card pulled, a login lost) drops the copy when it is
 * queued and again when it finishes.  A generation number keeps a list
 * that was already running from storing a reply older than such a change.
 * Changes behind the agent's back (a card pulled, another program writing
 * objects) show after AGENT_LIST_CACHE_MS at most, on top of the token
 * layer's own AGENT_LIST_MAX_AGE_MS.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/job.h"

/* Jobs that cannot change tokens, keys or login state when they succeed. */
static int
job_reads_only(enum agent_job_kind kind)
{
	switch (kind) {
	case AGENT_JOB_LIST:
	case AGENT_JOB_SIGN_DIGEST:
	case AGENT_JOB_DECRYPT:
	case AGENT_JOB_DERIVE:
	case AGENT_JOB_SSH_SIGN:
		return 1;
	default:
		return 0;
	}
}

void
agent_list_cache_drop(struct agent *a)
{
	struct agent_list_cache *lc = &a->list_cache;

	a->list_gen++;
	free(lc->frame);
	lc->frame = NULL;
	lc->len = 0;
}

void
agent_list_cache_job_queued(struct agent_job *j)
{
	struct agent *a = j->agent;

	if (!job_reads_only(j->kind))
		agent_list_cache_drop(a);
	j->list_gen = a->list_gen;
}

/* Keeps a copy of a finished list job's reply, unless state moved on. */
static void
list_cache_store(struct agent *a, const struct agent_job *j)
{
	struct agent_list_cache *lc = &a->list_cache;
	const uint8_t *p;
	uint8_t *copy;
	size_t len;

	if (proto_writer_finish(&j->reply, &p, &len) != 0 || len == 0 ||
	    (copy = malloc(len)) == NULL)
		return;
	memcpy(copy, p, len);
	free(lc->frame);
	lc->frame = copy;
	lc->len = len;
	lc->made_ms = uv_now(a->loop);
}

void
agent_list_cache_job_done(struct agent_job *j, int cancelled)
{
	struct agent *a = j->agent;

	if (cancelled || j->result != 0 || !job_reads_only(j->kind)) {
		agent_list_cache_drop(a);
		return;
	}
	if (j->kind == AGENT_JOB_LIST && j->list_gen == a->list_gen)
		list_cache_store(a, j);
}

int
agent_list_cache_reply(struct agent *a, struct agent_conn *c)
{
	struct agent_list_cache *lc = &a->list_cache;
	struct proto_writer w;
	int r;

	if (lc->frame == NULL ||
	    uv_now(a->loop) - lc->made_ms >= AGENT_LIST_CACHE_MS)
		return 0;
	proto_writer_init(&w);
	r = proto_write_raw(&w, lc->frame, lc->len);
	if (r != 0) {
		proto_writer_cleanup(&w);
		return 0;
	}
	agent_conn_reply(c, &w);
	proto_writer_cleanup(&w);
	return 1;
}
