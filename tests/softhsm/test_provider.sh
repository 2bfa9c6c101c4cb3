#!/usr/bin/env bash
# The OpenSSL provider (client/provider) against a real agent and SoftHSM
# token: openssl(1) uses token keys through the module p11agent.so and
# checks the results with OpenSSL's own software keys; p11a-provider-check
# drives the built-in (static) provider.
#
#   test_provider.sh BUILD_DIR
#
# Under P11A_SANITIZE the module needs the sanitizer runtimes first in the
# process, which openssl(1) is not built with: openssl(1) then runs with
# them in LD_PRELOAD (P11A_NO_PRELOAD=1 skips those checks instead).
set -u
. "$(dirname "$0")/lib/common.sh"
B=${1:-${P11A_BUILD_DIR:-}}
[ -n "$B" ] && [ -d "$B" ] || { echo "usage: test_provider.sh BUILD_DIR"; exit 2; }
B=$(cd "$B" && pwd)
AGENT=$B/agent/p11agent
P11=$B/client/cli/p11
PROBE=$B/tests/softhsm/agent-probe
PROVDIR=$B/client/provider
CHECK=$PROVDIR/p11a-provider-check
t_need softhsm2-util openssl
[ -x "$AGENT" ] || t_skip "no p11agent in $B"
[ -x "$CHECK" ] || t_skip "no p11a-provider-check in $PROVDIR"
[ -r "$PROVDIR/p11agent.so" ] || t_skip "no p11agent.so in $PROVDIR"

MODULE_OK=1
RUN=()
SAN_LIBS=$(ldd "$PROVDIR/p11agent.so" 2>/dev/null | awk '/libasan|libubsan/ {printf "%s ", $3}')
if [ -n "$SAN_LIBS" ]; then
	if [ -n "${P11A_NO_PRELOAD:-}" ]; then
		MODULE_OK=0
		echo "note: the module is built with sanitizers and P11A_NO_PRELOAD" \
			"is set: only the built-in provider is tested."
	else
		RUN=(env "LD_PRELOAD=$SAN_LIBS")
		echo "note: sanitized module: openssl(1) runs with LD_PRELOAD=$SAN_LIBS"
	fi
fi

t_setup_token
SOCK=$T_DIR/run/agent.sock
mkdir -p "$T_DIR/run"
chmod 700 "$T_DIR/run"
W=$T_DIR/w
mkdir -p "$W"
CA=$T_DIR/fx/ca/chain.pem
export P11AGENT_SOCK=$SOCK
uri() { echo "pkcs11:token=$P11A_TEST_TOKEN;object=$1"; }
PROV=(-provider-path "$PROVDIR" -provider p11agent -provider default)
ossl() { # openssl SUBCOMMAND with the provider loaded
	local sub=$1
	shift
	"${RUN[@]}" openssl "$sub" "${PROV[@]}" "$@"
}

"$AGENT" -D -a "$SOCK" --module "$P11A_TEST_MODULE" >/dev/null 2>"$T_DIR/agent.log" &
T_PIDS=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$T_DIR/agent.log"; t_fail "agent did not start"; t_done; exit 1; }

head -c 2000 /dev/urandom >"$W/data"
for h in sha256 sha384 sha512; do openssl dgst "-$h" -binary "$W/data" >"$W/$h.dgst"; done

# --- before login ------------------------------------------------------
logged_out_module() {
	! ossl pkeyutl -sign -inkey "$(uri rsa2048)" -pkeyopt digest:sha256 \
		-in "$W/sha256.dgst" -out "$W/sig" 2>"$W/err" || return 1
	cat "$W/err"
	grep -q "login required" "$W/err" && grep -q "$P11A_TEST_TOKEN" "$W/err"
}
logged_out_builtin() {
	! "$CHECK" sign "$(uri p256)" SHA256 "$W/data" "$W/sig" 2>"$W/err" || return 1
	cat "$W/err"
	grep -q "login required" "$W/err"
}
if [ $MODULE_OK = 1 ]; then
	t_check "logged out: openssl pkeyutl -sign shows the agent's 'login required' in the error queue" logged_out_module
fi
t_check "logged out: built-in provider sign fails with 'login required'" logged_out_builtin

unlock() {
	if [ -x "$P11" ]; then
		"$P11" --socket "$SOCK" --no-autostart unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$T_DIR/pin"
	else
		"$PROBE" login "$SOCK" "$P11A_TEST_TOKEN" "$T_DIR/pin"
	fi
}
t_check "log the token in" unlock

