/*
 * Tokens: lifetime, properties, login and logout.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "proto/err.h"
#include "tokens/internal.h"

struct tok_token *
tok_token_new(struct tok_module *mod, CK_SLOT_ID slot,
              const CK_TOKEN_INFO *info, unsigned pool_size)
{
	struct tok_token *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	atomic_init(&t->refs, 1);
	t->mod = mod;
	t->slot = slot;
	tok_ck_string(t->label, sizeof(t->label), info->label,
	              sizeof(info->label));
	tok_ck_string(t->manufacturer, sizeof(t->manufacturer),
	              info->manufacturerID, sizeof(info->manufacturerID));
	tok_ck_string(t->model, sizeof(t->model), info->model,
	              sizeof(info->model));
	tok_ck_string(t->serial, sizeof(t->serial), info->serialNumber,
	              sizeof(info->serialNumber));
	atomic_init(&t->ck_flags, info->flags);
	atomic_init(&t->present, 1);
	atomic_init(&t->logged_in, 0);
	pthread_mutex_init(&t->pin_lock, NULL);
	if ((t->uri = tok_uri_for_token(info)) == NULL ||
	    tok_pool_init(&t->pool, pool_size) != 0) {
		free(t->uri);
		pthread_mutex_destroy(&t->pin_lock);
		free(t);
		return NULL;
	}
	return t;
}

static void
token_forget_pin(struct tok_token *t)
{
	pthread_mutex_lock(&t->pin_lock);
	if (t->kept_pin != NULL) {
		OPENSSL_cleanse(t->kept_pin, t->kept_pin_len);
		munlock(t->kept_pin, t->kept_pin_len);
		free(t->kept_pin);
		t->kept_pin = NULL;
		t->kept_pin_len = 0;
	}
	pthread_mutex_unlock(&t->pin_lock);
}

struct tok_token *
tok_token_up(struct tok_token *t)
{
	if (t != NULL)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void
tok_token_free(struct tok_token *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	token_forget_pin(t);
	tok_pool_cleanup(&t->pool, t->mod->fl);
	pthread_mutex_destroy(&t->pin_lock);
	free(t->uri);
	free(t);
}

void
tok_token_list_free(struct tok_token **list, size_t n)
{
	size_t i;

	for (i = 0; list != NULL && i < n; i++)
		tok_token_free(list[i]);
	free(list);
}

const char *
tok_token_get0_uri(const struct tok_token *t)
{
	return t->uri;
}

const char *
tok_token_get0_label(const struct tok_token *t)
{
	return t->label;
}

const char *
tok_token_get0_manufacturer(const struct tok_token *t)
{
	return t->manufacturer;
}

const char *
tok_token_get0_model(const struct tok_token *t)
{
	return t->model;
}

const char *
tok_token_get0_serial(const struct tok_token *t)
{
	return t->serial;
}

int
tok_token_read_info(struct tok_token *t, CK_TOKEN_INFO *info)
{
	CK_RV rv = t->mod->fl->C_GetTokenInfo(t->slot, info);

	if (rv != CKR_OK) {
		atomic_store(&t->present, 0);
		return tok_ck_fail("C_GetTokenInfo", rv, t->label);
	}
	t->ck_flags = info->flags;
	return 0;
}

unsigned
tok_token_flags(struct tok_token *t)
{
	CK_TOKEN_INFO info;
	unsigned f;

	if (tok_token_read_info(t, &info) != 0)
		return 0;
	f = tok_ck_token_flags(info.flags) | TOK_TF_PRESENT;
	if (atomic_load(&t->logged_in))
		f |= TOK_TF_LOGGED_IN;
	return f;
}

unsigned
tok_token_cached_flags(const struct tok_token *t)
{
	unsigned f = tok_ck_token_flags(atomic_load(&t->ck_flags));

	if (atomic_load(&t->present))
		f |= TOK_TF_PRESENT;
	if (atomic_load(&t->logged_in))
		f |= TOK_TF_LOGGED_IN;
	return f;
}

int
tok_token_is_logged_in(const struct tok_token *t)
{
	return atomic_load(&t->logged_in);
}

/* A sentence for a failed login that tells how many tries are left. */
static void
token_login_error(struct tok_token *t, int code, struct tok_err *err)
{
	unsigned f = tok_token_flags(t);
	const char *tries = "";

	if (f & TOK_TF_USER_PIN_LOCKED)
		tries = "; the PIN is now locked";
	else if (f & TOK_TF_USER_PIN_FINAL_TRY)
		tries = "; one try left before the PIN locks";
	else if (f & TOK_TF_USER_PIN_COUNT_LOW)
		tries = "; few tries left";
	if (err != NULL)
		err->token_flags = f;
	if (code == P11A_E_PIN_INCORRECT)
		tok_errf(err, "PIN incorrect for token '%s'%s", t->label,
		         tries);
	else if (code == P11A_E_PIN_LOCKED)
		tok_errf(err, "PIN locked on token '%s'", t->label);
	else
		tok_errf(err, "login to token '%s' failed: %s", t->label,
		         p11a_strerror(code));
}

