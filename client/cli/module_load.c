/*
 * Loading the command module (module.h) from the executable.
 *
 * The module is looked for next to the executable first (the build
 * tree, or an install that keeps both in one folder), then where the
 * install layout puts it seen from the executable's folder (an install
 * moved with "cmake --install --prefix" or staged with DESTDIR), then in
 * the folder it was configured to be installed to (P11_CLI_MODULE_DIR).
 * All three are fixed by the installation, never by the environment.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "exit.h"
#include "module.h"

#ifndef P11_CLI_MODULE_DIR
#define P11_CLI_MODULE_DIR "/usr/local/lib/p11agent"
#endif
#ifndef P11_CLI_MODULE_FROM_BINDIR
#define P11_CLI_MODULE_FROM_BINDIR "../lib/p11agent"
#endif

/*
 * Opens path when it exists: 1 with *h set, -1 when it exists but does
 * not load (the reason in tried), 0 when there is no such file.
 */
static int
open_if_there(const char *path, void **h, char *tried, size_t len)
{
	if (access(path, F_OK) != 0)
		return 0;
	if ((*h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) != NULL)
		return 1;
	snprintf(tried, len, "%s", dlerror());
	return -1;
}

static void *
open_module(char *tried, size_t len)
{
	static const char *const from_self[] = {
	    P11_CLI_MODULE_NAME,
	    P11_CLI_MODULE_FROM_BINDIR "/" P11_CLI_MODULE_NAME,
	};
	char path[PATH_MAX + 64];
	void *h = NULL;
	size_t i;

	tried[0] = '\0';
	for (i = 0; i < sizeof(from_self) / sizeof(from_self[0]); i++) {
		if (cli_path_beside_self(path, sizeof(path), from_self[i]) &&
		    open_if_there(path, &h, tried, len) != 0)
			return h;
	}
	if ((h = dlopen(P11_CLI_MODULE_DIR "/" P11_CLI_MODULE_NAME,
	                RTLD_NOW | RTLD_LOCAL)) != NULL)
		return h;
	snprintf(tried, len, "%s", dlerror());
	return NULL;
}

int
cli_run_module(struct cli *cli, int argc, char **argv)
{
	char why[1024];
	const char *abi;
	p11_cli_module_run_fn *run;
	void *h;

	if ((h = open_module(why, sizeof(why))) == NULL) {
		fprintf(stderr, "p11: %s: cannot load the command module: %s\n",
		        cli->cmd->name, why);
		return P11_EXIT_ERROR;
	}
	abi = dlsym(h, "p11_cli_module_abi");
	if (abi == NULL || strcmp(abi, P11_CLI_MODULE_ABI) != 0) {
		fprintf(stderr,
		        "p11: %s: the command module is from another build "
		        "(%s, this p11 needs %s); reinstall p11agent\n",
		        cli->cmd->name, abi != NULL ? abi : "unknown",
		        P11_CLI_MODULE_ABI);
		return P11_EXIT_ERROR;
	}
	*(void **)&run = dlsym(h, "p11_cli_module_run");
	if (run == NULL) {
		fprintf(stderr, "p11: %s: the command module has no entry\n",
		        cli->cmd->name);
		return P11_EXIT_ERROR;
	}
	/* Not closed: its code may still be on the stack of atexit
	 * handlers (OpenSSL's) when the process ends. */
	return run(cli, argc, argv);
}
