/*
 * Loading PKCS#11 modules.  p11-kit does the dlopen and finds relative
 * module names in its module folder; we initialize each module ourselves,
 * unmanaged, so that we see the real Cryptoki results and ask for OS
 * locking (sessions are used from several worker threads).
 */
#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>

#include "proto/err.h"
#include "tokens/internal.h"

#ifndef P11A_PROXY_MODULE
#define P11A_PROXY_MODULE "p11-kit-proxy.so"
#endif

const char *
tok_default_module(void)
{
	return P11A_PROXY_MODULE;
}

/* Initializes a loaded module for use from several threads. */
static int
module_init(struct tok_module *m, CK_FUNCTION_LIST *fl, const char *name)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	memset(m, 0, sizeof(*m));
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = fl->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		tok_ck_fail("C_Initialize", rv, name);
		return P11A_E_TOKEN;
	}
	if ((m->path = strdup(name)) == NULL) {
		fl->C_Finalize(NULL);
		return P11A_E_NOMEM;
	}
	m->fl = fl;
	tok_log(TOK_LOG_INFO, "loaded module %s", name);
	return 0;
}

static int
module_load_one(struct tok_module *m, const char *path)
{
	CK_FUNCTION_LIST *fl;

	fl = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED);
	if (fl == NULL) {
		tok_log(TOK_LOG_ERROR, "cannot load module %s: %s", path,
		        p11_kit_message() != NULL ? p11_kit_message() : "?");
		return P11A_E_TOKEN;
	}
	if (module_init(m, fl, path) != 0) {
		p11_kit_module_release(fl);
		return P11A_E_TOKEN;
	}
	return 0;
}

/* The proxy module stands for "every module registered with p11-kit". */
static int
module_is_proxy(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base != NULL ? base + 1 : path;
	return strcmp(base, "p11-kit-proxy.so") == 0;
}

/*
 * What the p11-kit proxy would bring, loaded one by one (p11-kit refuses
 * to load its own proxy as a module): OpenSC for cards, SoftHSM, vendor
 * modules.  Trust-policy modules (the system CA store) hold no keys.
 */
static int
module_load_registered(struct tok_ctx *ctx, size_t room)
{
	CK_FUNCTION_LIST **list =
	    p11_kit_modules_load(NULL, P11_KIT_MODULE_UNMANAGED);
	size_t i, loaded = 0;

	if (list == NULL) {
		tok_log(TOK_LOG_ERROR, "p11-kit lists no modules: %s",
		        p11_kit_message() != NULL ? p11_kit_message() : "?");
		return 0;
	}
	for (i = 0; list[i] != NULL; i++) {
		char *name = p11_kit_module_get_name(list[i]);
		char *trust = p11_kit_config_option(list[i], "trust-policy");
		int skip = trust != NULL && strcmp(trust, "yes") == 0;

		if (!skip && loaded < room &&
		    module_init(&ctx->mods[ctx->nmods], list[i],
		                name != NULL ? name : "registered module") ==
		        0) {
			ctx->nmods++;
			loaded++;
			list[i] = NULL; /* ours now; released one by one */
		} else {
			p11_kit_module_release(list[i]);
		}
		free(name);
		free(trust);
	}
	free(list);
	return (int)loaded;
}

#define MODULE_MAX_REGISTERED 32

int
tok_modules_load(struct tok_ctx *ctx, const struct tok_config *cfg)
{
	static const char *const proxy[] = {P11A_PROXY_MODULE};
	const char *const *paths = proxy;
	size_t n = 1, i;

	if (cfg != NULL && cfg->nmodules > 0) {
		paths = cfg->modules;
		n = cfg->nmodules;
	}
	ctx->mods = calloc(n + MODULE_MAX_REGISTERED, sizeof(*ctx->mods));
	if (ctx->mods == NULL)
		return P11A_E_NOMEM;
	for (i = 0; i < n; i++) {
		if (module_is_proxy(paths[i]))
			module_load_registered(ctx, MODULE_MAX_REGISTERED);
		else if (module_load_one(&ctx->mods[ctx->nmods], paths[i]) == 0)
			ctx->nmods++;
	}
	if (ctx->nmods == 0) {
		tok_log(TOK_LOG_ERROR, "no PKCS#11 module could be loaded");
		free(ctx->mods);
		ctx->mods = NULL;
		return P11A_E_TOKEN;
	}
	return 0;
}

/*
 * Sanitizer builds keep modules mapped after C_Finalize: leak reports of
 * third-party modules (SoftHSM, pkcs11-spy) can then name the module and
 * be suppressed by tests/lsan.supp instead of showing as our leaks.
 */
static void
module_release(CK_FUNCTION_LIST *fl)
{
#ifdef P11A_SANITIZE_BUILD
	(void)fl;
#else
	p11_kit_module_release(fl);
#endif
}

void
tok_modules_unload(struct tok_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->nmods; i++) {
		ctx->mods[i].fl->C_Finalize(NULL);
		module_release(ctx->mods[i].fl);
		free(ctx->mods[i].path);
	}
	free(ctx->mods);
	ctx->mods = NULL;
	ctx->nmods = 0;
}
