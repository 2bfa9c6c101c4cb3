/*
 * The p11agent daemon: one libuv loop thread that owns every connection
 * and all agent state, and libuv's worker threads that run the token
 * calls.  Workers never touch this state: a job carries copies of what it
 * needs and its result, and the loop applies the result in the job's
 * after-work callback (agent/job.c).
 */
#ifndef P11AGENT_AGENT_AGENT_H
#define P11AGENT_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "proto/buf.h"
#include "tokens/tokens.h"

#define AGENT_VERSION "0.1.0"
#define AGENT_MAX_MODULES 16
/*
 * A list answers from the last token reading when no card came or went
 * and that reading is younger than this: reading every object costs
 * milliseconds, and clients list before each signature.
 */
#define AGENT_LIST_MAX_AGE_MS 4000
/*
 * On top of that, a list within this long of the last one gets the same
 * reply again from the loop (agent/listcache.c says when it does not):
 * changes behind the agent's back show within the two added, 5 s.
 */
#define AGENT_LIST_CACHE_MS 1000

struct agent_options {
	int foreground; /* -D */
	int debug;      /* -d: foreground, log to stderr at debug */
	int csh;        /* -c */
	int kill;       /* -k */
	int print_ssh;  /* --ssh */
	const char *socket_path;
	const char *modules[AGENT_MAX_MODULES];
	size_t nmodules;
	const char *allowed_modules; /* -P pattern list */
	unsigned login_lifetime;     /* -t, seconds, 0 = none */
	unsigned idle_timeout;       /* --idle-timeout, seconds, 0 = none */
	unsigned pool_size;          /* --sessions */
	int no_host_padding;         /* --no-host-padding */
};

/* Login bookkeeping per token, kept by the loop thread. */
struct agent_login {
	char *token_uri;
	time_t since;     /* 0 = not logged in */
	time_t last_used; /* for the idle timeout */
	unsigned flags;   /* TOK_TF_* as last read by a worker */
	int present;
};

struct agent_conn;
struct agent_job;

/* The last list reply a worker made (agent/listcache.c). */
struct agent_list_cache {
	uint8_t *frame; /* the whole reply frame, or NULL */
	size_t len;
	uint64_t made_ms; /* uv_now() when it was stored */
};

struct agent {
	uv_loop_t *loop;
	const struct agent_options *opt;
	struct tok_ctx *tokens;
	uv_pipe_t listener;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t expiry_timer;
	struct agent_conn *conns; /* doubly linked */
	size_t nconns;
	unsigned jobs_in_flight;
	int stopping;
	time_t started;
	/* Lock: a salted hash of the passphrase while locked. */
	int locked;
	uint8_t lock_salt[16];
	uint8_t lock_hash[32];
	struct agent_login *logins;
	size_t nlogins;
	struct agent_list_cache list_cache;
	unsigned long list_gen; /* bumped whenever the cache is dropped */
	char *socket_path;
	int socket_owned; /* ours to remove; not when systemd passed it */
};

/* agent/log.c */
enum agent_log_level {
	AGENT_LOG_ERROR = 0,
	AGENT_LOG_WARNING = 1,
	AGENT_LOG_INFO = 2,
	AGENT_LOG_DEBUG = 3,
};
void agent_log_init(int to_stderr, enum agent_log_level max);
void agent_log(enum agent_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* For impossible states: log and abort. */
#define agent_require(cond)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			agent_die("%s:%d: requirement failed: %s", __FILE__,   \
			          __LINE__, #cond);                            \
	} while (0)
void agent_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

/* agent/options.c */
int agent_options_parse(int argc, char **argv, struct agent_options *opt);
void agent_usage(FILE *f);

/* agent/sock.c */
int agent_socket_path(const char *explicit_path, char **out);
int agent_socket_listen(const char *path, int *fd_out);
int agent_peer_uid(int fd, uid_t *uid, pid_t *pid);
int agent_module_allowed(const char *patterns, const char *path);

/*
 * agent/activate.c: the listening socket systemd passed (fd 3), with its
 * path.  1 when activated, 0 when not (no LISTEN_* for this process), or
 * a negative code (logged) when the variables name us but the socket is
 * not one listening Unix stream socket.  LISTEN_* variables that name
 * this process are removed, so that children do not inherit them.
 */
int agent_socket_activated(int *fd_out, char **path_out);

/* agent/server.c */
int agent_server_start(struct agent *a, int listen_fd);
void agent_server_stop(struct agent *a);
void agent_maybe_finish(struct agent *a);

/* agent/conn.c */
void agent_conn_accept(struct agent *a);
/* Sends a whole frame taken from w (wiped when written) and resumes reading. */
void agent_conn_reply(struct agent_conn *c, struct proto_writer *w);
void agent_conn_close(struct agent_conn *c);
void agent_conn_unref(struct agent_conn *c);
struct agent_conn *agent_conn_ref(struct agent_conn *c);
int agent_conn_is_closing(const struct agent_conn *c);
struct agent *agent_conn_agent(const struct agent_conn *c);

/* agent/dispatch.c: handles one request body of c. */
void agent_dispatch(struct agent_conn *c, const uint8_t *body, size_t len);

/* agent/login.c */
struct agent_login *agent_login_get(struct agent *a, const char *token_uri);
void agent_login_note(struct agent *a, const char *token_uri, int logged_in,
                      unsigned flags);
void agent_login_touch(struct agent *a, const char *token_uri);
time_t agent_login_expiry(const struct agent *a, const struct agent_login *l);
void agent_login_start_timer(struct agent *a);
void agent_login_free_all(struct agent *a);
/* Logs out every token (on the thread pool); used by lock and expiry. */
void agent_logout_all(struct agent *a, const char *why);

/* agent/listcache.c */
/* Answers a list from the cache; 0 (nothing sent) when it is stale. */
int agent_list_cache_reply(struct agent *a, struct agent_conn *c);
/* Called by agent/job.c for every job queued and finished. */
void agent_list_cache_job_queued(struct agent_job *j);
void agent_list_cache_job_done(struct agent_job *j, int cancelled);
/* Forgets the cached reply (and frees it). */
void agent_list_cache_drop(struct agent *a);

/* agent/lock.c */
int agent_lock(struct agent *a, struct proto_text passphrase);
int agent_unlock(struct agent *a, struct proto_text passphrase);

#endif
