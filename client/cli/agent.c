/*
 * Reaching the agent, and starting one on demand as gpg does with
 * gpg-agent: when nothing answers on the socket, run
 * "p11agent -a SOCKET" (it daemonizes itself; its parent exits once the
 * socket listens), then try to connect for up to three seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"

#define AGENT_PROGRAM "p11agent"
/* How long to keep trying to connect after starting an agent. */
#define AUTOSTART_WAIT_MS 3000
#define AUTOSTART_STEP_MS 50
/* How long the agent's parent may take to report that it listens. */
#define AUTOSTART_PARENT_MS 10000

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Finds the agent program: --agent-program, else p11agent next to this
 * p11 (a relocated install keeps both together), else the name alone for
 * execvp() to find in $PATH.
 */
static const char *
agent_program(const struct cli *cli, char *buf, size_t len)
{
	if (cli->agent_program != NULL)
		return cli->agent_program;
	if (cli_path_beside_self(buf, len, AGENT_PROGRAM) &&
	    access(buf, X_OK) == 0)
		return buf;
	return AGENT_PROGRAM;
}

/*
 * The default socket lives in a folder of its own that only we may use.
 * The agent creates it when it picks the default itself; since we pass
 * -a, we create it here, with the same checks.
 */
static int
private_dir(const char *sock, char *err, size_t errlen)
{
	char dir[PATH_MAX], def[PATH_MAX], *slash;
	struct stat st;

	if (p11agent_default_socket_path(def, sizeof(def)) != 0 ||
	    strcmp(def, sock) != 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s", sock);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		         strerror(errno));
		return P11AGENT_E_IO;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != getuid() || (st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		         "%s must be a folder owned by you with mode 0700",
		         dir);
		return P11AGENT_E_DENIED;
	}
	return 0;
}

/*
 * Runs the agent and waits for its first process to exit (it does once
 * the socket listens).  Its standard output (the shell lines it prints)
 * goes to /dev/null; its standard error stays ours, so that a failure to
 * start is explained in its own words.  Returns 0 or a code with err set.
 */
static int
spawn_agent(const char *prog, const char *sock, char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + AUTOSTART_PARENT_MS;
	int status = 0, devnull;
	pid_t pid, w;

	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		return P11AGENT_E_IO;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
		    dup2(devnull, STDOUT_FILENO) < 0)
			_exit(127);
		/* Nothing of ours (a --pin-fd!) may leak into the agent. */
		closefrom(STDERR_FILENO + 1);
		signal(SIGPIPE, SIG_DFL);
		execlp(prog, prog, "-a", sock, (char *)NULL);
		fprintf(stderr, "p11: cannot run %s: %s\n", prog,
		        strerror(errno));
		_exit(127);
	}
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			snprintf(err, errlen, "cannot wait for %s: %s", prog,
			         strerror(errno));
			return P11AGENT_E_IO;
		}
		if (mono_ms() >= deadline) {
			/* Still starting: the connect loop will tell. */
			return 0;
		}
		(void)poll(NULL, 0, 20);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		snprintf(err, errlen, "cannot run %s", prog);
		return P11AGENT_E_NO_AGENT;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* Maybe another p11 started one at the same moment. */
		snprintf(err, errlen, "%s failed to start", prog);
		return P11AGENT_E_IO;
	}
	return 0;
}

static int
connect_failed(const struct cli *cli, const char *sock, int r, int saved_errno)
{
	switch (r) {
	case P11AGENT_E_NO_AGENT:
		cli_fail(r,
		         cli->autostart ? NULL
		                        : "no agent is running (start one with "
		                          "'eval \"$(p11agent)\"', or drop "
		                          "--no-autostart)",
		         "%s", sock);
		break;
	case P11AGENT_E_DENIED:
		cli_fail(
		    r,
		    saved_errno == EPERM
		        ? "the socket belongs to another user, not to an agent "
		          "of yours"
		        : strerror(saved_errno),
		    "%s", sock);
		break;
	case P11AGENT_E_ARGS:
		cli_fail(r, "path too long for a socket", "%s", sock);
		break;
	default:
		cli_fail(r, saved_errno != 0 ? strerror(saved_errno) : NULL,
		         "%s", sock);
		break;
	}
	return P11_EXIT_NO_AGENT;
}

int
cli_connect(struct cli *cli, struct p11agent_conn **conn)
{
	char sock[PATH_MAX], progbuf[PATH_MAX], err[PATH_MAX + 128];
	const char *prog;
	int64_t deadline;
	int r, sr;

	*conn = NULL;
	if (p11agent_socket_path(cli->socket, sock, sizeof(sock)) != 0) {
		cli_fail(P11AGENT_E_ARGS, "socket path too long", "connect");
		return P11_EXIT_NO_AGENT;
	}
	errno = 0;
	r = p11agent_connect(sock, conn);
	if (r != P11AGENT_E_NO_AGENT || !cli->autostart)
		return r == 0 ? 0 : connect_failed(cli, sock, r, errno);

	prog = agent_program(cli, progbuf, sizeof(progbuf));
	err[0] = '\0';
	if ((sr = private_dir(sock, err, sizeof(err))) != 0) {
		cli_fail(sr, err, "cannot start an agent");
		return P11_EXIT_NO_AGENT;
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "p11: no agent running, starting %s\n", prog);
	sr = spawn_agent(prog, sock, err, sizeof(err));
	if (sr == P11AGENT_E_NO_AGENT) {
		cli_fail(sr, err, "cannot start an agent");
		return P11_EXIT_NO_AGENT;
	}
	/*
	 * Even when the agent failed, try: another p11 may have started one
	 * at the same moment, and ours then refused to replace it.
	 */
	deadline = mono_ms() + AUTOSTART_WAIT_MS;
	for (;;) {
		errno = 0;
		r = p11agent_connect(sock, conn);
		if (r != P11AGENT_E_NO_AGENT || mono_ms() >= deadline)
			break;
		(void)poll(NULL, 0, AUTOSTART_STEP_MS);
	}
	if (r == 0)
		return 0;
	if (r != P11AGENT_E_NO_AGENT)
		return connect_failed(cli, sock, r, errno);
	if (sr != 0)
		cli_fail(sr, err, "cannot start an agent");
	else
		cli_fail(r, "the agent started but does not answer", "%s",
		         sock);
	return P11_EXIT_NO_AGENT;
}
