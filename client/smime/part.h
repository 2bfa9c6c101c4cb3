/*
 * The body parts of a multipart entity, read as streams: skipping to a
 * delimiter, and a reader that ends where the part ends (RFC 2046 5.1.1:
 * the line break before a delimiter belongs to the delimiter).
 */
#ifndef P11AGENT_SMIME_PART_H
#define P11AGENT_SMIME_PART_H

#include <stdbool.h>
#include <stddef.h>

#include "io.h"

/* Which delimiter ended a part or a skip. */
enum smime_delim {
	SMIME_DELIM_NONE = 0,  /* the input ended first */
	SMIME_DELIM_NEXT = 1,  /* "--b": another part follows */
	SMIME_DELIM_CLOSE = 2, /* "--b--": the last part ended */
};

/*
 * Reads lines of rd up to and including the next delimiter of boundary
 * b; *kind says which.  Returns 0 or a negative code.
 */
int smime_part_skip(struct smime_rd *rd, const char *b, enum smime_delim *kind);

/* The source behind a part reader; lives as long as the reader. */
struct smime_part_src {
	struct smime_rd *parent;
	char *b;
	size_t blen;
	const char *seg; /* bytes of the current line not handed out yet */
	size_t seglen;
	const char *pre; /* a held-back line break to hand out first */
	size_t prelen;
	const char *pending; /* this line's break, held back in turn */
	bool line_start;
	bool done;
	enum smime_delim kind; /* once done */
};

/*
 * rd reads the body of the part that starts at parent's position (after
 * its header section) and ends before the next delimiter of b, which it
 * consumes.  Returns 0 or a negative code; smime_part_rd_cleanup() frees
 * both.
 */
int smime_part_rd_init(struct smime_rd *rd, struct smime_part_src *src,
                       struct smime_rd *parent, const char *b);
void smime_part_rd_cleanup(struct smime_rd *rd, struct smime_part_src *src);

/*
 * Walks the parts of a multipart (rd just after its header section,
 * boundary b) to the first whose Content-Type want() accepts: its header
 * section lands in h, its type in ct, and part reads its body (clean up
 * with smime_part_rd_cleanup()).  *found is false when no part qualifies.
 * Returns 0 or a negative code.
 */
struct smime_hdrs;
struct smime_ct;
int smime_part_find(struct smime_rd *rd, const char *b,
                    bool (*want)(const struct smime_ct *ct),
                    struct smime_hdrs *h, struct smime_ct *ct,
                    struct smime_rd *part, struct smime_part_src *src,
                    bool *found);

#endif
