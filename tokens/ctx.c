/*
 * The context: modules, the token and key lists, scanning and lookup.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/err.h"
#include "tokens/internal.h"

#define CTX_DEFAULT_POOL 4
#define CTX_MAX_SLOTS 64
#define CTX_SIG_SEED 0xcbf29ce484222325ULL

static int
ctx_push_token(struct tok_token ***list, size_t *n, struct tok_token *t)
{
	struct tok_token **nl = realloc(*list, (*n + 1) * sizeof(*nl));

	if (nl == NULL)
		return P11A_E_NOMEM;
	nl[(*n)++] = t;
	*list = nl;
	return 0;
}

static int
ctx_push_keys(struct tok_key ***list, size_t *n, struct tok_key **add,
              size_t nadd)
{
	struct tok_key **nl;

	if (nadd == 0)
		return 0;
	if ((nl = realloc(*list, (*n + nadd) * sizeof(*nl))) == NULL)
		return P11A_E_NOMEM;
	memcpy(nl + *n, add, nadd * sizeof(*nl));
	*n += nadd;
	*list = nl;
	return 0;
}

/* The token of the old list for this slot with the same identity, if any. */
static struct tok_token *
ctx_old_token(struct tok_ctx *ctx, struct tok_module *m, CK_SLOT_ID slot,
              const CK_TOKEN_INFO *info)
{
	char label[33], serial[17];
	size_t i;

	tok_ck_string(label, sizeof(label), info->label, sizeof(info->label));
	tok_ck_string(serial, sizeof(serial), info->serialNumber,
	              sizeof(info->serialNumber));
	for (i = 0; i < ctx->ntokens; i++) {
		struct tok_token *t = ctx->tokens[i];

		if (t->mod == m && t->slot == slot &&
		    strcmp(t->label, label) == 0 &&
		    strcmp(t->serial, serial) == 0 && atomic_load(&t->present))
			return t;
	}
	return NULL;
}

/* Called for each initialized token of a module; non-zero stops the walk. */
typedef int (*ctx_token_fn)(struct tok_ctx *ctx, struct tok_module *m,
                            CK_SLOT_ID slot, const CK_TOKEN_INFO *info,
                            void *arg);

static int
ctx_each_token(struct tok_ctx *ctx, struct tok_module *m, ctx_token_fn fn,
               void *arg)
{
	CK_SLOT_ID slots[CTX_MAX_SLOTS];
	CK_ULONG nslots = CTX_MAX_SLOTS, i;
	CK_RV rv;
	int r;

	rv = m->fl->C_GetSlotList(CK_TRUE, slots, &nslots);
	if (rv != CKR_OK)
		return tok_ck_fail("C_GetSlotList", rv, m->path);
	for (i = 0; i < nslots; i++) {
		CK_TOKEN_INFO info;

		rv = m->fl->C_GetTokenInfo(slots[i], &info);
		if (rv != CKR_OK) {
			tok_ck_fail("C_GetTokenInfo", rv, m->path);
			continue;
		}
		if (!(info.flags & CKF_TOKEN_INITIALIZED))
			continue;
		if ((r = fn(ctx, m, slots[i], &info, arg)) != 0)
			return r;
	}
	return 0;
}

/* FNV-1a over what tells one token in one slot from another. */
static uint64_t
ctx_sig_add(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len-- > 0)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static int
ctx_sig_token(struct tok_ctx *ctx, struct tok_module *m, CK_SLOT_ID slot,
              const CK_TOKEN_INFO *info, void *arg)
{
	uint64_t *h = arg;
	size_t mi = (size_t)(m - ctx->mods);

	*h = ctx_sig_add(*h, &mi, sizeof(mi));
	*h = ctx_sig_add(*h, &slot, sizeof(slot));
	*h = ctx_sig_add(*h, info->label, sizeof(info->label));
	*h = ctx_sig_add(*h, info->serialNumber, sizeof(info->serialNumber));
	return 0;
}

struct ctx_scan {
	struct tok_token **tokens;
	size_t ntokens;
	uint64_t sig;
};

static int
ctx_scan_token(struct tok_ctx *ctx, struct tok_module *m, CK_SLOT_ID slot,
               const CK_TOKEN_INFO *info, void *arg)
{
	struct ctx_scan *s = arg;
	struct tok_token *t;
	int r;

	ctx_sig_token(ctx, m, slot, info, &s->sig);
	t = tok_token_up(ctx_old_token(ctx, m, slot, info));
	if (t == NULL)
		t = tok_token_new(m, slot, info, ctx->pool_size);
	else
		t->ck_flags = info->flags;
	if (t == NULL)
		return P11A_E_NOMEM;
	t->no_host_padding = ctx->no_host_padding;
	if ((r = ctx_push_token(&s->tokens, &s->ntokens, t)) != 0)
		tok_token_free(t);
	return r;
}

