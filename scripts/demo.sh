#!/usr/bin/env bash
# The main job on an embedded default: a throwaway SoftHSM token with two
# identities (rsa2048@ and p256@p11agent.test), the agent started on it,
# the token unlocked, a mail signed, verified, encrypted to the second
# identity and decrypted again -- and the same keys used by OpenSSH.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh
bin=$(scripts/build.sh release)

work=$(mktemp -d "${TMPDIR:-/tmp}/p11agent-demo.XXXXXX")
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

echo "Making a throwaway SoftHSM token in $work ..."
tests/softhsm/make-token.sh "$work/token" 2>/dev/null
. "$work/token/env.sh"
export PATH=$bin/agent:$bin/client/cli:$PATH

say 'eval "$(p11agent --module softhsm2 -a $work/agent.sock)"'
eval "$(p11agent --module "$P11A_TEST_MODULE" -a "$work/agent.sock")" >/dev/null
agent_pid=$P11AGENT_PID
echo "agent pid $agent_pid on $P11AGENT_SOCK"

say "p11 unlock $P11A_TEST_TOKEN        # PIN from a file descriptor here; a terminal or pinentry normally"
printf '%s\n' "$P11A_TEST_PIN" >"$work/pin"
p11 unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$work/pin"
rm -f "$work/pin"

say "p11 keys"
p11 keys

say "p11 status"
p11 status

# The user's certificate store lives in the throwaway folder too.
export XDG_DATA_HOME=$work/data

cat >"$work/mail.eml" <<MAIL
From: RSA 2048 Test User <rsa2048@p11agent.test>
To: P-256 Test User <p256@p11agent.test>
Subject: Quarterly numbers
Date: $(date -R)

Hello,

the numbers are attached in spirit. This line travels signed and encrypted.
MAIL
say "cat mail.eml"
cat "$work/mail.eml"

say "p11 sign -o signed.eml mail.eml       # signer chosen from the From: line"
p11 sign -o "$work/signed.eml" "$work/mail.eml"
sed -n '1,12p' "$work/signed.eml"
echo "..."

say "p11 verify --ca-file ca/chain.pem signed.eml   # our test CA, as a company's private PKI"
p11 verify --ca-file "$work/token/ca/chain.pem" -o /dev/null "$work/signed.eml"
p11 verify --ca-file "$work/token/ca/chain.pem" --json "$work/signed.eml"; echo

say "p11 certs add p256.cert.pem           # normally kept from the other party's signed mail"
p11 certs add "$work/token/keys/p256.cert.pem"

say "p11 encrypt --sign -r p256@p11agent.test -o encrypted.eml mail.eml"
p11 encrypt --sign -r p256@p11agent.test -o "$work/encrypted.eml" "$work/mail.eml"
sed -n '1,10p' "$work/encrypted.eml"
echo "..."

say "p11 decrypt --verify --ca-file ca/chain.pem --json -o decrypted.eml encrypted.eml"
p11 decrypt --verify --ca-file "$work/token/ca/chain.pem" --json -o "$work/decrypted.eml" "$work/encrypted.eml"; echo
say "cat decrypted.eml"
cat "$work/decrypted.eml"

say "SSH_AUTH_SOCK=\$P11AGENT_SOCK ssh-add -L"
SSH_AUTH_SOCK=$P11AGENT_SOCK ssh-add -L | cut -c1-60 | sed 's/$/.../'

echo "A file to sign" >"$work/file.txt"
cut -d' ' -f1,2 "$work/token/keys/p256.ssh.pub" >"$work/p256.pub"
say "ssh-keygen -Y sign -f p256.pub -n file file.txt   (the key stays on the token)"
SSH_AUTH_SOCK=$P11AGENT_SOCK ssh-keygen -Y sign -f "$work/p256.pub" -n file "$work/file.txt" 2>&1
echo "p256@p11agent.test $(cat "$work/p256.pub")" >"$work/allowed"
say "ssh-keygen -Y verify -f allowed_signers -I p256@p11agent.test -n file -s file.txt.sig < file.txt"
ssh-keygen -Y verify -f "$work/allowed" -I p256@p11agent.test -n file \
	-s "$work/file.txt.sig" <"$work/file.txt"

say "p11agent -k"
p11agent -k >/dev/null && agent_pid=
echo "agent stopped"
