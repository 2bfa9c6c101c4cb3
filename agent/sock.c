/*
 * The agent's socket: where it lives, creating it safely (private folder,
 * umask 0177, refusing to replace a live agent's socket), and who is on
 * the other end (SO_PEERCRED).
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "proto/err.h"

/* Creates (or checks) a folder that only we may use. */
static int
sock_private_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		agent_log(AGENT_LOG_ERROR, "cannot create %s: %s", dir,
		          strerror(errno));
		return P11A_E_IO;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != getuid() || (st.st_mode & 077) != 0) {
		agent_log(AGENT_LOG_ERROR,
		          "%s must be a folder owned by you with mode 0700",
		          dir);
		return P11A_E_DENIED;
	}
	return 0;
}

int
agent_socket_path(const char *explicit_path, char **out)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[PATH_MAX - 16], path[PATH_MAX];
	int r;

	*out = NULL;
	if (explicit_path != NULL) {
		if ((*out = strdup(explicit_path)) == NULL)
			return P11A_E_NOMEM;
		return 0;
	}
	if (xdg != NULL && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%s/p11agent", xdg);
	else
		snprintf(dir, sizeof(dir), "/tmp/p11agent-%u",
		         (unsigned)getuid());
	if ((r = sock_private_dir(dir)) != 0)
		return r;
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	if ((*out = strdup(path)) == NULL)
		return P11A_E_NOMEM;
	return 0;
}

/* 1 when an agent answers on path, 0 when nobody does (stale or absent). */
static int
sock_is_live(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

int
agent_socket_listen(const char *path, int *fd_out)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old_mask;
	int fd, saved;

	*fd_out = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		agent_log(AGENT_LOG_ERROR, "socket path too long: %s", path);
		return P11A_E_ARGS;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			agent_log(AGENT_LOG_ERROR,
			          "%s exists and is not a socket", path);
			return P11A_E_ALREADY;
		}
		if (sock_is_live(&sun)) {
			agent_log(AGENT_LOG_ERROR,
			          "another agent is listening on %s", path);
			return P11A_E_ALREADY;
		}
		agent_log(AGENT_LOG_INFO, "removing stale socket %s", path);
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return P11A_E_IO;
	old_mask = umask(0177);
	saved = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (saved != 0 || listen(fd, 128) != 0) {
		agent_log(AGENT_LOG_ERROR, "cannot listen on %s: %s", path,
		          strerror(errno));
		close(fd);
		return P11A_E_IO;
	}
	*fd_out = fd;
	return 0;
}

int
agent_peer_uid(int fd, uid_t *uid, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return P11A_E_IO;
	*uid = cred.uid;
	*pid = cred.pid;
	return 0;
}

int
agent_module_allowed(const char *patterns, const char *path)
{
	char real[PATH_MAX], *list, *pat, *save = NULL;
	int ok = 0;

	/* Bare names are resolved by p11-kit in its own module folder. */
	if (strchr(path, '/') == NULL)
		return 1;
	if (realpath(path, real) == NULL)
		return 0;
	if ((list = strdup(patterns)) == NULL)
		return 0;
	for (pat = strtok_r(list, ",", &save); pat != NULL && !ok;
	     pat = strtok_r(NULL, ",", &save))
		ok = fnmatch(pat, real, 0) == 0;
	free(list);
	return ok;
}
