/*
 * ECDSA signatures: the agent returns PKCS#11's r||s, OpenSSL and every
 * protocol above it want a DER ECDSA-Sig-Value.
 */
#include <limits.h>
#include <string.h>

#include <openssl/ec.h>

#include "internal.h"

size_t
p11a_ecdsa_der_max(size_t field_len)
{
	uint8_t ones[66 * 2];
	size_t len = 0;

	/* r and s of all ones take the most room (a sign byte each). */
	if (field_len == 0 || field_len > 66)
		return 0;
	memset(ones, 0xff, 2 * field_len);
	if (p11a_ecdsa_raw_to_der(ones, 2 * field_len, NULL, 0, &len) != 0)
		return 0;
	return len;
}

/*
 * With der NULL only *der_len is set.  Returns 0, P11AGENT_E_FORMAT (odd
 * or empty input), P11AGENT_E_ARGS (der_size too small) or NOMEM.
 */
int
p11a_ecdsa_raw_to_der(const uint8_t *rs, size_t rs_len, uint8_t *der,
                      size_t der_size, size_t *der_len)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p;
	size_t half = rs_len / 2;
	int n, ret = P11AGENT_E_NOMEM;

	*der_len = 0;
	if (rs_len == 0 || rs_len % 2 != 0 || rs_len > INT_MAX)
		return P11AGENT_E_FORMAT;
	if ((sig = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(rs, (int)half, NULL)) == NULL ||
	    (s = BN_bin2bn(rs + half, (int)half, NULL)) == NULL)
		goto out;
	if (!ECDSA_SIG_set0(sig, r, s))
		goto out;
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(sig, NULL)) <= 0)
		goto out;
	if (der != NULL) {
		if ((size_t)n > der_size) {
			ret = P11AGENT_E_ARGS;
			goto out;
		}
		p = der;
		if (i2d_ECDSA_SIG(sig, &p) != n)
			goto out;
	}
	*der_len = (size_t)n;
	ret = 0;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return ret;
}
