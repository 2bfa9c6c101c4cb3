/*
 * Login bookkeeping: when each token was logged in and last used, and the
 * timer that logs tokens out after the maximum lifetime (-t) or the idle
 * timeout.  Runs on the loop thread; the logouts themselves are jobs.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/job.h"

struct agent_login *
agent_login_get(struct agent *a, const char *token_uri)
{
	size_t i;

	for (i = 0; i < a->nlogins; i++)
		if (strcmp(a->logins[i].token_uri, token_uri) == 0)
			return &a->logins[i];
	return NULL;
}

static struct agent_login *
login_get_or_add(struct agent *a, const char *token_uri)
{
	struct agent_login *l = agent_login_get(a, token_uri), *nl;

	if (l != NULL)
		return l;
	nl = realloc(a->logins, (a->nlogins + 1) * sizeof(*nl));
	if (nl == NULL)
		return NULL;
	a->logins = nl;
	l = &a->logins[a->nlogins];
	memset(l, 0, sizeof(*l));
	if ((l->token_uri = strdup(token_uri)) == NULL)
		return NULL;
	a->nlogins++;
	return l;
}

void
agent_login_note(struct agent *a, const char *token_uri, int logged_in,
                 unsigned flags)
{
	struct agent_login *l = login_get_or_add(a, token_uri);
	time_t now = time(NULL);

	if (l == NULL)
		return;
	l->flags = flags;
	if (logged_in && l->since == 0)
		l->since = now;
	else if (!logged_in)
		l->since = 0;
	l->last_used = now;
}

void
agent_login_touch(struct agent *a, const char *token_uri)
{
	struct agent_login *l = agent_login_get(a, token_uri);

	if (l != NULL)
		l->last_used = time(NULL);
}

time_t
agent_login_expiry(const struct agent *a, const struct agent_login *l)
{
	time_t when = 0, idle;

	if (l->since == 0)
		return 0;
	if (a->opt->login_lifetime > 0)
		when = l->since + (time_t)a->opt->login_lifetime;
	if (a->opt->idle_timeout > 0) {
		idle = l->last_used + (time_t)a->opt->idle_timeout;
		if (when == 0 || idle < when)
			when = idle;
	}
	return when;
}

static void
login_logout_token(struct agent *a, struct agent_login *l)
{
	struct agent_job *j = agent_job_new(a, NULL, AGENT_JOB_LOGOUT);

	agent_log(AGENT_LOG_INFO, "login to %s expired", l->token_uri);
	l->since = 0;
	if (j == NULL)
		return;
	if ((j->name = strdup(l->token_uri)) == NULL) {
		agent_job_queue_cancel(j);
		return;
	}
	agent_job_queue(j);
}

static void
login_on_timer(uv_timer_t *t)
{
	struct agent *a = t->data;
	time_t now = time(NULL), when;
	size_t i;

	for (i = 0; i < a->nlogins; i++) {
		when = agent_login_expiry(a, &a->logins[i]);
		if (when != 0 && when <= now)
			login_logout_token(a, &a->logins[i]);
	}
}

void
agent_login_start_timer(struct agent *a)
{
	uv_timer_init(a->loop, &a->expiry_timer);
	a->expiry_timer.data = a;
	if (a->opt->login_lifetime > 0 || a->opt->idle_timeout > 0)
		uv_timer_start(&a->expiry_timer, login_on_timer, 1000, 1000);
}

void
agent_login_free_all(struct agent *a)
{
	size_t i;

	for (i = 0; i < a->nlogins; i++)
		free(a->logins[i].token_uri);
	free(a->logins);
	a->logins = NULL;
	a->nlogins = 0;
}

void
agent_logout_all(struct agent *a, const char *why)
{
	struct agent_job *j = agent_job_new(a, NULL, AGENT_JOB_LOGOUT);
	size_t i;

	agent_log(AGENT_LOG_INFO, "logging out of every token: %s", why);
	for (i = 0; i < a->nlogins; i++)
		a->logins[i].since = 0;
	if (j != NULL)
		agent_job_queue(j);
}
