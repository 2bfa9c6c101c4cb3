/*
 * p11 status: the agent's state and each token's login state.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "util.h"

/* Token flags worth telling a user, in words and as JSON names. */
static const struct {
	uint32_t flag;
	const char *words;
	const char *name;
} token_flags[] = {
    {P11AGENT_TOKEN_LOGIN_REQUIRED, "login required", "login-required"},
    {P11AGENT_TOKEN_PROTECTED_AUTH_PATH, "PIN pad", "pin-pad"},
    {P11AGENT_TOKEN_USER_PIN_COUNT_LOW,
     "PIN count low (a wrong PIN was "
     "entered)",
     "pin-count-low"},
    {P11AGENT_TOKEN_USER_PIN_FINAL_TRY, "final try before the PIN locks",
     "pin-final-try"},
    {P11AGENT_TOKEN_USER_PIN_LOCKED, "PIN locked", "pin-locked"},
    {P11AGENT_TOKEN_USER_PIN_TO_BE_CHANGED, "PIN must be changed",
     "pin-to-be-changed"},
};
#define NTOKEN_FLAGS (sizeof(token_flags) / sizeof(token_flags[0]))

static const char *
duration_or_none(char *buf, size_t len, uint64_t secs)
{
	return secs == 0 ? "none" : cli_fmt_duration(buf, len, secs);
}

static void
print_token(const struct p11agent_token_status *t, time_t now)
{
	char label[256], uri[1024], when[64], left[32];
	bool any = false;
	size_t i;

	printf("\ntoken %s\n", cli_safe(label, sizeof(label), t->label));
	printf("  uri:       %s\n", cli_safe(uri, sizeof(uri), t->uri));
	printf("  flags:     ");
	for (i = 0; i < NTOKEN_FLAGS; i++) {
		if ((t->flags & token_flags[i].flag) == 0)
			continue;
		printf("%s%s", any ? ", " : "", token_flags[i].words);
		any = true;
	}
	printf("%s\n", any ? "" : "none");
	if (t->logged_in_since == 0 &&
	    (t->flags & P11AGENT_TOKEN_LOGGED_IN) == 0) {
		printf("  login:     not logged in\n");
		return;
	}
	if (t->logged_in_since != 0)
		printf("  login:     logged in since %s\n",
		       cli_fmt_time(when, sizeof(when), t->logged_in_since, 0));
	else
		printf("  login:     logged in\n");
	if (t->login_expires == 0)
		printf("  expires:   never (until logout, lock or removal)\n");
	else if ((uint64_t)now < t->login_expires)
		printf("  expires:   %s (in %s)\n",
		       cli_fmt_time(when, sizeof(when), t->login_expires, 0),
		       cli_fmt_duration(left, sizeof(left),
		                        t->login_expires - (uint64_t)now));
	else
		printf("  expires:   %s (due now)\n",
		       cli_fmt_time(when, sizeof(when), t->login_expires, 0));
}

static void
print_text(const struct p11agent_status *s, const char *sock)
{
	char ver[64], path[1024], d1[32], d2[32];
	time_t now = time(NULL);
	size_t i;

	printf("agent:          p11agent %s, up %s\n",
	       cli_safe(ver, sizeof(ver), s->version),
	       cli_fmt_duration(d1, sizeof(d1), s->uptime));
	printf("socket:         %s\n", cli_safe(path, sizeof(path), sock));
	printf("locked:         %s\n", (s->flags & P11AGENT_AGENT_LOCKED)
	                                   ? "yes (p11 unlock-agent)"
	                                   : "no");
	printf("login lifetime: %s\n",
	       duration_or_none(d1, sizeof(d1), s->login_lifetime));
	printf("idle timeout:   %s\n",
	       duration_or_none(d2, sizeof(d2), s->idle_timeout));
	if (s->ntokens == 0)
		printf("\nno tokens\n");
	for (i = 0; i < s->ntokens; i++)
		print_token(&s->tokens[i], now);
}

static void
json_u64_or_null(FILE *f, uint64_t v)
{
	if (v == 0)
		fputs("null", f);
	else
		fprintf(f, "%llu", (unsigned long long)v);
}

static void
print_json(const struct p11agent_status *s, const char *sock)
{
	const struct p11agent_token_status *t;
	bool first;
	size_t i, j;

	fputs("{\"version\":", stdout);
	cli_json_string(stdout, s->version);
	fputs(",\"socket\":", stdout);
	cli_json_string(stdout, sock);
	printf(",\"uptime\":%llu,\"locked\":%s,\"login_lifetime\":%lu,"
	       "\"idle_timeout\":%lu,\"tokens\":[",
	       (unsigned long long)s->uptime,
	       (s->flags & P11AGENT_AGENT_LOCKED) ? "true" : "false",
	       (unsigned long)s->login_lifetime,
	       (unsigned long)s->idle_timeout);
	for (i = 0; i < s->ntokens; i++) {
		t = &s->tokens[i];
		fputs(i > 0 ? ",{\"label\":" : "{\"label\":", stdout);
		cli_json_string(stdout, t->label);
		fputs(",\"uri\":", stdout);
		cli_json_string(stdout, t->uri);
		fputs(",\"flags\":[", stdout);
		first = true;
		for (j = 0; j < NTOKEN_FLAGS; j++) {
			if ((t->flags & token_flags[j].flag) == 0)
				continue;
			if (!first)
				fputc(',', stdout);
			cli_json_string(stdout, token_flags[j].name);
			first = false;
		}
		printf("],\"logged_in\":%s,\"logged_in_since\":",
		       (t->logged_in_since != 0 ||
		        (t->flags & P11AGENT_TOKEN_LOGGED_IN))
		           ? "true"
		           : "false");
		json_u64_or_null(stdout, t->logged_in_since);
		fputs(",\"login_expires\":", stdout);
		json_u64_or_null(stdout, t->login_expires);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

int
cli_cmd_status(struct cli *cli, int argc, char **argv)
{
	struct p11agent_conn *conn = NULL;
	struct p11agent_status *st = NULL;
	bool json = false;
	int r;

	if ((r = cli_parse_json_flag(cli, argc, argv, &json)) >= 0)
		return r;
	if (optind != argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
		                       argv[optind]);
	if ((r = cli_connect(cli, &conn)) != 0)
		return r;
	if ((r = p11agent_status(conn, &st)) != 0) {
		r = cli_fail_conn(conn, r, "status");
		goto out;
	}
	if (json)
		print_json(st, p11agent_conn_path(conn));
	else
		print_text(st, p11agent_conn_path(conn));
out:
	p11agent_status_free(st);
	p11agent_close(conn);
	return r;
}
