/*
 * p11: the command line of p11agent.  Global options, the subcommand
 * table and the shared error printing; each subcommand group lives in a
 * file of its own.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p11agent.h"
#include "cli.h"
#include "exit.h"
#include "module.h"

#ifndef P11_VERSION
#define P11_VERSION "0.0.0"
#endif

/* Commands that need OpenSSL run in the command module (module.h). */
#define IN_MODULE NULL

static const struct cli_command commands[] = {
    {"keys", IN_MODULE, "[--json]",
     "list the keys and certificates on the tokens",
     "  --json            one JSON array of key objects\n"},
    {"status", cli_cmd_status, "[--json]",
     "show the agent's state and the tokens' login state",
     "  --json            one JSON object\n"},
    {"unlock", IN_MODULE,
     "[--pin-fd N | --pinentry PROGRAM] [--timeout SECONDS] [TOKEN]",
     "log in to a token (TOKEN: label or pkcs11: URI)",
     "  --pin-fd N        read the PIN as one line from descriptor N\n"
     "  --pinentry PROG   ask with this pinentry program, not the "
     "terminal\n"
     "  --timeout S       wait up to S seconds for the agent (PIN pads)\n"},
    {"logout", IN_MODULE, "[TOKEN]",
     "log out of a token (of every token without TOKEN)", NULL},
    {"lock", IN_MODULE, "[--pass-fd N | --pinentry PROGRAM]",
     "lock the agent with a passphrase (asked twice)",
     "  --pass-fd N       read the passphrase from descriptor N\n"
     "  --pinentry PROG   ask with this pinentry program\n"},
    {"unlock-agent", IN_MODULE, "[--pass-fd N | --pinentry PROGRAM]",
     "unlock an agent locked with p11 lock",
     "  --pass-fd N       read the passphrase from descriptor N\n"
     "  --pinentry PROG   ask with this pinentry program\n"},
    {"import", IN_MODULE,
     "[--token TOKEN] [--label LABEL] [--pass-fd N | --pinentry PROGRAM] FILE",
     "put a .p12's key, certificate and chain onto a token, or attach a "
     "certificate to its token key",
     "  --token TOKEN     token label or pkcs11: URI (default: the only "
     "one)\n"
     "  --label LABEL     object label (default: the certificate's "
     "e-mail)\n"
     "  --pass-fd N       read the .p12 password from descriptor N\n"
     "  --pinentry PROG   ask with this pinentry program\n"},
    {"keygen", IN_MODULE,
     "--token TOKEN --type rsa-2048|rsa-3072|rsa-4096|ec-p256|ec-p384 "
     "--email ADDR [--name NAME] [--csr OUT]",
     "generate a key pair on a token and a certificate request for it",
     "  --name NAME       subject common name (default: the e-mail)\n"
     "  --csr OUT         write the PEM request to OUT (default: "
     "stdout)\n"},
    {"sign", cli_cmd_sign,
     "[--from ADDR | --key URI] [--opaque] [--digest sha256|sha384|sha512] "
     "[--pss] [-o OUT] [IN]",
     "sign a mail message (S/MIME) with an agent key",
     "  --from ADDR       sign with the key whose certificate has ADDR\n"
     "                    (default: the message's From: address)\n"
     "  --key URI         sign with this key (pkcs11: URI from p11 keys)\n"
     "  --opaque          application/pkcs7-mime signed-data, not "
     "multipart/signed\n"
     "  --digest D        sha256 (default), sha384 or sha512\n"
     "  --pss             RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys)\n"
     "  -o, --output OUT  write to OUT (default: stdout)\n"},
    {"verify", IN_MODULE,
     "[--ca-file F] [--allow-sha1] [--json] [-o CONTENT] [IN]",
     "check the signature of a mail message; exit 0 only when valid",
     "  --ca-file F       trust the certificates (and CRLs) in F too\n"
     "  --allow-sha1      accept SHA-1 signatures\n"
     "  --json            print one JSON object with the verdict\n"
     "  -o, --output F    write the signed content (MIME entity) to F\n"},
    {"encrypt", IN_MODULE,
     "-r ADDR|CERTFILE... [--sign [--from ADDR]] [--cipher C] [--oaep] "
     "[--protect-headers] [-o OUT] [IN]",
     "encrypt a mail message (S/MIME) to its recipients and to yourself",
     "  -r, --recipient R  an address (certificate from the store) or a "
     "certificate file; repeatable\n"
     "  --sign            sign first (sign, then encrypt)\n"
     "  --from ADDR       sender (default: the message's From: address)\n"
     "  --cipher C        aes-128-gcm, aes-256-gcm, aes-128-cbc or "
     "aes-256-cbc\n"
     "                    (default: AES-256-GCM when every recipient "
     "announced it, else AES-256-CBC)\n"
     "  --oaep            RSAES-OAEP (SHA-256) for RSA recipients\n"
     "  --protect-headers put the header fields inside, Subject \"...\" "
     "outside\n"
     "  -o, --output OUT  write to OUT (default: stdout)\n"},
    {"decrypt", IN_MODULE,
     "[--verify [--ca-file F] [--allow-sha1]] [--json] [-o OUT] [IN]",
     "decrypt a mail message with an agent key; output only on success",
     "  --verify          also check the signatures inside\n"
     "  --ca-file F       trust the certificates in F too\n"
     "  --allow-sha1      accept SHA-1 signatures\n"
     "  --json            print one JSON object with the verdict\n"
     "  -o, --output OUT  write the decrypted MIME entity to OUT\n"},
    {"certs", IN_MODULE,
     "list [--json] | add FILE | export ADDR | remove FINGERPRINT | "
     "trust CAFILE",
     "manage correspondents' certificates and your trusted roots",
     "  list              certificates in the store (--json: an array)\n"
     "  add FILE          add the certificates in FILE (PEM or DER)\n"
     "  export ADDR       print the best certificate for ADDR (PEM)\n"
     "  remove FP         remove by SHA-256 fingerprint\n"
     "  trust CAFILE      trust the CA certificates in CAFILE as roots\n"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes_help[] =
    "Exit codes:\n"
    "  0   success (verify: valid, decrypt: ok)\n"
    "  1   error\n"
    "  2   usage error\n"
    "  3   no agent (none running, and none could be started)\n"
    "  4   PIN incorrect (the agent's message tells the tries left)\n"
    "  5   key not found\n"
    "  6   agent locked (p11 unlock-agent)\n"
    "  7   token login required (p11 unlock; decrypt: login-required)\n"
    "  8   PIN locked on the token\n"
    "  9   token not present\n"
    "  10  cancelled (empty PIN, pinentry cancelled)\n"
    "  11  not supported by the agent or the token (decrypt: "
    "unsupported)\n"
    "  12  refused by the agent (policy, wrong agent passphrase)\n"
    "  20  bad-signature: content or signature do not match, or SHA-1\n"
    "  21  untrusted: no chain to a trusted root, or not for e-mail\n"
    "  22  expired: a certificate is out of its validity period\n"
    "  23  revoked: a certificate is revoked by a CRL at hand\n"
    "  24  sender-mismatch: From: is not in the signer's certificate\n"
    "  25  not-signed: no S/MIME signature\n"
    "  26  malformed: not a well-formed S/MIME message\n"
    "  27  not-a-recipient: no agent key can decrypt the message\n"
    "  28  integrity-failure: the decrypted message was altered\n";

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: p11 [--socket PATH] [--no-autostart] COMMAND "
	           "[ARGS]\n"
	           "       p11 --help | --version\n\n"
	           "Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-13s %s\n", commands[i].name,
		        commands[i].summary);
	fprintf(
	    f,
	    "\nGlobal options (before or after COMMAND):\n"
	    "  --socket PATH       agent socket (default $P11AGENT_SOCK, else "
	    "$XDG_RUNTIME_DIR/p11agent/agent.sock)\n"
	    "  --no-autostart      do not start an agent when none runs\n"
	    "  --agent-program P   agent to start (default p11agent next to "
	    "p11, else from $PATH)\n"
	    "  --help              this text (p11 COMMAND --help for a "
	    "command)\n"
	    "  --version           print the version\n\n%s"
	    "\nSee p11(1) for more.\n",
	    exit_codes_help);
}

