#!/usr/bin/env bash
# tokens/ against a real SoftHSM token, every result checked by openssl.
#   test_tokens.sh TOK_TOOL
set -u
. "$(dirname "$0")/lib/common.sh"
TOOL=$1
t_need softhsm2-util openssl pkcs11-tool
t_setup_token
M=$P11A_TEST_MODULE
SPY=${P11A_SPY_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so}
W=$T_DIR/w
mkdir -p "$W"

tool() { "$TOOL" -m "$M" -P "$T_DIR/pin" "$@"; }
key_uri() { echo "pkcs11:token=$P11A_TEST_TOKEN;object=$1"; }

check_listing() {
	local out
	out=$("$TOOL" -m "$M" list) || return 1
	for name in rsa2048 rsa4096 p256 p384; do
		grep -q "object=$name;.*$name@p11agent.test" <<<"$out" || return 1
	done
	# After login the private keys are visible and can sign.
	out=$(tool list) || return 1
	[ "$(grep -c 'flags=0x2[0-9a-f]' <<<"$out")" -eq 4 ]
}
t_check "lists 4 keys with certificate e-mails, before and after login" check_listing

# --- signatures --------------------------------------------------------
sign_and_verify() { # NAME MECH HASH
	local name=$1 mech=$2 hash=$3 opts=()
	head -c 1000 /dev/urandom >"$W/data"
	openssl dgst "-$hash" -binary "$W/data" >"$W/digest"
	tool sign "$(key_uri "$name")" "$mech" "$hash" "$W/digest" "$W/sig" || return 1
	case $mech in
	pss) opts=(-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest) ;;
	pkcs1) opts=(-pkeyopt rsa_padding_mode:pkcs1) ;;
	ecdsa) t_ecdsa_raw_to_der "$W/sig" "$W/sig.der" && mv "$W/sig.der" "$W/sig" ;;
	esac
	openssl pkeyutl -verify -pubin -inkey "$T_KEYS/$name.pub.pem" \
		-pkeyopt "digest:$hash" "${opts[@]}" -in "$W/digest" -sigfile "$W/sig" || return 1
	# The same signature must fail on other data.
	openssl dgst "-$hash" -binary "$W/digest" >"$W/digest2"
	! openssl pkeyutl -verify -pubin -inkey "$T_KEYS/$name.pub.pem" \
		-pkeyopt "digest:$hash" "${opts[@]}" -in "$W/digest2" -sigfile "$W/sig" >/dev/null 2>&1
}
for name in rsa2048 rsa4096; do
	for hash in sha1 sha256 sha384 sha512; do
		t_check "$name RSA PKCS#1 v1.5 $hash verifies with openssl" sign_and_verify $name pkcs1 $hash
	done
	for hash in sha256 sha384 sha512; do
		t_check "$name RSA-PSS $hash verifies with openssl" sign_and_verify $name pss $hash
	done
done
for name in p256 p384; do
	for hash in sha256 sha384 sha512; do
		t_check "$name ECDSA $hash verifies with openssl" sign_and_verify $name ecdsa $hash
	done
done

# DigestInfo signed as given (hash none) equals openssl's PKCS#1 signature.
raw_digest_info() {
	printf 'hello' >"$W/m"
	openssl dgst -sha256 -sign "$T_KEYS/rsa2048.key.pem" -out "$W/expect" "$W/m"
	{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'
	  openssl dgst -sha256 -binary "$W/m"; } >"$W/di"
	tool sign "$(key_uri rsa2048)" pkcs1 none "$W/di" "$W/got" && cmp "$W/expect" "$W/got"
}
t_check "RSA PKCS#1 over a ready DigestInfo equals openssl's signature" raw_digest_info

wrong_type() { ! tool sign "$(key_uri p256)" pkcs1 sha256 "$W/digest" "$W/x" 2>"$W/err" && grep -q "cannot make" "$W/err"; }
t_check "an RSA mechanism on an EC key is refused with a clear error" wrong_type

