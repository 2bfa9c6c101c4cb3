/*
 * Declarations private to libp11agent.  Nothing here is exported: the
 * version script (p11agent.map) exports only p11agent_*, so internal names
 * use the clib_ prefix.
 */
#ifndef P11AGENT_CLIENT_LIB_INTERNAL_H
#define P11AGENT_CLIENT_LIB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/msg.h"
#include "text.h"

/* Longest error sentence kept on a connection, NUL included. */
#define CLIB_ERRMSG_MAX 512

struct p11agent_conn {
	int fd;
	int timeout_ms;       /* < 0: forever */
	int login_timeout_ms; /* < 0: forever */
	bool broken;          /* out of sync with the agent: refuse requests */
	bool pending;         /* a request was sent, its reply not read yet */
	int64_t pending_deadline; /* of that reply; -1: none */
	int pending_timeout_ms;
	char *path; /* "" for p11agent_connect_fd() */
	char errmsg[CLIB_ERRMSG_MAX];
};

/*
 * Starts a request: clears the error message and refuses a broken or NULL
 * connection (P11A_E_ARGS for NULL, P11A_E_IO when broken) and one whose
 * last reply is still unread (P11A_E_ARGS).
 */
int clib_begin(struct p11agent_conn *conn);

/*
 * Starts reading the reply to a request clib_post() sent: the same
 * checks as clib_begin(), except that a reply must be pending
 * (P11A_E_ARGS when none is).
 */
int clib_begin_collect(struct p11agent_conn *conn);

/*
 * Records a local failure on conn and returns code.  fmt (printf) may be
 * NULL, then the message is p11a_strerror(code).  Never pass secrets.
 */
int clib_fail(struct p11agent_conn *conn, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Sends the frame in w and receives one reply frame.  enc is what the
 * encoder returned: when it is not 0 nothing is sent and the failure is
 * recorded.  The writer is wiped (proto_writer_cleanup()) as soon as the
 * request is on the wire, since it may hold a PIN or passphrase.  On
 * success *body is the reply body (type byte and payload, *len bytes),
 * which the caller frees with p11a_secret_free(*body, *len).  The whole
 * exchange takes at most timeout_ms (< 0: forever).  Any I/O failure,
 * timeout or oversize header marks conn broken.  Returns 0 or a negative
 * P11A_E_* with conn's message set.
 */
int clib_transact(struct p11agent_conn *conn, struct proto_writer *w, int enc,
                  int timeout_ms, uint8_t **body, size_t *len);

/*
 * clib_transact() in two halves, for a caller that works while the agent
 * answers: clib_post() sends the request (conn is then pending; the
 * deadline runs from here) and clib_collect() receives its reply.
 */
int clib_post(struct p11agent_conn *conn, struct proto_writer *w, int enc,
              int timeout_ms);
int clib_collect(struct p11agent_conn *conn, uint8_t **body, size_t *len);

/*
 * One request/reply exchange: the request is encoded into w, the reply
 * frame (body, len bytes) comes back from clib_call_send(), and its
 * decoder fills fail.  What a decoder returns points into body: copy what
 * is kept before clib_call_cleanup().
 */
struct clib_call {
	struct proto_writer w;
	struct proto_failure fail;
	uint8_t *body;
	size_t len;
};

/*
 * Initialises c and starts a request: clib_begin(), then P11A_E_ARGS
 * (recorded on conn) when args_ok is false.  Whatever it returns, c is
 * ready for encoding and for clib_call_cleanup().
 */
int clib_call_start(struct p11agent_conn *conn, struct clib_call *c,
                    bool args_ok);

/*
 * Initialises c and reads into it the reply to a request clib_post()
 * sent: clib_begin_collect(), then P11A_E_ARGS when args_ok is false (the
 * reply stays pending), then clib_collect().  c is then ready for the
 * reply decoder and for clib_call_cleanup().
 */
int clib_call_collect(struct p11agent_conn *conn, struct clib_call *c,
                      bool args_ok);

/*
 * clib_transact() of the request in c->w (enc is what its encoder
 * returned), leaving the reply frame in c->body and c->len.
 */
int clib_call_send(struct p11agent_conn *conn, struct clib_call *c, int enc,
                   int timeout_ms);

/*
 * Wipes and frees the request and the reply frame, which may hold a PIN,
 * plaintext or a shared secret.
 */
void clib_call_cleanup(struct clib_call *c);

/*
 * Interprets what a reply decoder returned.  ret 0 passes through.  A
 * failure sent by the agent (fail->code != 0) records the agent's message
 * (or a generic one when it sent none; what names the request for that
 * sentence) and returns its code.  Anything else is a malformed reply:
 * conn is marked broken and P11A_E_FORMAT returned.
 */
int clib_reply(struct p11agent_conn *conn, int ret,
               const struct proto_failure *fail, const char *what);

/* Heap copies of wire views: NULL when out of memory. */
char *clib_strdup_text(struct proto_text t);

/*
 * Copies len bytes to a new buffer in *out (NULL when len is 0).  Returns
 * 0 or P11A_E_NOMEM.
 */
int clib_memdup(const uint8_t *p, size_t len, uint8_t **out);

#endif
