/*
 * RFC 7512 PKCS#11 URIs through p11-kit: one formatter for tokens and
 * keys, and matching of user-given (possibly partial) URIs.
 */
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "tokens/internal.h"

static void
uri_set_token(P11KitUri *u, const struct tok_token *t)
{
	CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(u);

	/* PKCS#11 string fields are blank padded, not NUL terminated. */
	memset(ti->label, ' ', sizeof(ti->label));
	memcpy(ti->label, t->label, strlen(t->label));
	memset(ti->manufacturerID, ' ', sizeof(ti->manufacturerID));
	memcpy(ti->manufacturerID, t->manufacturer, strlen(t->manufacturer));
	memset(ti->model, ' ', sizeof(ti->model));
	memcpy(ti->model, t->model, strlen(t->model));
	memset(ti->serialNumber, ' ', sizeof(ti->serialNumber));
	memcpy(ti->serialNumber, t->serial, strlen(t->serial));
}

static char *
uri_format(P11KitUri *u, P11KitUriType type)
{
	char *s = NULL;

	if (p11_kit_uri_format(u, type, &s) != P11_KIT_URI_OK)
		s = NULL;
	return s;
}

char *
tok_uri_for_token(const CK_TOKEN_INFO *info)
{
	P11KitUri *u = p11_kit_uri_new();
	char *s;

	if (u == NULL)
		return NULL;
	memcpy(p11_kit_uri_get_token_info(u), info, sizeof(*info));
	s = uri_format(u, P11_KIT_URI_FOR_TOKEN);
	p11_kit_uri_free(u);
	return s;
}

char *
tok_uri_for_key(const struct tok_token *t, const uint8_t *id, size_t id_len,
                const char *label)
{
	P11KitUri *u = p11_kit_uri_new();
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE a;
	char *s = NULL;

	if (u == NULL)
		return NULL;
	uri_set_token(u, t);
	a.type = CKA_ID;
	a.pValue = (void *)id;
	a.ulValueLen = id_len;
	if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK)
		goto out;
	if (label != NULL && label[0] != '\0') {
		a.type = CKA_LABEL;
		a.pValue = (void *)label;
		a.ulValueLen = strlen(label);
		if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK)
			goto out;
	}
	a.type = CKA_CLASS;
	a.pValue = &cls;
	a.ulValueLen = sizeof(cls);
	if (p11_kit_uri_set_attribute(u, &a) != P11_KIT_URI_OK)
		goto out;
	s = uri_format(u, P11_KIT_URI_FOR_OBJECT_ON_TOKEN);
out:
	p11_kit_uri_free(u);
	return s;
}

static P11KitUri *
uri_parse(const char *uri)
{
	P11KitUri *u = p11_kit_uri_new();

	if (u == NULL)
		return NULL;
	if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u) != P11_KIT_URI_OK) {
		p11_kit_uri_free(u);
		return NULL;
	}
	return u;
}

static int
uri_token_matches(P11KitUri *u, const struct tok_token *t)
{
	CK_TOKEN_INFO ti;
	P11KitUri *mine = p11_kit_uri_new();
	int ok;

	if (mine == NULL)
		return 0;
	uri_set_token(mine, t);
	memcpy(&ti, p11_kit_uri_get_token_info(mine), sizeof(ti));
	p11_kit_uri_free(mine);
	ok = p11_kit_uri_match_token_info(u, &ti);
	return ok;
}

int
tok_uri_match_token(const char *uri, const struct tok_token *t)
{
	P11KitUri *u = uri_parse(uri);
	int ok;

	if (u == NULL)
		return 0;
	ok = uri_token_matches(u, t);
	p11_kit_uri_free(u);
	return ok;
}

int
tok_uri_match_key(const char *uri, const struct tok_key *k)
{
	P11KitUri *u = uri_parse(uri);
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE attrs[3];
	CK_ULONG n = 0;
	int ok = 0;

	if (u == NULL)
		return 0;
	if (!uri_token_matches(u, k->token))
		goto out;
	attrs[n].type = CKA_ID;
	attrs[n].pValue = k->id;
	attrs[n++].ulValueLen = k->id_len;
	attrs[n].type = CKA_CLASS;
	attrs[n].pValue = &cls;
	attrs[n++].ulValueLen = sizeof(cls);
	if (k->label != NULL) {
		attrs[n].type = CKA_LABEL;
		attrs[n].pValue = k->label;
		attrs[n++].ulValueLen = strlen(k->label);
	}
	/*
	 * p11-kit treats an attribute missing on our side as a mismatch; a
	 * URI naming type=cert or type=public still means this key pair.
	 */
	{
		CK_ATTRIBUTE *want = p11_kit_uri_get_attribute(u, CKA_CLASS);

		if (want != NULL && want->ulValueLen == sizeof(cls))
			memcpy(&cls, want->pValue, sizeof(cls));
	}
	ok = p11_kit_uri_match_attributes(u, attrs, n);
out:
	p11_kit_uri_free(u);
	return ok;
}