static uint64_t
ctx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Marks tokens of the old list that the new scan did not find. */
static void
ctx_mark_gone(struct tok_ctx *ctx, struct tok_token **now, size_t n)
{
	size_t i, j;

	for (i = 0; i < ctx->ntokens; i++) {
		for (j = 0; j < n; j++)
			if (now[j] == ctx->tokens[i])
				break;
		if (j == n) {
			atomic_store(&ctx->tokens[i]->present, 0);
			atomic_store(&ctx->tokens[i]->logged_in, 0);
		}
	}
}

static int ctx_rescan_locked(struct tok_ctx *ctx);

/*
 * Two rescans at once (a listing and a login, say) would each make their
 * own object for a newly found token; one at a time keeps one per slot.
 */
int
tok_ctx_rescan(struct tok_ctx *ctx)
{
	int r;

	pthread_mutex_lock(&ctx->scan_lock);
	r = ctx_rescan_locked(ctx);
	pthread_mutex_unlock(&ctx->scan_lock);
	return r;
}

static int
ctx_rescan_locked(struct tok_ctx *ctx)
{
	struct ctx_scan s = {NULL, 0, CTX_SIG_SEED};
	struct tok_token **tokens;
	struct tok_key **keys = NULL;
	size_t ntokens, nkeys = 0, i;
	int r = 0;

	pthread_rwlock_rdlock(&ctx->lock);
	for (i = 0; i < ctx->nmods && r == 0; i++)
		r = ctx_each_token(ctx, &ctx->mods[i], ctx_scan_token, &s);
	pthread_rwlock_unlock(&ctx->lock);
	tokens = s.tokens;
	ntokens = s.ntokens;
	for (i = 0; i < ntokens && r == 0; i++) {
		struct tok_key **tk;
		size_t ntk;

		if (tok_scan_token_keys(tokens[i], &tk, &ntk) != 0)
			continue; /* already logged; the token stays listed */
		if ((r = ctx_push_keys(&keys, &nkeys, tk, ntk)) != 0)
			tok_key_list_free(tk, ntk);
		else
			free(tk);
	}
	if (r != 0) {
		tok_token_list_free(tokens, ntokens);
		tok_key_list_free(keys, nkeys);
		return r;
	}
	pthread_rwlock_wrlock(&ctx->lock);
	ctx_mark_gone(ctx, tokens, ntokens);
	tok_token_list_free(ctx->tokens, ctx->ntokens);
	tok_key_list_free(ctx->keys, ctx->nkeys);
	ctx->tokens = tokens;
	ctx->ntokens = ntokens;
	ctx->keys = keys;
	ctx->nkeys = nkeys;
	pthread_rwlock_unlock(&ctx->lock);
	ctx->scan_sig = s.sig;
	ctx->scanned_at_ms = ctx_now_ms();
	return 0;
}

/*
 * The slot walk alone (C_GetSlotList and C_GetTokenInfo) costs a few
 * microseconds where reading every object costs milliseconds; it is enough
 * to notice a card inserted, removed or swapped.  Objects added to a token
 * behind the agent's back show after max_age_ms (or a forced rescan).
 */
int
tok_ctx_refresh(struct tok_ctx *ctx, unsigned max_age_ms)
{
	uint64_t sig = CTX_SIG_SEED;
	size_t i;
	int r = 0;

	pthread_mutex_lock(&ctx->scan_lock);
	pthread_rwlock_rdlock(&ctx->lock);
	for (i = 0; i < ctx->nmods && r == 0; i++)
		r = ctx_each_token(ctx, &ctx->mods[i], ctx_sig_token, &sig);
	pthread_rwlock_unlock(&ctx->lock);
	if (r != 0 || sig != ctx->scan_sig ||
	    ctx_now_ms() - ctx->scanned_at_ms >= max_age_ms)
		r = ctx_rescan_locked(ctx);
	pthread_mutex_unlock(&ctx->scan_lock);
	return r;
}

