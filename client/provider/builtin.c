/*
 * The provider linked into a program (provider.h): registration as a
 * built-in provider, and loading one key with its certificate through
 * OSSL_STORE.
 */
#include <pthread.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "internal.h"
#include "provider.h"

/*
 * The providers p11a_provider_add_builtin() loaded, per library context,
 * so that p11a_provider_unload() can let go of exactly those.
 */
struct loaded {
	struct loaded *next;
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *ours, *deflt;
};

static struct loaded *loaded_list;
static pthread_mutex_t loaded_lock = PTHREAD_MUTEX_INITIALIZER;

static void
loaded_release(struct loaded *l)
{
	if (l->deflt != NULL)
		(void)OSSL_PROVIDER_unload(l->deflt);
	if (l->ours != NULL)
		(void)OSSL_PROVIDER_unload(l->ours);
	free(l);
}

/* Loads what is missing of the two providers into l.  0 or -1. */
static int
load_providers(struct loaded *l)
{
	if (!OSSL_PROVIDER_available(l->libctx, P11A_PROVIDER_NAME)) {
		/* Registered already when it was loaded and unloaded before. */
		ERR_set_mark();
		(void)OSSL_PROVIDER_add_builtin(l->libctx, P11A_PROVIDER_NAME,
		                                p11a_prov_init);
		ERR_pop_to_mark();
		l->ours = OSSL_PROVIDER_load(l->libctx, P11A_PROVIDER_NAME);
		if (l->ours == NULL)
			return -1;
	}
	if (!OSSL_PROVIDER_available(l->libctx, "default")) {
		l->deflt = OSSL_PROVIDER_load(l->libctx, "default");
		if (l->deflt == NULL)
			return -1;
	}
	return 0;
}

int
p11a_provider_add_builtin(OSSL_LIB_CTX *libctx)
{
	struct loaded *l;
	int r = -1;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
		return -1;
	}
	l->libctx = libctx;
	(void)pthread_mutex_lock(&loaded_lock);
	if (load_providers(l) != 0) {
		loaded_release(l);
		goto out;
	}
	if (l->ours == NULL && l->deflt == NULL) {
		free(l); /* both were there already */
	} else {
		l->next = loaded_list;
		loaded_list = l;
	}
	r = 0;
out:
	(void)pthread_mutex_unlock(&loaded_lock);
	return r;
}

void
p11a_provider_unload(OSSL_LIB_CTX *libctx)
{
	struct loaded **pp, *l;

	(void)pthread_mutex_lock(&loaded_lock);
	pp = &loaded_list;
	while ((l = *pp) != NULL) {
		if (l->libctx == libctx) {
			*pp = l->next;
			loaded_release(l);
		} else {
			pp = &l->next;
		}
	}
	(void)pthread_mutex_unlock(&loaded_lock);
}

/*
 * Takes what one OSSL_STORE_INFO holds.  Returns 0, or -1 when a second
 * key shows that uri is ambiguous.
 */
static int
take_info(OSSL_STORE_INFO *info, EVP_PKEY **key, X509 **cert)
{
	switch (OSSL_STORE_INFO_get_type(info)) {
	case OSSL_STORE_INFO_PKEY:
		if (*key != NULL)
			return -1;
		*key = OSSL_STORE_INFO_get1_PKEY(info);
		break;
	case OSSL_STORE_INFO_CERT:
		if (*cert == NULL)
			*cert = OSSL_STORE_INFO_get1_CERT(info);
		break;
	default:
		break;
	}
	return 0;
}

EVP_PKEY *
p11a_provider_load_key(OSSL_LIB_CTX *libctx, const char *uri, X509 **cert_out)
{
	OSSL_STORE_CTX *store;
	OSSL_STORE_INFO *info;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int ambiguous = 0;

	if (cert_out != NULL)
		*cert_out = NULL;
	if (uri == NULL) {
		ERR_raise(ERR_LIB_PROV, ERR_R_PASSED_NULL_PARAMETER);
		return NULL;
	}
	store =
	    OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
	if (store == NULL)
		return NULL;
	while (!OSSL_STORE_eof(store)) {
		if ((info = OSSL_STORE_load(store)) == NULL) {
			if (OSSL_STORE_error(store))
				break;
			continue;
		}
		if (take_info(info, &key, &cert) != 0)
			ambiguous = 1;
		OSSL_STORE_INFO_free(info);
		if (ambiguous)
			break;
	}
	(void)OSSL_STORE_close(store);
	if (ambiguous) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT,
		               "%s names more than one key: give token= and "
		               "id= or object=",
		               uri);
		goto fail;
	}
	if (key == NULL) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT,
		               "no private key found for %s", uri);
		goto fail;
	}
	if (cert_out != NULL) {
		*cert_out = cert;
		cert = NULL;
	}
	X509_free(cert);
	return key;
fail:
	EVP_PKEY_free(key);
	X509_free(cert);
	return NULL;
}

EVP_PKEY *
p11a_provider_load_listed_key(OSSL_LIB_CTX *libctx,
                              const struct p11agent_key *ak)
{
	EVP_PKEY *key;

	p11a_store_hint = ak;
	key = p11a_provider_load_key(libctx, ak->uri, NULL);
	p11a_store_hint = NULL;
	return key;
}
