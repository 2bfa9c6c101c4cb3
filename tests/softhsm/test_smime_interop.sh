#!/usr/bin/env bash
# S/MIME through the agent against real peers, on the fixture token:
# what `p11 sign` and `p11 encrypt` write, openssl cms, gpgsm and NSS
# cmsutil accept; what they sign and encrypt, `p11 verify` and `p11 decrypt`
# open; bad input gets the right status, a non-zero exit and no output.
#   test_smime_interop.sh P11AGENT P11
# A peer that is missing, or that cannot do a feature (shown by a control
# message it makes or opens itself), turns its checks into skips with the
# reason; a skip is never counted as a pass.
set -u
. "$(dirname "$0")/lib/common.sh"
AGENT=$1 P11=$2
t_need softhsm2-util openssl jq perl
for c in sign verify encrypt decrypt certs; do
	t_p11_has "$P11" $c || t_skip "p11 $c is not implemented yet (p11: unknown command '$c')"
done
t_setup_token
CA=$T_DIR/fx/ca
W=$T_DIR/w
mkdir -p "$W"
SOCK=$T_DIR/run/agent.sock
export XDG_DATA_HOME=$T_DIR/xdg XDG_CONFIG_HOME=$T_DIR/xdgconf XDG_RUNTIME_DIR=$T_DIR/run
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
# A hang is a failure, not a stuck CI run.
p11() { timeout "${P11_TIMEOUT:-120}" "$P11" --socket "$SOCK" --no-autostart "$@"; }
uri() { echo "pkcs11:token=$P11A_TEST_TOKEN;object=$1"; }

GPG_HOME=$T_DIR/gnupg
cleanup() {
	[ -d "$GPG_HOME" ] && t_gpgsm_stop "$GPG_HOME"
	t_cleanup
}
trap cleanup EXIT

t_agent_start "$AGENT" "$SOCK" "$P11A_TEST_MODULE" || { t_fail "agent starts"; t_finish; exit 1; }
p11 unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$T_DIR/pin" >/dev/null ||
	{ t_fail "unlock the fixture token"; t_finish; exit 1; }

# --- peers ----------------------------------------------------------------
HAVE_GPGSM=0 HAVE_NSS=0
# gpgsm 2.2's PKCS#12 reader fails on about one 3DES file in ten, depending
# on the random salt ("data error at shrouded_key_bag.decrypted-text"):
# when the fixture's bob.legacy.p12 is such a file, export bob afresh.
gpgsm_import_bob() {
	local i p12=$T_KEYS/bob.legacy.p12
	for i in 1 2 3 4 5 6; do
		printf 'test\n' | GNUPGHOME=$GPG_HOME gpgsm --batch --pinentry-mode loopback \
			--passphrase-fd 0 --import "$p12" 2>&1 | grep -q 'secret keys imported: 1' && return 0
		echo "gpgsm could not read $(basename "$p12") (try $i); exporting bob again" >&2
		p12=$W/bob.$i.p12
		openssl pkcs12 -export -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 \
			-inkey "$T_KEYS/bob.key.pem" -in "$T_KEYS/bob.cert.pem" -name bob \
			-passout pass:test -out "$p12" || return 1
	done
	return 1
}
if command -v gpgsm >/dev/null && command -v gpgconf >/dev/null &&
	t_gpgsm_home "$GPG_HOME" "$CA/root.pem" "$CA/intermediate.pem" &&
	GNUPGHOME=$GPG_HOME gpgsm --batch --import "$T_KEYS/rsa2048.cert.pem" \
		"$T_KEYS/rsa4096.cert.pem" "$T_KEYS/bob.cert.pem" >/dev/null 2>&1 &&
	gpgsm_import_bob; then
	HAVE_GPGSM=1
fi
NSSDB=$T_DIR/nssdb
if command -v cmsutil >/dev/null && command -v certutil >/dev/null &&
	t_nss_db "$NSSDB" "$CA/root.pem" "$CA/intermediate.pem" "$T_KEYS/rsa2048.cert.pem" \
		"$T_KEYS/rsa4096.cert.pem" "$T_KEYS/p256.cert.pem" "$T_KEYS/p384.cert.pem"; then
	HAVE_NSS=1
fi
# Bob's key in the NSS database too (Thunderbird's engine), for decryption.
NSS_BOB=0
if [ $HAVE_NSS = 1 ] && pk12util -i "$T_KEYS/bob.legacy.p12" -d "sql:$NSSDB" -W test -K '' >/dev/null 2>&1; then
	NSS_BOB=1
fi
need_gpgsm() { [ $HAVE_GPGSM = 1 ] || { echo "gpgsm is not installed or its home could not be set up"; return 77; }; }
need_nss() { [ $HAVE_NSS = 1 ] || { echo "NSS cmsutil/certutil are not installed"; return 77; }; }
gpgsm_() { GNUPGHOME=$GPG_HOME gpgsm --batch --pinentry-mode loopback "$@"; }

# --- messages -------------------------------------------------------------
# mkmail FROM TO SUBJECT OUT [crlf]: a small text mail with a random marker,
# a line that mbox would escape, trailing white space and a lone dot.
mkmail() {
	local from=$1 to=$2 subject=$3 out=$4 nonce
	nonce=$(openssl rand -hex 8)
	{
		printf 'From: %s\nTo: %s\nSubject: %s\nDate: %s\n' "$from" "$to" "$subject" "$(date -R)"
		printf 'Message-ID: <%s@p11agent.test>\nMIME-Version: 1.0\n' "$nonce"
		printf 'Content-Type: text/plain; charset=us-ascii\n\n'
		printf 'Hello, this is %s (%s).\nFrom the start of a line.\n' "$subject" "$nonce"
		printf 'trailing white space  \n.\nlast line %s\n' "$nonce"
	} >"$out"
	[ "${5:-}" = crlf ] && { t_crlf "$out" "$out.tmp" && mv "$out.tmp" "$out"; }
	return 0
}

# same_body A B: the bodies (transfer encoding undone) are equal up to line
# endings; every header field of A is also in B (B may carry more).
same_body() {
	local a=$1 b=$2 l
	t_mime body "$a" "$a.body" && t_mime body "$b" "$b.body" || return 1
	t_same_text "$a.body" "$b.body" || {
		echo "bodies differ:"
		diff <(perl -pe 's/\r\n/\n/' "$a.body") <(perl -pe 's/\r\n/\n/' "$b.body") | head -n 10
		return 1
	}
}
# ctype_key FILE: "type/subtype; charset=x" of its Content-Type, lower case.
ctype_key() {
	local v
	v=$(t_mime header "$1" Content-Type || echo text/plain)
	perl -e '$_ = lc shift; my ($t) = /^\s*([^;\s]+)/; my ($c) = /;\s*charset\s*=\s*"?([^";\s]+)/;
		print $t, defined $c ? "; charset=$c" : "", "\n"' "$v"
}

# same_message A B [NAME...]: same_body, and every header field of A (or
# only those named) is also in B, which may carry more.
same_message() {
	local a=$1 b=$2 l n
	shift 2
	same_body "$a" "$b" || return 1
	t_mime headers "$b" | perl -pe 's/\r?\n[ \t]+/ /g; s/\r\n/\n/' >"$b.hdrs"
	while IFS= read -r l; do
		l=${l%$'\r'}
		[ -n "$l" ] || continue
		# Content-Type: media type and charset must stay; added parameters
		# (RFC 9788 hp="cipher") are fine.
		if [[ ${l,,} == content-type:* ]]; then
			if [ $# -eq 0 ] || [[ " ${*,,} " == *" content-type "* ]]; then
				[ "$(ctype_key "$a")" = "$(ctype_key "$b")" ] ||
					{ echo "Content-Type '$(ctype_key "$b")', want '$(ctype_key "$a")'"; return 1; }
			fi
			continue
		fi
		if [ $# -gt 0 ]; then
			for n in "$@"; do [[ ${l,,} == "${n,,}:"* ]] && break; n=; done
			[ -n "$n" ] || continue
		fi
		grep -qxF -- "$l" "$b.hdrs" || { echo "header missing in the output: $l"; return 1; }
	done < <(t_mime headers "$a" | perl -pe 's/\r?\n[ \t]+/ /g')
}

t_p11_codes_init "$P11"

# p11_status CMD JSON EXPECTED [ARGS...]: see t_p11_status.
p11_status() { t_p11_status "$@"; }

# cms_print DER-or-SMIME OUT: openssl's dump of the CMS structure.
cms_print() {
	local in=$1 out=$2 form=SMIME
	[ "$(head -c 1 "$in" | od -An -tx1 | tr -d ' ')" = 30 ] && form=DER
	openssl cms -cmsout -print -inform $form -in "$in" >"$out" 2>&1
}

# der_of MSG DER: the CMS object of an S/MIME message (signature part of a
# multipart/signed one); CONTENT also gets the signed part if given.
der_of() {
	local msg=$1 der=$2 content=${3:-/dev/null} t
	t=$(t_mime info "$msg" | cut -f1)
	case $t in
	multipart/signed) t_smime_split "$msg" "$content" "$der" ;;
	application/pkcs7-mime | application/x-pkcs7-mime) t_smime_der "$msg" "$der" ;;
	*) echo "not S/MIME: $t"; return 1 ;;
	esac
}

