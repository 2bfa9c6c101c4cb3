#!/usr/bin/env bash
# Benchmark (not a test): S/MIME through p11 + p11agent against the usual
# ways to use a PKCS#11 token for mail, all in this run on one SoftHSM token:
#   - openssl cms -engine pkcs11 (libengine-pkcs11-openssl)
#   - gpgsm with gnupg-pkcs11-scd as its scdaemon (n/a when not installed)
# A 4 KiB mail, a new process per message, median wall time of N runs for
# RSA-2048, RSA-4096 and P-256 sign and decrypt.  Then a 100 MiB mail:
# p11 sign, p11 verify and openssl cms -verify, time and peak RSS, next to
# sha256sum of the same file.
#   smime_bench.sh BUILD_DIR [RUNS]
# Debian packages: libengine-pkcs11-openssl, gnupg-pkcs11-scd (optional),
# time (for /usr/bin/time).
set -euo pipefail
build=${1:?usage: smime_bench.sh BUILD_DIR [RUNS]}
runs=${2:-15}
here=$(cd "$(dirname "$0")" && pwd)
agent=$build/agent/p11agent
p11bin=$build/client/cli/p11
[ -x "$agent" ] && [ -x "$p11bin" ] || { echo "no p11agent/p11 in $build" >&2; exit 1; }
"$p11bin" sign --help 2>&1 | grep -qi "unknown command" && { echo "p11 sign is not implemented in $build" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/p11a-smime-bench.XXXXXX")
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -d "$work/gnupg" ] && GNUPGHOME=$work/gnupg gpgconf --kill all 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

"$here/../softhsm/make-token.sh" "$work/fx" 2>/dev/null
. "$work/fx/env.sh"
K=$work/fx/keys
CA=$work/fx/ca/chain.pem
printf '%s\n' "$P11A_TEST_PIN" >"$work/pin"
export XDG_DATA_HOME=$work/xdg XDG_RUNTIME_DIR=$work/run
mkdir -p "$XDG_DATA_HOME" "$work/run"
chmod 700 "$work/run"
SOCK=$work/run/agent.sock
"$agent" -D -a "$SOCK" --module "$P11A_TEST_MODULE" >"$work/agent.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
p11() { "$p11bin" --socket "$SOCK" --no-autostart "$@"; }
p11 unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$work/pin" >/dev/null

# --- 4 KiB mails ------------------------------------------------------------
mail4k() { # NAME OUT
	{
		printf 'From: %s@p11agent.test\nTo: bob@p11agent.test\nSubject: bench\n' "$1"
		printf 'Date: %s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n' "$(date -R)"
		head -c 3000 /dev/urandom | base64 -w 76
	} >"$2"
}

