/*
 * The loadable module p11agent.so: OpenSSL finds OSSL_provider_init() by
 * name when a program says `-provider p11agent` or loads it from
 * openssl.cnf.  Everything else in the module is hidden.
 */
#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include "internal.h"

__attribute__((visibility("default"))) OSSL_provider_init_fn OSSL_provider_init;

int
OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                   const OSSL_DISPATCH **out, void **provctx)
{
	return p11a_prov_init(handle, in, out, provctx);
}
