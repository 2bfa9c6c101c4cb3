/*
 * The MIME entity that S/MIME signs or encrypts, written in its canonical
 * form (RFC 8551 3.1.1): CRLF line endings and, for signing, a 7-bit
 * transfer encoding for every part.  One pass, constant memory.
 */
#ifndef P11AGENT_SMIME_CANON_H
#define P11AGENT_SMIME_CANON_H

#include <stdbool.h>

#include "io.h"
#include "mime.h"

enum smime_canon_mode {
	/* Pass parts through; SMIME_AGAIN when a part needs encoding. */
	SMIME_CANON_CHECK,
	/* Re-encode every part not in base64 or quoted-printable:
	 * quoted-printable for text, base64 for the rest. */
	SMIME_CANON_TRANSFORM,
	/* Line endings only (content for encryption: 8-bit is fine). */
	SMIME_CANON_BINARY,
};

/* smime_canon_entity() in SMIME_CANON_CHECK mode found 8-bit data. */
#define SMIME_AGAIN 2

/* Maximal nesting of multiparts that is followed. */
#define SMIME_MAX_DEPTH 32

/*
 * Where canonical content goes: hash receives the canonical bytes (CRLF
 * line endings), out the same lines ending in out_eol.  Either may be
 * NULL.
 */
struct smime_lineout {
	struct smime_sink *hash;
	struct smime_sink *out;
	const char *out_eol;
};

/*
 * Writes the entity made of hdrs (its Content-* fields; MIME-Version is
 * dropped, and Content-Type is added when missing) and of the body that
 * rd holds up to its end.  Returns 0, SMIME_AGAIN (check mode only:
 * nothing of value was written, start again in transform mode), or a
 * negative code.
 */
int smime_canon_entity(struct smime_rd *rd, struct smime_hdrs *hdrs,
                       enum smime_canon_mode mode, struct smime_lineout *lo);

/* Writes one canonical line (eol: followed by a line ending). */
int smime_emit(struct smime_lineout *lo, const char *p, size_t n, bool eol);

#endif
