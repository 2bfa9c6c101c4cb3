/*
 * The certificate store's folder, without libcrypto (store.h has the
 * layout and everything that handles certificates as X509 objects).
 */
#ifndef P11AGENT_SMIME_STORE_DIR_H
#define P11AGENT_SMIME_STORE_DIR_H

#include <stdbool.h>
#include <time.h>

struct smime_store;

/*
 * The store in dir, or in the default folder when dir is NULL
 * (P11A_E_ARGS when neither XDG_DATA_HOME nor HOME names one).  Nothing
 * is created: a missing folder reads as an empty store, and the first
 * write creates it (mode 0700), so that reading works on a read-only
 * home.  The read functions of store.h also take a NULL store: empty.
 */
int smime_store_open(const char *dir, struct smime_store **out);
void smime_store_free(struct smime_store *s);
const char *smime_store_dir(const struct smime_store *s);

/* Creates path and its missing parents, mode 0700.  Returns 0 or a code. */
int smime_store_mkdirs(const char *path);

/* What a "<fingerprint>.meta" file says. */
struct smime_store_meta {
	unsigned caps; /* enum smime_cap bits */
	time_t seen;
	char source[16]; /* "verified", "added", ... ("" when unknown) */
};

/* Reads dir/fp.meta into *m (all zero when there is none). */
void smime_store_read_meta(const char *dir, const char *fp,
                           struct smime_store_meta *m);

/* Is s 64 lower-case hex digits (a SHA-256 fingerprint)? */
bool smime_store_is_fp(const char *s);

/*
 * Calls fn(ctx, fp, path) for each "<fp>.pem" in dir (none when dir does
 * not exist) that want, if not NULL, accepts by fingerprint.  Stops at
 * the first non-zero return of fn and returns it; else 0, or P11A_E_IO
 * when dir cannot be read.
 */
int smime_store_each_file(
    const char *dir, bool (*want)(const char *dir, const char *fp),
    int (*fn)(void *ctx, const char *fp, const char *path), void *ctx);

/*
 * Kept from a chain or added by hand, not only seen on a verified
 * message: a possible intermediate of one of our own chains.
 */
bool smime_store_is_chain_candidate(const char *dir, const char *fp);

#endif
