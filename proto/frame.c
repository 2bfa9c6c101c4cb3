#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/frame.h"

static uint32_t
peek_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
proto_frame_check(const uint8_t *buf, size_t len, size_t *body_len)
{
	uint32_t n;

	*body_len = 0;
	if (len < PROTO_FRAME_HEADER)
		return P11A_E_INCOMPLETE;
	n = peek_be32(buf);
	/* Decide from the header alone, before the body is buffered. */
	if (n > PROTO_FRAME_MAX)
		return P11A_E_TOO_LARGE;
	if (n == 0)
		return P11A_E_FORMAT;
	if (n > len - PROTO_FRAME_HEADER)
		return P11A_E_INCOMPLETE;
	*body_len = n;
	return 0;
}

size_t
proto_frame_size(const uint8_t *hdr)
{
	return PROTO_FRAME_HEADER + (size_t)peek_be32(hdr);
}
