/*
 * The OSSL_STORE loader for "pkcs11:" URIs.  Opening asks the agent for
 * its list and keeps the keys whose URIs match; loading then yields, per
 * key, the private key (a reference to a struct p11a_key) and its
 * certificate (DER), or the public key when type=public or the caller
 * expects one.
 */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "internal.h"

/* What is yielded of one key, in this order. */
enum stage {
	STAGE_KEY = 0,
	STAGE_PUBKEY,
	STAGE_CERT,
	STAGE_DONE,
};

struct store_entry {
	struct p11a_key *key; /* the token key */
	struct p11a_key *pub; /* its public half alone */
	uint8_t *cert_der;
	size_t cert_len;
};

struct store_ctx {
	struct p11a_prov *prov;
	enum p11a_uri_type type; /* type= of the URI */
	int expect;              /* OSSL_STORE_INFO_*, 0 for anything */
	struct store_entry *entries;
	size_t n;
	size_t pos;       /* entry of the next object */
	enum stage stage; /* stage of the next object */
};

static void
entry_clear(struct store_entry *e)
{
	p11a_key_free(e->key);
	p11a_key_free(e->pub);
	OPENSSL_free(e->cert_der);
	memset(e, 0, sizeof(*e));
}

static void
entries_free(struct store_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		entry_clear(&e[i]);
	OPENSSL_free(e);
}

static int
stage_wanted(const struct store_ctx *c, const struct store_entry *e,
             enum stage s)
{
	switch (s) {
	case STAGE_KEY:
		return (c->type == P11A_URI_ANY ||
		        c->type == P11A_URI_PRIVATE) &&
		       (c->expect == 0 || c->expect == OSSL_STORE_INFO_PKEY);
	case STAGE_PUBKEY:
		/* For type=public, or a caller that wants a public key. */
		if (c->type == P11A_URI_PUBLIC)
			return c->expect == 0 ||
			       c->expect == OSSL_STORE_INFO_PUBKEY;
		return (c->type == P11A_URI_ANY ||
		        c->type == P11A_URI_PRIVATE) &&
		       c->expect == OSSL_STORE_INFO_PUBKEY;
	case STAGE_CERT:
		return e->cert_der != NULL &&
		       (c->type == P11A_URI_ANY || c->type == P11A_URI_CERT) &&
		       (c->expect == 0 || c->expect == OSSL_STORE_INFO_CERT);
	case STAGE_DONE:
		break;
	}
	return 0;
}

/* Moves the cursor to the next object to yield, or past the end. */
static void
store_seek(struct store_ctx *c)
{
	while (c->pos < c->n) {
		while (c->stage < STAGE_DONE &&
		       !stage_wanted(c, &c->entries[c->pos], c->stage))
			c->stage++;
		if (c->stage < STAGE_DONE)
			return;
		c->pos++;
		c->stage = STAGE_KEY;
	}
}

/* Adds the agent's key ak to c.  Unsupported key types are skipped. */
static int
store_add(struct store_ctx *c, const struct p11agent_key *ak,
          struct p11a_why *why)
{
	struct store_entry *e = &c->entries[c->n];
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = p11a_key_from_agent(c->prov, ak, &e->key, why)) != 0)
		return r == P11AGENT_E_KEY_TYPE ? 0 : r;
	e->pub = p11a_key_dup(e->key, OSSL_KEYMGMT_SELECT_PUBLIC_KEY |
	                                  OSSL_KEYMGMT_SELECT_ALL_PARAMETERS);
	if (e->pub == NULL)
		goto nomem;
	if (ak->cert_der != NULL) {
		e->cert_der = OPENSSL_memdup(ak->cert_der, ak->cert_der_len);
		if (e->cert_der == NULL)
			goto nomem;
		e->cert_len = ak->cert_der_len;
	}
	c->n++;
	return 0;
nomem:
	entry_clear(e);
	return P11AGENT_E_NOMEM;
}

_Thread_local P11A_TLS_IE const struct p11agent_key *p11a_store_hint;

static int
store_fill(struct store_ctx *c, const char *text, struct p11a_why *why)
{
	struct p11agent_list *list = NULL;
	struct p11a_uri *q = NULL;
	size_t i;
	int r;

	if ((r = p11a_uri_parse(text, &q, why)) != 0)
		goto out;
	c->type = p11a_uri_type(q);
	if (p11a_store_hint != NULL &&
	    p11a_uri_match_key(q, p11a_store_hint->uri)) {
		if ((c->entries = OPENSSL_zalloc(sizeof(*c->entries))) == NULL)
			r = P11AGENT_E_NOMEM;
		else
			r = store_add(c, p11a_store_hint, why);
		goto out;
	}
	if ((r = p11a_agent_list(c->prov, &list, why)) != 0)
		goto out;
	if (list->nkeys > 0 &&
	    (c->entries = OPENSSL_zalloc(list->nkeys * sizeof(*c->entries))) ==
	        NULL) {
		r = P11AGENT_E_NOMEM;
		goto out;
	}
	for (i = 0; i < list->nkeys; i++) {
		if (!p11a_uri_match_key(q, list->keys[i].uri))
			continue;
		if ((r = store_add(c, &list->keys[i], why)) != 0)
			goto out;
	}
	if (c->n == 0)
		r = p11a_why_set(why, P11AGENT_E_KEY_NOT_FOUND,
		                 "no key of p11agent matches %s (it lists %zu "
		                 "key(s) on %zu token(s); see `p11 keys`)",
		                 text, list->nkeys, list->ntokens);
out:
	p11agent_list_free(list);
	p11a_uri_free(q);
	return r;
}

