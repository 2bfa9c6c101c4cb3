/*
 * OSSL_PARAM helpers shared by the operation contexts: numbers that also
 * go by name (RSA padding modes, PSS salt lengths), and octet strings the
 * context keeps a copy of (an OAEP label, an ECDH user keying material).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "internal.h"

const struct p11a_named p11a_rsa_pad_names[] = {
    {RSA_PKCS1_PADDING, OSSL_PKEY_RSA_PAD_MODE_PKCSV15},
    {RSA_PKCS1_OAEP_PADDING, OSSL_PKEY_RSA_PAD_MODE_OAEP},
    {RSA_PKCS1_PSS_PADDING, OSSL_PKEY_RSA_PAD_MODE_PSS},
    {RSA_NO_PADDING, OSSL_PKEY_RSA_PAD_MODE_NONE},
    {RSA_X931_PADDING, OSSL_PKEY_RSA_PAD_MODE_X931},
    {0, NULL},
};

int
p11a_param_get_named(const OSSL_PARAM *p, const struct p11a_named *names,
                     int *value, const char **other)
{
	const char *name;
	size_t i;

	if (other != NULL)
		*other = NULL;
	if (p->data_type != OSSL_PARAM_UTF8_STRING)
		return OSSL_PARAM_get_int(p, value) ? 0 : P11AGENT_E_FORMAT;
	if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
		return P11AGENT_E_FORMAT;
	for (i = 0; names[i].name != NULL; i++) {
		if (strcmp(name, names[i].name) == 0) {
			*value = names[i].value;
			return 0;
		}
	}
	if (other != NULL)
		*other = name;
	return 0;
}

int
p11a_param_set_named(OSSL_PARAM *p, const struct p11a_named *names, int value)
{
	char buf[16];
	size_t i;

	if (p->data_type != OSSL_PARAM_UTF8_STRING)
		return OSSL_PARAM_set_int(p, value) ? 0 : P11AGENT_E_ARGS;
	for (i = 0; names[i].name != NULL; i++)
		if (names[i].value == value)
			return OSSL_PARAM_set_utf8_string(p, names[i].name)
			           ? 0
			           : P11AGENT_E_ARGS;
	(void)snprintf(buf, sizeof(buf), "%d", value);
	return OSSL_PARAM_set_utf8_string(p, buf) ? 0 : P11AGENT_E_ARGS;
}

int
p11a_param_get_octets(const OSSL_PARAM *p, uint8_t **buf, size_t *len)
{
	void *v = NULL;
	size_t n = 0;

	if (!OSSL_PARAM_get_octet_string(p, &v, 0, &n))
		return P11AGENT_E_FORMAT;
	OPENSSL_free(*buf);
	*buf = v;
	*len = n;
	return 0;
}
