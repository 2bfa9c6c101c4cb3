/*
 * Asking the user for a PIN or passphrase: from a descriptor (--pin-fd,
 * --pass-fd), the terminal, or a pinentry program, in that order.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "p11agent.h"
#include "ask.h"
#include "pinentry.h"
#include "secret.h"

/* Two entries of the same secret must match, compared in constant time. */
static bool
same_secret(const struct cli_secret *a, const struct cli_secret *b)
{
	return a->len == b->len && CRYPTO_memcmp(a->buf, b->buf, a->len) == 0;
}

static int
ask_tty(const struct cli_ask *a, struct cli_secret *out, char *err,
        size_t errlen)
{
	struct cli_secret again;
	int r;

	memset(&again, 0, sizeof(again));
	if (a->notice != NULL)
		fprintf(stderr, "%s\n", a->notice);
	if ((r = cli_secret_read_tty(a->prompt, out)) != 0)
		goto out;
	if (a->repeat_prompt == NULL || out->len == 0)
		goto out;
	if ((r = cli_secret_init(&again)) != 0 ||
	    (r = cli_secret_read_tty(a->repeat_prompt, &again)) != 0)
		goto out;
	if (!same_secret(out, &again)) {
		snprintf(err, errlen, "the two entries differ");
		r = P11AGENT_E_ARGS;
	}
out:
	if (r == P11AGENT_E_CANCELLED && err[0] == '\0')
		snprintf(err, errlen, "cancelled");
	else if (r != 0 && err[0] == '\0')
		snprintf(err, errlen, "cannot read from the terminal");
	cli_secret_cleanup(&again);
	return r;
}

static int
ask_pinentry(const struct cli_ask *a, struct cli_secret *out, char *err,
             size_t errlen)
{
	struct cli_pinentry pe;
	struct cli_secret again;
	char desc[512];
	int r;

	memset(&pe, 0, sizeof(pe));
	memset(&again, 0, sizeof(again));
	if (a->notice != NULL)
		snprintf(desc, sizeof(desc), "%s\n\n%s", a->desc, a->notice);
	else
		snprintf(desc, sizeof(desc), "%s", a->desc);
	pe.program = a->pinentry;
	pe.title = "p11";
	pe.desc = desc;
	pe.prompt = a->pinentry_prompt;
	if (isatty(STDIN_FILENO))
		pe.ttyname = ttyname(STDIN_FILENO);
	pe.ttytype = getenv("TERM");
	if (a->repeat_prompt != NULL) {
		pe.repeat_desc = a->repeat_desc;
		if ((r = cli_secret_init(&again)) != 0)
			goto out;
	}
	r = cli_pinentry_get(&pe, out, a->repeat_prompt != NULL ? &again : NULL,
	                     err, errlen);
	if (r == 0 && a->repeat_prompt != NULL && !same_secret(out, &again)) {
		snprintf(err, errlen, "the two entries differ");
		r = P11AGENT_E_ARGS;
	}
out:
	cli_secret_cleanup(&again);
	return r;
}

int
cli_ask_secret(const struct cli_ask *a, struct cli_secret *out, char *err,
               size_t errlen)
{
	int r;

	err[0] = '\0';
	if (a->fd >= 0) {
		r = cli_secret_read_fd(a->fd, out);
		if (r == P11AGENT_E_CANCELLED)
			snprintf(err, errlen,
			         "nothing to read on descriptor %d", a->fd);
		else if (r == P11AGENT_E_TOO_LARGE)
			snprintf(err, errlen, "longer than %d bytes",
			         CLI_SECRET_MAX);
		else if (r != 0)
			snprintf(err, errlen, "cannot read descriptor %d",
			         a->fd);
	} else if (a->pinentry == NULL && cli_have_tty()) {
		r = ask_tty(a, out, err, errlen);
	} else {
		r = ask_pinentry(a, out, err, errlen);
	}
	if (r == 0 && out->len == 0) {
		snprintf(err, errlen, "empty %s: nothing was sent", a->what);
		r = P11AGENT_E_CANCELLED;
	}
	if (r != 0)
		cli_secret_clear(out);
	return r;
}
