/*
 * p11 unlock and p11 logout: token logins.
 *
 * unlock looks at the agent's status first, so that it neither asks for
 * a PIN it cannot use (agent locked, PIN locked, already logged in) nor
 * for one the reader's PIN pad will take, and can warn before the last
 * try.  The PIN is sent once: a wrong PIN is reported with the agent's
 * sentence (which says how many tries are left) and never retried.
 */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p11agent.h"
#include "ask.h"
#include "cli.h"
#include "exit.h"
#include "secret.h"
#include "util.h"

enum {
	OPT_PIN_FD = CLI_OPT_FIRST_LOCAL,
	OPT_PINENTRY,
	OPT_TIMEOUT,
};

/*
 * Finds the token the agent will log in to: the one whose label or URI
 * is name, or the only token when name is NULL.  NULL when it cannot
 * tell; the agent then decides.
 */
static const struct p11agent_token_status *
find_token(const struct p11agent_status *st, const char *name)
{
	const struct p11agent_token_status *found = NULL;
	size_t i;

	if (st == NULL)
		return NULL;
	if (name == NULL)
		return st->ntokens == 1 ? &st->tokens[0] : NULL;
	for (i = 0; i < st->ntokens; i++) {
		if (strcmp(st->tokens[i].label, name) == 0 ||
		    strcmp(st->tokens[i].uri, name) == 0) {
			if (found != NULL)
				return NULL; /* ambiguous: let the agent say */
			found = &st->tokens[i];
		}
	}
	return found;
}

static int
parse_timeout(const char *s, int *ms)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0 || v > INT_MAX / 1000)
		return P11AGENT_E_ARGS;
	*ms = (int)v * 1000;
	return 0;
}

