/*
 * RFC 5322 / MIME header sections: reading, looking up, writing, and the
 * few structured fields S/MIME needs (Content-Type with parameters,
 * Content-Transfer-Encoding, addresses).
 */
#ifndef P11AGENT_SMIME_MIME_H
#define P11AGENT_SMIME_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "io.h"

/* Limits of one header section: anything bigger is not mail. */
#define SMIME_HDR_MAX_BYTES (1024 * 1024)
#define SMIME_HDR_MAX_FIELDS 4096

struct smime_hdr {
	char *name;  /* as written */
	char *raw;   /* "Name: value", continuation lines joined by "\n" */
	char *value; /* unfolded value, leading blanks removed */
};

struct smime_hdrs {
	struct smime_hdr *v;
	size_t n, cap, bytes;
	enum smime_eol eol; /* ending of the first line read */
};

void smime_hdrs_init(struct smime_hdrs *h);
void smime_hdrs_cleanup(struct smime_hdrs *h);

/*
 * Reads a header section up to and including its empty line (or the end
 * of the input).  A leading mbox "From " line is skipped.  Returns 0,
 * P11A_E_FORMAT for a line that is neither a field nor a continuation,
 * P11A_E_TOO_LARGE past the limits, or a reader error.
 */
int smime_hdrs_read(struct smime_hdrs *h, struct smime_rd *rd);

/* Appends a field from its raw text ("Name: value"). */
int smime_hdrs_add(struct smime_hdrs *h, const char *raw);

/* Removes every field named name (case-insensitive). */
void smime_hdrs_remove(struct smime_hdrs *h, const char *name);

/* The first field named name, or NULL. */
const struct smime_hdr *smime_hdrs_get(const struct smime_hdrs *h,
                                       const char *name);

/* The value of the first field named name, or NULL. */
const char *smime_hdrs_value(const struct smime_hdrs *h, const char *name);

/* True for Content-* fields and MIME-Version: those of the MIME entity. */
bool smime_hdr_is_content(const char *name);

/* Writes the fields, each physical line followed by eol. */
int smime_hdrs_write(const struct smime_hdrs *h, struct smime_sink *s,
                     const char *eol);

/*
 * A parsed Content-Type: type "text/plain" in lower case, and up to 16
 * parameters (names lower case, values unquoted).  Without a field, or
 * with one that does not parse, the type is "text/plain" (RFC 2045).
 */
struct smime_ct {
	char type[128];
	size_t nparams;
	struct {
		char name[64];
		char *value;
	} params[16];
};

void smime_ct_parse(struct smime_ct *ct, const char *value);
void smime_ct_cleanup(struct smime_ct *ct);
const char *smime_ct_param(const struct smime_ct *ct, const char *name);
bool smime_ct_is(const struct smime_ct *ct, const char *type);
bool smime_ct_is_multipart(const struct smime_ct *ct);

/* Content-Transfer-Encoding values. */
enum smime_cte {
	SMIME_CTE_7BIT,
	SMIME_CTE_8BIT,
	SMIME_CTE_BINARY,
	SMIME_CTE_QP,
	SMIME_CTE_BASE64,
	SMIME_CTE_OTHER,
};
enum smime_cte smime_cte_parse(const char *value);

/*
 * Copies the first addr-spec of an address field ("Name <a@b>",
 * "a@b (c)") into buf in lower case.  Returns false when there is none.
 */
bool smime_addr_first(const char *value, char *buf, size_t len);

/* Case-insensitive ASCII comparison. */
int smime_strcasecmp(const char *a, const char *b);

/*
 * Is this line a boundary delimiter of boundary b (RFC 2046: "--" b,
 * then optional "--", then only white space)?  Returns 0 no, 1 a
 * delimiter, 2 the close delimiter.
 */
int smime_boundary_match(const char *line, size_t len, const char *b,
                         size_t blen);

/* Writes a fresh random boundary (about 32 characters) into buf. */
int smime_boundary_new(char *buf, size_t len);

#endif
