/*
 * Declarations private to proto/.
 */
#ifndef P11AGENT_PROTO_INTERNAL_H
#define P11AGENT_PROTO_INTERNAL_H

#include <stddef.h>

#include "proto/buf.h"

/*
 * Every allocation of proto/ goes through these, so that a unit test can
 * make any one of them fail (proto_test_alloc_fail_at()).  Memory comes
 * from malloc() and is released with free() or p11a_secret_free().
 */
void *proto_malloc(size_t size);
void *proto_calloc(size_t n, size_t size);

/*
 * Records code as the writer's sticky error unless one is already set, and
 * returns the sticky error.
 */
int proto_writer_fail(struct proto_writer *w, int code);

#endif
