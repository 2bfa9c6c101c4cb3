/*
 * p11 sign: S/MIME signatures with an agent key.
 *
 * This command runs in the p11 executable, without libcrypto (module.h
 * says why): the key and its certificate come from the agent's list, the
 * chain from the store as DER, the digests from Nettle, the SignedData
 * from client/smime's own DER builder, the signature from the agent.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/obj_mac.h> /* NID numbers only: nothing is linked */

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "smime.h"
#include "smime_base.h"
#include "store_chain.h"

enum {
	OPT_FROM = CLI_OPT_FIRST_LOCAL,
	OPT_KEY,
	OPT_OPAQUE,
	OPT_DIGEST,
	OPT_PSS,
};

/*
 * The agent key a struct smime_signer signs with, and that signer: its
 * chain is filled in while the agent signs (smime.h allows it).
 */
struct agent_signer {
	struct p11agent_conn *conn;
	const struct p11agent_key *key;
	struct smime_signer *signer;
	struct smime_der_chain chain;
};

static uint32_t
agent_hash(int md_nid)
{
	switch (md_nid) {
	case NID_sha384:
		return P11AGENT_HASH_SHA384;
	case NID_sha512:
		return P11AGENT_HASH_SHA512;
	default:
		return P11AGENT_HASH_SHA256;
	}
}

/*
 * The chain the store knows for the key's certificate (empty when none),
 * into the signer.
 */
static void
load_chain(struct agent_signer *a)
{
	struct smime_store *store = NULL;

	smime_der_chain_cleanup(&a->chain);
	if (cli_smime_store_open(&store, false) == 0)
		smime_store_chain_der(store, a->key->cert_der,
		                      a->key->cert_der_len, &a->chain);
	smime_store_free(store);
	a->signer->chain = (const uint8_t *const *)a->chain.der;
	a->signer->chain_len = a->chain.len;
	a->signer->nchain = a->chain.n;
}

/*
 * struct smime_signer's sign(): one sign-digest request, and the chain
 * read from the store while the agent works on it.
 */
static int
agent_sign(void *ctx, int md_nid, bool pss, const uint8_t *dg, size_t dglen,
           uint8_t *sig, size_t *siglen)
{
	struct agent_signer *a = ctx;
	uint32_t hash = agent_hash(md_nid);
	bool rsa = a->key->key_type == P11AGENT_KEY_RSA;
	uint32_t mech = !rsa  ? P11AGENT_MECH_ECDSA
	                : pss ? P11AGENT_MECH_RSA_PSS
	                      : P11AGENT_MECH_RSA_PKCS1;
	uint8_t rs[2 * 66 + 2];
	size_t rslen = sizeof(rs);
	int r;

	if ((r = p11agent_sign_digest_send(
	         a->conn, a->key->uri, mech, hash, pss ? hash : 0,
	         pss ? (uint32_t)dglen : 0, dg, dglen)) != 0)
		return r;
	load_chain(a);
	if (rsa)
		return p11agent_sign_digest_recv(a->conn, sig, siglen);
	/* The agent gives r||s; CMS wants an Ecdsa-Sig-Value (RFC 5753). */
	if ((r = p11agent_sign_digest_recv(a->conn, rs, &rslen)) != 0)
		return r;
	return smime_ecdsa_sig_der(rs, rslen, sig, siglen);
}

static int
sign_fail(struct p11agent_conn *conn, int err)
{
	if (err == P11AGENT_E_FORMAT || err == P11AGENT_E_TOO_LARGE)
		return cli_fail(err, "the input is not a mail message", "sign");
	return cli_fail_conn(conn, err, "sign");
}

struct sign_args {
	const char *from, *uri, *outpath, *in;
	int md_nid;
	bool pss, opaque;
};

