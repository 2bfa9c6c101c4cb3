/*
 * Reading BER as it streams: a reader of the decoded bytes of a MIME body
 * (base64 or raw) or of one PEM block, and the pieces that walk BER from
 * such a reader (definite or indefinite lengths, strings in chunks) in
 * constant memory.  Small fields are read whole, with a bound; large
 * contents are handed on to a sink as they come.
 *
 * Decryption streams EnvelopedData with these, verification opaque
 * SignedData; neither keeps the content in memory.
 *
 * All functions return 0 or a negative P11A_E_* code, except where said.
 * P11A_E_FORMAT means that the input is not BER as expected, or ends
 * early; P11A_E_TOO_LARGE that a field read whole is over its bound.
 */
#ifndef P11AGENT_SMIME_BER_H
#define P11AGENT_SMIME_BER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"

/* Largest field smime_ber_read_small() reads whole. */
#define SMIME_BER_SMALL_MAX (1024 * 1024)

/* How the bytes of a smime_ber_src are encoded in its input. */
enum smime_ber_enc {
	SMIME_BER_RAW,    /* as they are, up to the end of the input */
	SMIME_BER_BASE64, /* base64 lines up to the end of the input */
	SMIME_BER_PEM,    /* one PEM block: BEGIN line, base64, END line */
};

/* Decoded bytes waiting to be read (one base64 line's worth). */
struct smime_ber_pend {
	struct smime_sink base;
	uint8_t *buf;
	size_t len, pos;
	size_t touched; /* bytes of buf ever written: what cleanup wipes */
};

/*
 * The decoded bytes of an encoded input, read through rd.  Embedded
 * reader: the struct must not move between open and close.
 */
struct smime_ber_src {
	struct smime_rd rd; /* read the decoded bytes from here */
	struct smime_rd *lines;
	enum smime_ber_enc enc;
	int pem;           /* PEM: where in the block (ber.c) */
	bool at_start;     /* PEM: the next line chunk starts a line */
	bool done;         /* the encoded input is over */
	bool bad_encoding; /* base64 or PEM framing failed */
	int held_err;      /* to report once the bytes before it are read */
	char label[80];    /* PEM: what BEGIN names, END must name it too */
	struct smime_b64dec dec;
	struct smime_ber_pend pend;
};

/*
 * Opens src over lines (borrowed; it must outlive src) read in the
 * encoding enc.  Decoding errors come out of src->rd as P11A_E_FORMAT and
 * set src->bad_encoding; a PEM block ends at its END line, the others at
 * the end of lines.  Close with smime_ber_src_close() even on failure.
 */
int smime_ber_src_open(struct smime_ber_src *src, struct smime_rd *lines,
                       enum smime_ber_enc enc);

/* Frees src's buffers, wiping what they held. */
void smime_ber_src_close(struct smime_ber_src *src);

/*
 * Reads exactly n bytes into p: P11A_E_FORMAT when the input ends
 * before.
 */
int smime_ber_get(struct smime_rd *d, uint8_t *p, size_t n);

/* One identifier and length, as read. */
struct smime_ber_hdr {
	uint8_t tag;
	bool indef; /* indefinite length: the contents end with 00 00 */
	size_t len; /* definite length */
	uint8_t raw[8];
	size_t rawlen; /* the header's own bytes, in raw */
};

/*
 * Reads a TLV header: one-byte tags only (CMS needs no more), lengths up
 * to 4 bytes, indefinite only for constructed encodings.
 */
int smime_ber_hdr_read(struct smime_rd *d, struct smime_ber_hdr *h);

/* Is h the end-of-contents marker (00 00) of an indefinite length? */
bool smime_ber_is_eoc(const struct smime_ber_hdr *h);

/*
 * Reads the rest of the TLV whose header h was read and appends the
 * whole TLV (header included, BER as it is) to out, within out's max.
 * Indefinite lengths are followed down to 32 levels.
 */
int smime_ber_read_tlv(struct smime_rd *d, const struct smime_ber_hdr *h,
                       struct smime_memsink *out);

/*
 * As smime_ber_read_tlv() for a TLV of at most SMIME_BER_SMALL_MAX
 * bytes, appended to out with every length made definite (DER-style
 * lengths; the contents are not otherwise re-encoded), so der.h can walk
 * it.
 */
int smime_ber_read_small(struct smime_rd *d, const struct smime_ber_hdr *h,
                         struct smime_memsink *out);

/*
 * Skips the rest of the TLV whose header h was read, in constant memory:
 * indefinite lengths are followed down to 32 levels, definite contents
 * skipped unread.
 */
int smime_ber_skip(struct smime_rd *d, const struct smime_ber_hdr *h);

/*
 * Streams the contents of a string whose header h was read into sink:
 * primitive (tag prim) or constructed (prim | 0x20) from OCTET STRING
 * chunks; a chunk may itself be constructed down to nest levels (0: only
 * primitive chunks).  Memory does not depend on the size.
 */
int smime_ber_string_stream(struct smime_rd *d, const struct smime_ber_hdr *h,
                            uint8_t prim, int nest, struct smime_sink *sink);

/* An enclosing constructed encoding, to be closed at its end. */
struct smime_ber_lvl {
	bool indef;
	uint64_t end; /* definite: the offset of its end in d */
};

/* Starts a level for the constructed TLV whose header h was just read. */
void smime_ber_lvl_set(struct smime_ber_lvl *v, const struct smime_rd *d,
                       const struct smime_ber_hdr *h);

/*
 * Reads the next header inside level v into h, or sets *end when the
 * level is over (its end offset reached, or its 00 00 read).  A header
 * whose definite length goes past the end of v is P11A_E_FORMAT.
 */
int smime_ber_next(struct smime_rd *d, const struct smime_ber_lvl *v,
                   struct smime_ber_hdr *h, bool *end);

/* The level must end here: no more fields.  P11A_E_FORMAT else. */
int smime_ber_lvl_end(struct smime_rd *d, const struct smime_ber_lvl *v);

/*
 * Skips whatever is left of level v (fields the caller does not use) up
 * to its end.  The skipped TLVs of an indefinite level are read into skip
 * (emptied first; bounded by its max), or, when skip is NULL, discarded
 * in constant memory.
 */
int smime_ber_lvl_close(struct smime_rd *d, const struct smime_ber_lvl *v,
                        struct smime_memsink *skip);

/*
 * Reads d to its end, so that a decoding error after the last field
 * (a truncated base64 quantum, a missing PEM END line) is seen.  What is
 * read is not checked.
 */
int smime_ber_drain(struct smime_rd *d);

#endif
