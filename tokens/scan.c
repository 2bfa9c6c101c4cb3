/*
 * Enumerating the keys of one token.  Objects are grouped by CKA_ID: a
 * private key, its public key and its certificate form one tok_key.
 * Before login many tokens (SoftHSM among them) hide private key objects,
 * so a key is also listed from its certificate or public key object; the
 * private handle is looked up when an operation needs it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>

#include "proto/err.h"
#include "tokens/internal.h"

#define SCAN_MAX_OBJECTS 1024

struct scan_list {
	struct tok_key **keys;
	size_t n;
	size_t cap;
};

static int
scan_find(struct tok_token *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
          CK_OBJECT_HANDLE *out, CK_ULONG *n)
{
	CK_ATTRIBUTE tmpl = {CKA_CLASS, &cls, sizeof(cls)};
	CK_FUNCTION_LIST *fl = t->mod->fl;
	CK_RV rv;

	*n = 0;
	rv = fl->C_FindObjectsInit(s, &tmpl, 1);
	if (rv != CKR_OK)
		return tok_ck_fail("C_FindObjectsInit", rv, t->label);
	rv = fl->C_FindObjects(s, out, SCAN_MAX_OBJECTS, n);
	fl->C_FindObjectsFinal(s);
	if (rv != CKR_OK)
		return tok_ck_fail("C_FindObjects", rv, t->label);
	return 0;
}

static struct tok_key *
scan_key_for_id(struct scan_list *l, struct tok_token *t, const uint8_t *id,
                size_t id_len)
{
	struct tok_key *k;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->keys[i]->id_len == id_len &&
		    memcmp(l->keys[i]->id, id, id_len) == 0)
			return l->keys[i];
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct tok_key **nk = realloc(l->keys, cap * sizeof(*nk));

		if (nk == NULL)
			return NULL;
		l->keys = nk;
		l->cap = cap;
	}
	if ((k = tok_key_new(t)) == NULL)
		return NULL;
	if ((k->id = malloc(id_len > 0 ? id_len : 1)) == NULL) {
		tok_key_free(k);
		return NULL;
	}
	memcpy(k->id, id, id_len);
	k->id_len = id_len;
	l->keys[l->n++] = k;
	return k;
}

static void
scan_take_label(struct tok_key *k, struct tok_token *t, CK_SESSION_HANDLE s,
                CK_OBJECT_HANDLE o)
{
	uint8_t *label;
	size_t len;

	if (k->label != NULL)
		return;
	if (tok_ck_get_attr(t, s, o, CKA_LABEL, &label, &len) == 0) {
		if (len == 0 || memchr(label, '\0', len) != NULL) {
			free(label);
			return;
		}
		k->label = (char *)label;
	}
}

/* CKA_EC_POINT is a DER OCTET STRING by the standard; some modules send
 * the bare point.  Accept both. */
static int
scan_unwrap_point(const uint8_t *der, size_t len, uint8_t **out,
                  size_t *out_len)
{
	const unsigned char *p = der;
	ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);

	if (os != NULL && p == der + len) {
		*out_len = (size_t)ASN1_STRING_length(os);
		*out = malloc(*out_len);
		if (*out != NULL)
			memcpy(*out, ASN1_STRING_get0_data(os), *out_len);
		ASN1_OCTET_STRING_free(os);
		return *out != NULL ? 0 : P11A_E_NOMEM;
	}
	ASN1_OCTET_STRING_free(os);
	if ((*out = malloc(len)) == NULL)
		return P11A_E_NOMEM;
	memcpy(*out, der, len);
	*out_len = len;
	return 0;
}

static int
scan_ec_curve(struct tok_key *k, const uint8_t *params, size_t len)
{
	const unsigned char *p = params;
	ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)len);
	int nid = oid != NULL ? OBJ_obj2nid(oid) : NID_undef;

	ASN1_OBJECT_free(oid);
	switch (nid) {
	case NID_X9_62_prime256v1:
		k->bits = 256;
		break;
	case NID_secp384r1:
		k->bits = 384;
		break;
	case NID_secp521r1:
		k->bits = 521;
		break;
	default:
		return P11A_E_KEY_TYPE;
	}
	snprintf(k->curve, sizeof(k->curve), "%s", OBJ_nid2sn(nid));
	return 0;
}

/* Public half from key object attributes, when there is no certificate. */
static void
scan_public_attrs(struct tok_key *k, struct tok_token *t, CK_SESSION_HANDLE s,
                  CK_OBJECT_HANDLE o)
{
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};
	uint8_t *v = NULL;
	size_t len = 0;

	if (k->cert_der != NULL || k->rsa_n != NULL || k->ec_point != NULL)
		return;
	if (t->mod->fl->C_GetAttributeValue(s, o, &a, 1) != CKR_OK)
		return;
	if (kt == CKK_RSA) {
		k->type = TOK_KEY_RSA;
		if (tok_ck_get_attr(t, s, o, CKA_MODULUS, &k->rsa_n,
		                    &k->rsa_n_len) == 0)
			k->bits = (unsigned)k->rsa_n_len * 8;
		tok_ck_get_attr(t, s, o, CKA_PUBLIC_EXPONENT, &k->rsa_e,
		                &k->rsa_e_len);
	} else if (kt == CKK_EC) {
		k->type = TOK_KEY_EC;
		if (tok_ck_get_attr(t, s, o, CKA_EC_PARAMS, &v, &len) == 0)
			scan_ec_curve(k, v, len);
		free(v);
		if (tok_ck_get_attr(t, s, o, CKA_EC_POINT, &v, &len) == 0)
			scan_unwrap_point(v, len, &k->ec_point,
			                  &k->ec_point_len);
		free(v);
	}
}

