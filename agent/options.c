/*
 * Command line of p11agent, in the conventions of ssh-agent.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

/* Like ssh-agent's default: modules only from the system's library dirs. */
#define AGENT_DEFAULT_ALLOWED "/usr/lib*/*,/usr/local/lib*/*"

enum {
	OPT_MODULE = 256,
	OPT_SSH,
	OPT_IDLE,
	OPT_SESSIONS,
	OPT_NO_HOST_PADDING,
	OPT_HELP,
	OPT_VERSION,
};

void
agent_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: p11agent [-c | -s] [-d | -D] [-a SOCKET] [-t SECONDS]\n"
	    "                [--idle-timeout SECONDS] [--module PATH]...\n"
	    "                [-P ALLOWED_MODULES] [--sessions N] [--ssh]\n"
	    "                [--no-host-padding]\n"
	    "       p11agent [-c | -s] -k\n"
	    "\n"
	    "  -a SOCKET           listen on SOCKET (default "
	    "$XDG_RUNTIME_DIR/p11agent/agent.sock)\n"
	    "  -c, -s              print csh / sh commands (default: from "
	    "$SHELL)\n"
	    "  -d                  debug: foreground, verbose log on stderr\n"
	    "  -D                  foreground, log on stderr\n"
	    "  -k                  kill the agent named by $P11AGENT_PID\n"
	    "  -t SECONDS          token logins expire after SECONDS\n"
	    "  --idle-timeout S    token logins expire after S idle seconds\n"
	    "  --module PATH       PKCS#11 module (repeatable; default the "
	    "p11-kit proxy)\n"
	    "  -P PATTERNS         allowed module paths (default \"%s\")\n"
	    "  --sessions N        PKCS#11 sessions per token (default 4)\n"
	    "  --ssh               also print SSH_AUTH_SOCK\n"
	    "  --no-host-padding   never pad RSA on the host over raw RSA\n",
	    AGENT_DEFAULT_ALLOWED);
}

static int
options_seconds(const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v > 100UL * 365 * 86400)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int
agent_options_parse(int argc, char **argv, struct agent_options *opt)
{
	static const struct option longs[] = {
	    {"module", required_argument, NULL, OPT_MODULE},
	    {"ssh", no_argument, NULL, OPT_SSH},
	    {"idle-timeout", required_argument, NULL, OPT_IDLE},
	    {"sessions", required_argument, NULL, OPT_SESSIONS},
	    {"no-host-padding", no_argument, NULL, OPT_NO_HOST_PADDING},
	    {"help", no_argument, NULL, OPT_HELP},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	const char *shell = getenv("SHELL");
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->allowed_modules = AGENT_DEFAULT_ALLOWED;
	if (shell != NULL && strlen(shell) >= 3 &&
	    strcmp(shell + strlen(shell) - 3, "csh") == 0)
		opt->csh = 1;
	while ((c = getopt_long(argc, argv, "a:cdDkst:P:", longs, NULL)) !=
	       -1) {
		switch (c) {
		case 'a':
			opt->socket_path = optarg;
			break;
		case 'c':
			opt->csh = 1;
			break;
		case 's':
			opt->csh = 0;
			break;
		case 'd':
			opt->debug = 1;
			opt->foreground = 1;
			break;
		case 'D':
			opt->foreground = 1;
			break;
		case 'k':
			opt->kill = 1;
			break;
		case 't':
			if (options_seconds(optarg, &opt->login_lifetime) != 0)
				goto bad;
			break;
		case OPT_IDLE:
			if (options_seconds(optarg, &opt->idle_timeout) != 0)
				goto bad;
			break;
		case 'P':
			opt->allowed_modules = optarg;
			break;
		case OPT_MODULE:
			if (opt->nmodules == AGENT_MAX_MODULES) {
				fprintf(stderr, "p11agent: too many modules\n");
				return 2;
			}
			opt->modules[opt->nmodules++] = optarg;
			break;
		case OPT_SESSIONS:
			if (options_seconds(optarg, &opt->pool_size) != 0 ||
			    opt->pool_size == 0 || opt->pool_size > 64)
				goto bad;
			break;
		case OPT_SSH:
			opt->print_ssh = 1;
			break;
		case OPT_NO_HOST_PADDING:
			opt->no_host_padding = 1;
			break;
		case OPT_HELP:
			agent_usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("p11agent %s\n", AGENT_VERSION);
			exit(0);
		default:
			agent_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "p11agent: unexpected argument '%s'\n",
		        argv[optind]);
		return 2;
	}
	return 0;
bad:
	fprintf(stderr, "p11agent: invalid number '%s'\n", optarg);
	return 2;
}
