/*
 * The p11agent OpenSSL 3 provider, linked into a program.
 *
 * The provider makes the keys of a running p11agent usable as EVP_PKEYs:
 * an OSSL_STORE loader for "pkcs11:" URIs (RFC 7512), key management for
 * RSA, RSA-PSS and EC, signatures (RSA PKCS#1 v1.5 and PSS, ECDSA), RSA
 * decryption (PKCS#1 v1.5, OAEP) and ECDH.  Every private-key operation is
 * a request to the agent over its Unix socket; no private key and no PIN
 * ever enters the process.  Public-key operations (verify, encrypt, the
 * peer side of ECDH) are left to the other providers, usually "default".
 *
 * The same code is also built as the loadable module p11agent.so, for
 * `openssl ... -provider p11agent -provider default` and openssl.cnf; see
 * docs/provider.md.
 *
 * The agent's socket is $P11AGENT_SOCK, else the default path of
 * libp11agent (p11agent_socket_path()); a provider configuration key
 * "socket" overrides both.
 */
#ifndef P11AGENT_PROVIDER_PROVIDER_H
#define P11AGENT_PROVIDER_PROVIDER_H

#include <openssl/types.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The name the provider is registered and fetched under. */
#define P11A_PROVIDER_NAME "p11agent"

/*
 * Registers the built-in provider "p11agent" in libctx (NULL: the default
 * library context) with OSSL_PROVIDER_add_builtin() and loads it together
 * with OpenSSL's "default" provider, which does the digests and the
 * public-key side; a provider already loaded there is left as it is.
 * Calling it again for the same libctx is harmless.  Returns 0 or -1 with
 * the reason in OpenSSL's error queue.  Thread-safe.
 */
int p11a_provider_add_builtin(OSSL_LIB_CTX *libctx);

/*
 * Unloads what p11a_provider_add_builtin() loaded into libctx.  Call it
 * before OSSL_LIB_CTX_free(libctx) (or before exit for NULL): OpenSSL 3.0
 * does not free a loaded provider with its library context, which leak
 * checkers report.  Keys from the provider must be freed first.  A
 * libctx the function did not load into is a no-op.
 */
void p11a_provider_unload(OSSL_LIB_CTX *libctx);

/*
 * Loads the key named by uri ("pkcs11:token=...;object=...", partial URIs
 * allowed) through OSSL_STORE from libctx, where the provider must be
 * loaded (p11a_provider_add_builtin()).  The URI must match exactly one
 * key the agent lists.  Returns a new EVP_PKEY whose private operations go
 * to the agent, or NULL with the reason in OpenSSL's error queue (no
 * agent, no such key, several keys match).  When cert_out is not NULL,
 * *cert_out is set to a new X509 of the key's certificate, or NULL when
 * the token holds none; the caller frees both.
 */
EVP_PKEY *p11a_provider_load_key(OSSL_LIB_CTX *libctx, const char *uri,
                                 X509 **cert_out);

/*
 * Like p11a_provider_load_key() for a key the caller already has from
 * p11agent_list(): the provider takes it from ak instead of asking the
 * agent for its list again (one connection and one list less).
 */
struct p11agent_key;
EVP_PKEY *p11a_provider_load_listed_key(OSSL_LIB_CTX *libctx,
                                        const struct p11agent_key *ak);

#ifdef __cplusplus
}
#endif

#endif
