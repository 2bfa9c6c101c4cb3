/*
 * RFC 7512 "pkcs11:" URIs, parsed and matched by p11-kit.  A user's URI
 * is a query (token=, manufacturer=, serial=, id=, object=, type=); the
 * keys it selects are those of the agent's list whose own URIs match it.
 */
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "internal.h"

struct p11a_uri {
	P11KitUri *u;
};

int
p11a_uri_parse(const char *text, struct p11a_uri **out, struct p11a_why *why)
{
	struct p11a_uri *q;
	int rc;

	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->u = p11_kit_uri_new()) == NULL) {
		free(q);
		return P11AGENT_E_NOMEM;
	}
	rc = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, q->u);
	if (rc != P11_KIT_URI_OK) {
		p11a_uri_free(q);
		return p11a_why_set(why, P11AGENT_E_ARGS,
		                    "not a valid PKCS#11 URI (%s): %s",
		                    p11_kit_uri_message(rc), text);
	}
	/* RFC 7512: an attribute we do not know matches nothing. */
	if (p11_kit_uri_any_unrecognized(q->u)) {
		p11a_uri_free(q);
		return p11a_why_set(
		    why, P11AGENT_E_ARGS,
		    "PKCS#11 URI has an attribute p11agent does "
		    "not know: %s",
		    text);
	}
	*out = q;
	return 0;
}

void
p11a_uri_free(struct p11a_uri *q)
{
	if (q == NULL)
		return;
	p11_kit_uri_free(q->u);
	free(q);
}

int
p11a_uri_match_key(const struct p11a_uri *q, const char *key_uri)
{
	P11KitUri *k;
	CK_ATTRIBUTE attrs[3], *a, *want;
	CK_ULONG n = 0;
	int ok = 0;

	if ((k = p11_kit_uri_new()) == NULL)
		return 0;
	if (p11_kit_uri_parse(key_uri, P11_KIT_URI_FOR_ANY, k) !=
	    P11_KIT_URI_OK)
		goto out;
	if (!p11_kit_uri_match_token_info(q->u, p11_kit_uri_get_token_info(k)))
		goto out;
	/* An id= or object= the key does not have is a mismatch. */
	if ((a = p11_kit_uri_get_attribute(k, CKA_ID)) != NULL)
		attrs[n++] = *a;
	else if (p11_kit_uri_get_attribute(q->u, CKA_ID) != NULL)
		goto out;
	if ((a = p11_kit_uri_get_attribute(k, CKA_LABEL)) != NULL)
		attrs[n++] = *a;
	else if (p11_kit_uri_get_attribute(q->u, CKA_LABEL) != NULL)
		goto out;
	/*
	 * type= selects what of the key to return (key, public key,
	 * certificate), not whether the key matches: compare the query's
	 * class with itself.
	 */
	if ((want = p11_kit_uri_get_attribute(q->u, CKA_CLASS)) != NULL)
		attrs[n++] = *want;
	ok = p11_kit_uri_match_attributes(q->u, attrs, n);
out:
	p11_kit_uri_free(k);
	return ok;
}

enum p11a_uri_type
p11a_uri_type(const struct p11a_uri *q)
{
	CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(q->u, CKA_CLASS);
	CK_OBJECT_CLASS cls;

	if (a == NULL || a->ulValueLen != sizeof(cls))
		return P11A_URI_ANY;
	memcpy(&cls, a->pValue, sizeof(cls));
	switch (cls) {
	case CKO_PRIVATE_KEY:
		return P11A_URI_PRIVATE;
	case CKO_PUBLIC_KEY:
		return P11A_URI_PUBLIC;
	case CKO_CERTIFICATE:
		return P11A_URI_CERT;
	default:
		return P11A_URI_OTHER;
	}
}
