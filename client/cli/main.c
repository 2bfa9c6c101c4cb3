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

#ifndef P11_VERSION
#define P11_VERSION "0.0.0"
#endif

static const struct cli_command commands[] = {
    {"keys", cli_cmd_keys, "[--json]",
     "list the keys and certificates on the tokens",
     "  --json            one JSON array of key objects\n"},
    {"status", cli_cmd_status, "[--json]",
     "show the agent's state and the tokens' login state",
     "  --json            one JSON object\n"},
    {"unlock", cli_cmd_unlock,
     "[--pin-fd N | --pinentry PROGRAM] [--timeout SECONDS] [TOKEN]",
     "log in to a token (TOKEN: label or pkcs11: URI)",
     "  --pin-fd N        read the PIN as one line from descriptor N\n"
     "  --pinentry PROG   ask with this pinentry program, not the "
     "terminal\n"
     "  --timeout S       wait up to S seconds for the agent (PIN pads)\n"},
    {"logout", cli_cmd_logout, "[TOKEN]",
     "log out of a token (of every token without TOKEN)", NULL},
    {"lock", cli_cmd_lock, "[--pass-fd N | --pinentry PROGRAM]",
     "lock the agent with a passphrase (asked twice)",
     "  --pass-fd N       read the passphrase from descriptor N\n"
     "  --pinentry PROG   ask with this pinentry program\n"},
    {"unlock-agent", cli_cmd_unlock_agent, "[--pass-fd N | --pinentry PROGRAM]",
     "unlock an agent locked with p11 lock",
     "  --pass-fd N       read the passphrase from descriptor N\n"
     "  --pinentry PROG   ask with this pinentry program\n"},
    {"import", cli_cmd_import,
     "[--token TOKEN] [--label LABEL] [--pass-fd N | --pinentry PROGRAM] FILE",
     "put a .p12's key, certificate and chain onto a token, or attach a "
     "certificate to its token key",
     "  --token TOKEN     token label or pkcs11: URI (default: the only "
     "one)\n"
     "  --label LABEL     object label (default: the certificate's "
     "e-mail)\n"
     "  --pass-fd N       read the .p12 password from descriptor N\n"
     "  --pinentry PROG   ask with this pinentry program\n"},
    {"keygen", cli_cmd_keygen,
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
    {"verify", cli_cmd_verify,
     "[--ca-file F] [--allow-sha1] [--json] [-o CONTENT] [IN]",
     "check the signature of a mail message; exit 0 only when valid",
     "  --ca-file F       trust the certificates (and CRLs) in F too\n"
     "  --allow-sha1      accept SHA-1 signatures\n"
     "  --json            print one JSON object with the verdict\n"
     "  -o, --output F    write the signed content (MIME entity) to F\n"},
    {"encrypt", cli_cmd_encrypt,
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
    {"decrypt", cli_cmd_decrypt,
     "[--verify [--ca-file F] [--allow-sha1]] [--json] [-o OUT] [IN]",
     "decrypt a mail message with an agent key; output only on success",
     "  --verify          also check the signatures inside\n"
     "  --ca-file F       trust the certificates in F too\n"
     "  --allow-sha1      accept SHA-1 signatures\n"
     "  --json            print one JSON object with the verdict\n"
     "  -o, --output OUT  write the decrypted MIME entity to OUT\n"},
    {"certs", cli_cmd_certs,
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

void
cli_command_usage(const struct cli *cli, FILE *f)
{
	const struct cli_command *c = cli->cmd;

	fprintf(f, "usage: p11 %s %s\n\n%s.\n", c->name, c->args, c->summary);
	if (c->help != NULL)
		fprintf(f, "\nOptions:\n%s", c->help);
	fprintf(f, "\nGlobal options: --socket PATH, --no-autostart, "
	           "--agent-program PATH (see p11 --help).\n");
}

static void vfail(const char *sentence, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vfail(const char *sentence, const char *fmt, va_list ap)
{
	/* One line: flush stdout first so that the order stays readable. */
	fflush(stdout);
	fputs("p11: ", stderr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", sentence);
}

int
cli_fail(int err, const char *sentence, const char *fmt, ...)
{
	va_list ap;

	if (sentence == NULL || sentence[0] == '\0')
		sentence = p11agent_strerror(err);
	va_start(ap, fmt);
	vfail(sentence, fmt, ap);
	va_end(ap);
	return cli_exit_code(err);
}

int
cli_fail_conn(struct p11agent_conn *conn, int err, const char *fmt, ...)
{
	const char *sentence = p11agent_conn_errmsg(conn);
	va_list ap;

	if (sentence[0] == '\0')
		sentence = p11agent_strerror(err);
	va_start(ap, fmt);
	vfail(sentence, fmt, ap);
	va_end(ap);
	return cli_exit_code(err);
}

int
cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fputs("p11: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cli != NULL && cli->cmd != NULL)
		fprintf(stderr, "\nTry 'p11 %s --help'.\n", cli->cmd->name);
	else
		fprintf(stderr, "\nTry 'p11 --help'.\n");
	return P11_EXIT_USAGE;
}

int
cli_parse_fd(const char *s, int *fd)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > INT32_MAX)
		return P11AGENT_E_ARGS;
	*fd = (int)v;
	return 0;
}

int
cli_option(struct cli *cli, int c, char **argv)
{
	switch (c) {
	case CLI_OPT_SOCKET:
		cli->socket = optarg;
		return -1;
	case CLI_OPT_NO_AUTOSTART:
		cli->autostart = false;
		return -1;
	case CLI_OPT_AGENT_PROGRAM:
		cli->agent_program = optarg;
		return -1;
	case CLI_OPT_HELP:
		if (cli->cmd != NULL)
			cli_command_usage(cli, stdout);
		else
			usage(stdout);
		return P11_EXIT_OK;
	case CLI_OPT_VERSION:
		printf("p11 (p11agent) %s\n", P11_VERSION);
		return P11_EXIT_OK;
	case ':':
		return cli_usage_error(cli, "option '%s' needs an argument",
		                       argv[optind - 1]);
	default:
		if (optopt != 0 && optopt < CLI_OPT_SOCKET)
			return cli_usage_error(cli, "unknown option '-%c'",
			                       optopt);
		return cli_usage_error(cli, "unknown option '%s'",
		                       argv[optind - 1]);
	}
}

int
cli_parse_json_flag(struct cli *cli, int argc, char **argv, bool *json)
{
	enum { OPT_JSON = CLI_OPT_FIRST_LOCAL };
	static const struct option longs[] = {
	    CLI_GLOBAL_LONGOPTS,
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	*json = false;
	while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
		if (c == OPT_JSON)
			*json = true;
		else if ((r = cli_option(cli, c, argv)) >= 0)
			return r;
	}
	return -1;
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
	r = cli.cmd->run(&cli, argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "p11: cannot write the output: %s\n",
			        strerror(errno));
		if (r == 0)
			r = P11_EXIT_ERROR;
	}
	return r;
}
