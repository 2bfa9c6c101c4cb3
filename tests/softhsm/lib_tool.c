/*
 * lib-tool: private-key operations through libp11agent, for the agent
 * integration tests (results are checked with openssl by the script).
 *
 *   lib-tool SOCK sign URI pkcs1|pss|ecdsa HASH IN OUT
 *   lib-tool SOCK decrypt URI pkcs1|oaep HASH IN OUT
 *   lib-tool SOCK derive URI PEERPOINT OUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "client/lib/p11agent.h"

#define LIB_MAX_FILE 65536

static int
lib_read(const char *path, uint8_t *buf, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return -1;
	*len = fread(buf, 1, LIB_MAX_FILE, f);
	fclose(f);
	return 0;
}

static int
lib_write(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static uint32_t
lib_hash(const char *s)
{
	static const char *const names[] = {"none",   "sha1",   "sha224",
	                                    "sha256", "sha384", "sha512"};
	uint32_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return 99;
}

static int
lib_run(struct p11agent_conn *c, int argc, char **argv, uint8_t *in,
        uint8_t *out, size_t *out_len)
{
	size_t in_len = 0;
	uint32_t h;

	if (strcmp(argv[0], "sign") == 0 && argc == 6) {
		uint32_t mech =
		    strcmp(argv[2], "pss") == 0     ? P11AGENT_MECH_RSA_PSS
		    : strcmp(argv[2], "ecdsa") == 0 ? P11AGENT_MECH_ECDSA
		                                    : P11AGENT_MECH_RSA_PKCS1;
		h = lib_hash(argv[3]);
		if (lib_read(argv[4], in, &in_len) != 0)
			return -1;
		return p11agent_sign_digest(
		    c, argv[1], mech, h, mech == P11AGENT_MECH_RSA_PSS ? h : 0,
		    mech == P11AGENT_MECH_RSA_PSS ? (uint32_t)in_len : 0, in,
		    in_len, out, out_len);
	}
	if (strcmp(argv[0], "decrypt") == 0 && argc == 6) {
		int oaep = strcmp(argv[2], "oaep") == 0;

		h = lib_hash(argv[3]);
		if (lib_read(argv[4], in, &in_len) != 0)
			return -1;
		return p11agent_decrypt(c, argv[1],
		                        oaep ? P11AGENT_PADDING_OAEP
		                             : P11AGENT_PADDING_PKCS1,
		                        oaep ? h : 0, oaep ? h : 0, NULL, 0, in,
		                        in_len, out, out_len);
	}
	if (strcmp(argv[0], "derive") == 0 && argc == 4) {
		if (lib_read(argv[2], in, &in_len) != 0)
			return -1;
		return p11agent_derive(c, argv[1], in, in_len, out, out_len);
	}
	return -1;
}

/*
 * "list [rescan]": one line per token ("token LABEL", then " logged-in"
 * when it is) and key ("key URI"),
 * as p11agent_list() or p11agent_list_rescan() gives them.
 */
static int
lib_list(struct p11agent_conn *c, int rescan)
{
	struct p11agent_list *l = NULL;
	size_t i;
	int r;

	r = rescan ? p11agent_list_rescan(c, &l) : p11agent_list(c, &l);
	if (r != 0)
		return r;
	for (i = 0; i < l->ntokens; i++)
		printf("token %s%s\n", l->tokens[i].label,
		       l->tokens[i].flags & P11AGENT_TOKEN_LOGGED_IN
		           ? " logged-in"
		           : "");
	for (i = 0; i < l->nkeys; i++)
		printf("key %s\n", l->keys[i].uri);
	p11agent_list_free(l);
	return 0;
}

int
main(int argc, char **argv)
{
	static uint8_t in[LIB_MAX_FILE], out[LIB_MAX_FILE];
	struct p11agent_conn *c = NULL;
	size_t out_len = sizeof(out);
	int r;

	if (argc < 3 || (argc < 4 && strcmp(argv[2], "list") != 0)) {
		fprintf(stderr,
		        "usage: lib-tool SOCK sign|decrypt|derive ... | "
		        "list [rescan]\n");
		return 2;
	}
	if ((r = p11agent_connect(argv[1], &c)) != 0) {
		fprintf(stderr, "lib-tool: connect: %s\n",
		        p11agent_strerror(r));
		return 1;
	}
	if (strcmp(argv[2], "list") == 0) {
		r = lib_list(c, argc > 3 && strcmp(argv[3], "rescan") == 0);
		if (r != 0)
			fprintf(stderr, "lib-tool: list: %s\n",
			        p11agent_conn_errmsg(c));
		p11agent_close(c);
		return r != 0;
	}
	r = lib_run(c, argc - 2, argv + 2, in, out, &out_len);
	if (r != 0) {
		fprintf(stderr, "lib-tool: %s: %s\n", argv[2],
		        r == -1 ? "bad arguments" : p11agent_conn_errmsg(c));
		p11agent_close(c);
		return 1;
	}
	p11agent_close(c);
	r = lib_write(argv[argc - 1], out, out_len) == 0 ? 0 : 1;
	OPENSSL_cleanse(out, sizeof(out));
	return r;
}