# --- built-in provider (p11a_provider, provider.h) ---------------------
builtin_sign() { # NAME DIGEST [pss]
	local name=$1 md=$2 opts=()
	[ "${3:-}" = pss ] && opts=(-sigopt rsa_padding_mode:pss)
	"$CHECK" sign "$(uri "$name")" "$md" ${3:+"$3"} "$W/data" "$W/sig" || return 1
	openssl dgst "-$md" -verify "$T_KEYS/$name.pub.pem" "${opts[@]}" \
		-signature "$W/sig" "$W/data"
}
t_check "built-in: rsa2048 PKCS#1 SHA256 DigestSign verifies" builtin_sign rsa2048 SHA256
t_check "built-in: rsa4096 PSS SHA384 DigestSign verifies" builtin_sign rsa4096 SHA384 pss
t_check "built-in: p256 ECDSA SHA256 DigestSign verifies" builtin_sign p256 SHA256
t_check "built-in: p384 ECDSA SHA512 DigestSign verifies" builtin_sign p384 SHA512

builtin_decrypt() { # NAME PAD
	local opts=(-pkeyopt rsa_padding_mode:pkcs1)
	case $2 in
	oaep) opts=(-pkeyopt rsa_padding_mode:oaep) ;;
	oaep-*) opts=(-pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:${2#oaep-}" -pkeyopt "rsa_mgf1_md:${2#oaep-}") ;;
	esac
	head -c 32 /dev/urandom >"$W/secret"
	openssl pkeyutl -encrypt -pubin -inkey "$T_KEYS/$1.pub.pem" "${opts[@]}" \
		-in "$W/secret" -out "$W/ct" || return 1
	"$CHECK" decrypt "$(uri "$1")" "$2" "$W/ct" "$W/pt" && cmp "$W/secret" "$W/pt"
}
t_check "built-in: rsa2048 PKCS#1 v1.5 decrypt" builtin_decrypt rsa2048 pkcs1
t_check "built-in: rsa4096 OAEP-SHA256 decrypt" builtin_decrypt rsa4096 oaep-SHA256

peer_for() { # CURVE: a software peer key in W/peer.{key,pub}
	openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$1" -out "$W/peer.key" 2>/dev/null &&
		openssl pkey -in "$W/peer.key" -pubout -out "$W/peer.pub"
}
builtin_derive() { # NAME CURVE
	peer_for "$2" || return 1
	"$CHECK" derive "$(uri "$1")" "$W/peer.pub" "$W/ours" || return 1
	openssl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$T_KEYS/$1.pub.pem" -out "$W/theirs"
	cmp "$W/ours" "$W/theirs"
}
t_check "built-in: p256 ECDH equals the software derive" builtin_derive p256 P-256

builtin_cert() {
	"$CHECK" cert "$(uri "$1")" "$W/cert.pem" || return 1
	cmp <(openssl x509 -in "$W/cert.pem") <(openssl x509 -in "$T_KEYS/$1.cert.pem")
}
t_check "built-in: load_key returns the certificate, X509_check_private_key agrees" builtin_cert rsa4096
builtin_ambiguous() {
	! "$CHECK" cert "pkcs11:token=$P11A_TEST_TOKEN" "$W/cert.pem" 2>"$W/err" &&
		grep -q "more than one key" "$W/err"
}
t_check "built-in: a URI naming several keys is refused by p11a_provider_load_key" builtin_ambiguous
t_check "built-in: 16 threads share one RSA key, 10 signatures each, all verify" \
	"$CHECK" threads "$(uri rsa2048)" 16 10
t_check "built-in: 16 threads share one EC key, 10 signatures each, all verify" \
	"$CHECK" threads "$(uri p384)" 16 10

if [ $MODULE_OK = 0 ]; then
	t_done
	exit
fi

# --- openssl storeutl ------------------------------------------------------
storeutl_lists() {
	ossl storeutl "$(uri rsa2048)" >"$W/store" || return 1
	cat "$W/store"
	grep -q "^0: Pkey" "$W/store" && grep -q "^1: Certificate" "$W/store" &&
		grep -q "Total found: 2" "$W/store" || return 1
	# The certificate is the token's.
	openssl x509 -in "$W/store" -noout -fingerprint >"$W/fp1" &&
		openssl x509 -in "$T_KEYS/rsa2048.cert.pem" -noout -fingerprint >"$W/fp2" &&
		cmp "$W/fp1" "$W/fp2"
}
t_check "openssl storeutl pkcs11:token=...;object=rsa2048 lists a key and its certificate" storeutl_lists
storeutl_types() {
	ossl storeutl "pkcs11:token=$P11A_TEST_TOKEN;type=cert" >"$W/store" || return 1
	grep -q "Total found: 4" "$W/store" && ! grep -q Pkey "$W/store" || return 1
	ossl storeutl "pkcs11:id=%03;type=private" >"$W/store" || return 1
	grep -q "Total found: 1" "$W/store" && grep -q "0: Pkey" "$W/store" || return 1
	ossl storeutl "pkcs11:object=p384;type=public" >"$W/store" || return 1
	grep -q "Total found: 1" "$W/store" && grep -q "Public key" "$W/store"
}
t_check "openssl storeutl: type=cert, type=private with id=, type=public select what is listed" storeutl_types

# --- openssl pkeyutl: sign ---------------------------------------------------
pkeyutl_sign() { # NAME HASH [pss [SALTLEN]]
	local name=$1 h=$2 opts
	opts=(-pkeyopt "digest:$h")
	if [ "${3:-}" = pss ]; then
		opts+=(-pkeyopt rsa_padding_mode:pss)
		[ -n "${4:-}" ] && opts+=(-pkeyopt "rsa_pss_saltlen:$4")
	fi
	rm -f "$W/sig"
	ossl pkeyutl -sign -inkey "$(uri "$name")" "${opts[@]}" -in "$W/$h.dgst" -out "$W/sig" || return 1
	openssl pkeyutl -verify -pubin -inkey "$T_KEYS/$name.pub.pem" "${opts[@]}" \
		-in "$W/$h.dgst" -sigfile "$W/sig" || return 1
	# A signature over another digest must not verify.
	! openssl pkeyutl -verify -pubin -inkey "$T_KEYS/$name.pub.pem" "${opts[@]}" \
		-in <(openssl dgst "-$h" -binary /dev/null) -sigfile "$W/sig" 2>/dev/null
}
t_check "pkeyutl -sign rsa2048 PKCS#1 sha256 verifies" pkeyutl_sign rsa2048 sha256
t_check "pkeyutl -sign rsa4096 PKCS#1 sha512 verifies" pkeyutl_sign rsa4096 sha512
t_check "pkeyutl -sign rsa2048 PSS sha256 verifies" pkeyutl_sign rsa2048 sha256 pss
t_check "pkeyutl -sign rsa4096 PSS sha384 saltlen:max verifies" pkeyutl_sign rsa4096 sha384 pss max
t_check "pkeyutl -sign rsa2048 PSS sha512 saltlen:digest verifies" pkeyutl_sign rsa2048 sha512 pss digest
t_check "pkeyutl -sign p256 ECDSA sha256 verifies" pkeyutl_sign p256 sha256
t_check "pkeyutl -sign p384 ECDSA sha384 verifies" pkeyutl_sign p384 sha384

order_reversed() {
	"${RUN[@]}" openssl pkeyutl -sign -provider-path "$PROVDIR" -provider default -provider p11agent \
		-inkey "$(uri p256)" -in "$W/sha256.dgst" -out "$W/sig" &&
		openssl pkeyutl -verify -pubin -inkey "$T_KEYS/p256.pub.pem" -in "$W/sha256.dgst" -sigfile "$W/sig"
}
t_check "pkeyutl -sign with -provider default before -provider p11agent" order_reversed

public_ops_here() {
	ossl pkeyutl -sign -inkey "$(uri rsa2048)" -pkeyopt digest:sha256 -in "$W/sha256.dgst" -out "$W/sig" &&
		ossl pkeyutl -verify -inkey "$(uri rsa2048)" -pkeyopt digest:sha256 -in "$W/sha256.dgst" -sigfile "$W/sig" || return 1
	! ossl pkeyutl -verify -inkey "$(uri rsa2048)" -pkeyopt digest:sha256 -in "$W/sha384.dgst" -sigfile "$W/sig" 2>/dev/null || return 1
	head -c 32 /dev/urandom >"$W/secret"
	ossl pkeyutl -encrypt -inkey "$(uri rsa2048)" -in "$W/secret" -out "$W/ct" &&
		ossl pkeyutl -decrypt -inkey "$(uri rsa2048)" -in "$W/ct" -out "$W/pt" && cmp "$W/secret" "$W/pt"
}
t_check "pkeyutl -verify and -encrypt with the token key (public side passed on) work" public_ops_here

pubout() { ossl pkey -in "$(uri "$1")" -pubout | cmp - "$T_KEYS/$1.pub.pem"; }
t_check "openssl pkey -pubout of rsa4096 equals the fixture's public key" pubout rsa4096
t_check "openssl pkey -pubout of p384 equals the fixture's public key" pubout p384

# --- openssl pkeyutl: decrypt and derive -----------------------------------
pkeyutl_decrypt() { # NAME PAD [HASH]
	local opts=(-pkeyopt "rsa_padding_mode:$2")
	[ -n "${3:-}" ] && opts+=(-pkeyopt "rsa_oaep_md:$3" -pkeyopt "rsa_mgf1_md:$3")
	head -c 32 /dev/urandom >"$W/secret"
	openssl pkeyutl -encrypt -pubin -inkey "$T_KEYS/$1.pub.pem" "${opts[@]}" \
		-in "$W/secret" -out "$W/ct" || return 1
	rm -f "$W/pt"
	ossl pkeyutl -decrypt -inkey "$(uri "$1")" "${opts[@]}" -in "$W/ct" -out "$W/pt" &&
		cmp "$W/secret" "$W/pt"
}
for n in rsa2048 rsa4096; do
	t_check "pkeyutl -decrypt $n PKCS#1 v1.5" pkeyutl_decrypt $n pkcs1
	t_check "pkeyutl -decrypt $n OAEP sha1" pkeyutl_decrypt $n oaep sha1
	t_check "pkeyutl -decrypt $n OAEP sha256" pkeyutl_decrypt $n oaep sha256
done
bad_ciphertext() {
	head -c 256 /dev/urandom >"$W/junk"
	! ossl pkeyutl -decrypt -inkey "$(uri rsa2048)" -pkeyopt rsa_padding_mode:oaep \
		-in "$W/junk" -out "$W/pt" 2>"$W/err" || return 1
	cat "$W/err"
	grep -q "decryption failed" "$W/err"
}
t_check "pkeyutl -decrypt of random bytes fails with a plain 'decryption failed'" bad_ciphertext

pkeyutl_derive() { # NAME CURVE
	peer_for "$2" || return 1
	rm -f "$W/ours"
	ossl pkeyutl -derive -inkey "$(uri "$1")" -peerkey "$W/peer.pub" -out "$W/ours" || return 1
	openssl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$T_KEYS/$1.pub.pem" -out "$W/theirs"
	cmp "$W/ours" "$W/theirs"
}
t_check "pkeyutl -derive p256 equals the software derive" pkeyutl_derive p256 P-256
t_check "pkeyutl -derive p384 equals the software derive" pkeyutl_derive p384 P-384

# --- openssl cms ---------------------------------------------------------
echo "p11agent provider test message $RANDOM" >"$W/msg"
cms_sign() { # NAME MD detached|opaque [pss]
	local name=$1 md=$2 mode=$3 opts=()
	[ "$mode" = opaque ] && opts+=(-nodetach)
	[ "${4:-}" = pss ] && opts+=(-keyopt rsa_padding_mode:pss)
	rm -f "$W/s.p7m"
	ossl cms -sign -binary -in "$W/msg" -signer "$T_KEYS/$name.cert.pem" \
		-inkey "$(uri "$name")" -md "$md" "${opts[@]}" -outform DER -out "$W/s.p7m" || return 1
	if [ "$mode" = opaque ]; then
		openssl cms -verify -binary -inform DER -in "$W/s.p7m" -CAfile "$CA" \
			-purpose any -out "$W/msg.out" || return 1
		cmp "$W/msg" "$W/msg.out" || return 1
	else
		openssl cms -verify -binary -inform DER -in "$W/s.p7m" -content "$W/msg" \
			-CAfile "$CA" -purpose any -out /dev/null || return 1
	fi
	openssl cms -cmsout -print -inform DER -in "$W/s.p7m" >"$W/s.txt" || return 1
	if [ "${4:-}" = pss ]; then
		grep -q "rsassaPss" "$W/s.txt" || return 1
	fi
	# A changed message must fail.
	[ "$mode" = detached ] || return 0
	{ cat "$W/msg"; echo x; } >"$W/msg.bad"
	! openssl cms -verify -binary -inform DER -in "$W/s.p7m" -content "$W/msg.bad" \
		-CAfile "$CA" -purpose any -out /dev/null 2>/dev/null
}
t_check "cms -sign rsa2048 sha256 detached verifies" cms_sign rsa2048 sha256 detached
t_check "cms -sign rsa4096 sha384 opaque verifies" cms_sign rsa4096 sha384 opaque
t_check "cms -sign rsa2048 RSA-PSS sha256 detached verifies (rsassaPss SignerInfo)" cms_sign rsa2048 sha256 detached pss
t_check "cms -sign rsa4096 RSA-PSS sha512 opaque verifies" cms_sign rsa4096 sha512 opaque pss
t_check "cms -sign p256 ECDSA sha256 detached verifies" cms_sign p256 sha256 detached
t_check "cms -sign p384 ECDSA sha384 opaque verifies" cms_sign p384 sha384 opaque
t_check "cms -sign p256 ECDSA sha512 opaque verifies" cms_sign p256 sha512 opaque

cms_decrypt() { # NAME [keyopt...]: encrypt to NAME's certificate, decrypt via the agent
	local name=$1
	shift
	rm -f "$W/e.p7m" "$W/d.out"
	openssl cms -encrypt -binary -aes256 -in "$W/msg" -out "$W/e.p7m" \
		-recip "$T_KEYS/$name.cert.pem" "$@" || return 1
	ossl cms -decrypt -binary -in "$W/e.p7m" -inkey "$(uri "$name")" \
		-recip "$T_KEYS/$name.cert.pem" -out "$W/d.out" || return 1
	cmp "$W/msg" "$W/d.out"
}
t_check "cms -encrypt to rsa2048 (PKCS#1 v1.5), cms -decrypt through the provider" cms_decrypt rsa2048
t_check "cms -encrypt to rsa4096 with OAEP, cms -decrypt through the provider" \
	cms_decrypt rsa4096 -keyopt rsa_padding_mode:oaep
t_check "cms -encrypt to rsa2048 with OAEP-SHA256, cms -decrypt through the provider" \
	cms_decrypt rsa2048 -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256
t_check "cms -encrypt to p256 (ECDH, X9.63 KDF), cms -decrypt through the provider" cms_decrypt p256
t_check "cms -encrypt to p384 (ECDH), cms -decrypt through the provider" cms_decrypt p384

# --- errors ----------------------------------------------------------------
unknown_uri() {
	! ossl pkeyutl -sign -inkey "pkcs11:token=$P11A_TEST_TOKEN;object=nosuch" \
		-in "$W/sha256.dgst" -out "$W/sig" 2>"$W/err" || return 1
	cat "$W/err"
	grep -q "no key of p11agent matches pkcs11:token=$P11A_TEST_TOKEN;object=nosuch" "$W/err"
}
t_check "an unknown object= fails with 'no key of p11agent matches <uri>'" unknown_uri
bad_uri() {
	! ossl storeutl "pkcs11:object=rsa2048;color=red" 2>"$W/err" || return 1
	grep -q "attribute p11agent does not know" "$W/err" || return 1
	! ossl storeutl "pkcs11:object=%zz" 2>"$W/err" || return 1
	grep -q "not a valid PKCS#11 URI" "$W/err"
}
t_check "a malformed URI or an unknown attribute fails with a clear error" bad_uri
no_agent() {
	! P11AGENT_SOCK=$T_DIR/none.sock ossl storeutl "$(uri p256)" 2>"$W/err" || return 1
	cat "$W/err"
	grep -q "cannot reach p11agent at $T_DIR/none.sock" "$W/err"
}
t_check "no agent at \$P11AGENT_SOCK: 'cannot reach p11agent at <path>'" no_agent

# --- openssl.cnf -----------------------------------------------------------
openssl_cnf() {
	cat >"$W/openssl.cnf" <<-CNF
		openssl_conf = openssl_init
		[openssl_init]
		providers = provider_sect
		[provider_sect]
		default = default_sect
		p11agent = p11agent_sect
		[default_sect]
		activate = 1
		[p11agent_sect]
		module = $PROVDIR/p11agent.so
		socket = $SOCK
		activate = 1
	CNF
	# The socket comes from the configuration, not the environment.
	OPENSSL_CONF=$W/openssl.cnf P11AGENT_SOCK=$T_DIR/none.sock \
		"${RUN[@]}" openssl pkeyutl -sign -inkey "$(uri p384)" -in "$W/sha384.dgst" -out "$W/sig" || return 1
	openssl pkeyutl -verify -pubin -inkey "$T_KEYS/p384.pub.pem" -in "$W/sha384.dgst" -sigfile "$W/sig"
}
t_check "openssl.cnf loads the module with 'socket = PATH'; no -provider flags needed" openssl_cnf

# --- logged out again --------------------------------------------------------
logout_surfaces() {
	[ -x "$P11" ] || { echo "no p11 to log out with"; return 0; }
	"$P11" --socket "$SOCK" --no-autostart logout "$P11A_TEST_TOKEN" || return 1
	! ossl cms -decrypt -binary -in "$W/e.p7m" -inkey "$(uri p384)" \
		-recip "$T_KEYS/p384.cert.pem" -out "$W/d.out" 2>"$W/err" || return 1
	grep -q "login required" "$W/err" || { cat "$W/err"; return 1; }
	unlock
}
t_check "after p11 logout, cms -decrypt reports 'login required'" logout_surfaces

t_done
