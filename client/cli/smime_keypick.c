/*
 * Choosing the signing key and digest for the S/MIME subcommands
 * (smime_base.h): the From: address, the agent's key list, pkcs11: URIs.
 * No libcrypto: p11 sign uses these in the executable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/obj_mac.h> /* NID numbers only: nothing is linked */

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "io.h"
#include "mime.h"
#include "smime_base.h"
#include "util.h"

bool
cli_smime_from_addr(int fd, char *buf, size_t len)
{
	struct smime_hdrs h;
	struct smime_rd rd;
	off_t pos;
	bool ok = false;

	buf[0] = '\0';
	if ((pos = lseek(fd, 0, SEEK_CUR)) < 0)
		return false;
	smime_hdrs_init(&h);
	if (smime_rd_init_fd(&rd, fd) == 0 && smime_hdrs_read(&h, &rd) == 0)
		ok = smime_addr_first(smime_hdrs_value(&h, "From"), buf, len);
	smime_hdrs_cleanup(&h);
	smime_rd_cleanup(&rd);
	if (lseek(fd, pos, SEEK_SET) != pos)
		return false;
	return ok;
}

/*
 * The agent lists each certificate's addresses; parsing a certificate
 * (slow in OpenSSL 3) is only the fallback for addresses it did not list.
 */
static bool
key_lists_email(const struct p11agent_key *k, const char *addr)
{
	size_t i;

	for (i = 0; i < k->nemails; i++) {
		if (smime_strcasecmp(k->emails[i], addr) == 0)
			return true;
	}
	return false;
}

/* Percent-decodes src into dst (cap bytes). */
static void
pct_decode(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < n && o + 1 < cap; i++) {
		if (src[i] == '%' && i + 2 < n &&
		    sscanf(src + i + 1, "%2x", &v) == 1) {
			dst[o++] = (char)v;
			i += 2;
		} else {
			dst[o++] = src[i];
		}
	}
	dst[o] = '\0';
}

/* The value of attribute name in a pkcs11: URI's path, decoded. */
static bool
uri_attr(const char *uri, const char *name, char *val, size_t cap)
{
	const char *p = uri + 7, *end, *eq;
	size_t nl = strlen(name);

	if (strncmp(uri, "pkcs11:", 7) != 0)
		return false;
	while (*p != '\0' && *p != '?') {
		end = p + strcspn(p, ";?");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && (size_t)(eq - p) == nl &&
		    strncmp(p, name, nl) == 0) {
			pct_decode(val, cap, eq + 1, (size_t)(end - eq - 1));
			return true;
		}
		p = *end == ';' ? end + 1 : end;
	}
	return false;
}

/*
 * Does the key's URI have every path attribute of uri with the same
 * value (RFC 7512 matching)?
 */
static bool
uri_matches(const char *keyuri, const char *uri)
{
	static const char *const names[] = {
	    "token",  "manufacturer", "serial", "model",
	    "object", "id",           "type",   "library-manufacturer",
	};
	char a[512], b[512];
	size_t i;
	bool any = false;

	if (strcmp(keyuri, uri) == 0)
		return true;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!uri_attr(uri, names[i], a, sizeof(a)))
			continue;
		any = true;
		if (!uri_attr(keyuri, names[i], b, sizeof(b)) ||
		    strcmp(a, b) != 0)
			return false;
	}
	return any;
}

static const struct p11agent_key *
find_key(const struct p11agent_list *list, const char *addr, const char *uri,
         bool (*cert_has)(const struct p11agent_key *k, const char *addr))
{
	size_t i;

	for (i = 0; i < list->nkeys; i++) {
		const struct p11agent_key *k = &list->keys[i];

		if (k->cert_der == NULL)
			continue;
		if (uri != NULL        ? uri_matches(k->uri, uri)
		    : cert_has != NULL ? cert_has(k, addr)
		                       : key_lists_email(k, addr))
			return k;
	}
	return NULL;
}

int
cli_smime_pick_key_by(const struct p11agent_list *list, const char *addr,
                      const char *uri,
                      bool (*cert_has)(const struct p11agent_key *k,
                                       const char *addr),
                      const struct p11agent_key **out)
{
	char safe[512];

	if ((*out = find_key(list, addr, uri, NULL)) != NULL ||
	    (uri == NULL && cert_has != NULL &&
	     (*out = find_key(list, addr, NULL, cert_has)) != NULL))
		return 0;
	if (uri != NULL)
		fprintf(stderr,
		        "p11: no agent key with a certificate has the URI "
		        "%s\n",
		        cli_safe(safe, sizeof(safe), uri));
	else
		fprintf(stderr,
		        "p11: no agent key has a certificate for %s (see p11 "
		        "keys)\n",
		        cli_safe(safe, sizeof(safe), addr));
	return P11_EXIT_KEY_NOT_FOUND;
}

int
cli_smime_digest_nid(const char *name)
{
	if (smime_strcasecmp(name, "sha256") == 0 ||
	    smime_strcasecmp(name, "sha-256") == 0)
		return NID_sha256;
	if (smime_strcasecmp(name, "sha384") == 0 ||
	    smime_strcasecmp(name, "sha-384") == 0)
		return NID_sha384;
	if (smime_strcasecmp(name, "sha512") == 0 ||
	    smime_strcasecmp(name, "sha-512") == 0)
		return NID_sha512;
	return 0;
}

int
cli_smime_default_md(const struct p11agent_key *k)
{
	if (k->key_type != P11AGENT_KEY_EC || k->bits <= 256)
		return NID_sha256;
	return k->bits > 384 ? NID_sha512 : NID_sha384;
}
