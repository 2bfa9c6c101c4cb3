/*
 * Untrusted text made safe for a terminal.  Compiled into libp11agent and
 * into the CLI's helper library (cli/), which prints labels and URIs.
 */
#include <stddef.h>
#include <stdint.h>

#include "text.h"

size_t
clib_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

size_t
clib_text_sanitize(char *dst, size_t cap, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t in = 0, out = 0, n;
	uint32_t cp;
	size_t i;

	if (cap == 0)
		return 0;
	while (in < len) {
		n = clib_utf8_seq(s + in, len - in, &cp);
		if (n == 0 || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp <= 0x9f)) {
			/* One '?' per offending character or invalid byte. */
			if (cap - out < 2)
				break;
			dst[out++] = '?';
			in += n == 0 ? 1 : n;
			continue;
		}
		if (cap - out < n + 1)
			break;
		for (i = 0; i < n; i++)
			dst[out++] = (char)s[in + i];
		in += n;
	}
	dst[out] = '\0';
	return out;
}
