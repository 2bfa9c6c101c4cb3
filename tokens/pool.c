/*
 * A bounded pool of read/write sessions per token.  PKCS#11 login state
 * belongs to the application, not the session, so any pooled session
 * carries the login; the pool keeps at least its idle sessions open so the
 * login survives between operations.
 */
#include <stdlib.h>

#include "proto/err.h"
#include "tokens/internal.h"

int
tok_pool_init(struct tok_pool *p, size_t max)
{
	p->idle = calloc(max, sizeof(*p->idle));
	if (p->idle == NULL)
		return P11A_E_NOMEM;
	p->nidle = 0;
	p->nopen = 0;
	p->max = max;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	return 0;
}

void
tok_pool_cleanup(struct tok_pool *p, CK_FUNCTION_LIST *fl)
{
	size_t i;

	for (i = 0; i < p->nidle; i++)
		fl->C_CloseSession(p->idle[i]);
	free(p->idle);
	p->idle = NULL;
	p->nidle = p->nopen = 0;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
}

int
tok_pool_rv_breaks(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	       rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
	       rv == CKR_DEVICE_ERROR;
}

static int
pool_open_session(struct tok_token *t, CK_SESSION_HANDLE *out)
{
	CK_RV rv;

	rv = t->mod->fl->C_OpenSession(
	    t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, out);
	if (rv == CKR_TOKEN_WRITE_PROTECTED)
		rv = t->mod->fl->C_OpenSession(t->slot, CKF_SERIAL_SESSION,
		                               NULL, NULL, out);
	if (rv != CKR_OK) {
		if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED ||
		    rv == CKR_SLOT_ID_INVALID)
			atomic_store(&t->present, 0);
		return tok_ck_fail("C_OpenSession", rv, t->label);
	}
	return 0;
}

int
tok_pool_get(struct tok_token *t, CK_SESSION_HANDLE *out)
{
	struct tok_pool *p = &t->pool;
	int r;

	*out = CK_INVALID_HANDLE;
	pthread_mutex_lock(&p->lock);
	while (p->nidle == 0 && p->nopen >= p->max)
		pthread_cond_wait(&p->cond, &p->lock);
	if (p->nidle > 0) {
		*out = p->idle[--p->nidle];
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	p->nopen++; /* reserve the slot, open outside the lock */
	pthread_mutex_unlock(&p->lock);

	if ((r = pool_open_session(t, out)) != 0) {
		pthread_mutex_lock(&p->lock);
		p->nopen--;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	return r;
}

void
tok_pool_put(struct tok_token *t, CK_SESSION_HANDLE s, int broken)
{
	struct tok_pool *p = &t->pool;

	if (broken)
		t->mod->fl->C_CloseSession(s);
	pthread_mutex_lock(&p->lock);
	if (broken)
		p->nopen--;
	else
		p->idle[p->nidle++] = s;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
