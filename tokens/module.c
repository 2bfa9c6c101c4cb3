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

static int
module_load_one(struct tok_module *m, const char *path)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	memset(m, 0, sizeof(*m));
	m->fl = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED);
	if (m->fl == NULL) {
		tok_log(TOK_LOG_ERROR, "cannot load module %s: %s", path,
		        p11_kit_message() != NULL ? p11_kit_message() : "?");
		return P11A_E_TOKEN;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->fl->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		tok_ck_fail("C_Initialize", rv, path);
		p11_kit_module_release(m->fl);
		m->fl = NULL;
		return P11A_E_TOKEN;
	}
	if ((m->path = strdup(path)) == NULL) {
		m->fl->C_Finalize(NULL);
		p11_kit_module_release(m->fl);
		m->fl = NULL;
		return P11A_E_NOMEM;
	}
	tok_log(TOK_LOG_INFO, "loaded module %s", path);
	return 0;
}

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
	if ((ctx->mods = calloc(n, sizeof(*ctx->mods))) == NULL)
		return P11A_E_NOMEM;
	for (i = 0; i < n; i++) {
		if (module_load_one(&ctx->mods[ctx->nmods], paths[i]) == 0)
			ctx->nmods++;
	}
	if (ctx->nmods == 0) {
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