md_name() { case $1 in sha256) echo 256 ;; sha384) echo 384 ;; sha512) echo 512 ;; esac; }

# --- 1. p11 sign -> openssl, gpgsm, NSS -----------------------------------
# sign_make KEY ALG MD MODE: signs, checks the MIME and CMS structure and
# openssl cms -verify; leaves $W/TAG.eml, .der and (detached) .content.
sign_make() {
	local k=$1 alg=$2 md=$3 mode=$4 tag="$1-$2-$3-$4" opts=()
	local in=$W/$tag.in out=$W/$tag.eml info bits
	mkmail "$k@p11agent.test" bob@p11agent.test "sign $tag" "$in"
	opts=(--digest "$md")
	[ "$alg" = pss ] && opts+=(--pss)
	[ "$mode" = opaque ] && opts+=(--opaque)
	p11 sign "${opts[@]}" -o "$out" "$in" || { echo "p11 sign failed"; return 1; }
	info=$(t_mime info "$out")
	bits=$(md_name "$md")
	case $mode in
	detached)
		[ "$(echo "$info" | cut -f1,3)" = $'multipart/signed\tapplication/pkcs7-signature' ] ||
			{ echo "not multipart/signed with protocol application/pkcs7-signature: $info"; return 1; }
		[ "$(echo "$info" | cut -f4)" = "sha-$bits" ] ||
			{ echo "micalg is '$(echo "$info" | cut -f4)', want sha-$bits"; return 1; }
		t_smime_split "$out" "$W/$tag.content" "$W/$tag.der" || return 1
		;;
	opaque)
		[ "$(echo "$info" | cut -f1,2)" = $'application/pkcs7-mime\tsigned-data' ] ||
			{ echo "not application/pkcs7-mime; smime-type=signed-data: $info"; return 1; }
		t_smime_der "$out" "$W/$tag.der" || return 1
		;;
	esac
	# The From: stays visible outside the signature.
	t_mime header "$out" From | grep -qi "$k@p11agent.test" || { echo "From: lost"; return 1; }
	cms_print "$W/$tag.der" "$W/$tag.print" || { cat "$W/$tag.print"; return 1; }
	grep -A1 'digestAlgorithm:' "$W/$tag.print" | grep -q "algorithm: $md " ||
		{ echo "digestAlgorithm is not $md:"; grep -A1 'digestAlgorithm:' "$W/$tag.print"; return 1; }
	local sigalg
	sigalg=$(grep -A1 'signatureAlgorithm:' "$W/$tag.print" | sed -n 's/.*algorithm: \([^ ]*\) .*/\1/p' | head -n 1)
	case $alg in
	pkcs1) [[ $sigalg == rsaEncryption || $sigalg == "sha${bits}WithRSAEncryption" ]] ;;
	pss)
		[ "$sigalg" = rsassaPss ] &&
			grep -A12 'algorithm: rsassaPss' "$W/$tag.print" | grep -q "OBJECT *:$md"
		;;
	ecdsa) [ "$sigalg" = "ecdsa-with-SHA$bits" ] ;;
	esac || { echo "signatureAlgorithm '$sigalg' does not fit $alg/$md"; return 1; }
	grep -q "signingTime" "$W/$tag.print" || { echo "no signingTime attribute"; return 1; }
	# openssl on the S/MIME message as written.
	openssl cms -verify -CAfile "$CA/chain.pem" -purpose smimesign -in "$out" -out "$W/$tag.ossl" ||
		return 1
	same_body "$in" "$W/$tag.ossl"
}

sign_gpgsm() { # TAG ORIG
	local tag=$1 orig=$2 out=$W/$1.gpgsm
	need_gpgsm || return $?
	case $tag in p384-ecdsa-sha256-*)
		# gpgsm 2.2 refuses a hash shorter than the curve; skip only where
		# it refuses openssl's own P-384/SHA-256 signature too.
		openssl cms -sign -binary -nodetach -outform DER -md sha256 -in "$orig" \
			-signer "$T_KEYS/p384.cert.pem" -inkey "$T_KEYS/p384.key.pem" -out "$W/ctl-p384.der" &&
			! gpgsm_ -o /dev/null --verify "$W/ctl-p384.der" 2>"$W/ctl-p384.err" &&
			{ grep 'hash is not valid' "$W/ctl-p384.err"; echo "gpgsm refuses P-384 with SHA-256 (openssl's signature too)"; return 77; }
		;;
	esac
	[ -s "$W/$tag.der" ] || { echo "no signed message (p11 sign failed above)"; return 1; }
	if [ -e "$W/$tag.content" ]; then
		gpgsm_ --status-fd 3 --verify "$W/$tag.der" "$W/$tag.content" 3>"$out.status" || return 1
		cp "$W/$tag.content" "$out"
	else
		gpgsm_ --status-fd 3 -o "$out" --verify "$W/$tag.der" 3>"$out.status" || return 1
	fi
	grep -q '^\[GNUPG:\] GOODSIG' "$out.status" && grep -q '^\[GNUPG:\] VALIDSIG' "$out.status" &&
		grep -q '^\[GNUPG:\] TRUST_\(FULLY\|ULTIMATE\)' "$out.status" ||
		{ cat "$out.status"; return 1; }
	same_body "$orig" "$out"
}

sign_nss() { # TAG ORIG
	local tag=$1 orig=$2 out=$W/$1.nss
	need_nss || return $?
	[ -s "$W/$tag.der" ] || { echo "no signed message (p11 sign failed above)"; return 1; }
	if [ -e "$W/$tag.content" ]; then
		cmsutil -D -d "sql:$NSSDB" -i "$W/$tag.der" -c "$W/$tag.content" -o "$out" || return 1
		cp "$W/$tag.content" "$out"
	else
		cmsutil -D -d "sql:$NSSDB" -i "$W/$tag.der" -o "$out" || return 1
	fi
	same_body "$orig" "$out"
}

sign_p11verify() { # TAG ORIG KEY MD
	local tag=$1 orig=$2 k=$3 md=$4 j=$W/$1.vjson
	[ -s "$W/$tag.eml" ] || { echo "no signed message (p11 sign failed above)"; return 1; }
	rm -f "$W/$tag.p11out"
	p11_status verify "$j" valid --ca-file "$CA/chain.pem" -o "$W/$tag.p11out" "$W/$tag.eml" || return 1
	[ "$(t_json "$j" .signer.email | tr A-Z a-z)" = "$k@p11agent.test" ] ||
		{ echo "signer.email: $(t_json "$j" .signer.email)"; return 1; }
	t_json "$j" .digest | tr -d '-' | tr A-Z a-z | grep -qx "$md" ||
		{ echo "digest: $(t_json "$j" .digest), want $md"; return 1; }
	t_json "$j" .signer.fingerprint >/dev/null && t_json "$j" .signer.not_after >/dev/null &&
		t_json "$j" .signing_time >/dev/null || { echo "signer/signing_time fields missing"; cat "$j"; return 1; }
	same_body "$orig" "$W/$tag.p11out"
}

for k in rsa2048 rsa4096 p256 p384; do
	case $k in rsa*) algs="pkcs1 pss" ;; *) algs=ecdsa ;; esac
	for alg in $algs; do
		for md in sha256 sha384 sha512; do
			for mode in detached opaque; do
				tag=$k-$alg-$md-$mode
				t_case "sign $tag: MIME/CMS structure, openssl cms -verify" sign_make $k $alg $md $mode
				t_case "sign $tag: gpgsm --verify" sign_gpgsm "$tag" "$W/$tag.in"
				t_case "sign $tag: NSS cmsutil -D" sign_nss "$tag" "$W/$tag.in"
				t_case "sign $tag: p11 verify" sign_p11verify "$tag" "$W/$tag.in" $k $md
			done
		done
	done
done

# Without --digest, the default must suit the key: gpgsm (and the CNSA/
# RFC 5753 rule) want at least SHA-384 for P-384.
default_digest_p384() {
	mkmail p384@p11agent.test bob@p11agent.test "default digest" "$W/dd.in"
	p11 sign --opaque -o "$W/dd.eml" "$W/dd.in" || return 1
	t_smime_der "$W/dd.eml" "$W/dd.der" && cms_print "$W/dd.der" "$W/dd.print" || return 1
	grep -A1 'digestAlgorithm:' "$W/dd.print" | grep -q 'algorithm: sha\(384\|512\) ' ||
		{ echo "default digest for P-384:"; grep -A1 'digestAlgorithm:' "$W/dd.print"; return 1; }
	need_gpgsm || return 0
	gpgsm_ -o /dev/null --verify "$W/dd.der"
}
t_case "sign with P-384 and no --digest: SHA-384 or better, gpgsm accepts it" default_digest_p384