static int
parse_args(struct cli *cli, int argc, char **argv, struct sign_args *a)
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
	int c, r;

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, ":o:", longs, NULL)) != -1) {
		switch (c) {
		case OPT_FROM:
			a->from = optarg;
			break;
		case OPT_KEY:
			a->uri = optarg;
			break;
		case OPT_OPAQUE:
			a->opaque = true;
			break;
		case OPT_DIGEST:
			if ((a->md_nid = cli_smime_digest_nid(optarg)) == 0)
				return cli_usage_error(
				    cli,
				    "unknown digest '%s' (sha256, sha384, "
				    "sha512)",
				    optarg);
			break;
		case OPT_PSS:
			a->pss = true;
			break;
		case 'o':
			a->outpath = optarg;
			break;
		default:
			if ((r = cli_option(cli, c, argv)) >= 0)
				return r;
		}
	}
	if ((r = cli_smime_input_arg(cli, argc, argv, &a->in)) >= 0)
		return r;
	if (a->from != NULL && a->uri != NULL)
		return cli_usage_error(cli, "--from and --key exclude each "
		                            "other");
	return -1;
}

/* Everything after the key is known: chain, signer, output, signing. */
static int
sign_with(struct cli *cli, struct p11agent_conn *conn,
          const struct p11agent_key *k, const struct sign_args *a, int fd)
{
	struct smime_signer signer;
	struct agent_signer as;
	struct smime_sign_opts so;
	struct cli_smime_out out;
	int r;

	if (a->pss && k->key_type != P11AGENT_KEY_RSA)
		return cli_usage_error(cli, "--pss needs an RSA key");
	if (k->key_type != P11AGENT_KEY_RSA && k->key_type != P11AGENT_KEY_EC)
		return cli_fail(P11AGENT_E_KEY_TYPE,
		                "S/MIME signs with RSA and EC keys only",
		                "sign");
	memset(&signer, 0, sizeof(signer));
	memset(&as, 0, sizeof(as));
	as.conn = conn;
	as.key = k;
	as.signer = &signer;
	signer.cert = k->cert_der;
	signer.cert_len = k->cert_der_len;
	signer.sign = agent_sign;
	signer.ctx = &as;
	memset(&so, 0, sizeof(so));
	so.signer = &signer;
	so.md_nid = a->md_nid != 0 ? a->md_nid : cli_smime_default_md(k);
	so.pss = a->pss;
	so.opaque = a->opaque;
	memset(&out, 0, sizeof(out));
	out.fd = -1;
	if ((r = cli_smime_out_open(&out, a->outpath)) == 0) {
		if ((r = smime_sign(fd, out.fd, &so)) != 0)
			r = sign_fail(conn, r);
		else
			r = cli_smime_out_commit(&out);
	}
	cli_smime_out_abort(&out);
	smime_der_chain_cleanup(&as.chain);
	return r;
}

int
cli_cmd_sign(struct cli *cli, int argc, char **argv)
{
	struct p11agent_conn *conn = NULL;
	struct p11agent_list *list = NULL;
	const struct p11agent_key *k;
	struct sign_args a;
	const char *from;
	char addr[256];
	int r, fd = -1;

	if ((r = parse_args(cli, argc, argv, &a)) >= 0)
		return r;
	if ((r = cli_smime_open_in(a.in, &fd)) != 0)
		return r;
	/* The agent lists its keys while this process reads the From:. */
	if ((r = cli_connect(cli, &conn)) != 0)
		goto out;
	if ((r = p11agent_list_send(conn)) != 0) {
		r = cli_fail_conn(conn, r, "sign");
		goto out;
	}
	from = a.from;
	if (from == NULL && a.uri == NULL) {
		if (!cli_smime_from_addr(fd, addr, sizeof(addr))) {
			fprintf(stderr, "p11: sign: the message has no From: "
			                "address; use --from or --key\n");
			r = P11_EXIT_USAGE;
			goto out;
		}
		from = addr;
	}
	if ((r = p11agent_list_recv(conn, &list)) != 0) {
		r = cli_fail_conn(conn, r, "sign");
		goto out;
	}
	/* By the addresses the agent lists: it reads them from the same
	 * certificate fields as smime_cert_has_email(). */
	if ((r = cli_smime_pick_key_by(list, from, a.uri, NULL, &k)) != 0)
		goto out;
	r = sign_with(cli, conn, k, &a, fd);
out:
	p11agent_list_free(list);
	p11agent_close(conn);
	if (fd >= 0)
		close(fd);
	return r;
}
