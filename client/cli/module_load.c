/*
 * Loading the command module (module.h) from the executable.
 *
 * The module is looked for next to the executable first (the build
 * tree, or a relocated install that keeps both in one folder), then in
 * the folder it is installed to (P11_CLI_MODULE_DIR).  Both are fixed
 * by the installation, never by the environment.
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

/* dirname(/proc/self/exe) + "/" + name into buf; false if it does not fit. */
static bool
beside_self(char *buf, size_t len, const char *name)
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

static void *
open_module(char *tried, size_t len)
{
	char path[PATH_MAX + 64];
	void *h;

	tried[0] = '\0';
	if (beside_self(path, sizeof(path), P11_CLI_MODULE_NAME) &&
	    access(path, F_OK) == 0) {
		if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) != NULL)
			return h;
		snprintf(tried, len, "%s", dlerror());
		return NULL;
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
