/*
 * Work for the thread pool.  A job owns copies of its inputs and its
 * reply; the worker fills the reply, the loop sends it in after-work (or
 * drops it when the connection went away) and frees the job.
 */
#ifndef P11AGENT_AGENT_JOB_H
#define P11AGENT_AGENT_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "proto/buf.h"
#include "proto/msg.h"
#include "tokens/tokens.h"

struct agent;
struct agent_conn;

enum agent_job_kind {
	AGENT_JOB_LIST,
	AGENT_JOB_SIGN_DIGEST,
	AGENT_JOB_DECRYPT,
	AGENT_JOB_DERIVE,
	AGENT_JOB_LOGIN,
	AGENT_JOB_LOGOUT,
	AGENT_JOB_SSH_SIGN,
	AGENT_JOB_RESCAN,
	AGENT_JOB_IMPORT,
	AGENT_JOB_KEYGEN,
	AGENT_JOB_ATTACH_CERT,
};

struct agent_job {
	uv_work_t work;
	struct agent *agent;
	struct agent_conn *conn; /* reference, NULL for internal jobs */
	enum agent_job_kind kind;
	uint8_t req_type;
	enum proto_ext ext;
	/* Inputs (owned). */
	struct tok_key *key; /* resolved on the loop for ssh-sign */
	struct tok_ctx *ctx;
	char *name;  /* key URI or token */
	uint8_t *in; /* digest, ciphertext, point, data, PIN */
	size_t in_len;
	uint8_t *label;
	size_t label_len;
	int in_is_secret;
	uint32_t mech, hash, mgf1, salt, padding, ssh_flags;
	uint32_t key_type, bits; /* keygen */
	uint32_t list_flags;     /* PROTO_LIST_* */
	unsigned long list_gen;  /* agent->list_gen when queued */
	uint8_t *cert;           /* import, attach-cert */
	size_t cert_len;
	uint8_t *chain[PROTO_IMPORT_MAX_CHAIN]; /* import */
	size_t chain_lens[PROTO_IMPORT_MAX_CHAIN];
	size_t nchain;
	/* Results. */
	int result;
	struct tok_err err;
	struct proto_writer reply;
	char *token_uri; /* token whose login state changed or was used */
	int token_logged_in;
	unsigned token_flags;
	int rescan; /* rescan tokens after this job (login) */
};

struct agent_job *agent_job_new(struct agent *a, struct agent_conn *c,
                                enum agent_job_kind kind);
/* Copies bytes into the job; secret inputs are wiped when it is freed. */
int agent_job_set_input(struct agent_job *j, const void *p, size_t len,
                        int secret);
int agent_job_set_name(struct agent_job *j, struct proto_text name);
/* Copies text into a new NUL-terminated string. */
char *agent_job_strdup(struct proto_text t);
/* Copies bytes into a new buffer (NULL on failure; 1 byte for empty). */
uint8_t *agent_job_memdup(struct proto_bytes b);
/* Frees a job that was never queued (its client was answered). */
void agent_job_queue_cancel(struct agent_job *j);
/* Queues the job; on failure answers the client and frees the job. */
void agent_job_queue(struct agent_job *j);

/* Worker bodies (agent/work.c), run on a pool thread. */
void agent_work_run(struct agent_job *j);

#endif
