#!/usr/bin/env bash
# The main job on an embedded default: a throwaway SoftHSM token with test
# keys, the agent started on it, the token unlocked, its keys listed, and
# a file signed through the agent with ssh-keygen and verified.
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
