#!/usr/bin/env bash
# The S/MIME conformance corpus (../shared/corpus, see its README.md):
# messages made by Thunderbird's and NSS's test suites and by OpenSSL, with
# their keys imported onto a fresh SoftHSM token behind a real agent.
# Every S/MIME layer of every message gets `p11 verify --json` or
# `p11 decrypt --json`, compared with the manifest's expected_outcome; the
# plaintext markers must come out; messages with encryption also go through
# `p11 decrypt --verify --json` whole.  A message that differs fails the test
# unless smime-known-differences.tsv lists it with a reason.
#   test_smime_corpus.sh P11AGENT P11      (P11A_CORPUS overrides the path)
set -u
. "$(dirname "$0")/lib/common.sh"
AGENT=$1 P11=$2
HERE=$(cd "$(dirname "$0")" && pwd)
CORPUS=${P11A_CORPUS:-$HERE/../../../shared/corpus}
KNOWN=$HERE/smime-known-differences.tsv
[ -d "$CORPUS/thunderbird-smime" ] && [ -d "$CORPUS/nss-smime-interop" ] ||
	t_skip "S/MIME corpus not found at $CORPUS (set P11A_CORPUS)"
CORPUS=$(cd "$CORPUS" && pwd)
t_need softhsm2-util pkcs11-tool openssl jq perl
for c in verify decrypt; do
	t_p11_has "$P11" $c || t_skip "p11 $c is not implemented yet (p11: unknown command '$c')"
done
TB=$CORPUS/thunderbird-smime
CA=$TB/smime/TestCA.pem

T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/p11a-corpus.XXXXXX")
trap t_cleanup EXIT
W=$T_DIR/w
mkdir -p "$W"
export XDG_DATA_HOME=$T_DIR/xdg XDG_CONFIG_HOME=$T_DIR/xdgconf XDG_RUNTIME_DIR=$T_DIR/run
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
SOCK=$T_DIR/run/agent.sock
# A hang is a failure, not a stuck CI run.
p11() { timeout "${P11_TIMEOUT:-120}" "$P11" --socket "$SOCK" --no-autostart "$@"; }
t_p11_codes_init "$P11"

# The corpus certificates carry fixed dates (Alice, Bob, Dave: 2026-01-26
# to 2031-01-26): outside them every "valid" would rightly turn "expired".
openssl pkcs12 -in "$TB/smime/Alice.p12" -passin pass:nss -clcerts -nokeys -out "$W/alice.pem" 2>/dev/null ||
	t_skip "openssl cannot read Alice.p12"
openssl x509 -in "$W/alice.pem" -noout -checkend 0 >/dev/null ||
	t_skip "the corpus certificates have expired ($(openssl x509 -in "$W/alice.pem" -noout -enddate))"
[ "$(date -u +%s)" -ge "$(date -u -d "$(openssl x509 -in "$W/alice.pem" -noout -startdate | cut -d= -f2)" +%s)" ] ||
	t_skip "the corpus certificates are not valid yet (clock before $(openssl x509 -in "$W/alice.pem" -noout -startdate))"

MODULE=$(t_softhsm_module) || t_skip "libsofthsm2.so not found"
LABEL=corpus
t_fresh_token "$T_DIR/hsm" $LABEL || t_skip "cannot make a SoftHSM token"
printf '123456\n' >"$T_DIR/pin"
printf 'nss\n' >"$T_DIR/p12pass"

# Keys: those the messages are for (Bob, Fran, Fran-ec) and the signers.
P12S="$TB/smime/Alice.p12 $TB/smime/Bob.p12 $TB/smime/Dave.p12 $TB/smime/Alice-ec.p12
$CORPUS/nss-smime-interop/Fran.p12 $CORPUS/nss-smime-interop/Fran-ec.p12"

