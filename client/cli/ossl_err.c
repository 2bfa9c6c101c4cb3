/*
 * The p11agent provider's failures, read back from OpenSSL's error queue
 * (smime_cli.h).
 *
 * The provider puts one entry on the queue per failed call: its library
 * is the provider's name, its reason the protocol's error code without
 * the sign (client/provider/err.c), and its data the sentence, usually
 * "p11agent <request>: <the agent's own sentence>".
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "p11agent.h"
#include "provider.h"
#include "smime_cli.h"

/* Reasons above this are not codes of ours (err.c stops at 63). */
#define REASON_MAX 127

/*
 * The agent's sentence in "p11agent <request>: <sentence>", as libp11agent
 * gives it for the same failure; any other text as it is.
 */
static const char *
agent_sentence(const char *data)
{
	static const char prefix[] = "p11agent ";
	const char *p;
	size_t n;

	if (strncmp(data, prefix, sizeof(prefix) - 1) != 0)
		return data;
	p = data + sizeof(prefix) - 1;
	n = strcspn(p, " :");
	if (n == 0 || strncmp(p + n, ": ", 2) != 0 || p[n + 2] == '\0')
		return data;
	return p + n + 2;
}

int
cli_ossl_agent_error(char *msg, size_t len)
{
	const char *data, *lib;
	unsigned long e;
	unsigned int reason;
	int flags, code = 0;

	if (msg != NULL && len > 0)
		msg[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if (ERR_SYSTEM_ERROR(e) ||
		    (lib = ERR_lib_error_string(e)) == NULL ||
		    strcmp(lib, P11A_PROVIDER_NAME) != 0)
			continue;
		reason = (unsigned int)ERR_GET_REASON(e);
		code = reason > 1 && reason <= REASON_MAX ? -(int)reason
		                                          : P11AGENT_E_INTERNAL;
		if (msg == NULL || len == 0)
			continue;
		if (data == NULL || (flags & ERR_TXT_STRING) == 0 ||
		    data[0] == '\0')
			data = p11agent_strerror(code);
		(void)snprintf(msg, len, "%s", agent_sentence(data));
	}
	return code;
}
