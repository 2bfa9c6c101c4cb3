/*
 * Keys: a URI naming the private key on a token (or none), and the public
 * key.  Reference counted, since OpenSSL, the store and operation
 * contexts all hold on to them.
 */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/objects.h>

#include "internal.h"

struct p11a_key *
p11a_key_new(struct p11a_prov *prov, enum p11a_kind kind)
{
	struct p11a_key *k;

	if ((k = OPENSSL_zalloc(sizeof(*k))) == NULL)
		return NULL;
	k->prov = prov;
	atomic_init(&k->refs, 1);
	k->kind = kind;
	k->nid = NID_undef;
	return k;
}

struct p11a_key *
p11a_key_up_ref(struct p11a_key *k)
{
	atomic_fetch_add(&k->refs, 1);
	return k;
}

void
p11a_key_free(struct p11a_key *k)
{
	if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	OPENSSL_free(k->uri);
	OPENSSL_free(k->label);
	BN_free(k->n);
	BN_free(k->e);
	OPENSSL_free(k->point);
	OPENSSL_free(k);
}

/* Copies the public key of from into to.  Returns 0 or NOMEM. */
static int
key_copy_public(struct p11a_key *to, const struct p11a_key *from)
{
	if (from->n != NULL && (to->n = BN_dup(from->n)) == NULL)
		return P11AGENT_E_NOMEM;
	if (from->e != NULL && (to->e = BN_dup(from->e)) == NULL)
		return P11AGENT_E_NOMEM;
	if (from->point != NULL) {
		to->point = OPENSSL_memdup(from->point, from->point_len);
		if (to->point == NULL)
			return P11AGENT_E_NOMEM;
		to->point_len = from->point_len;
	}
	return 0;
}

struct p11a_key *
p11a_key_dup(const struct p11a_key *k, int selection)
{
	struct p11a_key *d;
	int want_pub, want_priv;

	if ((d = p11a_key_new(k->prov, k->kind)) == NULL)
		return NULL;
	want_priv = (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
	            k->uri != NULL;
	/* A token key is only whole with its public half. */
	want_pub =
	    (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 || want_priv;
	if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0 || want_pub) {
		d->nid = k->nid;
		if (k->kind == P11A_KIND_EC)
			d->bits = k->bits;
	}
	if (want_pub) {
		d->bits = k->bits;
		if (key_copy_public(d, k) != 0)
			goto fail;
	}
	if (want_priv) {
		d->key_flags = k->key_flags;
		if ((d->uri = OPENSSL_strdup(k->uri)) == NULL)
			goto fail;
		if (k->label != NULL &&
		    (d->label = OPENSSL_strdup(k->label)) == NULL)
			goto fail;
	}
	return d;
fail:
	p11a_key_free(d);
	return NULL;
}

int
p11a_key_has_public(const struct p11a_key *k)
{
	if (k->kind == P11A_KIND_EC)
		return k->point != NULL;
	return k->n != NULL && k->e != NULL;
}

int
p11a_key_set_rsa(struct p11a_key *k, const BIGNUM *n, const BIGNUM *e,
                 struct p11a_why *why)
{
	BIGNUM *n2 = NULL, *e2 = NULL;

	if (k->kind == P11A_KIND_EC)
		return p11a_why_set(why, P11AGENT_E_KEY_TYPE,
		                    "RSA numbers for an EC key");
	if (BN_is_zero(n) || BN_is_negative(n) || !BN_is_odd(e) ||
	    BN_is_one(e) || BN_is_negative(e))
		return p11a_why_set(why, P11AGENT_E_FORMAT,
		                    "not an RSA public key");
	if ((n2 = BN_dup(n)) == NULL || (e2 = BN_dup(e)) == NULL) {
		BN_free(n2);
		return P11AGENT_E_NOMEM;
	}
	BN_free(k->n);
	BN_free(k->e);
	k->n = n2;
	k->e = e2;
	k->bits = BN_num_bits(n2);
	return 0;
}

/*
 * Decodes point on group into its uncompressed form in *out (*out_len
 * bytes).  Returns 0, P11AGENT_E_FORMAT (not a point on the curve, or
 * the point at infinity) or P11AGENT_E_NOMEM.
 */
static int
ec_normalize(const EC_GROUP *group, const uint8_t *point, size_t point_len,
             uint8_t **out, size_t *out_len)
{
	EC_POINT *pt = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int r = P11AGENT_E_NOMEM;

	*out = NULL;
	*out_len = 0;
	if ((pt = EC_POINT_new(group)) == NULL)
		goto out;
	/* oct2point also checks that the point lies on the curve. */
	if (!EC_POINT_oct2point(group, pt, point, point_len, NULL) ||
	    EC_POINT_is_at_infinity(group, pt)) {
		r = P11AGENT_E_FORMAT;
		goto out;
	}
	len = EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, NULL,
	                         0, NULL);
	if (len == 0 || (buf = OPENSSL_malloc(len)) == NULL)
		goto out;
	if (EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, buf,
	                       len, NULL) != len)
		goto out;
	*out = buf;
	*out_len = len;
	buf = NULL;
	r = 0;