int
main(int argc, char **argv)
{
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"version", no_argument, NULL, CLI_OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	struct cli cli;
	size_t i;
	int c, r;

	/* A closed pipe is an error to report, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	memset(&cli, 0, sizeof(cli));
	cli.autostart = true;
	cli.usage = usage;
	opterr = 0;
	/* "+": stop at the subcommand, which parses its own options. */
	while ((c = getopt_long(argc, argv, "+:hV", longs, NULL)) != -1) {
		if (c == 'h')
			c = CLI_OPT_HELP;
		else if (c == 'V')
			c = CLI_OPT_VERSION;
		if ((r = cli_option(&cli, c, argv)) >= 0)
			return r;
	}
	if (optind >= argc) {
		usage(stderr);
		return P11_EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return P11_EXIT_OK;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	}
	if (i == NCOMMANDS)
		return cli_usage_error(NULL, "unknown command '%s'",
		                       argv[optind]);
	cli.cmd = &commands[i];
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: 0 also resets getopt's internal state */
	r = cli.cmd->run != NULL ? cli.cmd->run(&cli, argc, argv)
	                         : cli_run_module(&cli, argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "p11: cannot write the output: %s\n",
			        strerror(errno));
		if (r == 0)
			r = P11_EXIT_ERROR;
	}
	return r;
}
