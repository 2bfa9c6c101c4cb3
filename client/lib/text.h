/*
 * Untrusted text (labels, URIs, the agent's error sentences) made safe
 * for terminals.  Private to client/: compiled into libp11agent and into
 * the p11 helper library, never exported.
 */
#ifndef P11AGENT_CLIENT_LIB_TEXT_H
#define P11AGENT_CLIENT_LIB_TEXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Returns the length of the well-formed UTF-8 sequence at s (n > 0 bytes
 * available) and its code point in *cp, or 0 when the bytes there are not
 * one (RFC 3629: no overlong forms, surrogates or code points above
 * U+10FFFF).
 */
size_t clib_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);

/*
 * Copies len bytes of untrusted text into dst (cap bytes, NUL included,
 * cap > 0), keeping well-formed UTF-8 and replacing control characters
 * (C0, DEL, C1) and invalid bytes with '?'.  Truncates on a character
 * boundary.  Returns the length written.
 */
size_t clib_text_sanitize(char *dst, size_t cap, const char *src, size_t len);

#endif