out:
	OPENSSL_free(buf);
	EC_POINT_free(pt);
	return r;
}

int
p11a_key_set_ec(struct p11a_key *k, int nid, const uint8_t *point,
                size_t point_len, struct p11a_why *why)
{
	EC_GROUP *group = NULL;
	uint8_t *norm = NULL;
	size_t norm_len = 0;
	int r = 0;

	if (k->kind != P11A_KIND_EC)
		return p11a_why_set(why, P11AGENT_E_KEY_TYPE,
		                    "EC data for an RSA key");
	group = EC_GROUP_new_by_curve_name_ex(k->prov->libctx, NULL, nid);
	if (group == NULL) {
		r = p11a_why_set(why, P11AGENT_E_MECH_UNSUPPORTED,
		                 "curve %s is not supported", OBJ_nid2sn(nid));
		goto out;
	}
	if (point != NULL && (r = ec_normalize(group, point, point_len, &norm,
	                                       &norm_len)) != 0) {
		if (r == P11AGENT_E_FORMAT)
			p11a_why_set(why, r,
			             "the EC public key is not a "
			             "point on %s",
			             OBJ_nid2sn(nid));
		goto out;
	}
	k->nid = nid;
	k->bits = EC_GROUP_get_degree(group);
	if (point != NULL) {
		OPENSSL_free(k->point);
		k->point = norm;
		k->point_len = norm_len;
		norm = NULL;
	}
out:
	OPENSSL_free(norm);
	EC_GROUP_free(group);
	return r;
}

int
p11a_key_public_eq(const struct p11a_key *a, const struct p11a_key *b)
{
	if ((a->kind == P11A_KIND_EC) != (b->kind == P11A_KIND_EC))
		return 0;
	if (!p11a_key_has_public(a) || !p11a_key_has_public(b))
		return 0;
	if (a->kind == P11A_KIND_EC)
		return a->nid == b->nid && a->point_len == b->point_len &&
		       memcmp(a->point, b->point, a->point_len) == 0;
	return BN_cmp(a->n, b->n) == 0 && BN_cmp(a->e, b->e) == 0;
}

size_t
p11a_key_size(const struct p11a_key *k)
{
	return ((size_t)k->bits + 7) / 8;
}

size_t
p11a_key_max_sig(const struct p11a_key *k)
{
	if (k->kind == P11A_KIND_EC)
		return p11a_ecdsa_der_max(p11a_key_size(k));
	return p11a_key_size(k);
}

int
p11a_key_security_bits(const struct p11a_key *k)
{
	if (k->kind == P11A_KIND_EC)
		return k->bits >= 512 ? 256 : k->bits / 2;
	return BN_security_bits(k->bits, -1);
}

const char *
p11a_key_type_name(const struct p11a_key *k)
{
	switch (k->kind) {
	case P11A_KIND_RSA:
		return "RSA";
	case P11A_KIND_RSA_PSS:
		return "RSA-PSS";
	case P11A_KIND_EC:
		return "EC";
	}
	return "";
}

int
p11a_curve_nid(const char *name)
{
	int nid;

	if (name == NULL || name[0] == '\0')
		return NID_undef;
	if ((nid = OBJ_sn2nid(name)) != NID_undef)
		return nid;
	if ((nid = EC_curve_nist2nid(name)) != NID_undef)
		return nid;
	return OBJ_txt2nid(name);
}
