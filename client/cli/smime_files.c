/*
 * Input, output and the certificate store's folder for the S/MIME
 * subcommands (smime_base.h).  No libcrypto: p11 sign uses these in the
 * executable.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "io.h"
#include "smime_base.h"

static int
copy_fd(int from, int to)
{
	char buf[64 * 1024];
	ssize_t n, w, off;

	for (;;) {
		n = read(from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return P11AGENT_E_IO;
		if (n == 0)
			return 0;
		for (off = 0; off < n; off += w) {
			w = write(to, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w < 0)
				return P11AGENT_E_IO;
		}
	}
}

int
cli_smime_open_in(const char *path, int *fd)
{
	struct stat st;
	int in, tmp;

	*fd = -1;
	if (path == NULL || strcmp(path, "-") == 0) {
		in = STDIN_FILENO;
	} else if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "p11: %s: %s\n", path, strerror(errno));
		return P11_EXIT_ERROR;
	}
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode)) {
		*fd = in == STDIN_FILENO ? dup(in) : in;
		return *fd >= 0 ? 0 : P11_EXIT_ERROR;
	}
	/* A pipe or a terminal: keep a copy that can be read twice. */
	if (smime_tmpfile(NULL, &tmp) != 0 || copy_fd(in, tmp) != 0 ||
	    lseek(tmp, 0, SEEK_SET) != 0) {
		fprintf(stderr, "p11: cannot buffer the input: %s\n",
		        strerror(errno));
		if (in != STDIN_FILENO)
			close(in);
		return P11_EXIT_ERROR;
	}
	if (in != STDIN_FILENO)
		close(in);
	*fd = tmp;
	return 0;
}

/* An unlinked temporary file, copied to the output on commit. */
static int
open_spool(struct cli_smime_out *o)
{
	if (smime_tmpfile(NULL, &o->fd) != 0) {
		fprintf(stderr, "p11: cannot make a temporary file: %s\n",
		        strerror(errno));
		return P11_EXIT_ERROR;
	}
	return 0;
}

int
cli_smime_out_open(struct cli_smime_out *o, const char *path)
{
	char *copy = NULL, *dir;
	struct stat st;
	int r;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (path == NULL || strcmp(path, "-") == 0)
		return open_spool(o);
	o->path = path;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A device or a pipe (-o /dev/null): written on commit. */
		o->direct = true;
		return open_spool(o);
	}
	if ((copy = strdup(path)) == NULL)
		return P11_EXIT_ERROR;
	dir = dirname(copy);
	r = asprintf(&o->tmp, "%s/.p11-out-XXXXXX", dir);
	free(copy);
	if (r < 0) {
		o->tmp = NULL;
		return P11_EXIT_ERROR;
	}
	if ((o->fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
		fprintf(stderr, "p11: %s: %s\n", path, strerror(errno));
		free(o->tmp);
		o->tmp = NULL;
		return P11_EXIT_ERROR;
	}
	return 0;
}

int
cli_smime_out_commit(struct cli_smime_out *o)
{
	int r = 0;

	if (o->path == NULL || o->direct) {
		int to = STDOUT_FILENO;

		fflush(stdout);
		if (o->direct &&
		    (to = open(o->path, O_WRONLY | O_CLOEXEC)) < 0) {
			fprintf(stderr, "p11: %s: %s\n", o->path,
			        strerror(errno));
			r = P11_EXIT_ERROR;
		} else if (lseek(o->fd, 0, SEEK_SET) != 0 ||
		           copy_fd(o->fd, to) != 0) {
			fprintf(stderr, "p11: cannot write the output: %s\n",
			        strerror(errno));
			r = P11_EXIT_ERROR;
		}
		if (o->direct && to >= 0)
			close(to);
		close(o->fd);
		o->fd = -1;
		return r;
	}
	if (fchmod(o->fd, 0600) != 0 || close(o->fd) != 0) {
		o->fd = -1;
		fprintf(stderr, "p11: %s: %s\n", o->path, strerror(errno));
		cli_smime_out_abort(o);
		return P11_EXIT_ERROR;
	}
	o->fd = -1;
	if (rename(o->tmp, o->path) != 0) {
		fprintf(stderr, "p11: %s: %s\n", o->path, strerror(errno));
		cli_smime_out_abort(o);
		return P11_EXIT_ERROR;
	}
	free(o->tmp);
	o->tmp = NULL;
	return 0;
}

void
cli_smime_out_abort(struct cli_smime_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp != NULL) {
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
	}
}

int
cli_smime_store_open(struct smime_store **out, bool required)
{
	int r;

	if ((r = smime_store_open(NULL, out)) == P11AGENT_E_ARGS && !required)
		return 0;
	if (r != 0) {
		fprintf(stderr,
		        "p11: cannot open the certificate store (set "
		        "XDG_DATA_HOME or HOME): %s\n",
		        p11agent_strerror(r));
		return P11_EXIT_ERROR;
	}
	return 0;
}

int
cli_smime_input_arg(struct cli *cli, int argc, char **argv, const char **in)
{
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
		                       argv[optind + 1]);
	if (optind < argc)
		*in = argv[optind];
	return -1;
}