# Without p11 import: softhsm2-util for RSA, pkcs11-tool for EC (softhsm2-util
# leaves CKA_DERIVE off, and ECDH decryption needs it; the corpus README's
# recipe would fail for Fran-ec).
direct_import() { # P12 ID
	local p12=$1 id=$2 name k=$W/imp
	name=$(basename "$p12" .p12)
	openssl pkcs12 -in "$p12" -passin pass:nss -nocerts -nodes 2>/dev/null |
		openssl pkcs8 -topk8 -nocrypt -out "$k.p8" || return 1
	openssl pkcs12 -in "$p12" -passin pass:nss -clcerts -nokeys 2>/dev/null |
		openssl x509 -outform DER -out "$k.der" || return 1
	local tool=(pkcs11-tool --module "$MODULE" --token-label "$LABEL" --login --pin 123456)
	if openssl pkey -in "$k.p8" -noout -text 2>/dev/null | grep -q 'ASN1 OID'; then
		openssl pkey -in "$k.p8" -outform DER -out "$k.key.der" &&
			openssl pkey -in "$k.p8" -pubout -outform DER -out "$k.pub.der" &&
			"${tool[@]}" --write-object "$k.key.der" --type privkey --id "$id" --label "$name" \
				--usage-sign --usage-derive --private --sensitive >/dev/null &&
			"${tool[@]}" --write-object "$k.pub.der" --type pubkey --id "$id" --label "$name" \
				--usage-sign --usage-derive >/dev/null || return 1
	else
		softhsm2-util --import "$k.p8" --token $LABEL --label "$name" --id "$id" --pin 123456 >/dev/null || return 1
	fi
	"${tool[@]}" --write-object "$k.der" --type cert --id "$id" --label "$name" >/dev/null
	rm -f "$k.p8" "$k.key.der"
}

HAVE_IMPORT=0
t_p11_has "$P11" import && HAVE_IMPORT=1
if [ $HAVE_IMPORT = 0 ]; then
	i=0
	for p in $P12S; do
		i=$((i + 1))
		direct_import "$p" "$(printf '%02x' $i)" || t_skip "cannot import $(basename "$p") with softhsm2-util/pkcs11-tool"
	done
fi
t_agent_start "$AGENT" "$SOCK" "$MODULE" || { t_fail "agent starts on the corpus token"; t_finish; exit 1; }
p11 unlock --pin-fd 3 $LABEL 3<"$T_DIR/pin" >/dev/null || { t_fail "unlock the corpus token"; t_finish; exit 1; }
if [ $HAVE_IMPORT = 1 ]; then
	# p11 import is under test too; a key it fails to import is put on the
	# token directly afterwards, so that its messages are still checked.
	missing=
	for p in $P12S; do
		before=$T_FAIL
		P11_TIMEOUT=60 t_case "p11 import $(basename "$p") (password nss) onto the fresh token" \
			p11 import --token $LABEL --pass-fd 3 "$p" 3<"$T_DIR/p12pass"
		[ "$T_FAIL" = "$before" ] || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		i=128
		for p in $missing; do
			i=$((i + 1))
			direct_import "$p" "$(printf '%02x' $i)" || t_fail "direct import of $(basename "$p")"
		done
		kill -HUP "$T_AGENT_PID"
		sleep 2
	fi
	p11 keys >"$W/keys" 2>&1
	for who in alice bob dave fran fran-ec; do
		grep -qi "$who@example.com" "$W/keys" || t_fail "p11 keys does not list $who@example.com"
	done
fi

