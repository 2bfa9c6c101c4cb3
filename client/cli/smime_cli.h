/*
 * What the S/MIME subcommands of p11 share (smime_common.c): input and
 * output files, agent keys as struct smime_key, the certificate store,
 * and the mapping of verdicts to exit codes.
 */
#ifndef P11AGENT_CLI_SMIME_CLI_H
#define P11AGENT_CLI_SMIME_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <openssl/x509.h>

#include "p11agent.h"
#include "cli.h"
#include "key.h"
#include "smime.h"
#include "smime_base.h"
#include "store.h"

/*
 * Reports a failed sign or encrypt (what) that returned err: input that
 * is not mail, or the agent's reason from conn.  Returns the exit code.
 */
int cli_smime_op_fail(struct p11agent_conn *conn, int err, const char *what);

/* Option numbers of the options verify and decrypt share. */
enum {
	CLI_SMIME_OPT_CA_FILE = CLI_OPT_FIRST_LOCAL,
	CLI_SMIME_OPT_JSON,
	CLI_SMIME_OPT_ALLOW_SHA1,
	CLI_SMIME_OPT_NEXT, /* decrypt numbers its own from here */
};

#define CLI_SMIME_VERIFY_LONGOPTS                                              \
	{"ca-file", required_argument, NULL, CLI_SMIME_OPT_CA_FILE},           \
	    {"json", no_argument, NULL, CLI_SMIME_OPT_JSON},                   \
	{                                                                      \
		"allow-sha1", no_argument, NULL, CLI_SMIME_OPT_ALLOW_SHA1      \
	}

/*
 * The options verify and decrypt share (--ca-file, --json,
 * --allow-sha1): applies option c to vo and *json.  Returns true when c
 * was one of them.
 */
bool cli_smime_verify_option(int c, const char *arg,
                             struct smime_verify_opts *vo, bool *json);

/*
 * What verify and decrypt do after their options: the IN operand, a
 * readable --ca-file, IN opened into *fd.  Returns -1 to go on, or the
 * exit code after printing why not.
 */
int cli_smime_verify_begin(struct cli *cli, int argc, char **argv,
                           const struct smime_verify_opts *vo, int *fd);

/*
 * The one place where an agent key becomes a struct smime_key.  Its
 * private operations go through the p11agent OpenSSL provider
 * (client/provider) in a library context of this module, to the agent
 * conn is connected to (the provider is pointed there with
 * $P11AGENT_SOCK); the key is loaded from the provider on its first use.
 * The context is unloaded and freed with the last such key.  A failed
 * operation returns the agent's P11AGENT_E_* code (login required, key
 * not found...), and its sentence is kept for cli_smime_fail().  conn
 * may be closed before the key is freed.  Returns NULL (and prints why)
 * on failure.
 */
struct smime_key *cli_smime_load_key(struct p11agent_conn *conn,
                                     const struct p11agent_key *k);

/*
 * Reports a failed S/MIME operation like cli_fail_conn(conn, err,
 * what): with the agent's sentence for the last key operation that
 * failed, if it failed, else with conn's.  Returns the exit code.
 */
int cli_smime_fail(struct p11agent_conn *conn, int err, const char *what);

/*
 * After a failed OpenSSL call on a key of the p11agent provider: takes
 * every entry off OpenSSL's error queue and returns the P11AGENT_E_* code
 * of the newest one the provider put there (its reason is the code
 * without the sign), or 0 when there is none.  When msg is not NULL, it
 * receives that entry's sentence, the agent's own words as libp11agent
 * would give them (without the provider's "p11agent <request>: "), or ""
 * (ossl_err.c).
 */
int cli_ossl_agent_error(char *msg, size_t len);

/*
 * A warning on stderr when the good signer's certificate could not be
 * kept in the store (a read-only home): the verdict stands, but a later
 * `p11 encrypt -r` to that address will not find it.
 */
void cli_smime_warn_not_kept(const struct smime_store *store,
                             const struct smime_signer_info *si);

/*
 * Adds the CA certificates above the key's certificate that the store
 * holds (intermediates kept from verified mail, or added), so that
 * signatures carry the chain.
 */
int cli_smime_add_chain(struct smime_store *store, struct smime_key *key);

/* Exit code of a verification verdict and of a decryption verdict. */
int cli_smime_vexit(enum smime_vstatus s);
int cli_smime_dexit(enum smime_dstatus s);

/* Prints the "signer" JSON object (fields of si). */
void cli_smime_json_signer(FILE *f, const struct smime_signer_info *si);

/*
 * cli_smime_pick_key_by() that also parses each listed certificate for
 * addr when the agent did not list it.
 */
int cli_smime_pick_key(const struct p11agent_list *list, const char *addr,
                       const char *uri, const struct p11agent_key **out);

#endif