# A CRLF mail on stdin, signature on stdout.
sign_crlf_stdio() {
	mkmail rsa2048@p11agent.test bob@p11agent.test "crlf stdio" "$W/crlf.in" crlf
	p11 sign <"$W/crlf.in" >"$W/crlf.eml" || return 1
	openssl cms -verify -CAfile "$CA/chain.pem" -in "$W/crlf.eml" -out "$W/crlf.out" &&
		same_body "$W/crlf.in" "$W/crlf.out"
}
t_case "sign a CRLF mail from stdin to stdout; openssl verifies" sign_crlf_stdio

# The peers' checks can fail: one changed byte in the signed text.
tampered_rejected() {
	local tag=rsa2048-pkcs1-sha256-detached
	[ -s "$W/$tag.eml" ] || { echo "no signed message"; return 1; }
	perl -pe 's/Hello, this/Hello, thus/' "$W/$tag.eml" >"$W/tampered.eml"
	perl -pe 's/Hello, this/Hello, thus/' "$W/$tag.content" >"$W/tampered.content"
	cmp -s "$W/$tag.eml" "$W/tampered.eml" && { echo "tampering changed nothing"; return 1; }
	! openssl cms -verify -CAfile "$CA/chain.pem" -in "$W/tampered.eml" -out /dev/null 2>/dev/null ||
		{ echo "openssl accepted it"; return 1; }
	if [ $HAVE_GPGSM = 1 ]; then
		! gpgsm_ --verify "$W/$tag.der" "$W/tampered.content" 2>/dev/null || { echo "gpgsm accepted it"; return 1; }
	fi
	if [ $HAVE_NSS = 1 ]; then
		! cmsutil -D -d "sql:$NSSDB" -i "$W/$tag.der" -c "$W/tampered.content" -o /dev/null 2>/dev/null ||
			{ echo "cmsutil accepted it"; return 1; }
	fi
}
t_case "control: openssl, gpgsm and cmsutil reject a tampered detached signature" tampered_rejected

# Which key signs: From: (with a display name), --key, --from.
signer_of() { # MSG -> e-mail of the signer certificate
	local d=$W/signer.der c=$W/signer.content opts=()
	rm -f "$c" "$W/signer.pem"
	der_of "$1" "$d" "$c" || return 1
	[ -s "$c" ] && opts=(-binary -content "$c")
	openssl cms -verify -noverify -inform DER -in "$d" "${opts[@]}" -signer "$W/signer.pem" \
		-out /dev/null >/dev/null 2>&1 || { echo "signature does not verify" >&2; return 1; }
	openssl x509 -in "$W/signer.pem" -noout -email | head -n 1 | tr A-Z a-z
}
select_from_display() {
	mkmail '"RSA 4096 User" <rsa4096@p11agent.test>' bob@p11agent.test "display name" "$W/sel1.in"
	p11 sign -o "$W/sel1.eml" "$W/sel1.in" || return 1
	[ "$(signer_of "$W/sel1.eml")" = rsa4096@p11agent.test ]
}
t_case "sign: the signer comes from From: with a display name" select_from_display
select_key_uri() {
	mkmail p384@p11agent.test bob@p11agent.test "by uri" "$W/sel2.in"
	p11 sign --key "$(uri p384)" -o "$W/sel2.eml" "$W/sel2.in" || return 1
	[ "$(signer_of "$W/sel2.eml")" = p384@p11agent.test ]
}
t_case "sign --key URI picks that key" select_key_uri
select_from_opt() {
	mkmail 'Team <team@p11agent.test>' bob@p11agent.test "by --from" "$W/sel3.in"
	p11 sign --from p256@p11agent.test -o "$W/sel3.eml" "$W/sel3.in" || return 1
	[ "$(signer_of "$W/sel3.eml")" = p256@p11agent.test ] || return 1
	# Signed by p256 while From: says team@: the verifier must say so.
	p11_status verify "$W/sel3.json" sender-mismatch --ca-file "$CA/chain.pem" "$W/sel3.eml"
}
t_case "sign --from ADDR overrides From:; verify then reports sender-mismatch" select_from_opt
no_key_for_sender() {
	mkmail bob@p11agent.test rsa2048@p11agent.test "no key" "$W/nokey.in"
	echo untouched >"$W/nokey.out"
	local sum
	sum=$(t_file_sum "$W/nokey.out")
	! p11 sign -o "$W/nokey.out" "$W/nokey.in" 2>"$W/nokey.err" || return 1
	[ "$(t_file_sum "$W/nokey.out")" = "$sum" ] || { echo "-o file was changed"; return 1; }
	! p11 sign "$W/nokey.in" >"$W/nokey.stdout" 2>/dev/null || return 1
	[ ! -s "$W/nokey.stdout" ] || { echo "stdout not empty"; return 1; }
	grep -qi "bob@p11agent.test" "$W/nokey.err" || { echo "error does not name the sender:"; cat "$W/nokey.err"; return 1; }
}
t_case "sign for a From: with no key fails, names the address, writes nothing" no_key_for_sender

# No From: and neither --from nor --key: a usage error (exit 2), nothing
# written, even though the key list was already asked for.
no_from_header() {
	mkmail rsa2048@p11agent.test bob@p11agent.test "no from" "$W/nofrom.full"
	grep -v '^From:' "$W/nofrom.full" >"$W/nofrom.in"
	echo untouched >"$W/nofrom.out"
	local sum rc=0
	sum=$(t_file_sum "$W/nofrom.out")
	p11 sign -o "$W/nofrom.out" "$W/nofrom.in" 2>"$W/nofrom.err" || rc=$?
	[ $rc = 2 ] || { echo "exit $rc, want 2"; cat "$W/nofrom.err"; return 1; }
	[ "$(t_file_sum "$W/nofrom.out")" = "$sum" ] || { echo "-o file was changed"; return 1; }
	grep -q -- "--from" "$W/nofrom.err" || { echo "error does not point to --from:"; cat "$W/nofrom.err"; return 1; }
	p11 sign --from rsa2048@p11agent.test -o "$W/nofrom.out" "$W/nofrom.in" || { echo "--from did not sign"; return 1; }
	openssl cms -verify -CAfile "$CA/chain.pem" -in "$W/nofrom.out" -out /dev/null 2>/dev/null ||
		{ echo "openssl rejects the --from signature"; return 1; }
	# The agent is still in step after the unread list reply.
	p11 status >/dev/null || { echo "agent no longer answers"; return 1; }
}
t_case "sign without From: is a usage error (exit 2) and writes nothing; --from signs it" no_from_header

# sign_fails CODE PATTERN ARGS...: p11 sign ARGS -o OUT exits with CODE,
# says PATTERN on stderr, leaves OUT as it was and no temp file beside it.
sign_fails() {
	local code=$1 pattern=$2 rc=0 sum
	shift 2
	echo untouched >"$W/sf.out"
	sum=$(t_file_sum "$W/sf.out")
	"$P11" --no-autostart "$@" -o "$W/sf.out" 2>"$W/sf.err" || rc=$?
	[ "$rc" = "$code" ] || { echo "p11 $*: exit $rc, want $code"; cat "$W/sf.err"; return 1; }
	grep -q -- "$pattern" "$W/sf.err" || { echo "p11 $*: no '$pattern' in:"; cat "$W/sf.err"; return 1; }
	[ "$(t_file_sum "$W/sf.out")" = "$sum" ] || { echo "p11 $*: -o file was changed"; return 1; }
	! ls "$W"/.p11-out-* >/dev/null 2>&1 || { echo "p11 $*: a temp file was left"; return 1; }
}
sign_errors() {
	local m=$W/se.in s=(--socket "$SOCK") rc
	mkmail rsa2048@p11agent.test bob@p11agent.test "sign errors" "$m"
	head -c 3000 /dev/urandom >"$W/se.bin"
	sign_fails 5 "object=nosuch" "${s[@]}" sign --key "$(uri nosuch)" "$m" || return 1
	sign_fails 2 "needs an RSA key" "${s[@]}" sign --pss --key "$(uri p256)" "$m" || return 1
	sign_fails 2 "unknown digest 'md5'" "${s[@]}" sign --digest md5 "$m" || return 1
	sign_fails 1 "not a mail message" "${s[@]}" sign --from rsa2048@p11agent.test "$W/se.bin" || return 1
	sign_fails 1 "No such file" "${s[@]}" sign "$W/no-such.in" || return 1
	sign_fails 3 "no agent is running" --socket "$W/no-agent.sock" sign "$m" || return 1
	p11 logout "$P11A_TEST_TOKEN" >/dev/null || return 1
	sign_fails 7 "login required for token '$P11A_TEST_TOKEN'" "${s[@]}" sign "$m"
	rc=$?
	p11 unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$T_DIR/pin" >/dev/null || { echo "unlock again failed"; return 1; }
	[ $rc = 0 ] && p11 sign -o "$W/se.out" "$m"
}
t_case "sign errors (unknown key, --pss on EC, bad digest, not a mail, no input, no agent, logged out): exit code, message, nothing written" sign_errors

