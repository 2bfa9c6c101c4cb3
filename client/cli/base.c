/*
 * What every p11 command shares, in the executable and in the command
 * module alike (see module.h): option handling, usage and error lines.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"

#ifndef P11_VERSION
#define P11_VERSION "0.0.0"
#endif

void
cli_command_usage(const struct cli *cli, FILE *f)
{
	const struct cli_command *c = cli->cmd;

	fprintf(f, "usage: p11 %s %s\n\n%s.\n", c->name, c->args, c->summary);
	if (c->help != NULL)
		fprintf(f, "\nOptions:\n%s", c->help);
	fprintf(f, "\nGlobal options: --socket PATH, --no-autostart, "
	           "--agent-program PATH (see p11 --help).\n");
}

static void vfail(const char *sentence, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vfail(const char *sentence, const char *fmt, va_list ap)
{
	/* One line: flush stdout first so that the order stays readable. */
	fflush(stdout);
	fputs("p11: ", stderr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", sentence);
}

/* vfail() with sentence, or err's generic one when it is empty. */
static int vfail_code(int err, const char *sentence, const char *fmt,
                      va_list ap) __attribute__((format(printf, 3, 0)));

static int
vfail_code(int err, const char *sentence, const char *fmt, va_list ap)
{
	if (sentence == NULL || sentence[0] == '\0')
		sentence = p11agent_strerror(err);
	vfail(sentence, fmt, ap);
	return cli_exit_code(err);
}

int
cli_fail(int err, const char *sentence, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail_code(err, sentence, fmt, ap);
	va_end(ap);
	return r;
}

int
cli_fail_conn(struct p11agent_conn *conn, int err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail_code(err, p11agent_conn_errmsg(conn), fmt, ap);
	va_end(ap);
	return r;
}

int
cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fputs("p11: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cli != NULL && cli->cmd != NULL)
		fprintf(stderr, "\nTry 'p11 %s --help'.\n", cli->cmd->name);
	else
		fprintf(stderr, "\nTry 'p11 --help'.\n");
	return P11_EXIT_USAGE;
}

int
cli_parse_fd(const char *s, int *fd)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > INT32_MAX)
		return P11AGENT_E_ARGS;
	*fd = (int)v;
	return 0;
}

int
cli_option(struct cli *cli, int c, char **argv)
{
	switch (c) {
	case CLI_OPT_SOCKET:
		cli->socket = optarg;
		return -1;
	case CLI_OPT_NO_AUTOSTART:
		cli->autostart = false;
		return -1;
	case CLI_OPT_AGENT_PROGRAM:
		cli->agent_program = optarg;
		return -1;
	case CLI_OPT_HELP:
		if (cli->cmd != NULL)
			cli_command_usage(cli, stdout);
		else if (cli->usage != NULL)
			cli->usage(stdout);
		return P11_EXIT_OK;
	case CLI_OPT_VERSION:
		printf("p11 (p11agent) %s\n", P11_VERSION);
		return P11_EXIT_OK;
	case ':':
		return cli_usage_error(cli, "option '%s' needs an argument",
		                       argv[optind - 1]);
	default:
		if (optopt != 0 && optopt < CLI_OPT_SOCKET)
			return cli_usage_error(cli, "unknown option '-%c'",
			                       optopt);
		return cli_usage_error(cli, "unknown option '%s'",
		                       argv[optind - 1]);
	}
}

int
cli_parse_json_flag(struct cli *cli, int argc, char **argv, bool *json)
{
	enum { OPT_JSON = CLI_OPT_FIRST_LOCAL };
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	*json = false;
	while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
		if (c == OPT_JSON)
			*json = true;
		else if ((r = cli_option(cli, c, argv)) >= 0)
			return r;
	}
	return -1;
}

bool
cli_path_beside_self(char *buf, size_t len, const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return false;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return false;
	*slash = '\0';
	return (size_t)snprintf(buf, len, "%s/%s", self, name) < len;
}