static int
store_close(void *loaderctx)
{
	struct store_ctx *c = loaderctx;

	if (c == NULL)
		return 1;
	entries_free(c->entries, c->n);
	OPENSSL_free(c);
	return 1;
}

static void *
store_open(void *provctx, const char *uri)
{
	struct p11a_prov *prov = provctx;
	struct p11a_why why = {""};
	struct store_ctx *c;
	int r;

	if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL) {
		P11A_REPORT(prov, P11AGENT_E_NOMEM, NULL);
		return NULL;
	}
	c->prov = prov;
	if ((r = store_fill(c, uri, &why)) != 0) {
		P11A_REPORT(prov, r, &why);
		store_close(c);
		return NULL;
	}
	store_seek(c);
	return c;
}

static const OSSL_PARAM *
store_settable_ctx_params(void *provctx)
{
	static const OSSL_PARAM settable[] = {
	    OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
	    OSSL_PARAM_utf8_string(OSSL_STORE_PARAM_PROPERTIES, NULL, 0),
	    OSSL_PARAM_END,
	};

	(void)provctx;
	return settable;
}

static int
store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
	struct store_ctx *c = loaderctx;
	const OSSL_PARAM *p;

	if (params == NULL)
		return 1;
	p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
	if (p != NULL) {
		if (!OSSL_PARAM_get_int(p, &c->expect))
			return 0;
		store_seek(c);
	}
	return 1;
}

static int
yield_key(struct p11a_key *k, OSSL_CALLBACK *cb, void *cbarg)
{
	int type = OSSL_OBJECT_PKEY;
	OSSL_PARAM params[5], *p = params;

	*p++ = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	*p++ = OSSL_PARAM_construct_utf8_string(
	    OSSL_OBJECT_PARAM_DATA_TYPE, (char *)p11a_key_type_name(k), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE,
	                                         &k, sizeof(k));
	if (k->label != NULL && k->label[0] != '\0')
		*p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC,
		                                        k->label, 0);
	*p = OSSL_PARAM_construct_end();
	return cb(params, cbarg);
}

static int
yield_cert(const struct store_entry *e, OSSL_CALLBACK *cb, void *cbarg)
{
	int type = OSSL_OBJECT_CERT;
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA,
	                                              e->cert_der, e->cert_len);
	params[2] = OSSL_PARAM_construct_end();
	return cb(params, cbarg);
}

static int
store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
           OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	struct store_ctx *c = loaderctx;
	struct store_entry *e;
	enum stage s;

	/* The agent asks for PINs itself (pinentry, `p11 unlock`). */
	(void)pw_cb;
	(void)pw_cbarg;
	store_seek(c);
	if (c->pos >= c->n)
		return 0;
	e = &c->entries[c->pos];
	s = c->stage++;
	store_seek(c);
	switch (s) {
	case STAGE_KEY:
		return yield_key(e->key, object_cb, object_cbarg);
	case STAGE_PUBKEY:
		return yield_key(e->pub, object_cb, object_cbarg);
	case STAGE_CERT:
		return yield_cert(e, object_cb, object_cbarg);
	case STAGE_DONE:
		break;
	}
	return 0;
}

static int
store_eof(void *loaderctx)
{
	struct store_ctx *c = loaderctx;

	return c->pos >= c->n;
}

/*
 * For a key management of another provider: only public keys leave.
 * Refusing a token key makes OpenSSL fetch our own key management.
 */
static int
store_export_object(void *loaderctx, const void *objref, size_t objref_sz,
                    OSSL_CALLBACK *export_cb, void *export_cbarg)
{
	struct store_ctx *c = loaderctx;
	struct p11a_why why = {""};
	struct p11a_key *k;
	int r;

	if (objref == NULL || objref_sz != sizeof(k))
		return 0;
	memcpy(&k, objref, sizeof(k));
	if (k == NULL || k->uri != NULL)
		return 0;
	r = p11a_key_export(k,
	                    OSSL_KEYMGMT_SELECT_PUBLIC_KEY |
	                        OSSL_KEYMGMT_SELECT_ALL_PARAMETERS,
	                    export_cb, export_cbarg, &why);
	return P11A_REPORT(c->prov, r, &why);
}

const OSSL_DISPATCH p11a_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS,
     (void (*)(void))store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {OSSL_FUNC_STORE_EXPORT_OBJECT, (void (*)(void))store_export_object},
    {0, NULL},
};
