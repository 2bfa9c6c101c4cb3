/*
 * The groups of test_client, one per source file, and the fake agent
 * they share.
 */
#ifndef P11AGENT_TESTS_UNIT_CLIENT_TESTS_H
#define P11AGENT_TESTS_UNIT_CLIENT_TESTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"

int run_util_tests(void);
int run_assuan_tests(void);
int run_path_tests(void);
int run_conn_tests(void);

/*
 * A fake agent: a thread that reads request frames from its end of a
 * socket and lets a handler answer each one with raw bytes.  It stops at
 * end of file, or when the handler returns false.
 */
struct fake_agent;
typedef bool (*fake_handler)(struct fake_agent *fa, const uint8_t *req,
                             size_t len);

struct fake_agent {
	int fd; /* the agent's end */
	pthread_t thread;
	fake_handler handler;
	void *ctx;          /* for the handler */
	pthread_t client;   /* the thread that talks to us */
	unsigned nrequests; /* requests seen */
	uint8_t *last;      /* copy of the last request body */
	size_t last_len;
};

/*
 * Starts a fake agent on one end of a socketpair and returns the other
 * end for p11agent_connect_fd() in *client_fd.
 */
void fake_start(struct fake_agent *fa, fake_handler h, void *ctx,
                int *client_fd);

/*
 * Starts a fake agent that first accepts one connection on listen_fd
 * (which it then closes).
 */
void fake_start_listener(struct fake_agent *fa, fake_handler h, void *ctx,
                         int listen_fd);

/* Waits for the thread to end (the client must have closed) and frees. */
void fake_stop(struct fake_agent *fa);

/* Writes raw bytes to the client; false when the client is gone. */
bool fake_send(struct fake_agent *fa, const void *p, size_t len);

/* Sends what w holds (a finished frame) and cleans w up. */
bool fake_send_writer(struct fake_agent *fa, struct proto_writer *w);

#endif