# --- decryption --------------------------------------------------------
encrypt_and_decrypt() { # NAME PAD HASH [LABEL]
	local name=$1 pad=$2 hash=$3 label=${4:-} opts=() extra=()
	head -c 32 /dev/urandom >"$W/secret"
	if [ "$pad" = oaep ]; then
		opts=(-pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$hash" -pkeyopt "rsa_mgf1_md:$hash")
		if [ -n "$label" ]; then
			opts+=(-pkeyopt "rsa_oaep_label:$(printf %s "$label" | od -An -tx1 | tr -d ' \n')")
			printf %s "$label" >"$W/label"
			extra=("$W/label")
		fi
	else
		opts=(-pkeyopt rsa_padding_mode:pkcs1)
	fi
	openssl pkeyutl -encrypt -pubin -inkey "$T_KEYS/$name.pub.pem" "${opts[@]}" \
		-in "$W/secret" -out "$W/ct" || return 1
	tool decrypt "$(key_uri "$name")" "$pad" "$hash" "$W/ct" "$W/pt" "${extra[@]}" || return 1
	cmp "$W/secret" "$W/pt"
}
for name in rsa2048 rsa4096; do
	t_check "$name PKCS#1 v1.5 ciphertext from openssl decrypts" encrypt_and_decrypt $name pkcs1 sha1
	t_check "$name OAEP-SHA1 ciphertext from openssl decrypts" encrypt_and_decrypt $name oaep sha1
	t_check "$name OAEP-SHA256 ciphertext from openssl decrypts" encrypt_and_decrypt $name oaep sha256
	t_check "$name OAEP-SHA256 with a label decrypts" encrypt_and_decrypt $name oaep sha256 "p11agent label"
	t_check "$name OAEP-SHA1 with a label decrypts" encrypt_and_decrypt $name oaep sha1 "p11agent label"
done

bad_ciphertext() {
	head -c 256 /dev/urandom >"$W/junk"
	! tool decrypt "$(key_uri rsa2048)" pkcs1 sha1 "$W/junk" "$W/pt2" 2>"$W/err" &&
		[ ! -e "$W/pt2" ] && grep -qi "decrypt" "$W/err"
}
t_check "random ciphertext fails to decrypt and writes nothing" bad_ciphertext

wrong_label() {
	printf 'x' >"$W/secret"
	openssl pkeyutl -encrypt -pubin -inkey "$T_KEYS/rsa2048.pub.pem" -pkeyopt rsa_padding_mode:oaep \
		-pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -pkeyopt rsa_oaep_label:41 \
		-in "$W/secret" -out "$W/ct"
	printf 'B' >"$W/label"
	! tool decrypt "$(key_uri rsa2048)" oaep sha256 "$W/ct" "$W/pt3" "$W/label" 2>/dev/null
}
t_check "OAEP with the wrong label is rejected" wrong_label

# --- ECDH --------------------------------------------------------------
derive_matches_openssl() { # NAME CURVE
	local name=$1 curve=$2
	openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$curve" -out "$W/peer.key" 2>/dev/null
	openssl pkey -in "$W/peer.key" -pubout -out "$W/peer.pub"
	t_ec_point "$W/peer.pub" "$W/peer.point"
	tool derive "$(key_uri "$name")" "$W/peer.point" "$W/ours" || return 1
	openssl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$T_KEYS/$name.pub.pem" -out "$W/theirs"
	cmp "$W/ours" "$W/theirs"
}
t_check "P-256 ECDH derive equals openssl pkeyutl -derive" derive_matches_openssl p256 P-256
t_check "P-384 ECDH derive equals openssl pkeyutl -derive" derive_matches_openssl p384 P-384

bad_point() {
	head -c 65 /dev/zero >"$W/zero.point"
	! tool derive "$(key_uri p256)" "$W/zero.point" "$W/x" 2>/dev/null
}
t_check "an invalid peer point is refused" bad_point

# --- login -------------------------------------------------------------
not_logged_in() {
	head -c 32 /dev/urandom >"$W/digest"
	! "$TOOL" -m "$M" sign "$(key_uri rsa2048)" pkcs1 sha256 "$W/digest" "$W/x" 2>"$W/err" &&
		grep -q "login required for token '$P11A_TEST_TOKEN'" "$W/err"
}
t_check "signing without login fails with 'login required' naming the token" not_logged_in

wrong_pin_once() {
	[ -r "$SPY" ] || { echo "pkcs11-spy.so missing"; return 1; }
	printf '0000\n' >"$W/badpin"
	PKCS11SPY=$M PKCS11SPY_OUTPUT=$W/spy.log \
		"$TOOL" -m "$SPY" -P "$W/badpin" login 2>"$W/err"
	local rc=$?
	[ "$rc" -eq 2 ] || { echo "exit $rc"; return 1; }
	grep -q "PIN incorrect for token '$P11A_TEST_TOKEN'" "$W/err" || return 1
	grep -q "token flags 0x" "$W/err" || return 1
	local n
	n=$(grep -c 'C_Login' "$W/spy.log")
	echo "C_Login calls: $n"
	[ "$n" -eq 1 ]
}
t_check "a wrong PIN fails clearly after exactly one C_Login (pkcs11-spy)" wrong_pin_once

right_pin_after() { tool login; }
t_check "the right PIN still logs in afterwards" right_pin_after

# --- concurrency -------------------------------------------------------
t_check "two threads x 1000 RSA-2048 signatures all succeed" tool threads "$(key_uri rsa2048)" 2 1000
t_check "two threads x 1000 P-256 signatures all succeed" tool threads "$(key_uri p256)" 2 1000

t_done
