#!/usr/bin/env bash
# Benchmark (not a test): signatures per second on one SoftHSM token,
# direct through tokens/ vs through p11agent vs OpenSSH's ssh-agent with
# its PKCS#11 helper, all measured in this run; and status latency while
# 64 clients sign.   agent_throughput.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=${1:?build dir}
secs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
tok=$build/tests/softhsm/tok-tool
probe=$build/tests/softhsm/agent-probe
agent=$build/agent/p11agent
work=$(mktemp -d "${TMPDIR:-/tmp}/p11a-bench.XXXXXX")
pids=
trap 'for p in $pids; do kill $p 2>/dev/null || true; done; rm -rf "$work"' EXIT

"$here/../softhsm/make-token.sh" "$work/fx" 2>/dev/null
. "$work/fx/env.sh"
printf '%s\n' "$P11A_TEST_PIN" >"$work/pin"
M=$P11A_TEST_MODULE
uri() { echo "pkcs11:token=$P11A_TEST_TOKEN;object=$1"; }

"$agent" -D -a "$work/p11a.sock" --module "$M" 2>/dev/null &
pids="$pids $!"
for _ in $(seq 100); do [ -S "$work/p11a.sock" ] && break; sleep 0.05; done
"$probe" login "$work/p11a.sock" "$P11A_TEST_TOKEN" "$work/pin"

# OpenSSH ssh-agent + ssh-pkcs11-helper on the same token, PIN by askpass.
have_ssh=0
if command -v ssh-agent >/dev/null; then
	printf '#!/bin/sh\ncat %s\n' "$work/pin" >"$work/askpass"
	chmod 700 "$work/askpass"
	ssh-agent -a "$work/ssh.sock" -P "/usr/lib*/*" >/dev/null
	pids="$pids $(pgrep -n -f "ssh-agent -a $work/ssh.sock")"
	if SSH_AUTH_SOCK=$work/ssh.sock SSH_ASKPASS=$work/askpass SSH_ASKPASS_REQUIRE=force \
		DISPLAY=:0 ssh-add -s "$M" </dev/null >/dev/null 2>&1; then
		have_ssh=1
	fi
fi

direct() { "$tok" -m "$M" -P "$work/pin" rate "$(uri "$1")" "$2" "$secs"; }
via_agent() { "$probe" rate "$work/p11a.sock" "$(uri "$1")" "$2" "$secs"; }
via_ssh_p11a() { "$probe" ssh-rate "$work/p11a.sock" "$1" "$2" "$secs"; }
via_ssh_agent() { [ $have_ssh = 1 ] && "$probe" ssh-rate "$work/ssh.sock" "$1" "$2" "$secs" || echo n/a; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "n/a" || a == "n/a" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }

printf '\n%-9s %-8s %12s %14s %10s %14s %10s %16s %10s\n' key clients "direct/s" "p11agent/s" "vs direct" \
	"p11a ssh/s" "vs direct" "ssh-agent/s" "vs direct"
for key in rsa2048 p256; do
	d1=
	for n in 1 2; do
		d=$(direct $key $n)
		[ -z "$d1" ] && d1=$d
		a=$(via_agent $key $n)
		s=$(via_ssh_p11a $key $n)
		o=$(via_ssh_agent $key $n)
		printf '%-9s %-8s %12.0f %14.0f %10s %14.0f %10s %16s %10s\n' $key $n "$d" "$a" "$(ratio "$a" "$d")" \
			"$s" "$(ratio "$s" "$d")" "$o" "$(ratio "$o" "$d")"
	done
	a2=$(via_agent $key 2)
	a1=$(via_agent $key 1)
	echo "$key: p11agent 2 clients / 1 client = $(ratio "$a2" "$a1")x; 1 client vs direct 1 thread = $(ratio "$a1" "$d1")"
done

read -r p50 p99 n signed < <("$probe" status "$work/p11a.sock" "$(uri rsa2048)" 64 "$secs")
printf '\nstatus latency with 64 clients signing RSA-2048: p50 %s ms, p99 %s ms (%s samples, %s signatures)\n' \
	"$p50" "$p99" "$n" "$signed"
