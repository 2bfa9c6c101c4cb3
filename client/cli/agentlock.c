/*
 * p11 lock and p11 unlock-agent: lock the whole agent with a passphrase
 * (SSH_AGENTC_LOCK / SSH_AGENTC_UNLOCK, like ssh-add -x / -X).  Locking
 * also logs every token out; until unlocked, the agent refuses private-key
 * operations.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "p11agent.h"
#include "ask.h"
#include "cli.h"
#include "exit.h"
#include "secret.h"

enum {
	OPT_PASS_FD = CLI_OPT_FIRST_LOCAL,
	OPT_PINENTRY,
};

static int
lock_common(struct cli *cli, int argc, char **argv, bool lock)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"pass-fd", required_argument, NULL, OPT_PASS_FD},
	    {"pinentry", required_argument, NULL, OPT_PINENTRY},
	    {NULL, 0, NULL, 0},
	};
	const char *what = lock ? "lock" : "unlock-agent";
	struct p11agent_conn *conn = NULL;
	struct cli_secret pass;
	struct cli_ask ask;
	char err[512];
	int c, r;

	memset(&pass, 0, sizeof(pass));
	memset(&ask, 0, sizeof(ask));
	ask.what = "passphrase";
	ask.fd = -1;
	while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
		switch (c) {
		case OPT_PASS_FD:
			if (cli_parse_fd(optarg, &ask.fd) != 0)
				return cli_usage_error(
				    cli, "--pass-fd needs a descriptor number");
			break;
		case OPT_PINENTRY:
			ask.pinentry = optarg;
			break;
		default:
			if ((r = cli_option(cli, c, argv)) >= 0)
				return r;
		}
	}
	if (optind != argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
		                       argv[optind]);
	if (ask.fd >= 0 && ask.pinentry != NULL)
		return cli_usage_error(
		    cli, "--pass-fd and --pinentry exclude each other");
	if (lock) {
		ask.prompt = "Passphrase to lock the agent: ";
		ask.repeat_prompt = "Repeat the passphrase: ";
		ask.desc = "Please choose a passphrase to lock p11agent. "
		           "It logs out of every token until it is unlocked "
		           "with this passphrase.";
		ask.repeat_desc = "Please enter the passphrase again.";
		ask.pinentry_prompt = "Passphrase:";
	} else {
		ask.prompt = "Passphrase to unlock the agent: ";
		ask.desc = "Please enter the passphrase that locked p11agent.";
		ask.pinentry_prompt = "Passphrase:";
	}
	/* Connect first: no point in asking when no agent answers. */
	if ((r = cli_connect(cli, &conn)) != 0)
		return r;
	if ((r = cli_secret_init(&pass)) != 0) {
		r = cli_fail(r, NULL, "%s", what);
		goto out;
	}
	if ((r = cli_ask_secret(&ask, &pass, err, sizeof(err))) != 0) {
		r = cli_fail(r, err, "%s", what);
		goto out;
	}
	r = lock ? p11agent_lock(conn, pass.buf, pass.len)
	         : p11agent_unlock(conn, pass.buf, pass.len);
	cli_secret_cleanup(&pass);
	if (r != 0) {
		r = cli_fail_conn(conn, r, "%s", what);
		goto out;
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "p11: agent %s\n",
		        lock ? "locked" : "unlocked");
out:
	cli_secret_cleanup(&pass);
	p11agent_close(conn);
	return r;
}

int
cli_cmd_lock(struct cli *cli, int argc, char **argv)
{
	return lock_common(cli, argc, argv, true);
}

int
cli_cmd_unlock_agent(struct cli *cli, int argc, char **argv)
{
	return lock_common(cli, argc, argv, false);
}
