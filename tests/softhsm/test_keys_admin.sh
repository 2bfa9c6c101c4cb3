#!/usr/bin/env bash
# p11 import and p11 keygen through the agent onto a real SoftHSM token.
#   test_keys_admin.sh P11AGENT P11 LIB_TOOL
set -u
. "$(dirname "$0")/lib/common.sh"
AGENT=$1 P11=$2 LIBTOOL=$3
t_need softhsm2-util openssl
t_setup_token
W=$T_DIR/w
mkdir -p "$W" "$T_DIR/run"
chmod 700 "$T_DIR/run"
SOCK=$T_DIR/run/agent.sock
p11() { "$P11" --socket "$SOCK" --no-autostart "$@"; }

# A second, empty token next to the fixture's.
softhsm2-util --init-token --free --label empty --so-pin 12345678 --pin 123456 >/dev/null ||
	t_skip "cannot make an empty token"
"$AGENT" -D -a "$SOCK" --module "$P11A_TEST_MODULE" 2>"$W/agent.log" &
T_PIDS="${T_PIDS:-} $!"
AGENT_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
p11 unlock --pin-fd 3 empty 3<"$T_DIR/pin" || t_fail "unlock empty token"
p11 unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$T_DIR/pin" || t_fail "unlock fixture token"
printf 'test\n' >"$W/p12pass"

wrong_password() {
	printf 'wrong\n' >"$W/bad"
	! p11 import --token empty --pass-fd 3 "$T_KEYS/rsa2048.p12" 3<"$W/bad" 2>"$W/err" || return 1
	grep -q "wrong password" "$W/err" || return 1
	! p11 keys | grep -q "token=empty"
}
t_check "a wrong .p12 password fails clearly and imports nothing" wrong_password

import_p12() {
	sha256sum "$T_KEYS/rsa4096.p12" >"$W/before"
	p11 import --token empty --pass-fd 3 "$T_KEYS/rsa4096.p12" 3<"$W/p12pass" >"$W/out" 2>"$W/err" || return 1
	cat "$W/out" "$W/err"
	grep -q "^imported pkcs11:" "$W/out" && grep -q "shred" "$W/err" || return 1
	sha256sum -c --quiet "$W/before" || return 1 # the file is left untouched
	p11 keys >"$W/keys" && grep "token=empty" "$W/keys" | grep -q "rsa4096@p11agent.test"
}
t_check "p11 import of the RSA-4096 .p12 onto an empty token (file untouched, hint printed)" import_p12

import_without_chain() {
	# A .p12 with no CA certificates in it (some CA portals make these).
	openssl pkcs12 -export -inkey "$T_KEYS/p384.key.pem" -in "$T_KEYS/p384.cert.pem" \
		-passout pass:test -out "$W/nochain.p12" || return 1
	timeout 60 "$P11" --socket "$SOCK" --no-autostart import --token empty --pass-fd 3 \
		"$W/nochain.p12" 3<"$W/p12pass" >"$W/out" 2>/dev/null || return 1
	grep -q "^imported pkcs11:.*token=empty" "$W/out"
}
t_check "a .p12 without CA certificates imports (no hang)" import_without_chain

EMPTY_URI="pkcs11:token=empty;object=rsa4096%40p11agent.test"
sign_with_imported() {
	head -c 100 /dev/urandom | openssl dgst -sha256 -binary >"$W/digest"
	"$LIBTOOL" "$SOCK" sign "$EMPTY_URI" pkcs1 sha256 "$W/digest" "$W/sig" || return 1
	openssl pkeyutl -verify -pubin -inkey "$T_KEYS/rsa4096.pub.pem" -pkeyopt digest:sha256 \
		-in "$W/digest" -sigfile "$W/sig"
}
t_check "the imported key signs; openssl verifies with the certificate's key" sign_with_imported

decrypt_with_imported() {
	head -c 32 /dev/urandom >"$W/secret"
	openssl pkeyutl -encrypt -pubin -inkey "$T_KEYS/rsa4096.pub.pem" -in "$W/secret" -out "$W/ct"
	"$LIBTOOL" "$SOCK" decrypt "$EMPTY_URI" pkcs1 sha1 "$W/ct" "$W/pt" && cmp "$W/secret" "$W/pt"
}
t_check "the imported key decrypts" decrypt_with_imported

not_extractable() {
	pkcs11-tool --module "$P11A_TEST_MODULE" --token-label empty --login --pin 123456 \
		--list-objects --type privkey >"$W/objs" 2>&1 || return 1
	cat "$W/objs"
	grep -qi "sensitive" "$W/objs" && ! grep -qi "extractable" "$W/objs" | grep -v "never"
}
t_check "the imported private key is sensitive on the token" not_extractable

import_again() { ! p11 import --token empty --pass-fd 3 "$T_KEYS/rsa4096.p12" 3<"$W/p12pass" 2>"$W/err" && grep -qi "already" "$W/err"; }
t_check "importing the same key twice is refused" import_again

keygen_csr() { # TYPE
	p11 keygen --token empty --type "$1" --email "kg-$1@p11agent.test" --name "Keygen $1" \
		--csr "$W/$1.csr" >"$W/kg.out" || return 1
	openssl req -in "$W/$1.csr" -verify -noout || return 1
	openssl req -in "$W/$1.csr" -noout -text | grep -q "email:kg-$1@p11agent.test"
}
t_check "p11 keygen rsa-2048 + CSR verifies with openssl req -verify and carries the address" keygen_csr rsa-2048
t_check "p11 keygen ec-p256 + CSR verifies with openssl req -verify and carries the address" keygen_csr ec-p256

attach_issued() {
	local ca=$T_DIR/fx/ca
	openssl x509 -req -in "$W/ec-p256.csr" -CA "$ca/intermediate.pem" -CAkey "$ca/intermediate.key.pem" \
		-CAcreateserial -days 30 -copy_extensions copy -out "$W/issued.pem" 2>/dev/null || return 1
	p11 import "$W/issued.pem" >"$W/out" || return 1
	grep -q "certificate attached to pkcs11:" "$W/out" || return 1
	p11 keys >"$W/keys" && grep -q "kg-ec-p256@p11agent.test" "$W/keys" || return 1
	# The new key signs, and the issued certificate's key verifies it.
	local uri
	uri=$(grep -o 'pkcs11:[^ ]*' "$W/out")
	head -c 32 /dev/urandom >"$W/d"
	"$LIBTOOL" "$SOCK" sign "$uri" ecdsa sha256 "$W/d" "$W/s" || return 1
	t_ecdsa_raw_to_der "$W/s" "$W/s.der"
	openssl x509 -in "$W/issued.pem" -pubkey -noout >"$W/issued.pub"
	openssl pkeyutl -verify -pubin -inkey "$W/issued.pub" -pkeyopt digest:sha256 -in "$W/d" -sigfile "$W/s.der"
}
t_check "the CA-issued certificate attaches to the generated key, which then signs" attach_issued

attach_unknown() { ! p11 import "$T_KEYS/bob.cert.pem" 2>"$W/err" && grep -q "no token key" "$W/err"; }
t_check "a certificate for no token key is refused" attach_unknown

stop_clean() { kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; }
t_check "the agent exits cleanly (no leaks under LSan)" stop_clean
t_done
