/*
 * The command module: the p11 commands that need OpenSSL, in a shared
 * object the p11 executable loads only when one of them runs.
 *
 * Why: mapping and relocating libcrypto and reading openssl.cnf cost
 * about 5 ms of every process, more than a whole signature through the
 * agent.  The executable itself links only libc, libp11agent and Nettle,
 * so p11 sign (and p11 status) never pay for it; verify, encrypt,
 * decrypt, keys, unlock... load p11-commands.so, which links the rest.
 */
#ifndef P11AGENT_CLI_MODULE_H
#define P11AGENT_CLI_MODULE_H

#include "cli.h"

/* File name of the module, and the folder it is installed in. */
#define P11_CLI_MODULE_NAME "p11-commands.so"

/*
 * The module exports these two symbols only.  p11_cli_module_abi must
 * equal P11_CLI_MODULE_ABI in the executable: struct cli and the
 * command table are shared between both, so they must be built from one
 * source tree.
 */
#define P11_CLI_MODULE_ABI "p11-commands " P11_VERSION " abi 1"

/*
 * Runs cli->cmd (a command without a run function in the executable's
 * table) with argc/argv starting at the command name, optind at 0.
 * Returns the exit code.
 */
typedef int p11_cli_module_run_fn(struct cli *cli, int argc, char **argv);

/*
 * In the executable: loads the module and runs cli->cmd in it.  Prints
 * why when the module cannot be loaded.  Returns the exit code.
 */
int cli_run_module(struct cli *cli, int argc, char **argv);

#endif
