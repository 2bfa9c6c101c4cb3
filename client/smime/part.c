/*
 * Body parts of a multipart entity as streams (part.h).
 */
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "mime.h"
#include "part.h"

int
smime_part_skip(struct smime_rd *rd, const char *b, enum smime_delim *kind)
{
	enum smime_eol eol;
	const char *line;
	size_t len, blen = strlen(b);
	bool at_start = true;
	int r, k;

	*kind = SMIME_DELIM_NONE;
	for (;;) {
		r = smime_rd_line(rd, &line, &len, &eol);
		if (r == SMIME_EOF)
			return 0;
		if (r != 0)
			return r;
		if (at_start &&
		    (k = smime_boundary_match(line, len, b, blen))) {
			*kind = (enum smime_delim)k;
			return 0;
		}
		at_start = eol != SMIME_EOL_NONE;
	}
}

static const char *
eol_bytes(enum smime_eol e)
{
	return e == SMIME_EOL_CRLF ? "\r\n" : e == SMIME_EOL_LF ? "\n" : NULL;
}

/* Takes the next line of the parent: a line of the part, or the end. */
static int
part_next_line(struct smime_part_src *s)
{
	enum smime_eol e;
	const char *line;
	size_t len;
	int r, k;

	r = smime_rd_line(s->parent, &line, &len, &e);
	if (r == SMIME_EOF) {
		s->done = true;
		s->kind = SMIME_DELIM_NONE;
		return 0;
	}
	if (r != 0)
		return r;
	if (s->line_start &&
	    (k = smime_boundary_match(line, len, s->b, s->blen)) != 0) {
		/* The held-back line break belonged to the delimiter. */
		s->done = true;
		s->kind = (enum smime_delim)k;
		s->pending = NULL;
		return 0;
	}
	s->pre = s->pending;
	s->prelen = s->pre != NULL ? strlen(s->pre) : 0;
	s->seg = line;
	s->seglen = len;
	s->pending = eol_bytes(e);
	s->line_start = e != SMIME_EOL_NONE;
	return 0;
}

static int
part_fill(struct smime_rd *rd, uint8_t *p, size_t cap, size_t *got)
{
	struct smime_part_src *s = rd->ctx;
	size_t n;
	int r;

	*got = 0;
	while (*got < cap) {
		if (s->prelen > 0) {
			n = s->prelen < cap - *got ? s->prelen : cap - *got;
			memcpy(p + *got, s->pre, n);
			*got += n;
			s->pre += n;
			s->prelen -= n;
		} else if (s->seglen > 0) {
			n = s->seglen < cap - *got ? s->seglen : cap - *got;
			memcpy(p + *got, s->seg, n);
			*got += n;
			s->seg += n;
			s->seglen -= n;
		} else if (s->done || *got > 0) {
			break; /* one line per fill */
		} else if ((r = part_next_line(s)) != 0) {
			return r;
		}
	}
	return 0;
}

int
smime_part_rd_init(struct smime_rd *rd, struct smime_part_src *src,
                   struct smime_rd *parent, const char *b)
{
	memset(src, 0, sizeof(*src));
	if ((src->b = strdup(b)) == NULL)
		return P11A_E_NOMEM;
	src->blen = strlen(b);
	src->parent = parent;
	src->line_start = true;
	return smime_rd_init_fn(rd, part_fill, src);
}

void
smime_part_rd_cleanup(struct smime_rd *rd, struct smime_part_src *src)
{
	smime_rd_cleanup(rd);
	free(src->b);
	src->b = NULL;
}

int
smime_part_find(struct smime_rd *rd, const char *b,
                bool (*want)(const struct smime_ct *ct), struct smime_hdrs *h,
                struct smime_ct *ct, struct smime_rd *part,
                struct smime_part_src *src, bool *found)
{
	enum smime_delim kind;
	char *bnd = strdup(b); /* b may live in ct, which is reused */
	int r;

	*found = false;
	if (bnd == NULL)
		return P11A_E_NOMEM;
	r = smime_part_skip(rd, bnd, &kind);
	while (r == 0 && kind == SMIME_DELIM_NEXT) {
		smime_hdrs_cleanup(h);
		smime_ct_cleanup(ct);
		if (smime_hdrs_read(h, rd) != 0)
			break; /* not a part: nothing found */
		smime_ct_parse(ct, smime_hdrs_value(h, "Content-Type"));
		if (want(ct)) {
			r = smime_part_rd_init(part, src, rd, bnd);
			*found = r == 0;
			break;
		}
		r = smime_part_skip(rd, bnd, &kind);
	}
	free(bnd);
	return r;
}
