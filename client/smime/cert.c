/*
 * Certificate helpers (smime.h).
 */
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/err.h"
#include "mime.h"
#include "smime.h"

int
smime_cert_fingerprint(X509 *cert, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int len = sizeof(md), i;

	out[0] = '\0';
	if (X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32)
		return P11A_E_INTERNAL;
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

bool
smime_cert_has_email(X509 *cert, const char *addr)
{
	STACK_OF(OPENSSL_STRING) * emails;
	bool found = false;
	int i;

	if (addr == NULL || addr[0] == '\0')
		return false;
	if ((emails = X509_get1_email(cert)) == NULL)
		return false;
	for (i = 0; i < sk_OPENSSL_STRING_num(emails) && !found; i++)
		found = smime_strcasecmp(sk_OPENSSL_STRING_value(emails, i),
		                         addr) == 0;
	X509_email_free(emails);
	return found;
}

void
smime_cert_first_email(X509 *cert, char *buf, size_t len)
{
	STACK_OF(OPENSSL_STRING) * emails;
	const char *e;
	size_t i;

	buf[0] = '\0';
	if ((emails = X509_get1_email(cert)) == NULL)
		return;
	if (sk_OPENSSL_STRING_num(emails) > 0) {
		e = sk_OPENSSL_STRING_value(emails, 0);
		for (i = 0; e[i] != '\0' && i + 1 < len; i++)
			buf[i] = (char)tolower((unsigned char)e[i]);
		buf[i] = '\0';
	}
	X509_email_free(emails);
}

bool
smime_cert_can_encrypt(X509 *cert)
{
	EVP_PKEY *pk = X509_get0_pubkey(cert);
	uint32_t ku;

	if (pk == NULL)
		return false;
	ku = X509_get_key_usage(cert);
	if (EVP_PKEY_is_a(pk, "RSA"))
		return ku == UINT32_MAX || (ku & KU_KEY_ENCIPHERMENT) != 0;
	if (EVP_PKEY_is_a(pk, "EC"))
		return ku == UINT32_MAX || (ku & KU_KEY_AGREEMENT) != 0;
	return false;
}