static void
scan_private_flags(struct tok_key *k, struct tok_token *t, CK_SESSION_HANDLE s,
                   CK_OBJECT_HANDLE o)
{
	int b;

	k->flags |= TOK_KF_PRIVATE_KEY_VISIBLE;
	if (tok_ck_get_bool(t, s, o, CKA_SIGN, &b) == 0 && b)
		k->flags |= TOK_KF_CAN_SIGN;
	if (tok_ck_get_bool(t, s, o, CKA_DECRYPT, &b) == 0 && b)
		k->flags |= TOK_KF_CAN_DECRYPT;
	if (tok_ck_get_bool(t, s, o, CKA_DERIVE, &b) == 0 && b)
		k->flags |= TOK_KF_CAN_DERIVE;
	if (tok_ck_get_bool(t, s, o, CKA_ALWAYS_AUTHENTICATE, &b) == 0 && b)
		k->flags |= TOK_KF_ALWAYS_AUTHENTICATE;
	atomic_store(&k->handle, o);
}

static int
scan_class(struct scan_list *l, struct tok_token *t, CK_SESSION_HANDLE s,
           CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *objs)
{
	CK_ULONG n, i;
	int r;

	if ((r = scan_find(t, s, cls, objs, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		uint8_t *id = NULL, *der = NULL;
		size_t id_len = 0, der_len = 0;
		struct tok_key *k;

		if (tok_ck_get_attr(t, s, objs[i], CKA_ID, &id, &id_len) != 0)
			continue; /* objects without an ID can't be paired */
		k = scan_key_for_id(l, t, id, id_len);
		free(id);
		if (k == NULL)
			return P11A_E_NOMEM;
		scan_take_label(k, t, s, objs[i]);
		if (cls == CKO_CERTIFICATE && k->cert_der == NULL &&
		    tok_ck_get_attr(t, s, objs[i], CKA_VALUE, &der, &der_len) ==
		        0) {
			if (tok_key_set_cert(k, der, der_len) != 0)
				tok_log(
				    TOK_LOG_WARNING,
				    "token %s: unreadable certificate skipped",
				    t->label);
			free(der);
		} else if (cls == CKO_PRIVATE_KEY) {
			scan_private_flags(k, t, s, objs[i]);
			scan_public_attrs(k, t, s, objs[i]);
		} else if (cls == CKO_PUBLIC_KEY) {
			scan_public_attrs(k, t, s, objs[i]);
		}
	}
	return 0;
}

/* Without a visible private key, assume what the key type allows. */
static void
scan_default_flags(struct tok_key *k)
{
	if (k->flags & TOK_KF_PRIVATE_KEY_VISIBLE)
		return;
	if (k->type == TOK_KEY_RSA)
		k->flags |= TOK_KF_CAN_SIGN | TOK_KF_CAN_DECRYPT;
	else if (k->type == TOK_KEY_EC)
		k->flags |= TOK_KF_CAN_SIGN | TOK_KF_CAN_DERIVE;
	else if (k->type == TOK_KEY_ED25519)
		k->flags |= TOK_KF_CAN_SIGN;
}

/*
 * A group is a key when a private or public key object backs it, or when
 * its certificate is an end-entity one (a CA certificate stored next to
 * the keys is not).
 */
static int
scan_is_key(const struct tok_key *k, int had_key_object)
{
	return had_key_object ||
	       (k->cert_der != NULL && k->type != 0 && !k->cert_is_ca);
}

/* Keys in a stable order (label, then ID) whatever the module returns. */
static int
scan_cmp_keys(const void *a, const void *b)
{
	const struct tok_key *x = *(struct tok_key *const *)a;
	const struct tok_key *y = *(struct tok_key *const *)b;
	int c = strcmp(tok_key_get0_label(x), tok_key_get0_label(y));
	size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;

	if (c != 0)
		return c;
	if ((c = memcmp(x->id, y->id, n)) != 0)
		return c;
	return (x->id_len > y->id_len) - (x->id_len < y->id_len);
}

int
tok_scan_token_keys(struct tok_token *t, struct tok_key ***keys, size_t *nkeys)
{
	static const CK_OBJECT_CLASS order[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
	                                        CKO_CERTIFICATE};
	struct scan_list l = {NULL, 0, 0};
	CK_OBJECT_HANDLE *objs;
	CK_SESSION_HANDLE s;
	size_t i, nkey_objs = 0, out_n = 0;
	int r;

	*keys = NULL;
	*nkeys = 0;
	if ((objs = calloc(SCAN_MAX_OBJECTS, sizeof(*objs))) == NULL)
		return P11A_E_NOMEM;
	if ((r = tok_pool_get(t, &s)) != 0) {
		free(objs);
		return r;
	}
	for (i = 0; i < 3 && r == 0; i++) {
		r = scan_class(&l, t, s, order[i], objs);
		if (i == 1)
			nkey_objs = l.n; /* groups seen with a key object */
	}
	tok_pool_put(t, s, r == P11A_E_TOKEN_ABSENT);
	free(objs);
	for (i = 0; i < l.n; i++) {
		struct tok_key *k = l.keys[i];

		if (r != 0 || !scan_is_key(k, i < nkey_objs) ||
		    (r = tok_key_make_uri(k)) != 0) {
			tok_key_free(k);
			continue;
		}
		scan_default_flags(k);
		l.keys[out_n++] = k;
	}
	if (r != 0) {
		free(l.keys);
		return r;
	}
	if (out_n > 1)
		qsort(l.keys, out_n, sizeof(*l.keys), scan_cmp_keys);
	*keys = l.keys;
	*nkeys = out_n;
	return 0;
}