static int
token_keep_pin(struct tok_token *t, const char *pin, size_t pin_len)
{
	char *copy = malloc(pin_len + 1);

	if (copy == NULL)
		return P11A_E_NOMEM;
	/* Locked so it never reaches swap; failure to lock is not fatal. */
	memset(copy, 0, pin_len + 1);
	(void)mlock(copy, pin_len + 1);
	memcpy(copy, pin, pin_len);
	copy[pin_len] = '\0';
	token_forget_pin(t);
	pthread_mutex_lock(&t->pin_lock);
	t->kept_pin = copy;
	t->kept_pin_len = pin_len + 1;
	pthread_mutex_unlock(&t->pin_lock);
	return 0;
}

/* True when a key on the token wants CKU_CONTEXT_SPECIFIC logins. */
static int
token_needs_context_login(struct tok_token *t)
{
	struct tok_key **keys;
	size_t n, i;
	int need = 0;

	if (tok_scan_token_keys(t, &keys, &n) != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (tok_key_flags(keys[i]) & TOK_KF_ALWAYS_AUTHENTICATE)
			need = 1;
	tok_key_list_free(keys, n);
	return need;
}

int
tok_token_login(struct tok_token *t, const char *pin, size_t pin_len,
                struct tok_err *err)
{
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	if (pin_len == 0 &&
	    !(t->ck_flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
		tok_errf(err, "token '%s' needs a PIN (no PIN pad)", t->label);
		return P11A_E_PIN_INVALID;
	}
	if ((r = tok_pool_get(t, &s)) != 0) {
		tok_errf(err, "token '%s' is not available", t->label);
		return r;
	}
	/* Exactly one C_Login: a wrong PIN is never tried again here. */
	rv = t->mod->fl->C_Login(s, CKU_USER,
	                         pin_len > 0 ? (CK_UTF8CHAR_PTR)pin : NULL,
	                         (CK_ULONG)pin_len);
	tok_pool_put(t, s, tok_pool_rv_breaks(rv));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		r = tok_ck_fail("C_Login", rv, t->label);
		token_login_error(t, r, err);
		return r;
	}
	atomic_store(&t->logged_in, 1);
	tok_log(TOK_LOG_INFO, "logged in to token %s", t->label);
	if (pin_len > 0 && token_needs_context_login(t))
		return token_keep_pin(t, pin, pin_len);
	return 0;
}

int
tok_token_logout(struct tok_token *t)
{
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	token_forget_pin(t);
	if (!atomic_exchange(&t->logged_in, 0))
		return 0;
	if ((r = tok_pool_get(t, &s)) != 0)
		return r == P11A_E_TOKEN_ABSENT ? 0 : r;
	rv = t->mod->fl->C_Logout(s);
	tok_pool_put(t, s, tok_pool_rv_breaks(rv));
	if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
		return tok_ck_fail("C_Logout", rv, t->label);
	tok_log(TOK_LOG_INFO, "logged out of token %s", t->label);
	return 0;
}

int
tok_key_context_login(struct tok_key *k, CK_SESSION_HANDLE s,
                      struct tok_err *err)
{
	struct tok_token *t = k->token;
	CK_RV rv;

	if (!(k->flags & TOK_KF_ALWAYS_AUTHENTICATE))
		return 0;
	pthread_mutex_lock(&t->pin_lock);
	if (t->kept_pin == NULL &&
	    !(t->ck_flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
		pthread_mutex_unlock(&t->pin_lock);
		tok_errf(err,
		         "key '%s' needs the PIN again: log in to "
		         "token '%s'",
		         tok_key_get0_label(k), t->label);
		return P11A_E_LOGIN_REQUIRED;
	}
	rv = t->mod->fl->C_Login(s, CKU_CONTEXT_SPECIFIC,
	                         (CK_UTF8CHAR_PTR)t->kept_pin,
	                         t->kept_pin != NULL ? t->kept_pin_len - 1 : 0);
	pthread_mutex_unlock(&t->pin_lock);
	if (rv != CKR_OK) {
		int r = tok_ck_fail("C_Login(CONTEXT_SPECIFIC)", rv, t->label);

		tok_errf(err, "context login for key '%s' failed: %s",
		         tok_key_get0_label(k), p11a_strerror(r));
		return r;
	}
	return 0;
}