# The chain comes from the store: with the intermediate there, the
# signature verifies against the root alone; without it, it does not.
sign_chain_from_store() {
	local fpr m=$W/chain.in
	mkmail rsa2048@p11agent.test bob@p11agent.test "chain" "$m"
	fpr=$(openssl x509 -in "$CA/intermediate.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
	p11 certs remove "$fpr" >/dev/null 2>&1
	p11 sign -o "$W/chain0.eml" "$m" || return 1
	! openssl cms -verify -CAfile "$CA/root.pem" -in "$W/chain0.eml" -out /dev/null 2>/dev/null ||
		{ echo "verified against the root without the intermediate in the store"; return 1; }
	p11 certs add "$CA/intermediate.pem" || return 1
	p11 sign -o "$W/chain1.eml" "$m" || return 1
	openssl cms -verify -CAfile "$CA/root.pem" -in "$W/chain1.eml" -out /dev/null ||
		{ echo "the intermediate from the store is not in the signature"; return 1; }
	p11 sign --key "$(uri p256)" -o "$W/chain2.eml" "$m" || return 1
	openssl cms -verify -CAfile "$CA/root.pem" -in "$W/chain2.eml" -out /dev/null ||
		{ echo "ECDSA: the intermediate from the store is not in the signature"; return 1; }
}
t_case "sign takes the intermediate from the store: verifies against the root alone (RSA, ECDSA); without it, does not" sign_chain_from_store

# --- 2. peers encrypt -> p11 decrypt --------------------------------------
# dec_check TAG MSG PLAIN INTEGRITY: p11 decrypt --json -o, and again to
# stdout without --json.
dec_check() {
	local tag=$1 msg=$2 plain=$3 integ=$4 j=$W/$1.djson
	rm -f "$W/$tag.dec"
	p11_status decrypt "$j" ok -o "$W/$tag.dec" "$msg" || return 1
	same_message "$plain" "$W/$tag.dec" || return 1
	[ "$(t_json "$j" .integrity)" = "$integ" ] ||
		{ echo "integrity: $(t_json "$j" .integrity), want $integ"; return 1; }
	p11 decrypt "$msg" >"$W/$tag.dec2" || { echo "p11 decrypt to stdout failed"; return 1; }
	same_message "$plain" "$W/$tag.dec2"
}

ossl_enc() { # KEY KT CIPHER [KDF]
	local k=$1 kt=$2 ci=$3 kdf=${4:-} tag=ossl-$1-$2-$3${4:+-$4} opts=() integ=unauthenticated
	mkmail bob@p11agent.test "$k@p11agent.test" "openssl $tag" "$W/$tag.plain"
	case $kt in
	oaep) opts=(-keyopt rsa_padding_mode:oaep) ;;
	oaep256) opts=(-keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256) ;;
	esac
	[ -n "$kdf" ] && opts+=(-keyopt "ecdh_kdf_md:$kdf")
	openssl cms -encrypt -in "$W/$tag.plain" -"$ci" -recip "$T_KEYS/$k.cert.pem" "${opts[@]}" \
		-out "$W/$tag.eml" || { echo "openssl cannot make it"; return 77; }
	case $ci in *gcm) integ=authenticated ;; esac
	dec_check "$tag" "$W/$tag.eml" "$W/$tag.plain" $integ
}
for k in rsa2048 rsa4096; do
	for kt in pkcs1 oaep oaep256; do
		for ci in aes-128-cbc aes-256-cbc aes-128-gcm aes-256-gcm des3; do
			t_case "openssl cms -encrypt ($k, $kt, $ci) -> p11 decrypt" ossl_enc $k $kt $ci
		done
	done
done
for k in p256 p384; do
	for ci in aes-128-cbc aes-256-cbc aes-128-gcm aes-256-gcm des3; do
		t_case "openssl cms -encrypt ($k, ECDH, $ci) -> p11 decrypt" ossl_enc $k ecdh $ci
	done
done
t_case "openssl cms -encrypt (p256, ECDH, X9.63 KDF sha256) -> p11 decrypt" ossl_enc p256 ecdh aes-128-cbc sha256
t_case "openssl cms -encrypt (p384, ECDH, X9.63 KDF sha384) -> p11 decrypt" ossl_enc p384 ecdh aes-256-gcm sha384

# A mailing list adds a footer: the encrypted entity becomes the first part
# of a multipart/mixed.
ossl_enc_footer() {
	local tag=ossl-footer
	mkmail bob@p11agent.test rsa2048@p11agent.test "list $tag" "$W/$tag.plain"
	openssl cms -encrypt -in "$W/$tag.plain" -aes-256-cbc -recip "$T_KEYS/rsa2048.cert.pem" \
		-out "$W/$tag.part" || return 1
	{
		printf 'From: bob@p11agent.test\nTo: list@p11agent.test\nSubject: via the list\n'
		printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="LIST-b"\n\n'
		printf 'The list added this.\n--LIST-b\n'
		grep -v '^MIME-Version:' "$W/$tag.part"
		printf '\n--LIST-b\nContent-Type: text/plain\n\n-- \nlist footer\n--LIST-b--\n'
	} >"$W/$tag.eml"
	dec_check "$tag" "$W/$tag.eml" "$W/$tag.plain" unauthenticated || return 1
	! grep -q "list footer" "$W/$tag.dec"
}
t_case "a list footer around openssl's encrypted part (multipart/mixed) -> p11 decrypt opens the part" ossl_enc_footer

gpgsm_enc() { # KEY
	local k=$1 tag=gpgsm-$1
	need_gpgsm || return $?
	mkmail bob@p11agent.test "$k@p11agent.test" "gpgsm $tag" "$W/$tag.plain"
	gpgsm_ -r "$k@p11agent.test" -o "$W/$tag.der" --encrypt "$W/$tag.plain" 2>"$W/$tag.err" ||
		{ tail -n 1 "$W/$tag.err"; echo "gpgsm cannot encrypt to $k"; return 77; }
	t_mime der2mime "$W/$tag.der" enveloped-data "$W/$tag.eml"
	dec_check "$tag" "$W/$tag.eml" "$W/$tag.plain" unauthenticated
}
t_case "gpgsm --encrypt (rsa2048) -> p11 decrypt" gpgsm_enc rsa2048
t_case "gpgsm --encrypt (rsa4096) -> p11 decrypt" gpgsm_enc rsa4096

nss_enc() { # KEY
	local k=$1 tag=nss-$1
	need_nss || return $?
	mkmail bob@p11agent.test "$k@p11agent.test" "nss $tag" "$W/$tag.plain"
	cmsutil -E -d "sql:$NSSDB" -r "$k@p11agent.test" -i "$W/$tag.plain" -o "$W/$tag.der" >"$W/$tag.err" 2>&1 ||
		{ tail -n 1 "$W/$tag.err"; echo "NSS cmsutil cannot encrypt to $k: $(grep -o 'SEC_ERROR_[A-Z_]*' "$W/$tag.err" | head -n 1)"; return 77; }
	t_mime der2mime "$W/$tag.der" enveloped-data "$W/$tag.eml"
	dec_check "$tag" "$W/$tag.eml" "$W/$tag.plain" unauthenticated
}
for k in rsa2048 rsa4096 p256 p384; do
	t_case "NSS cmsutil -E ($k) -> p11 decrypt" nss_enc $k
done

# --- 3. p11 encrypt -> openssl, gpgsm -------------------------------------
CBC256=2.16.840.1.101.3.4.1.42 GCM128=2.16.840.1.101.3.4.1.6 GCM256=2.16.840.1.101.3.4.1.46
CBC128=2.16.840.1.101.3.4.1.2
cek_oid() { # MSG -> OID of the content-encryption algorithm
	cms_print "$1" "$1.print" || { cat "$1.print" >&2; return 1; }
	grep -A1 'contentEncryptionAlgorithm:' "$1.print" | sed -n 's/.*algorithm: .*(\([0-9.]*\)).*/\1/p' | head -n 1
}

# enc_make TAG RECIPIENT [p11 encrypt options...]: From rsa2048 to bob.
enc_make() {
	local tag=$1 r=$2
	shift 2
	mkmail rsa2048@p11agent.test bob@p11agent.test "encrypt $tag" "$W/$tag.plain"
	p11 encrypt -r "$r" "$@" -o "$W/$tag.eml" "$W/$tag.plain" || { echo "p11 encrypt failed"; return 1; }
	local info
	info=$(t_mime info "$W/$tag.eml")
	case $(echo "$info" | cut -f1,2) in
	$'application/pkcs7-mime\tenveloped-data' | $'application/pkcs7-mime\tauthenveloped-data') ;;
	*) echo "not application/pkcs7-mime enveloped-data/authEnveloped-data: $info"; return 1 ;;
	esac
	grep -qF "$(grep -m1 'Hello, this' "$W/$tag.plain")" "$W/$tag.eml" && { echo "plaintext visible"; return 1; }
	return 0
}
# What bob's software opens is the encrypted MIME entity: the body and its
# Content-Type (From/To/Subject stay on the outside unless protected).
ossl_dec_bob() { # TAG
	openssl cms -decrypt -in "$W/$1.eml" -recip "$T_KEYS/bob.cert.pem" -inkey "$T_KEYS/bob.key.pem" \
		-out "$W/$1.bob" && same_message "$W/$1.plain" "$W/$1.bob" Content-Type
}
# The sender (rsa2048, on the token) can read what it sent, and p11
# decrypt gives back a mail: From, To and Subject are kept.
own_copy() { # TAG
	p11_status decrypt "$W/$1.own.json" ok -o "$W/$1.own" "$W/$1.eml" &&
		same_message "$W/$1.plain" "$W/$1.own" From To Subject Content-Type
}

