/*
 * p11 decrypt: open S/MIME enveloped (and signed) layers with agent keys.
 * Nothing is written unless everything succeeded.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "smime_cli.h"
#include "util.h"

enum { OPT_VERIFY = CLI_SMIME_OPT_NEXT };

static void
print_json(const struct smime_decrypt_result *res, bool verify)
{
	printf("{\"status\": ");
	cli_json_string(stdout, smime_dstatus_name(res->status));
	if (res->status == SMIME_D_OK) {
		printf(", \"integrity\": ");
		cli_json_string(stdout, res->authenticated ? "authenticated"
		                                           : "unauthenticated");
	}
	if (verify && res->signed_layer) {
		printf(", \"signature\": {\"status\": ");
		cli_json_string(stdout, smime_vstatus_name(res->sig_status));
		if (res->signer.fingerprint[0] != '\0') {
			printf(", \"signer\": ");
			cli_smime_json_signer(stdout, &res->signer);
		}
		printf("}");
	}
	printf(", \"detail\": ");
	cli_json_string(stdout, res->detail[0] != '\0' ? res->detail : NULL);
	printf("}\n");
}

static void
print_text(const struct smime_decrypt_result *res, bool verify)
{
	char a[512];

	if (res->status != SMIME_D_OK) {
		fprintf(stderr, "p11: decrypt: %s%s%s\n",
		        smime_dstatus_name(res->status),
		        res->detail[0] != '\0' ? ": " : "",
		        cli_safe(a, sizeof(a), res->detail));
		return;
	}
	if (!res->authenticated)
		fprintf(stderr,
		        "p11: warning: the content has no integrity protection "
		        "(CBC without a signature): it may have been altered "
		        "(EFAIL)\n");
	if (verify && res->signed_layer)
		fprintf(stderr, "p11: signature: %s, signer %s%s%s\n",
		        smime_vstatus_name(res->sig_status),
		        cli_safe(a, sizeof(a), res->signer.email),
		        res->signer.detail[0] != '\0' ? ": " : "",
		        res->signer.detail);
}

int
cli_cmd_decrypt(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"verify", no_argument, NULL, OPT_VERIFY},
	    CLI_SMIME_VERIFY_LONGOPTS,
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	struct smime_decrypt_opts dopts;
	struct smime_decrypt_result res;
	struct smime_verify_opts vo;
	struct p11agent_conn *conn = NULL;
	struct p11agent_list *list = NULL;
	struct smime_store *store = NULL;
	struct smime_key **keys = NULL;
	struct cli_smime_out out;
	struct smime_rd rd;
	const char *outpath = NULL;
	bool json = false, verify = false;
	size_t i, nkeys = 0;
	int c, r, fd = -1;

	memset(&dopts, 0, sizeof(dopts));
	memset(&res, 0, sizeof(res));
	memset(&vo, 0, sizeof(vo));
	memset(&rd, 0, sizeof(rd));
	memset(&out, 0, sizeof(out));
	out.fd = -1;
	while ((c = getopt_long(argc, argv, ":o:", longs, NULL)) != -1) {
		switch (c) {
		case OPT_VERIFY:
			verify = true;
			break;
		case 'o':
			outpath = optarg;
			break;
		default:
			if (cli_smime_verify_option(c, optarg, &vo, &json))
				break;
			if ((r = cli_option(cli, c, argv)) >= 0)
				return r;
		}
	}
	if ((r = cli_smime_verify_begin(cli, argc, argv, &vo, &fd)) >= 0)
		return r;
	if ((r = cli_smime_store_open(&store, false)) != 0)
		goto out;
	vo.store = store;
	if ((r = cli_connect(cli, &conn)) != 0)
		goto out;
	if ((r = p11agent_list(conn, &list)) != 0) {
		r = cli_fail_conn(conn, r, "decrypt");
		goto out;
	}
	if ((keys = calloc(list->nkeys + 1, sizeof(*keys))) == NULL) {
		r = P11_EXIT_ERROR;
		goto out;
	}
	for (i = 0; i < list->nkeys; i++) {
		const struct p11agent_key *k = &list->keys[i];

		if (k->cert_der == NULL || (k->key_type != P11AGENT_KEY_RSA &&
		                            k->key_type != P11AGENT_KEY_EC))
			continue;
		if ((keys[nkeys] = cli_smime_load_key(conn, k)) != NULL)
			nkeys++;
	}
	dopts.keys = keys;
	dopts.nkeys = nkeys;
	dopts.verify = verify;
	dopts.vopts = &vo;
	if ((r = cli_smime_out_open(&out, outpath)) != 0)
		goto out;
	if ((r = smime_rd_init_fd(&rd, fd)) != 0 ||
	    (r = smime_decrypt(&rd, out.fd, &dopts, &res)) != 0) {
		r = cli_fail(r, NULL, "decrypt");
		goto out;
	}
	if (json)
		print_json(&res, verify);
	else
		print_text(&res, verify);
	if (verify && res.signed_layer)
		cli_smime_warn_not_kept(store, &res.signer);
	if (res.status != SMIME_D_OK) {
		r = cli_smime_dexit(res.status);
		goto out;
	}
	if (verify && res.signed_layer && res.sig_status != SMIME_V_VALID) {
		r = cli_smime_vexit(res.sig_status);
		goto out;
	}
	r = cli_smime_out_commit(&out);
out:
	cli_smime_out_abort(&out);
	smime_rd_cleanup(&rd);
	smime_decrypt_result_cleanup(&res);
	for (i = 0; i < nkeys; i++)
		smime_key_free(keys[i]);
	free(keys);
	smime_store_free(store);
	p11agent_list_free(list);
	p11agent_close(conn);
	if (fd >= 0)
		close(fd);
	return r;
}
