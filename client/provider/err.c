/*
 * Errors: internal functions return a negative P11AGENT_E_* code and a
 * sentence; the dispatch boundary turns them into one error-queue entry
 * whose reason is the code (the sentences of p11agent_strerror()) and
 * whose data is the sentence, for example the agent's own "login required
 * for token ...".
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include <openssl/err.h>

#include "internal.h"

/* Reasons are -code; codes beyond this are reported as "internal". */
#define REASON_MAX 64

static OSSL_ITEM reasons[REASON_MAX];
static pthread_once_t reasons_once = PTHREAD_ONCE_INIT;

static void
reasons_fill(void)
{
	size_t i, n = 0;

	/* 0 is no reason; 1 ("incomplete") never leaves libp11agent. */
	for (i = 2; i < REASON_MAX - 1; i++) {
		reasons[n].id = (unsigned int)i;
		reasons[n].ptr = (void *)p11agent_strerror(-(int)i);
		n++;
	}
	/* The table ends with a zero entry. */
	reasons[n].id = 0;
	reasons[n].ptr = NULL;
}

const OSSL_ITEM *
p11a_reason_strings(void)
{
	(void)pthread_once(&reasons_once, reasons_fill);
	return reasons;
}

int
p11a_why_set(struct p11a_why *why, int code, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL)
		return code;
	va_start(ap, fmt);
	(void)vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* The core's vset_error() takes a va_list: build one. */
static void
core_set_error(const struct p11a_prov *prov, int reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	prov->vset_error(prov->handle, (uint32_t)reason, fmt, ap);
	va_end(ap);
}

int
p11a_report(const struct p11a_prov *prov, int code, const struct p11a_why *why,
            const char *file, int line, const char *func)
{
	const char *msg;
	int reason;

	if (code == 0)
		return 1;
	reason = -code;
	if (reason <= 1 || reason >= REASON_MAX - 1)
		reason = -P11AGENT_E_INTERNAL;
	msg = why != NULL && why->msg[0] != '\0' ? why->msg
	                                         : p11agent_strerror(code);
	if (prov != NULL && prov->new_error != NULL &&
	    prov->set_error_debug != NULL && prov->vset_error != NULL) {
		prov->new_error(prov->handle);
		prov->set_error_debug(prov->handle, file, line, func);
		core_set_error(prov, reason, "%s", msg);
		return 0;
	}
	/* No core functions (should not happen): a generic provider error. */
	ERR_new();
	ERR_set_debug(file, line, func);
	ERR_set_error(ERR_LIB_PROV, ERR_R_INTERNAL_ERROR, "%s", msg);
	return 0;
}
