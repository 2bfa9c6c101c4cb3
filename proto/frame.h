/*
 * Framing of the agent protocol.
 *
 * Every message on the socket is "uint32 length | byte type | payload",
 * length big endian and counting the type byte and the payload (not
 * itself).  The length is at most PROTO_FRAME_MAX; a peer that announces
 * more is refused from the header alone, before any of the body is
 * buffered, so a hostile peer cannot make us allocate.
 */
#ifndef P11AGENT_PROTO_FRAME_H
#define P11AGENT_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Largest body (type byte + payload) a frame may carry: 256 KiB. */
#define PROTO_FRAME_MAX (256 * 1024)

/* Size of the length header in front of every body. */
#define PROTO_FRAME_HEADER 4

/*
 * Inspects the start of a receive buffer (buf, len bytes; buf may be NULL
 * when len is 0).  Returns:
 *   0                  a whole frame is present; *body_len is set and the
 *                      body starts at buf + PROTO_FRAME_HEADER.  Bytes
 *                      after the frame belong to the next one.
 *   P11A_E_INCOMPLETE  more bytes are needed.  When len >= 4 the header
 *                      has been checked and proto_frame_size() tells how
 *                      many bytes the whole frame occupies.
 *   P11A_E_TOO_LARGE   the header announces more than PROTO_FRAME_MAX;
 *                      decided from the header alone.
 *   P11A_E_FORMAT      the header announces an empty body (no type byte).
 * *body_len is zeroed on entry and set only on success.
 */
int proto_frame_check(const uint8_t *buf, size_t len, size_t *body_len);

/*
 * Returns the total size (header included) of the frame whose header is
 * at hdr, which must hold at least 4 bytes.  Only meaningful after
 * proto_frame_check() accepted that header (it returned 0, or
 * P11A_E_INCOMPLETE with len >= 4); then it is at most
 * PROTO_FRAME_HEADER + PROTO_FRAME_MAX.
 */
size_t proto_frame_size(const uint8_t *hdr);

#endif
