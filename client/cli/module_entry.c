/*
 * The command module's entry (module.h): finds the command the
 * executable parsed and runs it.  Built into p11-commands.so only.
 */
#include <string.h>

#include "cli.h"
#include "exit.h"
#include "module.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT extern const char p11_cli_module_abi[];
const char p11_cli_module_abi[] = P11_CLI_MODULE_ABI;

EXPORT p11_cli_module_run_fn p11_cli_module_run;

static const struct {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
} commands[] = {
    {"keys", cli_cmd_keys},
    {"unlock", cli_cmd_unlock},
    {"logout", cli_cmd_logout},
    {"lock", cli_cmd_lock},
    {"unlock-agent", cli_cmd_unlock_agent},
    {"import", cli_cmd_import},
    {"keygen", cli_cmd_keygen},
    {"verify", cli_cmd_verify},
    {"encrypt", cli_cmd_encrypt},
    {"decrypt", cli_cmd_decrypt},
    {"certs", cli_cmd_certs},
};

int
p11_cli_module_run(struct cli *cli, int argc, char **argv)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cli->cmd->name, commands[i].name) == 0)
			return commands[i].run(cli, argc, argv);
	}
	return cli_usage_error(cli, "command '%s' is not in %s", cli->cmd->name,
	                       P11_CLI_MODULE_NAME);
}