# --- expectations -----------------------------------------------------------
# One manifest token -> the p11 status(es) that are right for it under the
# contract.  SHA-1 is refused unless --allow-sha1 (what the manifest calls
# verify-ok-sha1 is checked both ways).  A layer with more than one defect
# (the stale 2019 files: unknown issuer and expired; nested-sigs.eml:
# content mismatch and unknown issuer; SHA-1 plus a sender mismatch) may be
# reported by any of its defects: the contract does not rank them.
# signing-time-mismatch is Thunderbird policy; the contract has no such
# status, so the signature is valid.  A PGP/MIME signature is not an
# S/MIME signature: not-signed.
expect_of() { # TOKEN DIGEST -> "default-statuses allow-sha1-statuses"
	local tok=$1 md=$2
	case $tok in
	verify-ok | verify-ok+signing-time-mismatch) echo "valid valid" ;;
	verify-ok-sha1) echo "bad-signature valid" ;;
	verify-ok+mismatch-sender) echo "sender-mismatch sender-mismatch" ;;
	verify-ok-sha1+mismatch-sender) echo "bad-signature|sender-mismatch sender-mismatch" ;;
	verify-bad-signature) echo "bad-signature bad-signature" ;;
	verify-bad-signature+untrusted) echo "bad-signature|untrusted|expired bad-signature|untrusted|expired" ;;
	cert-untrusted)
		if [ "$md" = sha1 ]; then echo "untrusted|expired|bad-signature untrusted|expired"
		else echo "untrusted|expired untrusted|expired"; fi ;;
	cert-bad-signature) echo "untrusted untrusted" ;;
	decrypt-ok) echo "ok ok" ;;
	decrypt-fail-no-matching-key) echo "not-a-recipient not-a-recipient" ;;
	"unsupported(pgp-signature)") echo "not-signed not-signed" ;;
	*) echo "? ?" ;;
	esac
}
# Corrections to the manifest, each backed by its own tool columns:
# - outer-pgp-*: the second layer is enveloped data for an old Bob key
#   (openssl "decrypt-fail", NSS SEC_ERROR_NOT_A_RECIPIENT, gpgsm
#   DECRYPTION_FAILED), not a signature: the manifest's "verify-fail".
# - alice.mime.dsig.*: detached signatures over alice.mime; put together as
#   multipart/signed they verify cryptographically (openssl -noverify) and
#   fail on the chain like the other stale files.
# - A verify-bad-signature layer whose signer NSS also reports as not
#   trusted (SEC_ERROR_UNKNOWN_ISSUER / EXPIRED_CERTIFICATE: nested-sigs.eml,
#   the hand-made outer signatures, the stale mismatch-econtent files) has
#   two defects; the manifest's openssl column only shows the first.
correct() { # REL EXPECTED NSS-COLUMN -> EXPECTED
	case $1 in
	thunderbird-smime/smime-manual/outer-pgp-sig-inner-smime-enc*.eml)
		echo "unsupported(pgp-signature);decrypt-fail-no-matching-key"
		return ;;
	thunderbird-smime/smime/alice.mime.dsig.*) echo "cert-untrusted"; return ;;
	esac
	local -a toks nss
	local i out=
	IFS=';' read -r -a toks <<<"$2"
	mapfile -t nss < <(perl -ne 'print "$1\n" while /nss:(\w+(?:\([^)]*\))?(?:\[[A-Z_]*\])?)/g' <<<"$3")
	for i in "${!toks[@]}"; do
		if [ "${toks[$i]}" = verify-bad-signature ] && [[ ${nss[$i]:-} == *SigningCertNotTrusted* ]]; then
			toks[$i]=verify-bad-signature+untrusted
		fi
		out=$out${out:+;}${toks[$i]}
	done
	echo "$out"
}
marker_of() {
	case $1 in
	ALICE-TEXT) echo "This is a test message from Alice to Bob." ;;
	FAKE-TEXT) echo "This is a FAKE message NOT from Alice to Bob." ;;
	FRAN-TEXT) echo "This is a test message to Fran." ;;
	BAIT) echo "Please reply to this harmless looking message" ;;
	SECRET-TEXT) echo "SECRET-TEXT the attacker wants to steal" ;;
	level-2) echo "level 2" ;;
	esac
}

declare -A KNOWN_WHY=()
if [ -r "$KNOWN" ]; then
	while IFS=$'\t' read -r f why; do
		case $f in '' | '#'*) continue ;; esac
		KNOWN_WHY[$f]=$why
	done <"$KNOWN"
fi