# medians K FN...: runs every FN K once as a warm-up, then RUNS rounds of
# each FN in turn (interleaved, so load changes hit all alike; each round
# starts with the next FN, so none always runs right after the same
# other one); prints the median wall time in ms of each, or n/a for a FN
# that failed.
medians() {
	local k=$1 t0 t1 n i round=0
	shift
	local -a fns=("$@") ok=() all=()
	for n in "${!fns[@]}"; do
		if "${fns[$n]}" "$k" >/dev/null 2>&1; then ok[$n]=1; else ok[$n]=0; fi
		all[$n]=
	done
	for _ in $(seq "$runs"); do
		for i in "${!fns[@]}"; do
			n=$(((i + round) % ${#fns[@]}))
			[ "${ok[$n]}" = 1 ] || continue
			# EPOCHREALTIME: no clock process inside the window
			t0=${EPOCHREALTIME/[.,]/}
			"${fns[$n]}" "$k" >/dev/null 2>&1 || ok[$n]=0
			t1=${EPOCHREALTIME/[.,]/}
			all[$n]="${all[$n]} $((t1 - t0))"
		done
		round=$((round + 1))
	done
	for n in "${!fns[@]}"; do
		if [ "${ok[$n]}" != 1 ]; then echo n/a; continue; fi
		printf '%s\n' ${all[$n]} | sort -n | awk '{a[NR] = $1} END {
			m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f\n", m / 1000 }'
	done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || a == 0) print "n/a"; else printf "%.2fx", b / a }'; }

# openssl + libengine-pkcs11 (the PIN in the URI is fine for a benchmark).
engine=
for e in /usr/lib/*/engines-3/pkcs11.so /usr/lib/engines-3/pkcs11.so; do [ -r "$e" ] && engine=$e && break; done
cat >"$work/openssl-engine.cnf" <<EOF
openssl_conf = conf
[conf]
engines = engines
[engines]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $engine
MODULE_PATH = $P11A_TEST_MODULE
init = 0
EOF
ekey() { echo "pkcs11:token=$P11A_TEST_TOKEN;object=$1;type=private;pin-value=$P11A_TEST_PIN"; }
ossl_sign() { # NAME IN OUT
	[ -n "$engine" ] || return 1
	OPENSSL_CONF=$work/openssl-engine.cnf openssl cms -sign -engine pkcs11 -keyform engine \
		-inkey "$(ekey "$1")" -signer "$K/$1.cert.pem" -in "$2" -out "$3"
}
ossl_decrypt() { # NAME IN OUT
	[ -n "$engine" ] || return 1
	OPENSSL_CONF=$work/openssl-engine.cnf openssl cms -decrypt -engine pkcs11 -keyform engine \
		-inkey "$(ekey "$1")" -recip "$K/$1.cert.pem" -in "$2" -out "$3"
}

# gpgsm + gnupg-pkcs11-scd, the PIN from a pinentry script.
have_gpgsm=0
G=$work/gnupg
if command -v gnupg-pkcs11-scd >/dev/null && command -v gpgsm >/dev/null; then
	mkdir -p "$G" && chmod 700 "$G"
	printf 'providers p1\nprovider-p1-library %s\n' "$P11A_TEST_MODULE" >"$G/gnupg-pkcs11-scd.conf"
	printf '#!/bin/sh\necho "OK ready"\nwhile read -r c r; do case $c in GETPIN) echo "D %s"; echo OK ;; BYE) echo OK; exit 0 ;; *) echo OK ;; esac; done\n' \
		"$P11A_TEST_PIN" >"$G/pinentry.sh"
	chmod 700 "$G/pinentry.sh"
	printf 'scdaemon-program %s\npinentry-program %s\n' "$(command -v gnupg-pkcs11-scd)" "$G/pinentry.sh" >"$G/gpg-agent.conf"
	printf 'disable-crl-checks\ndisable-dirmngr\n' >"$G/gpgsm.conf"
	printf '%s S\n' "$(openssl x509 -in "$work/fx/ca/root.pem" -noout -fingerprint -sha1 | cut -d= -f2)" >"$G/trustlist.txt"
	if GNUPGHOME=$G gpgsm --batch --import "$work/fx/ca/root.pem" "$work/fx/ca/intermediate.pem" \
		"$K"/rsa2048.cert.pem "$K"/rsa4096.cert.pem "$K"/p256.cert.pem >/dev/null 2>&1 &&
		GNUPGHOME=$G timeout 60 gpgsm --learn-card >/dev/null 2>&1; then
		have_gpgsm=1
	fi
fi
gpgsm_sign() { # NAME IN OUT
	[ $have_gpgsm = 1 ] || return 1
	rm -f "$3"
	GNUPGHOME=$G gpgsm --batch -u "$1@p11agent.test" -o "$3" --sign "$2"
}
gpgsm_decrypt() { # NAME IN OUT
	[ $have_gpgsm = 1 ] || return 1
	rm -f "$3"
	GNUPGHOME=$G gpgsm --batch --status-fd 3 -o "$3" --decrypt "$2" 3>&1 | grep -q DECRYPTION_OKAY
}

sign_p11() { p11 sign -o "$work/o.eml" "$work/$1.mail"; }
sign_ossl() { ossl_sign "$1" "$work/$1.mail" "$work/o2.eml"; }
sign_gpgsm() { gpgsm_sign "$1" "$work/$1.mail" "$work/o3.der"; }
dec_p11() { p11 decrypt -o "$work/o.txt" "$work/$1.env.eml"; }
dec_ossl() { ossl_decrypt "$1" "$work/$1.env.eml" "$work/o2.txt"; }
dec_gpgsm() { gpgsm_decrypt "$1" "$work/$1.env.der" "$work/o3.txt"; }

printf '\n4 KiB mail, one process per message, median of %s interleaved runs (ms); load average %s\n' \
	"$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-8s %9s %15s %9s %15s %9s\n' key op p11 "openssl+engine" "p11 gain" "gpgsm+pkcs11-scd" "p11 gain"
declare -A sign_p11_ms sign_ossl_ms
for k in rsa2048 rsa4096 p256; do
	mail4k "$k" "$work/$k.mail"
	# Sanity: every side's output is checked once before timing.
	p11 sign -o "$work/$k.p11.eml" "$work/$k.mail" &&
		openssl cms -verify -CAfile "$CA" -in "$work/$k.p11.eml" -out /dev/null 2>/dev/null || echo "p11 sign $k: output does not verify" >&2
	openssl cms -encrypt -binary -aes-256-cbc -recip "$K/$k.cert.pem" -in "$work/$k.mail" -out "$work/$k.env.eml"
	openssl cms -encrypt -binary -outform DER -aes-256-cbc -recip "$K/$k.cert.pem" -in "$work/$k.mail" -out "$work/$k.env.der"
	p11 decrypt -o "$work/$k.p11.txt" "$work/$k.env.eml" 2>/dev/null && cmp -s "$work/$k.p11.txt" "$work/$k.mail" ||
		echo "p11 decrypt $k: wrong plaintext" >&2
	{ read -r s_p11; read -r s_ossl; read -r s_gpg; } < <(medians "$k" sign_p11 sign_ossl sign_gpgsm)
	{ read -r d_p11; read -r d_ossl; read -r d_gpg; } < <(medians "$k" dec_p11 dec_ossl dec_gpgsm)
	sign_p11_ms[$k]=$s_p11 sign_ossl_ms[$k]=$s_ossl
	printf '%-9s %-8s %9s %15s %9s %15s %9s\n' "$k" sign "$s_p11" "$s_ossl" "$(ratio "$s_p11" "$s_ossl")" \
		"$s_gpg" "$(ratio "$s_p11" "$s_gpg")"
	printf '%-9s %-8s %9s %15s %9s %15s %9s\n' "$k" decrypt "$d_p11" "$d_ossl" "$(ratio "$d_p11" "$d_ossl")" \
		"$d_gpg" "$(ratio "$d_p11" "$d_gpg")"
done
echo "(gain = other / p11; the target is >= 3.50x over openssl+engine)"
# The floor under every column: starting a process from this shell.
bare() { /bin/true; }
bare_ms=$(medians x bare)
printf 'a bare process start (/bin/true), same timing: %s ms\n' "$bare_ms"

# The floor under any process-per-message signer: a process start plus
# the token's own signature (through tokens/ straight to the module, one
# thread, warm).  Next to it, what 3.5x openssl+engine allows.
tok=$build/tests/softhsm/tok-tool
if [ -x "$tok" ]; then
	printf '\nfloor per signature = process start + the token signing alone (tokens/, no agent, no p11)\n'
	printf '%-9s %12s %10s %16s %9s %14s\n' key "token sig" floor "3.50x allows" p11 "p11 - floor"
	for k in rsa2048 rsa4096 p256; do
		rate=$("$tok" -m "$P11A_TEST_MODULE" -P "$work/pin" rate \
			"pkcs11:token=$P11A_TEST_TOKEN;object=$k" 1 2 2>/dev/null || echo 0)
		awk -v k=$k -v r="$rate" -v bare="$bare_ms" -v p="${sign_p11_ms[$k]}" -v o="${sign_ossl_ms[$k]}" 'BEGIN {
			if (r <= 0 || p == "n/a" || o == "n/a") { printf "%-9s %12s\n", k, "n/a"; exit }
			t = 1000 / r; f = bare + t
			printf "%-9s %12.2f %10.1f %16.1f %9.1f %14.1f\n", k, t, f, o / 3.5, p, p - f }'
	done
	echo "(when floor > what 3.50x allows, no process per message can meet the target on this token)"
fi

# --- 100 MiB ----------------------------------------------------------------
big=$work/big.mail
{
	printf 'From: rsa2048@p11agent.test\nTo: bob@p11agent.test\nSubject: big\nMIME-Version: 1.0\n'
	printf 'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n'
	head -c $((75 * 1024 * 1024)) /dev/urandom | base64 -w 76
} >"$big"
size=$(($(stat -c %s "$big") / 1024 / 1024))
# measure NAME CMD...: wall seconds and peak RSS (MiB) via /usr/bin/time.
measure() {
	local name=$1 rc
	shift
	/usr/bin/time -f '%e %M' -o "$work/time.out" "$@" >/dev/null 2>"$work/err.out"
	rc=$?
	if [ $rc -ne 0 ]; then
		printf '%-34s %9s %12s   (exit %s: %s)\n' "$name" failed - $rc "$(tail -n 1 "$work/err.out")"
		return
	fi
	read -r secs kib <"$work/time.out"
	printf '%-34s %9.2f %12.1f\n' "$name" "$secs" "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')"
}
cat "$big" >/dev/null # page cache
printf '\n%s MiB mail (file in the page cache)\n' "$size"
printf '%-34s %9s %12s\n' "" "seconds" "peak RSS MiB"
measure "sha256sum" sha256sum "$big"
measure "p11 sign (multipart/signed)" "$p11bin" --socket "$SOCK" --no-autostart sign -o "$work/big.eml" "$big"
measure "p11 sign --opaque" "$p11bin" --socket "$SOCK" --no-autostart sign --opaque -o "$work/big.p7m.eml" "$big"
measure "p11 verify (multipart/signed)" "$p11bin" --socket "$SOCK" --no-autostart verify --ca-file "$CA" -o /dev/null "$work/big.eml"
measure "p11 verify --opaque message" "$p11bin" --socket "$SOCK" --no-autostart verify --ca-file "$CA" -o /dev/null "$work/big.p7m.eml"
measure "openssl cms -verify (same message)" openssl cms -verify -CAfile "$CA" -in "$work/big.eml" -out /dev/null
measure "openssl cms -verify (opaque)" openssl cms -verify -CAfile "$CA" -in "$work/big.p7m.eml" -out /dev/null
# The fast path must still read every byte: one changed byte in the middle.
perl -e 'open my $f, "+<:raw", $ARGV[0] or die; my $n = -s $f; seek $f, int($n / 2), 0;
	read $f, my $c, 1; seek $f, int($n / 2), 0; print $f ($c eq "A" ? "B" : "A"); close $f' "$work/big.eml"
st=$("$p11bin" --socket "$SOCK" --no-autostart verify --json --ca-file "$CA" -o /dev/null "$work/big.eml" 2>/dev/null |
	sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p' || true)
printf '%-34s %s\n' "sanity: 1 byte changed mid-message" "p11 verify says ${st:-nothing} (must be bad-signature)"
