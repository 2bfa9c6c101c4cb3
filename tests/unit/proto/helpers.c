#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

const char *check_label;

uint8_t *
dup_exact(const void *p, size_t len)
{
	uint8_t *q = malloc(len == 0 ? 1 : len);

	assert_non_null(q);
	if (len > 0)
		memcpy(q, p, len);
	return q;
}

void
check_truncations(const uint8_t *body, size_t len, body_fn fn, void *ctx,
                  size_t allow_len)
{
	uint8_t *copy;
	size_t n;
	int ret;

	for (n = 0; n < len; n++) {
		copy = dup_exact(body, n);
		ret = fn(copy, n, ctx);
		free(copy);
		if (n == allow_len)
			continue;
		if (ret == 0)
			fail_msg("%s: prefix of %zu/%zu bytes decoded",
			         check_label != NULL ? check_label : "", n,
			         len);
	}
}

size_t
check_bitflips(const uint8_t *body, size_t len, body_fn fn, void *ctx)
{
	size_t i, ok = 0;
	uint8_t *copy;
	int bit;

	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			copy = dup_exact(body, len);
			copy[i] ^= (uint8_t)(1u << bit);
			if (fn(copy, len, ctx) == 0)
				ok++;
			free(copy);
		}
	}
	return ok;
}

void
check_trailing(const uint8_t *body, size_t len, body_fn fn, void *ctx)
{
	uint8_t *copy = malloc(len + 1);

	assert_non_null(copy);
	memcpy(copy, body, len);
	copy[len] = 0;
	if (fn(copy, len + 1, ctx) == 0)
		fail_msg("%s: trailing byte accepted",
		         check_label != NULL ? check_label : "");
	free(copy);
}
