/*
 * p11agent: start like ssh-agent, then serve until SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "proto/err.h"

/* No core files, no ptrace by other processes of the same user. */
static void
main_harden(void)
{
	struct rlimit rl = {0, 0};

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		agent_log(AGENT_LOG_WARNING, "cannot disable core files");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		agent_log(AGENT_LOG_WARNING, "cannot make the agent "
		                             "non-dumpable");
}

static void
main_print_env(const struct agent_options *opt, const char *path, pid_t pid)
{
	if (opt->csh) {
		printf("setenv P11AGENT_SOCK %s;\n", path);
		printf("setenv P11AGENT_PID %d;\n", (int)pid);
		if (opt->print_ssh)
			printf("setenv SSH_AUTH_SOCK %s;\n", path);
	} else {
		printf("P11AGENT_SOCK=%s; export P11AGENT_SOCK;\n", path);
		printf("P11AGENT_PID=%d; export P11AGENT_PID;\n", (int)pid);
		if (opt->print_ssh)
			printf("SSH_AUTH_SOCK=%s; export SSH_AUTH_SOCK;\n",
			       path);
	}
	printf("echo Agent pid %d;\n", (int)pid);
	fflush(stdout);
}

static int
main_kill(const struct agent_options *opt)
{
	const char *s = getenv("P11AGENT_PID");
	char *end;
	long pid;

	if (s == NULL || (pid = strtol(s, &end, 10)) <= 1 || *end != '\0') {
		fprintf(stderr, "p11agent: P11AGENT_PID not set or invalid\n");
		return 1;
	}
	if (kill((pid_t)pid, SIGTERM) != 0) {
		fprintf(stderr, "p11agent: kill %ld: %s\n", pid,
		        strerror(errno));
		return 1;
	}
	if (opt->csh)
		printf("unsetenv P11AGENT_SOCK;\nunsetenv P11AGENT_PID;\n");
	else
		printf("unset P11AGENT_SOCK;\nunset P11AGENT_PID;\n");
	printf("echo Agent pid %ld killed;\n", pid);
	return 0;
}

static int
main_check_modules(const struct agent_options *opt)
{
	size_t i;

	for (i = 0; i < opt->nmodules; i++) {
		if (strchr(opt->modules[i], '/') != NULL &&
		    access(opt->modules[i], R_OK) != 0) {
			fprintf(stderr, "p11agent: module %s: %s\n",
			        opt->modules[i], strerror(errno));
			return 1;
		}
		if (!agent_module_allowed(opt->allowed_modules,
		                          opt->modules[i])) {
			fprintf(
			    stderr,
			    "p11agent: module %s is not in the allowed list "
			    "\"%s\" (see -P)\n",
			    opt->modules[i], opt->allowed_modules);
			return 1;
		}
	}
	return 0;
}

/*
 * Detaches like ssh-agent.  The parent waits until the child has loaded
 * its modules and listens (a byte on a pipe), so that a failure is
 * reported on the terminal with a non-zero exit instead of vanishing
 * into a daemon that is already gone; then it prints the environment.
 */
static int
main_daemonize(const struct agent_options *opt, const char *path, int *ready_fd)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe(fds) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &c, 1) != 1 || c != 'R') {
			int status = 0;

			waitpid(pid, &status, 0);
			fprintf(stderr,
			        "p11agent: the agent failed to start\n");
			_exit(1);
		}
		main_print_env(opt, path, pid);
		_exit(0);
	}
	close(fds[0]);
	*ready_fd = fds[1];
	setsid();
	return chdir("/") == 0 ? 0 : -1;
}

/* In the child: the agent is ready; let the parent go, drop the tty. */
static void
main_detached(int ready_fd)
{
	int fd;

	if (ready_fd < 0)
		return;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	agent_log_init(0, AGENT_LOG_INFO);
	if (write(ready_fd, "R", 1) != 1)
		agent_log(AGENT_LOG_WARNING,
		          "could not tell the parent we run");
	close(ready_fd);
}

static int
main_serve(struct agent *a, int listen_fd, int ready_fd)
{
	struct tok_config cfg;
	uv_loop_t loop;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.modules = a->opt->modules;
	cfg.nmodules = a->opt->nmodules;
	cfg.pool_size = a->opt->pool_size;
	cfg.no_host_padding = a->opt->no_host_padding;
	if ((r = tok_ctx_new(&cfg, &a->tokens)) != 0) {
		agent_log(AGENT_LOG_ERROR, "no PKCS#11 module could be "
		                           "loaded");
		return 1;
	}
	uv_loop_init(&loop);
	a->loop = &loop;
	if (agent_server_start(a, listen_fd) != 0)
		return 1;
	agent_log(AGENT_LOG_INFO, "listening on %s", a->socket_path);
	main_detached(ready_fd);
	uv_run(&loop, UV_RUN_DEFAULT);
	r = uv_loop_close(&loop);
	if (r != 0)
		agent_log(AGENT_LOG_WARNING, "loop closed with handles open");
	tok_ctx_free(a->tokens);
	agent_login_free_all(a);
	agent_list_cache_drop(a);
	agent_log(AGENT_LOG_INFO, "stopped");
	return r == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct agent_options opt;
	struct agent a;
	int fd, r, activated, ready_fd = -1;

	if ((r = agent_options_parse(argc, argv, &opt)) != 0)
		return r;
	if (opt.kill)
		return main_kill(&opt);
	/* Until it detaches, a background agent only reports problems. */
	agent_log_init(1, opt.debug        ? AGENT_LOG_DEBUG
	                  : opt.foreground ? AGENT_LOG_INFO
	                                   : AGENT_LOG_WARNING);
	if (main_check_modules(&opt) != 0)
		return 1;
	main_harden();
	memset(&a, 0, sizeof(a));
	a.opt = &opt;
	if ((activated = agent_socket_activated(&fd, &a.socket_path)) < 0)
		return 1;
	if (!activated &&
	    (agent_socket_path(opt.socket_path, &a.socket_path) != 0 ||
	     agent_socket_listen(a.socket_path, &fd) != 0)) {
		free(a.socket_path);
		return 1;
	}
	a.socket_owned = !activated;
	if (activated) {
		/* systemd supervises this process: no fork, no env lines. */
		agent_log(AGENT_LOG_INFO, "socket activation: %s",
		          a.socket_path);
	} else if (!opt.foreground) {
		if (main_daemonize(&opt, a.socket_path, &ready_fd) != 0)
			return 1;
	} else {
		main_print_env(&opt, a.socket_path, getpid());
	}
	/* A client that goes away must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	r = main_serve(&a, fd, ready_fd);
	if (!a.stopping && a.socket_owned)
		unlink(a.socket_path);
	free(a.socket_path);
	return r;
}
