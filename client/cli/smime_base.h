/*
 * What the S/MIME subcommands share without libcrypto (smime_files.c,
 * smime_keypick.c): p11 sign uses these in the executable, the other
 * S/MIME commands in the command module (module.h).
 */
#ifndef P11AGENT_CLI_SMIME_BASE_H
#define P11AGENT_CLI_SMIME_BASE_H

#include <stdbool.h>
#include <stddef.h>

#include "p11agent.h"
#include "cli.h"
#include "store_dir.h"

/*
 * Opens IN (NULL or "-": standard input) as a regular file that can be
 * read twice: anything else (a pipe, a terminal) is copied into an
 * unlinked temporary file first.  Returns 0 with *fd set, or the exit
 * code after printing the error.
 */
int cli_smime_open_in(const char *path, int *fd);

/*
 * After option parsing: takes the optional IN operand (NULL = stdin) into
 * *in.  Returns -1 to go on, or the usage exit code for extra operands.
 */
struct cli;
int cli_smime_input_arg(struct cli *cli, int argc, char **argv,
                        const char **in);

/* The digest that suits k (RFC 5753: SHA-384 with P-384, SHA-512 above). */
int cli_smime_default_md(const struct p11agent_key *k);

/*
 * An output that appears only when complete: a temporary file in OUT's
 * folder, renamed over OUT by cli_smime_out_commit(); for standard output
 * (NULL or "-") an unlinked temporary file copied to stdout on commit.
 */
struct cli_smime_out {
	const char *path; /* NULL: stdout */
	char *tmp;        /* the temporary's name, when it has one */
	bool direct;      /* OUT is a device or pipe: copied on commit */
	int fd;
};

int cli_smime_out_open(struct cli_smime_out *o, const char *path);
int cli_smime_out_commit(struct cli_smime_out *o);
/* Removes the temporary file, if any (NULL-safe, idempotent). */
void cli_smime_out_abort(struct cli_smime_out *o);

/* Lower-case address of the message's From: field (first one). */
bool cli_smime_from_addr(int fd, char *buf, size_t len);

/*
 * Opens the user's certificate store ($XDG_DATA_HOME/p11agent/certs).
 * When HOME and XDG_DATA_HOME name none (a service account), a command
 * that needs a store fails with a message; the others (required false)
 * get NULL, which reads as an empty store.
 */
int cli_smime_store_open(struct smime_store **out, bool required);

/* Parses --digest (sha256|sha384|sha512); returns the NID or 0. */
int cli_smime_digest_nid(const char *name);

/*
 * Picks the agent key for signing (or decryption) whose certificate
 * carries addr, or whose URI is uri: by the addresses the agent lists,
 * then, when cert_has is not NULL, by cert_has(k, addr) on each key.
 * Prints the error and returns the exit code, or 0 with *out pointing
 * into list.
 */
int cli_smime_pick_key_by(const struct p11agent_list *list, const char *addr,
                          const char *uri,
                          bool (*cert_has)(const struct p11agent_key *k,
                                           const char *addr),
                          const struct p11agent_key **out);

#endif
