# Shared helpers for the tests/softhsm shell tests.  Source it; then call
# t_setup_token to get a fresh fixture token in a private temp folder.
# Every check goes through t_ok / t_fail so the run ends with one
# "N passed, N failed" line.

T_PASS=0
T_FAIL=0
T_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

t_ok() { T_PASS=$((T_PASS + 1)); echo "ok   - $*"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL - $*"; }

# t_check DESCRIPTION COMMAND...: passes when the command exits 0.
t_check() {
	local what=$1
	shift
	if "$@" >"$T_DIR/last.out" 2>&1; then
		t_ok "$what"
	else
		t_fail "$what"
		sed 's/^/       | /' "$T_DIR/last.out" | head -n 20
	fi
}

# t_skip REASON: the whole test is skipped (CTest SKIP_RETURN_CODE 77).
t_skip() {
	echo "SKIP: $*"
	exit 77
}

t_need() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || t_skip "$tool is not installed"
	done
}

t_cleanup() {
	local pid
	for pid in ${T_PIDS:-}; do
		kill "$pid" 2>/dev/null || true
	done
	[ -n "${T_DIR:-}" ] && [ -z "${T_KEEP:-}" ] && rm -rf "$T_DIR"
	return 0
}

# Creates T_DIR with the fixture token in T_DIR/fx and sources its env.sh.
t_setup_token() {
	T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/p11a-test.XXXXXX")
	trap t_cleanup EXIT
	"$T_SRC/make-token.sh" "$T_DIR/fx" >/dev/null 2>"$T_DIR/fixture.log" ||
		{ cat "$T_DIR/fixture.log"; t_skip "fixture token could not be made"; }
	# shellcheck disable=SC1091
	. "$T_DIR/fx/env.sh"
	T_KEYS=$T_DIR/fx/keys
	printf '%s\n' "$P11A_TEST_PIN" >"$T_DIR/pin"
	chmod 600 "$T_DIR/pin"
}

# Prints the summary line and exits non-zero on any failure.
t_done() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

# Converts a raw r||s ECDSA signature to DER for openssl.
t_ecdsa_raw_to_der() {
	local raw=$1 der=$2 hex half
	hex=$(od -An -v -tx1 "$raw" | tr -d ' \n')
	half=$((${#hex} / 2))
	printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' \
		"${hex:0:$half}" "${hex:$half}" >"$der.cnf"
	openssl asn1parse -genconf "$der.cnf" -out "$der" >/dev/null
}

# Writes the raw uncompressed EC point of a public key PEM.
t_ec_point() {
	local pub=$1 out=$2 len
	# The point is the tail of the SubjectPublicKeyInfo BIT STRING.
	len=$(openssl pkey -pubin -in "$pub" -noout -text |
		awk '/ASN1 OID/ {print ($3 == "secp384r1") ? 97 : ($3 == "secp521r1") ? 133 : 65}')
	openssl pkey -pubin -in "$pub" -outform DER | tail -c "$len" >"$out"
}