int
cli_cmd_unlock(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"pin-fd", required_argument, NULL, OPT_PIN_FD},
	    {"pinentry", required_argument, NULL, OPT_PINENTRY},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {NULL, 0, NULL, 0},
	};
	const struct p11agent_token_status *tok = NULL;
	struct p11agent_status *st = NULL;
	struct p11agent_conn *conn = NULL;
	struct cli_secret pin;
	struct cli_ask ask;
	char label[256], prompt[320], desc[400], err[512];
	const char *name = NULL, *shown;
	int c, r, timeout_ms = 0;

	memset(&pin, 0, sizeof(pin));
	memset(&ask, 0, sizeof(ask));
	ask.what = "PIN";
	ask.fd = -1;
	while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
		switch (c) {
		case OPT_PIN_FD:
			if (cli_parse_fd(optarg, &ask.fd) != 0)
				return cli_usage_error(
				    cli, "--pin-fd needs a descriptor number");
			break;
		case OPT_PINENTRY:
			ask.pinentry = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, &timeout_ms) != 0)
				return cli_usage_error(
				    cli, "--timeout needs a number of seconds");
			break;
		default:
			if ((r = cli_option(cli, c, argv)) >= 0)
				return r;
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(cli, "unexpected argument '%s'",
		                       argv[optind + 1]);
	if (optind < argc && argv[optind][0] != '\0')
		name = argv[optind];
	if (ask.fd >= 0 && ask.pinentry != NULL)
		return cli_usage_error(
		    cli, "--pin-fd and --pinentry exclude each other");

	if ((r = cli_connect(cli, &conn)) != 0)
		return r;
	if (timeout_ms > 0)
		(void)p11agent_conn_set_login_timeout(conn, timeout_ms);
	/*
	 * Best effort: an agent without status (a foreign or older one)
	 * still takes the login; anything else is a real failure.
	 */
	r = p11agent_status(conn, &st);
	if (r != 0 && r != P11AGENT_E_UNKNOWN_REQUEST &&
	    r != P11AGENT_E_DENIED) {
		r = cli_fail_conn(conn, r, "unlock");
		goto out;
	}
	if (st != NULL && (st->flags & P11AGENT_AGENT_LOCKED)) {
		r = cli_fail(
		    P11AGENT_E_AGENT_LOCKED,
		    "the agent is locked; run 'p11 unlock-agent' first",
		    "unlock");
		goto out;
	}
	tok = find_token(st, name);
	shown = tok != NULL ? tok->label : name;
	if (shown != NULL)
		cli_safe(label, sizeof(label), shown);
	else
		snprintf(label, sizeof(label), "your token");
	if (tok != NULL && (tok->flags & P11AGENT_TOKEN_USER_PIN_LOCKED)) {
		r = cli_fail(P11AGENT_E_PIN_LOCKED,
		             "the PIN is locked; unblock it with the SO PIN",
		             "unlock %s", label);
		goto out;
	}
	if (tok != NULL && ((tok->flags & P11AGENT_TOKEN_LOGGED_IN) ||
	                    tok->logged_in_since != 0)) {
		fprintf(stderr, "p11: token %s is already unlocked\n", label);
		r = P11_EXIT_OK;
		goto out;
	}
	if (tok != NULL && (tok->flags & P11AGENT_TOKEN_PROTECTED_AUTH_PATH)) {
		/* The reader takes the PIN; we send none. */
		fprintf(stderr,
		        "Enter the PIN for %s on the reader's PIN pad.\n",
		        label);
		r = p11agent_login(conn, name, NULL, 0);
		if (r != 0)
			r = cli_fail_conn(conn, r, "unlock %s", label);
		goto out;
	}
	if (tok != NULL && (tok->flags & P11AGENT_TOKEN_USER_PIN_FINAL_TRY))
		ask.notice = "Warning: this is the last try; a wrong PIN locks "
		             "it.";
	else if (tok != NULL &&
	         (tok->flags & P11AGENT_TOKEN_USER_PIN_COUNT_LOW))
		ask.notice = "Warning: a wrong PIN was entered before; few "
		             "tries are left.";
	snprintf(prompt, sizeof(prompt), "PIN for %s: ", label);
	snprintf(
	    desc, sizeof(desc),
	    "Please enter the PIN of token \"%s\" to unlock it in p11agent.",
	    label);
	ask.prompt = prompt;
	ask.desc = desc;
	ask.pinentry_prompt = "PIN:";
	if ((r = cli_secret_init(&pin)) != 0) {
		r = cli_fail(r, NULL, "unlock");
		goto out;
	}
	if ((r = cli_ask_secret(&ask, &pin, err, sizeof(err))) != 0) {
		r = cli_fail(r, err, "unlock %s", label);
		goto out;
	}
	r = p11agent_login(conn, name, pin.buf, pin.len);
	/* Wipe at once; the library already wiped its copy. */
	cli_secret_cleanup(&pin);
	if (r != 0) {
		r = cli_fail_conn(conn, r, "unlock %s", label);
		goto out;
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "p11: token %s unlocked\n", label);
out:
	cli_secret_cleanup(&pin);
	p11agent_status_free(st);
	p11agent_close(conn);
	return r;
}

int
cli_cmd_logout(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct p11agent_conn *conn = NULL;
	const char *name = NULL;
	char label[256];
	int c, r;

	while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
		if ((r = cli_option(cli, c, argv)) >= 0)
			return r;
	}
	if (argc - optind > 1)
		return cli_usage_error(cli, "unexpected argument '%s'",
		                       argv[optind + 1]);
	if (optind < argc && argv[optind][0] != '\0')
		name = argv[optind];
	if ((r = cli_connect(cli, &conn)) != 0)
		return r;
	if ((r = p11agent_logout(conn, name)) != 0) {
		if (name != NULL)
			r = cli_fail_conn(conn, r, "logout %s",
			                  cli_safe(label, sizeof(label), name));
		else
			r = cli_fail_conn(conn, r, "logout");
	}
	p11agent_close(conn);
	return r;
}