int
tok_ctx_new(const struct tok_config *cfg, struct tok_ctx **out)
{
	struct tok_ctx *ctx;
	int r;

	*out = NULL;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return P11A_E_NOMEM;
	ctx->pool_size = cfg != NULL && cfg->pool_size > 0 ? cfg->pool_size
	                                                   : CTX_DEFAULT_POOL;
	ctx->no_host_padding = cfg != NULL && cfg->no_host_padding;
	pthread_rwlock_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->scan_lock, NULL);
	if ((r = tok_modules_load(ctx, cfg)) != 0 ||
	    (r = tok_ctx_rescan(ctx)) != 0) {
		tok_ctx_free(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}

void
tok_ctx_free(struct tok_ctx *ctx)
{
	size_t i;

	if (ctx == NULL)
		return;
	for (i = 0; i < ctx->ntokens; i++)
		tok_token_logout(ctx->tokens[i]);
	tok_key_list_free(ctx->keys, ctx->nkeys);
	tok_token_list_free(ctx->tokens, ctx->ntokens);
	tok_modules_unload(ctx);
	pthread_rwlock_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->scan_lock);
	free(ctx);
}

int
tok_ctx_tokens(struct tok_ctx *ctx, struct tok_token ***out, size_t *n)
{
	size_t i;

	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&ctx->lock);
	if (ctx->ntokens > 0 &&
	    (*out = calloc(ctx->ntokens, sizeof(**out))) == NULL) {
		pthread_rwlock_unlock(&ctx->lock);
		return P11A_E_NOMEM;
	}
	for (i = 0; i < ctx->ntokens; i++)
		(*out)[i] = tok_token_up(ctx->tokens[i]);
	*n = ctx->ntokens;
	pthread_rwlock_unlock(&ctx->lock);
	return 0;
}

int
tok_ctx_keys(struct tok_ctx *ctx, struct tok_key ***out, size_t *n)
{
	size_t i;

	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&ctx->lock);
	if (ctx->nkeys > 0 &&
	    (*out = calloc(ctx->nkeys, sizeof(**out))) == NULL) {
		pthread_rwlock_unlock(&ctx->lock);
		return P11A_E_NOMEM;
	}
	for (i = 0; i < ctx->nkeys; i++)
		(*out)[i] = tok_key_up(ctx->keys[i]);
	*n = ctx->nkeys;
	pthread_rwlock_unlock(&ctx->lock);
	return 0;
}

static int
ctx_token_matches(const char *spec, const struct tok_token *t)
{
	if (spec == NULL || spec[0] == '\0')
		return 1;
	if (strncmp(spec, "pkcs11:", 7) == 0)
		return tok_uri_match_token(spec, t);
	return strcmp(spec, t->label) == 0;
}

int
tok_ctx_find_token(struct tok_ctx *ctx, const char *spec,
                   struct tok_token **out, struct tok_err *err)
{
	struct tok_token *found = NULL;
	size_t i, hits = 0;

	*out = NULL;
	pthread_rwlock_rdlock(&ctx->lock);
	for (i = 0; i < ctx->ntokens; i++) {
		if (!atomic_load(&ctx->tokens[i]->present) ||
		    !ctx_token_matches(spec, ctx->tokens[i]))
			continue;
		if (hits++ == 0)
			found = ctx->tokens[i];
	}
	if (hits == 1)
		*out = tok_token_up(found);
	pthread_rwlock_unlock(&ctx->lock);
	if (hits == 0) {
		tok_errf(err, "no token %s%s%s", spec ? "'" : "",
		         spec ? spec : "present", spec ? "'" : "");
		return P11A_E_TOKEN_ABSENT;
	}
	if (hits > 1) {
		tok_errf(err, "%zu tokens match '%s'; name one", hits,
		         spec ? spec : "");
		return P11A_E_ARGS;
	}
	return 0;
}

int
tok_ctx_find_key(struct tok_ctx *ctx, const char *uri, struct tok_key **out,
                 struct tok_err *err)
{
	size_t i;

	*out = NULL;
	pthread_rwlock_rdlock(&ctx->lock);
	for (i = 0; i < ctx->nkeys && *out == NULL; i++)
		if (strcmp(ctx->keys[i]->uri, uri) == 0)
			*out = tok_key_up(ctx->keys[i]);
	/* Not the exact URI we print: match it as a (partial) RFC 7512 URI. */
	for (i = 0; i < ctx->nkeys && *out == NULL; i++)
		if (tok_uri_match_key(uri, ctx->keys[i]))
			*out = tok_key_up(ctx->keys[i]);
	pthread_rwlock_unlock(&ctx->lock);
	if (*out == NULL) {
		tok_errf(err, "no key matches '%s'", uri);
		return P11A_E_KEY_NOT_FOUND;
	}
	return 0;
}
