/*
 * Hash algorithms: OpenSSL digests, their Cryptoki names, and the DER
 * DigestInfo prefixes (RFC 8017, section 9.2, note 1) that RSA PKCS#1 v1.5
 * signatures wrap around the hash value.
 */
#include <string.h>

#include <openssl/evp.h>

#include "proto/err.h"
#include "tokens/internal.h"
#include "tokens/hash.h"

struct hash_entry {
	enum tok_hash id;
	const char *ossl_name;
	size_t len;
	CK_MECHANISM_TYPE ckm;
	CK_RSA_PKCS_MGF_TYPE mgf;
	const uint8_t *prefix;
	size_t prefix_len;
};

static const uint8_t di_sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06,
                                  0x05, 0x2b, 0x0e, 0x03, 0x02,
                                  0x1a, 0x05, 0x00, 0x04, 0x14};
static const uint8_t di_sha224[] = {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                    0x04, 0x05, 0x00, 0x04, 0x1c};
static const uint8_t di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                    0x01, 0x05, 0x00, 0x04, 0x20};
static const uint8_t di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                    0x02, 0x05, 0x00, 0x04, 0x30};
static const uint8_t di_sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                    0x03, 0x05, 0x00, 0x04, 0x40};

static const struct hash_entry hashes[] = {
    {TOK_HASH_SHA1, "SHA1", 20, CKM_SHA_1, CKG_MGF1_SHA1, di_sha1,
     sizeof(di_sha1)},
    {TOK_HASH_SHA224, "SHA224", 28, CKM_SHA224, CKG_MGF1_SHA224, di_sha224,
     sizeof(di_sha224)},
    {TOK_HASH_SHA256, "SHA256", 32, CKM_SHA256, CKG_MGF1_SHA256, di_sha256,
     sizeof(di_sha256)},
    {TOK_HASH_SHA384, "SHA384", 48, CKM_SHA384, CKG_MGF1_SHA384, di_sha384,
     sizeof(di_sha384)},
    {TOK_HASH_SHA512, "SHA512", 64, CKM_SHA512, CKG_MGF1_SHA512, di_sha512,
     sizeof(di_sha512)},
};

static const struct hash_entry *
hash_lookup(enum tok_hash h)
{
	size_t i;

	for (i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (hashes[i].id == h)
			return &hashes[i];
	return NULL;
}

size_t
tok_hash_len(enum tok_hash h)
{
	const struct hash_entry *e = hash_lookup(h);

	return e != NULL ? e->len : 0;
}

CK_MECHANISM_TYPE
tok_hash_ckm(enum tok_hash h)
{
	const struct hash_entry *e = hash_lookup(h);

	return e != NULL ? e->ckm : CK_UNAVAILABLE_INFORMATION;
}

CK_RSA_PKCS_MGF_TYPE
tok_hash_mgf(enum tok_hash h)
{
	const struct hash_entry *e = hash_lookup(h);

	return e != NULL ? e->mgf : 0;
}

const void *
tok_hash_md(enum tok_hash h)
{
	const struct hash_entry *e = hash_lookup(h);

	return e != NULL ? EVP_get_digestbyname(e->ossl_name) : NULL;
}

int
tok_hash(enum tok_hash h, const uint8_t *data, size_t len, uint8_t *out,
         size_t *out_len)
{
	const EVP_MD *md = tok_hash_md(h);
	unsigned int n = 0;

	if (md == NULL)
		return P11A_E_MECH_UNSUPPORTED;
	if (*out_len < (size_t)EVP_MD_get_size(md))
		return P11A_E_ARGS;
	if (!EVP_Digest(data, len, out, &n, md, NULL))
		return P11A_E_INTERNAL;
	*out_len = n;
	return 0;
}

int
tok_hash_digest_info(enum tok_hash h, const uint8_t *digest, size_t digest_len,
                     uint8_t *out, size_t *out_len)
{
	const struct hash_entry *e = hash_lookup(h);

	if (e == NULL)
		return P11A_E_MECH_UNSUPPORTED;
	if (digest_len != e->len || *out_len < e->prefix_len + e->len)
		return P11A_E_FORMAT;
	memcpy(out, e->prefix, e->prefix_len);
	memcpy(out + e->prefix_len, digest, e->len);
	*out_len = e->prefix_len + e->len;
	return 0;
}
