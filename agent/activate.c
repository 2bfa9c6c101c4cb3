/*
 * systemd socket activation (sd_listen_fds(3)): the socket unit listens,
 * and starts the agent on the first connection with the listening socket
 * as fd 3, LISTEN_PID naming us and LISTEN_FDS=1.
 *
 * Read by hand, as gpg-agent does, rather than through libsystemd: the
 * protocol is three environment variables and a fixed fd, and the agent
 * holds PINs, so it links as little as it can.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "proto/err.h"

#define ACTIVATE_FIRST_FD 3 /* SD_LISTEN_FDS_START */

/* The variables name this process (not a parent that passed them on). */
static int
activate_for_us(void)
{
	const char *pid = getenv("LISTEN_PID");
	char *end;
	long v;

	if (pid == NULL || getenv("LISTEN_FDS") == NULL)
		return 0;
	errno = 0;
	v = strtol(pid, &end, 10);
	return errno == 0 && end != pid && *end == '\0' && v == (long)getpid();
}

/* Children (helpers a PKCS#11 module starts) must not take fd 3 as theirs. */
static void
activate_forget_env(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

/* fd is a listening Unix stream socket; its path into *path. */
static int
activate_check_fd(int fd, char **path)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	int v = 0;
	socklen_t vlen = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen) != 0 ||
	    v == 0) {
		agent_log(AGENT_LOG_ERROR,
		          "socket activation: fd %d is not a listening socket",
		          fd);
		return P11A_E_ARGS;
	}
	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) != 0 ||
	    sun.sun_family != AF_UNIX || len <= sizeof(sun.sun_family) ||
	    sun.sun_path[0] == '\0') {
		agent_log(AGENT_LOG_ERROR,
		          "socket activation: fd %d is not a "
		          "Unix socket with a path",
		          fd);
		return P11A_E_ARGS;
	}
	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vlen) != 0 ||
	    v != SOCK_STREAM) {
		agent_log(AGENT_LOG_ERROR,
		          "socket activation: fd %d is not a stream socket",
		          fd);
		return P11A_E_ARGS;
	}
	sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
	if ((*path = strdup(sun.sun_path)) == NULL)
		return P11A_E_NOMEM;
	return 0;
}

int
agent_socket_activated(int *fd_out, char **path_out)
{
	const char *n;
	int r;

	*fd_out = -1;
	*path_out = NULL;
	if (!activate_for_us())
		return 0;
	n = getenv("LISTEN_FDS");
	if (strcmp(n, "1") != 0) {
		agent_log(
		    AGENT_LOG_ERROR,
		    "socket activation: LISTEN_FDS=%.16s, the agent takes "
		    "exactly one socket",
		    n);
		activate_forget_env();
		return P11A_E_ARGS;
	}
	activate_forget_env();
	if ((r = activate_check_fd(ACTIVATE_FIRST_FD, path_out)) != 0)
		return r;
	(void)fcntl(ACTIVATE_FIRST_FD, F_SETFD, FD_CLOEXEC);
	*fd_out = ACTIVATE_FIRST_FD;
	return 1;
}
