/*
 * p11 sign: S/MIME signatures with an agent key.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/objects.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "smime_cli.h"

enum {
	OPT_FROM = CLI_OPT_FIRST_LOCAL,
	OPT_KEY,
	OPT_OPAQUE,
	OPT_DIGEST,
	OPT_PSS,
};

int
cli_cmd_sign(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"from", required_argument, NULL, OPT_FROM},
	    {"key", required_argument, NULL, OPT_KEY},
	    {"opaque", no_argument, NULL, OPT_OPAQUE},
	    {"digest", required_argument, NULL, OPT_DIGEST},
	    {"pss", no_argument, NULL, OPT_PSS},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	struct smime_sign_opts so;
	struct smime_key_signer ks;
	struct smime_key *key = NULL;
	struct p11agent_conn *conn = NULL;
	struct p11agent_list *list = NULL;
	const struct p11agent_key *k;
	struct smime_store *store = NULL;
	struct cli_smime_out out;
	const char *from = NULL, *uri = NULL, *outpath = NULL, *in = NULL;
	char addr[256];
	int c, r, fd = -1;

	memset(&so, 0, sizeof(so));
	memset(&ks, 0, sizeof(ks));
	memset(&out, 0, sizeof(out));
	out.fd = -1;
	while ((c = getopt_long(argc, argv, ":o:", longs, NULL)) != -1) {
		switch (c) {
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_KEY:
			uri = optarg;
			break;
		case OPT_OPAQUE:
			so.opaque = true;
			break;
		case OPT_DIGEST:
			if ((so.md_nid = cli_smime_digest_nid(optarg)) == 0)
				return cli_usage_error(
				    cli,
				    "unknown digest '%s' (sha256, sha384, "
				    "sha512)",
				    optarg);
			break;
		case OPT_PSS:
			so.pss = true;
			break;
		case 'o':
			outpath = optarg;
			break;
		default:
			if ((r = cli_option(cli, c, argv)) >= 0)
				return r;
		}
	}
	if ((r = cli_smime_input_arg(cli, argc, argv, &in)) >= 0)
		return r;
	if (from != NULL && uri != NULL)
		return cli_usage_error(cli, "--from and --key exclude each "
		                            "other");
	if ((r = cli_smime_open_in(in, &fd)) != 0)
		return r;
	if (from == NULL && uri == NULL) {
		if (!cli_smime_from_addr(fd, addr, sizeof(addr))) {
			fprintf(stderr, "p11: sign: the message has no From: "
			                "address; use --from or --key\n");
			r = P11_EXIT_USAGE;
			goto out;
		}
		from = addr;
	}
	if ((r = cli_connect(cli, &conn)) != 0)
		goto out;
	if ((r = p11agent_list(conn, &list)) != 0) {
		r = cli_fail_conn(conn, r, "sign");
		goto out;
	}
	if ((r = cli_smime_pick_key(list, from, uri, &k)) != 0)
		goto out;
	if (so.pss && k->key_type != P11AGENT_KEY_RSA) {
		r = cli_usage_error(cli, "--pss needs an RSA key");
		goto out;
	}
	if ((key = cli_smime_load_key(conn, k)) == NULL) {
		r = P11_EXIT_ERROR;
		goto out;
	}
	if (cli_smime_store_open(&store) == 0)
		cli_smime_add_chain(store, key);
	if ((r = smime_key_signer_init(&ks, key)) != 0) {
		r = cli_smime_op_fail(conn, r, "sign");
		goto out;
	}
	so.signer = &ks.signer;
	if (so.md_nid == 0)
		so.md_nid = cli_smime_default_md(k);
	if ((r = cli_smime_out_open(&out, outpath)) != 0)
		goto out;
	if ((r = smime_sign(fd, out.fd, &so)) != 0) {
		r = cli_smime_op_fail(conn, r, "sign");
		goto out;
	}
	r = cli_smime_out_commit(&out);
out:
	cli_smime_out_abort(&out);
	smime_key_signer_cleanup(&ks);
	smime_key_free(key);
	smime_store_free(store);
	p11agent_list_free(list);
	p11agent_close(conn);
	if (fd >= 0)
		close(fd);
	return r;
}
