/*
 * Shared declarations of the p11 command line.
 *
 * main.c parses the global options and dispatches to one function per
 * subcommand; subcommands live in one file per group (keys.c, status.c,
 * token.c, agentlock.c, and later smime.c, certs.c, import.c...).  A
 * subcommand returns an exit code (exit.h) and prints its own errors as
 * one line, "p11: <what>: <sentence>", with cli_fail().
 */
#ifndef P11AGENT_CLI_CLI_H
#define P11AGENT_CLI_CLI_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "p11agent.h"

/* State shared by every subcommand. */
struct cli {
	const char *socket;        /* --socket, or NULL */
	const char *agent_program; /* --agent-program, or NULL */
	bool autostart;            /* false after --no-autostart */
	const struct cli_command *cmd;
	void (*usage)(FILE *f); /* p11 --help (main.c) */
};

struct cli_command {
	const char *name;
	/* NULL: the command lives in the command module (module.h). */
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *args;    /* usage after the name */
	const char *summary; /* one line for p11 --help */
	const char *help;    /* option lines for p11 CMD --help, or NULL */
};

/*
 * Global options, accepted before and after the subcommand.  Subcommands
 * put CLI_GLOBAL_LONGOPTS into their option table and hand every option
 * they do not know to cli_option().
 */
enum {
	CLI_OPT_SOCKET = 0x100,
	CLI_OPT_NO_AUTOSTART,
	CLI_OPT_AGENT_PROGRAM,
	CLI_OPT_HELP,
	CLI_OPT_VERSION,
	CLI_OPT_FIRST_LOCAL = 0x200, /* subcommands number theirs from here */
};

#define CLI_GLOBAL_LONGOPTS                                                    \
	{"socket", required_argument, NULL, CLI_OPT_SOCKET},                   \
	    {"no-autostart", no_argument, NULL, CLI_OPT_NO_AUTOSTART},         \
	    {"agent-program", required_argument, NULL, CLI_OPT_AGENT_PROGRAM}, \
	{                                                                      \
		"help", no_argument, NULL, CLI_OPT_HELP                        \
	}

/*
 * Handles a global option c (with optarg) or an option error inside a
 * subcommand's getopt_long() loop.  Returns -1 when the subcommand should
 * go on parsing, else the exit code to return at once (0 after --help,
 * P11_EXIT_USAGE after an unknown option or a missing argument).
 */
int cli_option(struct cli *cli, int c, char **argv);

/*
 * The whole option loop of a subcommand whose only option of its own is
 * --json (keys, status, certs): sets *json.  Operands are left at optind.
 * Returns -1 to go on, else the exit code to return at once.
 */
int cli_parse_json_flag(struct cli *cli, int argc, char **argv, bool *json);

/* Prints the usage of cli->cmd to f. */
void cli_command_usage(const struct cli *cli, FILE *f);

/*
 * Prints "p11: <what>: <sentence>" on stderr, what formatted from fmt,
 * and returns cli_exit_code(err).  sentence NULL means
 * p11agent_strerror(err).
 */
int cli_fail(int err, const char *sentence, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like cli_fail(), with the sentence of the last failure on conn. */
int cli_fail_conn(struct p11agent_conn *conn, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "p11: <message>" on stderr and returns P11_EXIT_USAGE. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Parses a non-negative file descriptor number.  Returns 0 or
 * P11A_E_ARGS.
 */
int cli_parse_fd(const char *s, int *fd);

/*
 * The folder of the running executable (/proc/self/exe), a '/' and name
 * into buf: where p11 finds what was installed with it.  false when it
 * cannot be read or does not fit.
 */
bool cli_path_beside_self(char *buf, size_t len, const char *name);

/*
 * Connects to the agent (agent.c), starting one first when none answers
 * and autostart is allowed.  Prints the error itself; returns 0 with
 * *conn set, or the exit code.
 */
int cli_connect(struct cli *cli, struct p11agent_conn **conn);

/* Subcommands. */
int cli_cmd_keys(struct cli *cli, int argc, char **argv);
int cli_cmd_status(struct cli *cli, int argc, char **argv);
int cli_cmd_unlock(struct cli *cli, int argc, char **argv);
int cli_cmd_logout(struct cli *cli, int argc, char **argv);
int cli_cmd_lock(struct cli *cli, int argc, char **argv);
int cli_cmd_unlock_agent(struct cli *cli, int argc, char **argv);
int cli_cmd_sign(struct cli *cli, int argc, char **argv);
int cli_cmd_verify(struct cli *cli, int argc, char **argv);
int cli_cmd_encrypt(struct cli *cli, int argc, char **argv);
int cli_cmd_decrypt(struct cli *cli, int argc, char **argv);
int cli_cmd_certs(struct cli *cli, int argc, char **argv);
int cli_cmd_import(struct cli *cli, int argc, char **argv);
int cli_cmd_keygen(struct cli *cli, int argc, char **argv);

#endif