enc_bob_default() {
	enc_make bob-default "$T_KEYS/bob.cert.pem" || return 1
	local oid
	oid=$(cek_oid "$W/bob-default.eml")
	[ "$oid" = $CBC256 ] || { echo "content encryption $oid; bob's capabilities are unknown, want AES-256-CBC ($CBC256)"; return 1; }
	grep -A1 'keyEncryptionAlgorithm:' "$W/bob-default.eml.print" | grep -q rsaEncryption ||
		{ echo "bob's key transport is not RSA PKCS#1 v1.5 by default"; return 1; }
	ossl_dec_bob bob-default
}
t_case "p11 encrypt -r bob.cert.pem: AES-256-CBC (no known capabilities), openssl -decrypt as bob" enc_bob_default
t_case "p11 encrypt -r bob.cert.pem: the sender's own certificate is a recipient too" own_copy bob-default

gpgsm_dec_bob() { # TAG
	need_gpgsm || return $?
	[ -s "$W/$1.eml" ] || { echo "no encrypted message (p11 encrypt failed above)"; return 1; }
	t_smime_der "$W/$1.eml" "$W/$1.der" || return 1
	# Judged like gpgme does, by status lines: gpgsm 2.2 exits 2 when a
	# recipient before bob's (the sender's own copy; DER sorts the SET OF
	# RecipientInfos) has no key here, although it decrypts with bob's.
	printf 'test\n' | gpgsm_ --passphrase-fd 0 --status-fd 3 -o "$W/$1.gpgsm" \
		--decrypt "$W/$1.der" 3>"$W/$1.gstatus"
	grep -q '^\[GNUPG:\] DECRYPTION_OKAY' "$W/$1.gstatus" &&
		! grep -q '^\[GNUPG:\] DECRYPTION_FAILED' "$W/$1.gstatus" || { cat "$W/$1.gstatus"; return 1; }
	same_message "$W/$1.plain" "$W/$1.gpgsm" Content-Type
}
t_case "p11 encrypt -r bob: gpgsm --decrypt as bob" gpgsm_dec_bob bob-default

nss_dec_bob() { # TAG [CONTROL-OPENSSL-OPTIONS...]: cmsutil -D as bob
	local tag=$1
	shift
	need_nss || return $?
	[ $NSS_BOB = 1 ] || { echo "pk12util could not import bob.legacy.p12"; return 77; }
	[ -s "$W/$tag.eml" ] || { echo "no encrypted message (p11 encrypt failed above)"; return 1; }
	if [ $# -gt 0 ]; then
		# Only where NSS opens openssl's message of the same kind.
		openssl cms -encrypt -binary -outform DER -in "$W/$tag.plain" -recip "$T_KEYS/bob.cert.pem" \
			"$@" -out "$W/$tag.ctl.der" &&
			cmsutil -D -d "sql:$NSSDB" -i "$W/$tag.ctl.der" -o /dev/null >"$W/$tag.ctl.err" 2>&1 ||
			{ echo "NSS cmsutil cannot open openssl's own message ($*) either: $(grep -o 'SEC_ERROR_[A-Z_]*' "$W/$tag.ctl.err" | head -n 1)"; return 77; }
	fi
	t_smime_der "$W/$tag.eml" "$W/$tag.der" || return 1
	cmsutil -D -d "sql:$NSSDB" -i "$W/$tag.der" -o "$W/$tag.nss" || return 1
	same_message "$W/$tag.plain" "$W/$tag.nss" Content-Type
}
t_case "p11 encrypt -r bob: NSS cmsutil -D as bob" nss_dec_bob bob-default

enc_bob_oaep() {
	enc_make bob-oaep "$T_KEYS/bob.cert.pem" --oaep || return 1
	cms_print "$W/bob-oaep.eml" "$W/bob-oaep.print"
	grep -A1 'keyEncryptionAlgorithm:' "$W/bob-oaep.print" | grep -q rsaesOaep ||
		{ echo "--oaep did not give RSAES-OAEP:"; grep -A1 'keyEncryptionAlgorithm:' "$W/bob-oaep.print"; return 1; }
	ossl_dec_bob bob-oaep
}
t_case "p11 encrypt --oaep -r bob: RSAES-OAEP, openssl -decrypt as bob" enc_bob_oaep
t_case "p11 encrypt --oaep: the sender's own copy opens" own_copy bob-oaep
# gpgsm only where it opens openssl's OAEP itself (gpgsm 2.2 cannot).
gpgsm_oaep() {
	need_gpgsm || return $?
	mkmail rsa2048@p11agent.test bob@p11agent.test "control oaep" "$W/ctl-oaep.plain"
	openssl cms -encrypt -binary -outform DER -in "$W/ctl-oaep.plain" -aes-256-cbc \
		-recip "$T_KEYS/bob.cert.pem" -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 \
		-keyopt rsa_mgf1_md:sha256 -out "$W/ctl-oaep.der"
	printf 'test\n' | gpgsm_ --passphrase-fd 0 -o /dev/null --decrypt "$W/ctl-oaep.der" 2>/dev/null ||
		{ echo "gpgsm $(gpgsm --version | head -n 1 | awk '{print $3}') cannot decrypt RSA-OAEP (openssl's own OAEP message fails too)"; return 77; }
	gpgsm_dec_bob bob-oaep
}
t_case "p11 encrypt --oaep -r bob: gpgsm --decrypt as bob" gpgsm_oaep
t_case "p11 encrypt --oaep -r bob: NSS cmsutil -D as bob" nss_dec_bob bob-oaep -aes-256-cbc \
	-keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -keyopt rsa_mgf1_md:sha256

enc_ec() {
	enc_make p256-ec "$T_KEYS/p256.cert.pem" || return 1
	openssl cms -decrypt -in "$W/p256-ec.eml" -recip "$T_KEYS/p256.cert.pem" -inkey "$T_KEYS/p256.key.pem" \
		-out "$W/p256-ec.out" || return 1
	same_message "$W/p256-ec.plain" "$W/p256-ec.out" Content-Type || return 1
	cms_print "$W/p256-ec.eml" "$W/p256-ec.print"
	grep -q 'd.kari:' "$W/p256-ec.print" || { echo "no KeyAgreeRecipientInfo for the EC recipient"; return 1; }
}
t_case "p11 encrypt -r p256.cert.pem (ECDH): openssl -decrypt with p256.key.pem" enc_ec

enc_cipher() { # CIPHER OID
	local tag=cipher-$1 oid
	enc_make "$tag" "$T_KEYS/bob.cert.pem" --cipher "$1" || return 1
	oid=$(cek_oid "$W/$tag.eml")
	[ "$oid" = "$2" ] || { echo "content encryption $oid, want $2"; return 1; }
	case $1 in
	*gcm) t_mime info "$W/$tag.eml" | cut -f2 | grep -qx authenveloped-data ||
		{ echo "GCM is not smime-type=authEnveloped-data"; return 1; } ;;
	esac
	ossl_dec_bob "$tag" || return 1
	local integ=unauthenticated
	case $1 in *gcm) integ=authenticated ;; esac
	own_copy "$tag" || return 1
	[ "$(t_json "$W/$tag.own.json" .integrity)" = $integ ] ||
		{ echo "integrity $(t_json "$W/$tag.own.json" .integrity), want $integ"; return 1; }
}
t_case "p11 encrypt --cipher aes-128-gcm: AuthEnvelopedData, openssl opens it" enc_cipher aes-128-gcm $GCM128
t_case "p11 encrypt --cipher aes-256-gcm: AuthEnvelopedData, openssl opens it" enc_cipher aes-256-gcm $GCM256
t_case "p11 encrypt --cipher aes-256-gcm: NSS cmsutil -D as bob" nss_dec_bob cipher-aes-256-gcm -aes-256-gcm
t_case "p11 encrypt --cipher aes-128-cbc: openssl opens it" enc_cipher aes-128-cbc $CBC128
t_case "p11 encrypt --cipher aes-256-cbc: openssl opens it" enc_cipher aes-256-cbc $CBC256