# --- walking a message ------------------------------------------------------
# walk FILE OUTER: each S/MIME layer, depth first (the manifest's order).
# OUTER is the message whose From/Date/To/Subject apply to FILE.  Appends to
# L_KIND (verify/decrypt), L_GOT, L_ALLOW (status with --allow-sha1),
# L_EMAIL, L_DIGEST; text leaves go to $TEXTS.
N=0
# newf: a new scratch path in NEWF (no subshell, so the counter moves on).
newf() { N=$((N + 1)); NEWF=$MW/$N; }
layer_verify() { # FILE OUTER -> content in $1.content (or empty)
	local f=$1 outer=$2 in j allow=-
	newf
	in=$NEWF
	t_mime wrap "$outer" "$in" "$f"
	j=$in.json
	rm -f "$f.content"
	p11 verify --json --ca-file "$CA" -o "$f.content" "$in" >"$j" 2>"$j.err"
	local rc=$? st
	st=$(t_json "$j" .status) || st="no-json(exit $rc)"
	t_p11_note_code "$st" $rc >>"$MW/notes" || CODE_BAD=1
	case $st in valid) [ $rc -eq 0 ] || CODE_BAD=1 ;; *) [ $rc -ne 0 ] || CODE_BAD=1 ;; esac
	L_EMAIL+=("$(t_json "$j" .signer.email 2>/dev/null | tr A-Z a-z)")
	L_DIGEST+=("$(t_json "$j" .digest 2>/dev/null | tr -d '-' | tr A-Z a-z)")
	# SHA-1 layers once more with --allow-sha1.
	if grep -q "sha1" <<<"${EXP_TOK[${#L_GOT[@]}]:-}"; then
		p11 verify --json --allow-sha1 --ca-file "$CA" -o /dev/null "$in" >"$j.a" 2>/dev/null
		allow=$(t_json "$j.a" .status) || allow=no-json
	fi
	L_KIND+=(verify)
	L_GOT+=("$st")
	L_ALLOW+=("$allow")
}
layer_decrypt() { # FILE OUTER -> plaintext in $1.plain when ok
	local f=$1 outer=$2 in j rc st
	newf
	in=$NEWF
	t_mime wrap "$outer" "$in" "$f"
	j=$in.json
	rm -f "$f.plain"
	p11 decrypt --json -o "$f.plain" "$in" >"$j" 2>"$j.err"
	rc=$?
	st=$(t_json "$j" .status) || st="no-json(exit $rc)"
	t_p11_note_code "$st" $rc >>"$MW/notes" || CODE_BAD=1
	case $st in ok) [ $rc -eq 0 ] || CODE_BAD=1 ;; *) [ $rc -ne 0 ] || CODE_BAD=1 ;; esac
	if [ "$st" != ok ] && [ -e "$f.plain" ]; then
		echo "decrypt $st but wrote the output file" >>"$MW/notes"
		CODE_BAD=1
	fi
	L_KIND+=(decrypt)
	L_GOT+=("$st")
	L_ALLOW+=(-)
	L_EMAIL+=(-)
	L_DIGEST+=(-)
	[ "$st" = ok ] || return 0
	# "Any nesting": p11 decrypt may open a signature inside the encryption
	# too.  If its output is no longer signed, that signature is the next
	# layer, judged by p11 decrypt --verify (and --allow-sha1 where the
	# manifest has SHA-1).
	case $(t_mime info "$f.plain" | cut -f1,2) in
	multipart/signed* | *pkcs7-mime$'\t'signed-data) return 0 ;;
	esac
	local vs allow=- idx=${#L_GOT[@]} sj=$in.v.json
	rm -f "$in.v.out"
	p11 decrypt --verify --ca-file "$CA" --json -o "$in.v.out" "$in" >"$sj" 2>/dev/null
	rc=$?
	vs=$(t_json "$sj" '.signature.status // empty')
	[ -n "$vs" ] || return 0
	vcheck "$vs" $rc "$in.v.out" decrypt-verify
	if grep -q sha1 <<<"${EXP_TOK[$idx]:-}"; then
		p11 decrypt --verify --allow-sha1 --ca-file "$CA" --json -o /dev/null "$in" >"$sj.a" 2>/dev/null
		allow=$(t_json "$sj.a" '.signature.status // empty') || allow=none
	fi
	L_KIND+=(verify)
	L_GOT+=("$vs")
	L_ALLOW+=("$allow")
	L_EMAIL+=("$(t_json "$sj" '.signature.signer.email // empty' | tr A-Z a-z)")
	local dg
	# The contract does not spell out decrypt's signature object beyond
	# status and signer: its digest is checked when given.
	dg=$(t_json "$sj" '.signature.digest // empty' | tr -d '-' | tr A-Z a-z)
	L_DIGEST+=("${dg:--}")
}
# vcheck SIGSTATUS RC OUT WHAT: with --verify, a signature that is not
# valid is a failure: its own exit code and nothing written.
vcheck() {
	local vs=$1 rc=$2 out=$3 what=$4
	if [ "$vs" = valid ]; then
		[ "$rc" -eq 0 ] || { echo "$what: signature valid but exit $rc" >>"$MW/notes"; CODE_BAD=1; }
		[ -s "$out" ] || { echo "$what: signature valid but no output" >>"$MW/notes"; CODE_BAD=1; }
	else
		t_p11_note_code "$vs" "$rc" >>"$MW/notes" || CODE_BAD=1
		[ ! -s "$out" ] || { echo "$what: signature $vs but output written" >>"$MW/notes"; CODE_BAD=1; }
	fi
}
# smime_type FILE: signed-data / enveloped-data / authenveloped-data of an
# application/pkcs7-mime part (from the parameter, else from the DER).
smime_type() {
	local f=$1 t d
	t=$(t_mime info "$f" | cut -f2)
	case $t in signed-data | enveloped-data | authenveloped-data) echo "$t"; return ;; esac
	newf
	d=$NEWF
	t_mime body "$f" "$d" 2>/dev/null
	case $(openssl cms -cmsout -print -inform DER -in "$d" 2>/dev/null | sed -n 's/^ *contentType: \([^ ]*\).*/\1/p' | head -n 1) in
	pkcs7-signedData) echo signed-data ;;
	pkcs7-envelopedData) echo enveloped-data ;;
	id-smime-ct-authEnvelopedData) echo authenveloped-data ;;
	*) echo unknown ;;
	esac
}
walk() {
	local f=$1 outer=$2 info type proto n i d
	DEPTH=$((DEPTH + 1))
	[ $DEPTH -le 12 ] || { echo "nesting deeper than 12" >>"$MW/notes"; DEPTH=$((DEPTH - 1)); return; }
	info=$(t_mime info "$f")
	type=$(cut -f1 <<<"$info")
	proto=$(cut -f3 <<<"$info")
	case $type in
	multipart/signed)
		case $proto in
		application/pkcs7-signature | application/x-pkcs7-signature) layer_verify "$f" "$outer" ;;
		*)
			# Not S/MIME (PGP/MIME): p11 verify must not call it signed.
			layer_verify "$f" "$outer" ;;
		esac
		newf
	d=$NEWF
		mkdir -p "$d"
		n=$(t_mime parts "$f" "$d" 2>/dev/null) || n=0
		[ "$n" -ge 1 ] && walk "$d/1" "$outer"
		;;
	application/pkcs7-mime | application/x-pkcs7-mime)
		case $(smime_type "$f") in
		signed-data)
			layer_verify "$f" "$outer"
			if [ ! -s "$f.content" ]; then
				# Not valid: peel it without p11 to reach the inner layers.
				newf
	d=$NEWF
				t_mime body "$f" "$d.der" 2>/dev/null
				openssl cms -verify -noverify -nosigs -binary -inform DER -in "$d.der" -out "$f.content" >/dev/null 2>&1
			fi
			[ -s "$f.content" ] && walk "$f.content" "$outer"
			;;
		enveloped-data | authenveloped-data)
			layer_decrypt "$f" "$outer"
			[ -s "$f.plain" ] && walk "$f.plain" "$outer"
			;;
		*) echo "pkcs7-mime of unknown type" >>"$MW/notes" ;;
		esac
		;;
	multipart/*)
		SIBLINGS=1
		newf
	d=$NEWF
		mkdir -p "$d"
		n=$(t_mime parts "$f" "$d" 2>/dev/null) || n=0
		for i in $(seq 1 "$n"); do walk "$d/$i" "$outer"; done
		;;
	message/rfc822)
		newf
	d=$NEWF
		t_mime body "$f" "$d"
		walk "$d" "$d"
		;;
	text/*)
		newf
	d=$NEWF
		t_mime body "$f" "$d" 2>/dev/null && cat "$d" >>"$TEXTS"
		printf '\n' >>"$TEXTS"
		;;
	esac
	DEPTH=$((DEPTH - 1))
}

# prepare REL KIND -> $MW/msg: the file as a mail (raw DER wrapped as
# application/pkcs7-mime; detached DER signatures over alice.mime put
# together as multipart/signed).
prepare() {
	local src=$1 kind=$2 md=$3 out=$MW/msg
	case $(t_mime info "$src" | cut -f1) in
	application/der)
		case $kind in
		signed-opaque) t_mime der2mime "$src" signed-data "$out" ;;
		enveloped) t_mime der2mime "$src" enveloped-data "$out" ;;
		signed-detached)
			local b=p11a-corpus-boundary
			{
				printf 'MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-%s; boundary="%s"\r\n\r\n' "${md#sha}" $b
				printf -- '--%s\r\n' $b
				cat "$(dirname "$src")/alice.mime"
				printf -- '\r\n--%s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n' $b
				openssl base64 -in "$src"
				printf -- '\r\n--%s--\r\n' $b
			} >"$out"
			;;
		*) return 1 ;;
		esac
		;;
	*) cp "$src" "$out" ;;
	esac
}

# check_message DIR ROW-FIELDS...: prints what differs; returns 0 if none.
check_message() {
	local rel=$1 kind=$2 expected=$3 who=$4 md=$5 ossl=$6 nsscol=$7 src=$8
	local -a toks roles
	MW=$W/m$MSGNO
	mkdir -p "$MW"
	: >"$MW/notes"
	TEXTS=$MW/texts
	: >"$TEXTS"
	L_KIND=() L_GOT=() L_ALLOW=() L_EMAIL=() L_DIGEST=() DEPTH=0 SIBLINGS=0 CODE_BAD=0
	expected=$(correct "$rel" "$expected" "$nsscol")
	IFS=';' read -r -a toks <<<"$expected"
	IFS=';' read -r -a roles <<<"$who"
	EXP_TOK=("${toks[@]}")
	prepare "$src" "$kind" "$md" || { echo "cannot prepare $rel"; return 1; }
	walk "$MW/msg" "$MW/msg"
	local bad=0 i want allow got
	if [ ${#L_GOT[@]} -ne ${#toks[@]} ]; then
		echo "layers: p11 saw ${#L_GOT[@]} (${L_GOT[*]:-none}), manifest has ${#toks[@]} ($expected)"
		bad=1
	fi
	for i in "${!toks[@]}"; do
		[ $i -lt ${#L_GOT[@]} ] || break
		read -r want allow <<<"$(expect_of "${toks[$i]}" "$md")"
		got=${L_GOT[$i]}
		case "|$want|" in *"|$got|"*) ;; *)
			echo "layer $((i + 1)) (${toks[$i]}): p11 ${L_KIND[$i]} says $got, want $want"
			bad=1 ;;
		esac
		if [ "${L_ALLOW[$i]}" != - ]; then
			case "|$allow|" in *"|${L_ALLOW[$i]}|"*) ;; *)
				echo "layer $((i + 1)) (${toks[$i]}): with --allow-sha1 p11 says ${L_ALLOW[$i]}, want $allow"
				bad=1 ;;
			esac
		fi
		# Signer and digest of the signatures that verify.
		if [ "${L_KIND[$i]}" = verify ] && [[ $got == valid || $got == sender-mismatch ]]; then
			local r=${roles[$i]:-} name
			name=${r#signer=}
			if [[ $r == signer=* && $name != "?" ]] && [[ ${L_EMAIL[$i]} != "${name,,}@"* ]]; then
				echo "layer $((i + 1)): signer.email '${L_EMAIL[$i]}', want ${name}@..."
				bad=1
			fi
			if [ "$md" != - ] && [ "${L_DIGEST[$i]:--}" != - ] && [ "${L_DIGEST[$i]}" != "$md" ]; then
				echo "layer $((i + 1)): digest '${L_DIGEST[$i]}', want $md"
				bad=1
			fi
		fi
	done
	[ $CODE_BAD = 0 ] || { echo "exit codes/output:"; sed 's/^/  /' "$MW/notes"; bad=1; }
	# The plaintext markers the manifest's openssl column shows.
	local m text
	for m in $(grep -o "('[^']*;')" <<<"$ossl" | tr -d "()';" | sort -u); do
		text=$(marker_of "$m")
		[ -n "$text" ] || continue
		grep -qF "$text" "$TEXTS" || { echo "text \"$text\" not reached"; bad=1; }
	done
	# With encryption and a plain chain of layers: the whole message through
	# p11 decrypt --verify.  It decrypts; a signature it reports must be one
	# the layers above expect; output comes only when that one is valid.
	local nd=0 dpos=-1 vset="|"
	for i in "${!L_KIND[@]}"; do
		if [ "${L_KIND[$i]}" = decrypt ]; then
			nd=$((nd + 1))
			dpos=$i
		else
			read -r want allow <<<"$(expect_of "${toks[$i]:-?}" "$md")"
			vset="$vset$want|"
		fi
	done
	if [ $nd -eq 1 ] && [ $SIBLINGS -eq 0 ] && [ "${toks[$dpos]:-}" = decrypt-ok ]; then
		rm -f "$MW/whole.out"
		p11 decrypt --verify --ca-file "$CA" --json -o "$MW/whole.out" "$MW/msg" >"$MW/whole.json" 2>"$MW/whole.err"
		local wrc=$? wst wsig
		wst=$(t_json "$MW/whole.json" .status) || wst="no-json"
		wsig=$(t_json "$MW/whole.json" '.signature.status // empty')
		if [ "$wst" != ok ]; then
			echo "whole message: p11 decrypt --verify says $wst"
			bad=1
		elif [ -z "$wsig" ] && [ "$vset" != "|" ]; then
			echo "whole message: p11 decrypt --verify reports no signature; the message has signed layers"
			bad=1
		elif [ -n "$wsig" ] && [[ $vset != *"|$wsig|"* ]]; then
			echo "whole message: signature.status $wsig, but the layers expect one of ${vset//|/ }"
			bad=1
		elif [ -z "$wsig" ] || [ "$wsig" = valid ]; then
			[ $wrc -eq 0 ] || { echo "whole message: exit $wrc"; bad=1; }
			local last
			last=$(grep -o "('[^']*;')" <<<"$ossl" | tail -n 1 | tr -d "()';")
			text=$(marker_of "$last")
			[ -z "$text" ] || grep -qF "$text" "$MW/whole.out" 2>/dev/null ||
				{ echo "whole message: p11 decrypt --verify output lacks \"$text\""; bad=1; }
		else
			vcheck "$wsig" $wrc "$MW/whole.out" "whole message"
			[ $CODE_BAD = 0 ] || { tail -n 2 "$MW/notes"; bad=1; }
		fi
	fi
	return $bad
}

# --- run ----------------------------------------------------------------------
TOTAL=0 GOOD=0 KNOWN_N=0 MSGNO=0
for m in "$TB/manifest.tsv" "$CORPUS/nss-smime-interop/manifest.tsv"; do
	base=$(dirname "$m")
	folder=$(basename "$base")
	while IFS=$'\t' read -r file kind _key expected who md _cek _note ossl nsscol _; do
		[ "$file" = file ] && continue
		case $expected in plain | key-material | data | '') continue ;; esac
		rel=$folder/$file
		TOTAL=$((TOTAL + 1))
		MSGNO=$((MSGNO + 1))
		if check_message "$rel" "$kind" "$expected" "$who" "$md" "$ossl" "$nsscol" "$base/$file" >"$W/why" 2>&1 </dev/null; then
			if [ -n "${KNOWN_WHY[$rel]:-}" ]; then
				t_fail "$rel: listed in smime-known-differences.tsv but now as expected; remove the line"
			else
				GOOD=$((GOOD + 1))
				t_ok "$rel: $expected"
			fi
		elif [ -n "${KNOWN_WHY[$rel]:-}" ]; then
			KNOWN_N=$((KNOWN_N + 1))
			t_skipped "$rel: known difference: ${KNOWN_WHY[$rel]}"
			sed 's/^/       | /' "$W/why" | head -n 8
		else
			t_fail "$rel: $expected"
			sed 's/^/       | /' "$W/why" | head -n 12
		fi
	done <"$m"
done
echo "$GOOD of $TOTAL messages as expected ($KNOWN_N known differences)"
t_case "each verify/decrypt status has its own exit code" t_p11_codes_distinct
# Every listed difference must name a message of the corpus.
for f in "${!KNOWN_WHY[@]}"; do
	[ -e "$CORPUS/$f" ] || t_fail "smime-known-differences.tsv names $f, which is not in the corpus"
done
t_finish
