/*
 * The pinentry conversation (see pinentry.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "p11agent.h"
#include "assuan.h"
#include "pinentry.h"
#include "secret.h"

/* The reading side: raw bytes may hold the PIN, so they live in a secret. */
struct pe_conn {
	int rfd, wfd;
	struct cli_secret in; /* bytes received and not yet consumed */
	size_t line_len;      /* length of the line at in.buf, once found */
	char *err;
	size_t errlen;
};

static int pe_fail(struct pe_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
pe_fail(struct pe_conn *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int
pe_write(struct pe_conn *c, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(c->wfd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return pe_fail(c, P11AGENT_E_IO,
			               "pinentry stopped listening");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Drops the current line from the input, wiping what it held. */
static void
pe_consume(struct pe_conn *c)
{
	size_t n = c->line_len + 1;

	if (n > c->in.len)
		n = c->in.len;
	memmove(c->in.buf, c->in.buf + n, c->in.len - n);
	OPENSSL_cleanse(c->in.buf + c->in.len - n, n);
	c->in.len -= n;
	c->line_len = 0;
}

/* Reads until a whole line is at c->in.buf and parses it. */
static int
pe_read_line(struct pe_conn *c, struct cli_assuan_line *l)
{
	char *nl;
	ssize_t n;

	for (;;) {
		nl = c->in.len > 0 ? memchr(c->in.buf, '\n', c->in.len) : NULL;
		if (nl != NULL) {
			c->line_len = (size_t)(nl - c->in.buf);
			if (cli_assuan_parse(c->in.buf, c->line_len, l) != 0)
				return pe_fail(
				    c, P11AGENT_E_IO,
				    "pinentry sent a malformed line");
			return 0;
		}
		if (c->in.len > CLI_ASSUAN_LINE_MAX + 1)
			return pe_fail(c, P11AGENT_E_IO,
			               "pinentry sent a line that is too long");
		n = read(c->rfd, c->in.buf + c->in.len,
		         c->in.cap - 1 - c->in.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pe_fail(c, P11AGENT_E_IO,
			               "cannot read from pinentry: %s",
			               strerror(errno));
		if (n == 0)
			return pe_fail(c, P11AGENT_E_IO,
			               "pinentry exited unexpectedly");
		c->in.len += (size_t)n;
	}
}

/* Words an ERR line for the user, without any data from a D line. */
static int
pe_err(struct pe_conn *c, const struct cli_assuan_line *l, const char *cmd)
{
	char text[200];
	size_t n =
	    l->arg_len < sizeof(text) - 1 ? l->arg_len : sizeof(text) - 1;
	size_t i;

	memcpy(text, l->arg, n);
	text[n] = '\0';
	for (i = 0; i < n; i++) {
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = '?';
	}
	if (cli_assuan_err_cancelled(l->err))
		return pe_fail(c, P11AGENT_E_CANCELLED, "cancelled");
	return pe_fail(c, P11AGENT_E_IO, "pinentry refused %s: %s (%lu)", cmd,
	               n > 0 ? text : "error", l->err);
}

/*
 * Sends "cmd[ arg]" and waits for OK.  An ERR is an error unless
 * tolerate_err (for OPTION lines an older pinentry may not know).  When
 * data is not NULL, D lines are unescaped into it.
 */
static int
pe_command(struct pe_conn *c, const char *cmd, const char *arg,
           bool tolerate_err, struct cli_secret *data)
{
	char esc[CLI_ASSUAN_LINE_MAX + 1];
	struct cli_assuan_line l;
	size_t before;
	int r;

	if (arg != NULL) {
		if (cli_assuan_escape(arg, esc,
		                      sizeof(esc) - strlen(cmd) - 1) != 0)
			return pe_fail(c, P11AGENT_E_TOO_LARGE,
			               "text for pinentry too long");
		if ((r = pe_write(c, cmd, strlen(cmd))) != 0 ||
		    (r = pe_write(c, " ", 1)) != 0 ||
		    (r = pe_write(c, esc, strlen(esc))) != 0)
			return r;
	} else if ((r = pe_write(c, cmd, strlen(cmd))) != 0) {
		return r;
	}
	if ((r = pe_write(c, "\n", 1)) != 0)
		return r;
	for (;;) {
		if ((r = pe_read_line(c, &l)) != 0)
			return r;
		switch (l.kind) {
		case CLI_ASSUAN_OK:
			pe_consume(c);
			return 0;
		case CLI_ASSUAN_ERR:
			r = tolerate_err ? 0 : pe_err(c, &l, cmd);
			pe_consume(c);
			return r;
		case CLI_ASSUAN_DATA:
			if (data == NULL) {
				pe_consume(c);
				return pe_fail(c, P11AGENT_E_IO,
				               "pinentry sent unexpected data");
			}
			before = data->len;
			r = cli_assuan_unescape(l.arg, l.arg_len, data->buf,
			                        CLI_SECRET_MAX, &data->len);
			pe_consume(c);
			if (r == P11AGENT_E_TOO_LARGE)
				return pe_fail(c, r, "the PIN is too long");
			if (r != 0)
				return pe_fail(c, P11AGENT_E_IO,
				               "pinentry sent malformed data");
			data->buf[data->len] = '\0';
			if (memchr(data->buf + before, '\0',
			           data->len - before) != NULL)
				return pe_fail(c, P11AGENT_E_PIN_INVALID,
				               "the PIN contains a NUL byte");
			break;
		case CLI_ASSUAN_INQUIRE:
			/* We have nothing to give (e.g. a quality bar). */
			pe_consume(c);
			if ((r = pe_write(c, "CAN\n", 4)) != 0)
				return r;
			break;
		case CLI_ASSUAN_STATUS:
		case CLI_ASSUAN_COMMENT:
			pe_consume(c);
			break;
		}
	}
}

int
cli_pinentry_converse(int rfd, int wfd, const struct cli_pinentry *pe,
                      struct cli_secret *pin, struct cli_secret *again,
                      char *err, size_t errlen)
{
	struct cli_assuan_line l;
	struct pe_conn c;
	char opt[600];
	int r;

	memset(&c, 0, sizeof(c));
	c.rfd = rfd;
	c.wfd = wfd;
	c.err = err;
	c.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	cli_secret_clear(pin);
	if (again != NULL)
		cli_secret_clear(again);
	if ((r = cli_secret_init(&c.in)) != 0) {
		pe_fail(&c, r, "out of memory");
		goto out;
	}
	/* The greeting, maybe after comments. */
	for (;;) {
		if ((r = pe_read_line(&c, &l)) != 0)
			goto out;
		if (l.kind != CLI_ASSUAN_COMMENT && l.kind != CLI_ASSUAN_STATUS)
			break;
		pe_consume(&c);
	}
	if (l.kind != CLI_ASSUAN_OK) {
		r = pe_fail(&c, P11AGENT_E_IO, "pinentry did not greet us");
		goto out;
	}
	pe_consume(&c);
	if (pe->ttyname != NULL) {
		snprintf(opt, sizeof(opt), "ttyname=%s", pe->ttyname);
		if ((r = pe_command(&c, "OPTION", opt, true, NULL)) != 0)
			goto out;
	}
	if (pe->ttytype != NULL) {
		snprintf(opt, sizeof(opt), "ttytype=%s", pe->ttytype);
		if ((r = pe_command(&c, "OPTION", opt, true, NULL)) != 0)
			goto out;
	}
	if ((pe->title != NULL &&
	     (r = pe_command(&c, "SETTITLE", pe->title, false, NULL)) != 0) ||
	    (pe->desc != NULL &&
	     (r = pe_command(&c, "SETDESC", pe->desc, false, NULL)) != 0) ||
	    (pe->prompt != NULL &&
	     (r = pe_command(&c, "SETPROMPT", pe->prompt, false, NULL)) != 0) ||
	    (r = pe_command(&c, "GETPIN", NULL, false, pin)) != 0)
		goto out;
	if (pe->repeat_desc != NULL && again != NULL) {
		if ((r = pe_command(&c, "SETDESC", pe->repeat_desc, false,
		                    NULL)) != 0 ||
		    (r = pe_command(&c, "GETPIN", NULL, false, again)) != 0)
			goto out;
	}
	/* Polite goodbye; the answer does not matter any more. */
	(void)pe_write(&c, "BYE\n", 4);
	r = 0;
out:
	if (r != 0) {
		cli_secret_clear(pin);
		if (again != NULL)
			cli_secret_clear(again);
	}
	cli_secret_cleanup(&c.in);
	return r;
}

int
cli_pinentry_get(const struct cli_pinentry *pe, struct cli_secret *pin,
                 struct cli_secret *again, char *err, size_t errlen)
{
	const char *prog =
	    pe->program != NULL ? pe->program : CLI_PINENTRY_DEFAULT;
	int to_child[2] = {-1, -1}, from_child[2] = {-1, -1};
	int r, status = 0;
	pid_t pid;

	if (errlen > 0)
		err[0] = '\0';
	if (pipe2(to_child, O_CLOEXEC) != 0 ||
	    pipe2(from_child, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "cannot create a pipe: %s",
		         strerror(errno));
		r = P11AGENT_E_IO;
		goto out;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		r = P11AGENT_E_IO;
		goto out;
	}
	if (pid == 0) {
		/* Child: stdin and stdout on our pipes, stderr kept. */
		if (dup2(to_child[0], STDIN_FILENO) < 0 ||
		    dup2(from_child[1], STDOUT_FILENO) < 0)
			_exit(127);
		closefrom(STDERR_FILENO + 1);
		signal(SIGPIPE, SIG_DFL);
		execlp(prog, prog, (char *)NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	to_child[0] = from_child[1] = -1;
	r = cli_pinentry_converse(from_child[0], to_child[1], pe, pin, again,
	                          err, errlen);
	close(to_child[1]);
	close(from_child[0]);
	to_child[1] = from_child[0] = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == P11AGENT_E_IO && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 127)
		snprintf(err, errlen, "cannot run pinentry program '%s'", prog);
out:
	if (to_child[0] >= 0)
		close(to_child[0]);
	if (to_child[1] >= 0)
		close(to_child[1]);
	if (from_child[0] >= 0)
		close(from_child[0]);
	if (from_child[1] >= 0)
		close(from_child[1]);
	return r;
}