# Recipients by address from the certificate store.
certs_store() {
	p11 certs add "$T_KEYS/bob.cert.pem" || return 1
	p11 certs list >"$W/certs.list" || return 1
	grep -qi bob@p11agent.test "$W/certs.list" || { echo "certs list lacks bob"; cat "$W/certs.list"; return 1; }
	p11 certs export bob@p11agent.test >"$W/bob.export" || return 1
	cmp -s <(openssl x509 -in "$W/bob.export" -outform DER 2>/dev/null || openssl x509 -inform DER -in "$W/bob.export" -outform DER) \
		"$T_KEYS/bob.cert.der" || { echo "certs export bob is not bob's certificate"; return 1; }
	enc_make bob-addr bob@p11agent.test || return 1
	ossl_dec_bob bob-addr || return 1
	local fpr
	fpr=$(openssl x509 -in "$T_KEYS/bob.cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
	p11 certs remove "$fpr" || p11 certs remove "$(echo "$fpr" | tr -d : | tr A-F a-f)" || return 1
	! p11 certs list | grep -qi bob@p11agent.test || { echo "bob still listed after remove"; return 1; }
	! p11 encrypt -r bob@p11agent.test -o "$W/bob-gone.eml" "$W/bob-addr.plain" 2>/dev/null ||
		{ echo "encrypting to a removed address worked"; return 1; }
	[ ! -s "$W/bob-gone.eml" ] || { echo "output written although encrypt failed"; return 1; }
}
t_case "certs add/list/export/remove; encrypt -r ADDR uses the store, fails once removed" certs_store

# A service account or a read-only home: the store is optional for sign,
# verify, encrypt and decrypt.  Reading never creates it; the first good
# signature does; one that cannot be kept is a warning, not a failure.
# p11x ENV... -- ARGS...: p11 with the environment changed (env(1) args).
p11x() {
	local e=()
	while [ "$1" != -- ]; do e+=("$1"); shift; done
	shift
	env "${e[@]}" timeout 120 "$P11" --socket "$SOCK" --no-autostart "$@"
}
store_without_home() {
	local m=$W/nohome.in fresh=$W/fresh-xdg file=$W/not-a-dir rc fp
	mkmail rsa2048@p11agent.test bob@p11agent.test "no home" "$m"
	: >"$file"
	# 1. A fresh XDG_DATA_HOME: sign creates nothing; a good signature
	#    creates the store (0700) with the signer in it.
	p11x XDG_DATA_HOME="$fresh" -- sign -o "$W/nohome.eml" "$m" 2>"$W/nohome.err" || { cat "$W/nohome.err"; return 1; }
	[ ! -s "$W/nohome.err" ] || { echo "sign said:"; cat "$W/nohome.err"; return 1; }
	[ ! -e "$fresh" ] || { echo "sign created $(find "$fresh" | head -n 3)"; return 1; }
	p11x XDG_DATA_HOME="$fresh" -- verify "${V[@]}" -o /dev/null "$W/nohome.eml" 2>"$W/nohome.err" ||
		{ cat "$W/nohome.err"; return 1; }
	fp=$(openssl x509 -in "$T_KEYS/rsa2048.cert.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
	[ -s "$fresh/p11agent/certs/$fp.pem" ] || { echo "the signer was not kept in the new store"; return 1; }
	[ "$(stat -c %a "$fresh/p11agent/certs")" = 700 ] || { echo "store folder mode $(stat -c %a "$fresh/p11agent/certs")"; return 1; }
	# 2. A store that cannot be written (under a regular file, which holds
	#    for root too): same verdict and exit 0, and a warning naming why.
	p11x XDG_DATA_HOME="$file" -- sign -o "$W/nohome2.eml" "$m" 2>"$W/nohome.err" || { cat "$W/nohome.err"; return 1; }
	[ ! -s "$W/nohome.err" ] || { echo "sign said:"; cat "$W/nohome.err"; return 1; }
	XDG_DATA_HOME=$file p11_status verify "$W/nohome.json" valid "${V[@]}" -o /dev/null "$W/nohome2.eml" || return 1
	grep -q "not kept in $file/p11agent/certs: Not a directory" "$W/nohome.json.err" ||
		{ echo "no warning about the store:"; cat "$W/nohome.json.err"; return 1; }
	openssl cms -encrypt -aes-256-cbc -in "$W/nohome2.eml" -recip "$T_KEYS/rsa2048.cert.pem" -out "$W/nohome-enc.eml" || return 1
	XDG_DATA_HOME=$file p11_status decrypt "$W/nohome.d.json" ok --verify "${V[@]}" -o "$W/nohome.dec" "$W/nohome-enc.eml" || return 1
	[ "$(t_json "$W/nohome.d.json" .signature.status)" = valid ] || { echo "decrypt --verify: signature $(t_json "$W/nohome.d.json" .signature.status)"; return 1; }
	grep -q "not kept in" "$W/nohome.d.json.err" || { echo "decrypt --verify: no warning"; cat "$W/nohome.d.json.err"; return 1; }
	# 3. Neither HOME nor XDG_DATA_HOME: no store at all.
	p11x -u HOME -u XDG_DATA_HOME -- sign -o "$W/nohome3.eml" "$m" 2>"$W/nohome.err" || { cat "$W/nohome.err"; return 1; }
	[ ! -s "$W/nohome.err" ] || { echo "sign said:"; cat "$W/nohome.err"; return 1; }
	openssl cms -verify -CAfile "$CA/chain.pem" -in "$W/nohome3.eml" -out /dev/null 2>/dev/null || { echo "openssl rejects it"; return 1; }
	p11x -u HOME -u XDG_DATA_HOME -- verify "${V[@]}" -o /dev/null "$W/nohome3.eml" 2>"$W/nohome.err" ||
		{ echo "verify without a store failed:"; cat "$W/nohome.err"; return 1; }
	grep -q "good signature" "$W/nohome.err" && ! grep -q warning "$W/nohome.err" || { cat "$W/nohome.err"; return 1; }
	p11x -u HOME -u XDG_DATA_HOME -- encrypt -r "$T_KEYS/bob.cert.pem" -o "$W/nohome4.eml" "$m" || return 1
	openssl cms -decrypt -in "$W/nohome4.eml" -recip "$T_KEYS/bob.cert.pem" -inkey "$T_KEYS/bob.key.pem" -out /dev/null ||
		{ echo "bob cannot open encrypt -r FILE made without a store"; return 1; }
	rc=0
	p11x -u HOME -u XDG_DATA_HOME -- encrypt -r bob@p11agent.test -o "$W/nohome5.eml" "$m" 2>"$W/nohome.err" || rc=$?
	[ $rc = 5 ] && grep -q "no certificate store" "$W/nohome.err" && [ ! -e "$W/nohome5.eml" ] ||
		{ echo "encrypt -r ADDR without a store: exit $rc"; cat "$W/nohome.err"; return 1; }
	rc=0
	p11x -u HOME -u XDG_DATA_HOME -- certs list >/dev/null 2>"$W/nohome.err" || rc=$?
	[ $rc = 1 ] && grep -q "cannot open the certificate store" "$W/nohome.err" ||
		{ echo "certs list without a store: exit $rc"; cat "$W/nohome.err"; return 1; }
}

# The cipher follows what the recipients announced (SMIMECapabilities of
# signatures p11 verify found valid): GCM only when every one announced it.
caps_gcm() {
	# p11's own signatures announce AES-GCM; verifying one stores that.
	mkmail p384@p11agent.test rsa2048@p11agent.test "caps" "$W/caps384.in"
	p11 sign -o "$W/caps384.eml" "$W/caps384.in" || return 1
	p11_status verify "$W/caps384.json" valid "${V[@]}" -o /dev/null "$W/caps384.eml" || return 1
	mkmail rsa2048@p11agent.test p384@p11agent.test "to p384" "$W/capsgcm.plain"
	p11 encrypt -r p384@p11agent.test -o "$W/capsgcm.eml" "$W/capsgcm.plain" || return 1
	local oid
	oid=$(cek_oid "$W/capsgcm.eml")
	[ "$oid" = $GCM256 ] || { echo "content encryption $oid; both sides announced AES-256-GCM ($GCM256)"; return 1; }
	openssl cms -decrypt -in "$W/capsgcm.eml" -recip "$T_KEYS/p384.cert.pem" -inkey "$T_KEYS/p384.key.pem" \
		-out "$W/capsgcm.out" && same_body "$W/capsgcm.plain" "$W/capsgcm.out"
}
caps_cbc() {
	# openssl's signatures announce CBC ciphers only.
	mkmail bob@p11agent.test rsa2048@p11agent.test "bob caps" "$W/capsbob.in"
	sed -n '/^Content-Type/,$p' "$W/capsbob.in" >"$W/capsbob.entity"
	openssl cms -sign -in "$W/capsbob.entity" -signer "$T_KEYS/bob.cert.pem" -inkey "$T_KEYS/bob.key.pem" \
		-from bob@p11agent.test -to rsa2048@p11agent.test -subject caps -out "$W/capsbob.eml" || return 1
	p11_status verify "$W/capsbob.json" valid "${V[@]}" -o /dev/null "$W/capsbob.eml" || return 1
	mkmail rsa2048@p11agent.test bob@p11agent.test "to bob" "$W/capscbc.plain"
	p11 encrypt -r bob@p11agent.test -o "$W/capscbc.eml" "$W/capscbc.plain" || return 1
	local oid
	oid=$(cek_oid "$W/capscbc.eml")
	[ "$oid" = $CBC256 ] || { echo "content encryption $oid; bob announced no GCM, want AES-256-CBC"; return 1; }
	mkmail rsa2048@p11agent.test bob@p11agent.test "to both" "$W/capsmix.plain"
	p11 encrypt -r p384@p11agent.test -r bob@p11agent.test -o "$W/capsmix.eml" "$W/capsmix.plain" || return 1
	oid=$(cek_oid "$W/capsmix.eml")
	[ "$oid" = $CBC256 ] || { echo "to p384 (GCM) and bob (no GCM): $oid, want AES-256-CBC"; return 1; }
	openssl cms -decrypt -in "$W/capsmix.eml" -recip "$T_KEYS/bob.cert.pem" -inkey "$T_KEYS/bob.key.pem" \
		-out "$W/capsmix.bob" && same_body "$W/capsmix.plain" "$W/capsmix.bob" || return 1
	openssl cms -decrypt -in "$W/capsmix.eml" -recip "$T_KEYS/p384.cert.pem" -inkey "$T_KEYS/p384.key.pem" \
		-out "$W/capsmix.p384" && same_body "$W/capsmix.plain" "$W/capsmix.p384"
}
V=(--ca-file "$CA/chain.pem")
t_case "capabilities: after verifying p384's signature (GCM announced), encrypt -r p384@ uses AES-256-GCM" caps_gcm
t_case "capabilities: bob announced CBC only: AES-256-CBC, also with p384 as a second recipient" caps_cbc
t_case "no writable home: sign, verify, encrypt -r FILE, decrypt --verify work; a store is made only by a good signature; cannot keep = warning" store_without_home

# --- 4. sign+encrypt, triple wrap, protected headers ------------------------
sign_encrypt() {
	enc_make signenc "$T_KEYS/bob.cert.pem" --sign || return 1
	openssl cms -decrypt -in "$W/signenc.eml" -recip "$T_KEYS/bob.cert.pem" -inkey "$T_KEYS/bob.key.pem" \
		-out "$W/signenc.inner" || return 1
	openssl cms -verify -CAfile "$CA/chain.pem" -in "$W/signenc.inner" -out "$W/signenc.content" || return 1
	same_body "$W/signenc.plain" "$W/signenc.content" || return 1
	[ "$(signer_of "$W/signenc.inner")" = rsa2048@p11agent.test ] || { echo "inner signer is not rsa2048"; return 1; }
	p11_status decrypt "$W/signenc.json" ok --verify --ca-file "$CA/chain.pem" -o "$W/signenc.own" "$W/signenc.eml" ||
		return 1
	[ "$(t_json "$W/signenc.json" .signature.status)" = valid ] ||
		{ echo "signature.status: $(t_json "$W/signenc.json" .signature.status)"; return 1; }
	[ "$(t_json "$W/signenc.json" .signature.signer.email | tr A-Z a-z)" = rsa2048@p11agent.test ] ||
		{ echo "signature.signer.email: $(t_json "$W/signenc.json" .signature.signer.email)"; return 1; }
	same_body "$W/signenc.plain" "$W/signenc.own"
}
t_case "encrypt --sign: openssl decrypts as bob and verifies; p11 decrypt --verify says valid" sign_encrypt

triple_wrap() {
	enc_make triple "$T_KEYS/bob.cert.pem" --sign || return 1
	p11 sign -o "$W/triple2.eml" "$W/triple.eml" || return 1
	t_mime header "$W/triple2.eml" From | grep -q rsa2048@p11agent.test || { echo "From: lost"; return 1; }
	openssl cms -verify -CAfile "$CA/chain.pem" -in "$W/triple2.eml" -out "$W/triple.l1" || return 1
	openssl cms -decrypt -in "$W/triple.l1" -recip "$T_KEYS/bob.cert.pem" -inkey "$T_KEYS/bob.key.pem" \
		-out "$W/triple.l2" || return 1
	openssl cms -verify -CAfile "$CA/chain.pem" -in "$W/triple.l2" -out "$W/triple.l3" || return 1
	same_body "$W/triple.plain" "$W/triple.l3" || return 1
	p11_status verify "$W/triple.v.json" valid --ca-file "$CA/chain.pem" -o /dev/null "$W/triple2.eml" || return 1
	p11_status decrypt "$W/triple.json" ok --verify --ca-file "$CA/chain.pem" -o "$W/triple.own" "$W/triple2.eml" ||
		return 1
	[ "$(t_json "$W/triple.json" .signature.status)" = valid ] ||
		{ echo "signature.status: $(t_json "$W/triple.json" .signature.status)"; return 1; }
	same_body "$W/triple.plain" "$W/triple.own"
}
t_case "triple wrap (sign, encrypt, sign): openssl peels all three; p11 decrypt --verify opens it" triple_wrap

protect_headers() {
	local subj
	enc_make prot "$T_KEYS/bob.cert.pem" --protect-headers || return 1
	subj=$(t_mime header "$W/prot.plain" Subject)
	grep -qF "$subj" "$W/prot.eml" && { echo "the real Subject is visible outside"; return 1; }
	t_mime header "$W/prot.eml" Subject >/dev/null || { echo "no outer Subject at all"; return 1; }
	ossl_dec_bob prot || return 1
	t_mime header "$W/prot.bob" Subject | grep -qxF "$subj" || { echo "inner part lacks Subject: $subj"; return 1; }
	p11_status decrypt "$W/prot.json" ok -o "$W/prot.own" "$W/prot.eml" || return 1
	t_mime header "$W/prot.own" Subject | grep -qxF "$subj" ||
		{ echo "p11 decrypt output Subject: '$(t_mime header "$W/prot.own" Subject)', want '$subj'"; return 1; }
	# Control: without --protect-headers the Subject stays outside.
	enc_make unprot "$T_KEYS/bob.cert.pem" || return 1
	t_mime header "$W/unprot.eml" Subject | grep -qxF "$(t_mime header "$W/unprot.plain" Subject)" ||
		{ echo "without --protect-headers the outer Subject is not the real one"; return 1; }
}
t_case "--protect-headers hides Subject outside; bob's and p11's decryption restore it" protect_headers

# --- 5. bad input ---------------------------------------------------------
# bad CMD STATUS MSG [ARGS...]: status in JSON, non-zero exit, an existing
# -o file untouched, and without --json/-o nothing on stdout.
bad() {
	local cmd=$1 want=$2 msg=$3 sum
	shift 3
	[ -s "$msg" ] || { echo "input $msg missing (an earlier step failed)"; return 1; }
	printf 'existing file, must survive\n' >"$W/keep.out"
	sum=$(t_file_sum "$W/keep.out")
	p11_status "$cmd" "$W/bad.json" "$want" "$@" -o "$W/keep.out" "$msg" || return 1
	[ "$(t_file_sum "$W/keep.out")" = "$sum" ] || { echo "-o file was changed on failure"; return 1; }
	p11 "$cmd" "$@" "$msg" >"$W/bad.stdout" 2>/dev/null && { echo "exit 0 without --json"; return 1; }
	[ ! -s "$W/bad.stdout" ] || { echo "stdout not empty: $(head -c 200 "$W/bad.stdout")"; return 1; }
	# A new -o file is not left behind either.
	rm -f "$W/new.out"
	p11 "$cmd" "$@" -o "$W/new.out" "$msg" >/dev/null 2>&1
	[ ! -s "$W/new.out" ] || { echo "a new -o file was written on failure"; return 1; }
}
V=(--ca-file "$CA/chain.pem")

# Signatures.
mk_tampered() {
	local tag=rsa2048-pkcs1-sha256-detached
	[ -s "$W/$tag.eml" ] || return 1
	perl -pe 's/trailing white space/trailing white spade/' "$W/$tag.eml" >"$W/bad-body.eml"
	! cmp -s "$W/$tag.eml" "$W/bad-body.eml"
}
mk_tampered
t_case "verify: a tampered body is bad-signature" bad verify bad-signature "$W/bad-body.eml" "${V[@]}"

mk_tampered_opaque() {
	local tag=rsa2048-pkcs1-sha256-opaque
	t_smime_der "$W/$tag.eml" "$W/op.der" || return 1
	t_der_flip "$W/op.der" "$W/op.bad.der" || return 1
	t_mime der2mime "$W/op.bad.der" signed-data "$W/op.bad.tmp" || return 1
	# Keep the original headers (From:) for the tampered copy.
	t_mime wrap "$W/$tag.eml" "$W/bad-opaque.eml" "$W/op.bad.tmp"
}
mk_tampered_opaque
t_case "verify: a changed byte in opaque eContent is bad-signature" bad verify bad-signature "$W/bad-opaque.eml" "${V[@]}"

mk_mismatch() {
	local tag=rsa2048-pkcs1-sha256-detached
	perl -pe 's/^From: .*/From: p256\@p11agent.test/ if !$done && /^From:/ && ($done = 1)' \
		"$W/$tag.eml" >"$W/bad-from.eml"
	# The same with a signature openssl made (software key), to depend on
	# nothing p11 wrote.
	mkmail rsa2048@p11agent.test bob@p11agent.test "mismatch" "$W/mm.in"
	sed -n '/^Content-Type/,$p' "$W/mm.in" >"$W/mm.entity"
	openssl cms -sign -in "$W/mm.entity" -signer "$T_KEYS/rsa2048.cert.pem" -inkey "$T_KEYS/rsa2048.key.pem" \
		-from p384@p11agent.test -to bob@p11agent.test -subject mismatch -out "$W/bad-from2.eml"
}
mk_mismatch
t_case "verify: From: changed after signing is sender-mismatch" bad verify sender-mismatch "$W/bad-from.eml" "${V[@]}"
t_case "verify: openssl-signed, From: another user, is sender-mismatch" bad verify sender-mismatch "$W/bad-from2.eml" "${V[@]}"

# A signer whose certificate expired (fixture CA, software key).
mk_expired() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/expired.key" 2>/dev/null &&
		t_issue_cert "$CA/intermediate.key.pem" "$CA/intermediate.pem" "$W/expired.key" \
			"/CN=Expired User/emailAddress=expired@p11agent.test" "$W/expired.pem" \
			"$(date -u -d '-2 years' +%Y%m%d%H%M%SZ)" "$(date -u -d '-1 year' +%Y%m%d%H%M%SZ)" >/dev/null 2>&1 &&
		mkmail expired@p11agent.test bob@p11agent.test expired "$W/exp.in" &&
		sed -n '/^Content-Type/,$p' "$W/exp.in" >"$W/exp.entity" &&
		openssl cms -sign -in "$W/exp.entity" -signer "$W/expired.pem" -inkey "$W/expired.key" \
			-certfile "$CA/intermediate.pem" -from expired@p11agent.test -to bob@p11agent.test \
			-subject expired -out "$W/bad-expired.eml"
}
mk_expired || t_fail "make an expired signer"
t_case "verify: an expired signer certificate is expired" bad verify expired "$W/bad-expired.eml" "${V[@]}"

mk_untrusted() {
	t_self_ca "$W/rogue-ca.key" "$W/rogue-ca.pem" "Rogue CA" &&
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/rogue.key" 2>/dev/null &&
		t_issue_cert "$W/rogue-ca.key" "$W/rogue-ca.pem" "$W/rogue.key" \
			"/CN=Rogue/emailAddress=rsa2048@p11agent.test" "$W/rogue.pem" \
			"$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" "$(date -u -d '+1 year' +%Y%m%d%H%M%SZ)" >/dev/null 2>&1 &&
		mkmail rsa2048@p11agent.test bob@p11agent.test untrusted "$W/ut.in" &&
		sed -n '/^Content-Type/,$p' "$W/ut.in" >"$W/ut.entity" &&
		openssl cms -sign -in "$W/ut.entity" -signer "$W/rogue.pem" -inkey "$W/rogue.key" \
			-certfile "$W/rogue-ca.pem" -from rsa2048@p11agent.test -to bob@p11agent.test \
			-subject untrusted -out "$W/bad-untrusted.eml"
}
mk_untrusted || t_fail "make an untrusted signer"
t_case "verify: a signer from a self-made CA (claiming rsa2048@) is untrusted" bad verify untrusted "$W/bad-untrusted.eml" "${V[@]}"

mk_sha1() {
	mkmail rsa2048@p11agent.test bob@p11agent.test sha1 "$W/sha1.in"
	sed -n '/^Content-Type/,$p' "$W/sha1.in" >"$W/sha1.entity"
	openssl cms -sign -md sha1 -in "$W/sha1.entity" -signer "$T_KEYS/rsa2048.cert.pem" \
		-inkey "$T_KEYS/rsa2048.key.pem" -from rsa2048@p11agent.test -to bob@p11agent.test \
		-subject sha1 -out "$W/bad-sha1.eml"
}
mk_sha1
t_case "verify: a SHA-1 signature is bad-signature" bad verify bad-signature "$W/bad-sha1.eml" "${V[@]}"
t_case "verify --allow-sha1: the same message is valid" \
	p11_status verify "$W/sha1ok.json" valid "${V[@]}" --allow-sha1 -o /dev/null "$W/bad-sha1.eml"

mkmail rsa2048@p11agent.test bob@p11agent.test "not signed" "$W/plain.eml"
t_case "verify: a plain mail is not-signed" bad verify not-signed "$W/plain.eml" "${V[@]}"

# A signature without certificates (openssl -nocerts): the signer's
# certificate comes from the store, kept there from earlier signed mail.
nocerts_from_store() {
	mkmail rsa2048@p11agent.test bob@p11agent.test "no certs" "$W/nocerts.plain"
	openssl cms -sign -nocerts -signer "$T_KEYS/rsa2048.cert.pem" -inkey "$T_KEYS/rsa2048.key.pem" \
		-in "$W/nocerts.plain" -out "$W/nocerts.eml" || return 1
	XDG_DATA_HOME=$W/empty-store p11_status verify "$W/nocerts0.json" untrusted "${V[@]}" \
		-o /dev/null "$W/nocerts.eml" || return 1
	mkmail rsa2048@p11agent.test bob@p11agent.test "with certs" "$W/withcerts.plain"
	p11 sign -o "$W/withcerts.eml" "$W/withcerts.plain" || return 1
	p11_status verify "$W/withcerts.json" valid "${V[@]}" -o /dev/null "$W/withcerts.eml" || return 1
	p11_status verify "$W/nocerts1.json" valid "${V[@]}" -o /dev/null "$W/nocerts.eml"
}
t_case "verify: a signature without certificates checks out with the signer's certificate from the store" nocerts_from_store

mk_garbage_sig() {
	local tag=rsa2048-pkcs1-sha256-detached
	# Cut the base64 of the signature part in half.
	perl -e 'local $/; my $d = <STDIN>;
		$d =~ s{(Content-Type: application/(?:x-)?pkcs7-signature.*?\r?\n\r?\n)([A-Za-z0-9+/=\r\n]+)}{$1 . substr($2, 0, int(length($2) / 2)) . "\n"}se or die;
		print $d' <"$W/$tag.eml" >"$W/bad-sigpart.eml"
}
mk_garbage_sig
t_case "verify: a truncated signature part is malformed" bad verify malformed "$W/bad-sigpart.eml" "${V[@]}"

untrusted_without_ca() {
	local tag=rsa2048-pkcs1-sha256-opaque
	# An empty store and no --ca-file: nothing is trusted yet.
	p11_status verify "$W/noca.json" untrusted -o /dev/null "$W/$tag.eml" || return 1
	p11 certs trust "$CA/root.pem" || return 1
	p11_status verify "$W/noca2.json" valid -o /dev/null "$W/$tag.eml"
}
t_case "verify without --ca-file: untrusted; after certs trust root.pem: valid" untrusted_without_ca

# Encryption.
mk_enc_bad() {
	mkmail bob@p11agent.test rsa2048@p11agent.test "bad input" "$W/eb.plain"
	openssl cms -encrypt -in "$W/eb.plain" -aes-256-cbc -recip "$T_KEYS/rsa2048.cert.pem" -out "$W/eb.eml" &&
		# Truncated base64: the body cut at two thirds.
		perl -e 'local $/; my $d = <STDIN>; my ($h, $b) = $d =~ /\A(.*?\r?\n\r?\n)(.*)\z/s or die;
			print $h, substr($b, 0, int(length($b) * 2 / 3)), "\n"' <"$W/eb.eml" >"$W/bad-trunc.eml" &&
		{ head -c 600 /dev/urandom >"$W/garbage.der" && t_mime der2mime "$W/garbage.der" enveloped-data "$W/bad-garbage.eml"; } &&
		openssl cms -encrypt -in "$W/eb.plain" -aes-256-cbc -recip "$T_KEYS/bob.cert.pem" -out "$W/bad-notus.eml" &&
		openssl cms -encrypt -binary -outform DER -in "$W/eb.plain" -aes-256-gcm \
			-recip "$T_KEYS/rsa2048.cert.pem" -out "$W/gcm.der" &&
		t_der_flip "$W/gcm.der" "$W/gcm.bad.der" &&
		t_mime der2mime "$W/gcm.bad.der" authEnveloped-data "$W/bad-gcm.eml"
}
mk_enc_bad || t_fail "make the bad encrypted messages"
t_case "decrypt: truncated base64 is malformed" bad decrypt malformed "$W/bad-trunc.eml"
t_case "decrypt: random bytes as enveloped-data are malformed" bad decrypt malformed "$W/bad-garbage.eml"
t_case "decrypt: a message for bob only is not-a-recipient" bad decrypt not-a-recipient "$W/bad-notus.eml"
t_case "decrypt: a flipped ciphertext byte in AES-GCM is integrity-failure" bad decrypt integrity-failure "$W/bad-gcm.eml"

login_required() {
	p11 logout "$P11A_TEST_TOKEN" || return 1
	bad decrypt login-required "$W/eb.eml"
	local rc=$?
	p11 unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$T_DIR/pin" >/dev/null || { echo "re-unlock failed"; return 1; }
	return $rc
}
t_case "decrypt while logged out: login-required, nothing written" login_required
t_case "decrypt after unlocking again works" dec_check relogin "$W/eb.eml" "$W/eb.plain" unauthenticated

t_case "each verify/decrypt status has its own exit code" t_p11_codes_distinct

t_finish
