/*
 * Connection internals shared by agent/conn.c and its tests.
 */
#ifndef P11AGENT_AGENT_CONN_H
#define P11AGENT_AGENT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct agent;

struct agent_conn {
	uv_pipe_t pipe;
	struct agent *agent;
	struct agent_conn *prev, *next;
	unsigned id;
	unsigned refs; /* the handle + queued jobs + pending writes */
	int closing;
	int busy; /* a request is being answered */
	uint8_t *rbuf;
	size_t rlen, rcap;
};

struct agent_write {
	uv_write_t req;
	struct agent_conn *conn;
	uint8_t *buf;
	size_t len;
};

#endif
