/*
 * p11 verify: check the S/MIME signature of a message.  Needs no agent.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "smime_cli.h"
#include "util.h"

static void
print_json(enum smime_vstatus st, const struct smime_signer_info *si)
{
	printf("{\"status\": ");
	cli_json_string(stdout, smime_vstatus_name(st));
	if (si->fingerprint[0] != '\0') {
		printf(", \"signer\": ");
		cli_smime_json_signer(stdout, si);
	}
	printf(", \"signing_time\": ");
	cli_json_string(stdout,
	                si->signing_time[0] != '\0' ? si->signing_time : NULL);
	printf(", \"digest\": ");
	cli_json_string(stdout, si->digest[0] != '\0' ? si->digest : NULL);
	printf(", \"detail\": ");
	cli_json_string(stdout, si->detail[0] != '\0' ? si->detail : NULL);
	printf("}\n");
}

static void
print_text(enum smime_vstatus st, const struct smime_signer_info *si)
{
	char a[512], b[512];

	if (st == SMIME_V_VALID) {
		fprintf(stderr, "p11: good signature from %s (%s), %s\n",
		        cli_safe(a, sizeof(a), si->email),
		        cli_safe(b, sizeof(b), si->subject),
		        si->signing_time[0] != '\0' ? si->signing_time
		                                    : "no signing time");
		return;
	}
	fprintf(stderr, "p11: verify: %s%s%s\n", smime_vstatus_name(st),
	        si->detail[0] != '\0' ? ": " : "",
	        cli_safe(a, sizeof(a), si->detail));
	if (si->fingerprint[0] != '\0')
		fprintf(stderr, "p11: signer %s (%s)\n",
		        cli_safe(a, sizeof(a), si->email),
		        cli_safe(b, sizeof(b), si->subject));
}

int
cli_cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    CLI_SMIME_VERIFY_LONGOPTS,
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	struct smime_verify_opts vo;
	struct smime_signer_info si;
	struct smime_store *store = NULL;
	struct cli_smime_out out;
	struct smime_rd rd;
	enum smime_vstatus st = SMIME_V_MALFORMED;
	const char *outpath = NULL;
	bool json = false;
	int c, r, fd = -1;

	memset(&vo, 0, sizeof(vo));
	memset(&si, 0, sizeof(si));
	memset(&rd, 0, sizeof(rd));
	memset(&out, 0, sizeof(out));
	out.fd = -1;
	while ((c = getopt_long(argc, argv, ":o:", longs, NULL)) != -1) {
		switch (c) {
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
	if (outpath != NULL && (r = cli_smime_out_open(&out, outpath)) != 0)
		goto out;
	if ((r = smime_rd_init_fd(&rd, fd)) != 0 ||
	    (r = smime_verify(&rd, outpath != NULL ? out.fd : -1, &vo, &st,
	                      &si)) != 0) {
		r = cli_fail(r, NULL, "verify");
		goto out;
	}
	if (json)
		print_json(st, &si);
	else
		print_text(st, &si);
	cli_smime_warn_not_kept(store, &si);
	r = cli_smime_vexit(st);
	/* The content goes out only with a good signature. */
	if (r == 0 && outpath != NULL)
		r = cli_smime_out_commit(&out);
out:
	cli_smime_out_abort(&out);
	smime_rd_cleanup(&rd);
	smime_signer_info_cleanup(&si);
	smime_store_free(store);
	if (fd >= 0)
		close(fd);
	return r;
}
