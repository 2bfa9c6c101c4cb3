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

# ---------------------------------------------------------------------------
# S/MIME helpers (test_smime_interop.sh, test_smime_corpus.sh, the bench).

T_SKIP=${T_SKIP:-0}

# t_skipped REASON: one check could not run (a peer tool lacks a feature).
# It is counted and printed, never as a pass.
t_skipped() { T_SKIP=$((T_SKIP + 1)); echo "skip - $*"; }

# t_case DESCRIPTION COMMAND...: like t_check, but a command that exits 77
# is a skip, with the last line it printed as the reason.
# T_ONLY=REGEX runs only the cases whose description matches (debugging).
t_case() {
	local what=$1 rc
	shift
	if [ -n "${T_ONLY:-}" ] && ! [[ $what =~ $T_ONLY ]]; then
		return 0
	fi
	"$@" >"$T_DIR/last.out" 2>&1
	rc=$?
	case $rc in
	0) t_ok "$what" ;;
	77) t_skipped "$what: $(tail -n 1 "$T_DIR/last.out")" ;;
	*)
		t_fail "$what"
		sed 's/^/       | /' "$T_DIR/last.out" | head -n 25
		;;
	esac
	return 0
}

# t_finish: the summary line with skips, then exit non-zero on any failure.
t_finish() {
	if [ "$T_SKIP" -gt 0 ]; then
		echo "$T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
	else
		echo "$T_PASS passed, $T_FAIL failed"
	fi
	[ "$T_FAIL" -eq 0 ]
}

# t_p11_has P11 COMMAND: the CLI knows COMMAND (it does not answer
# "unknown command").
t_p11_has() {
	local out
	out=$("$1" "$2" --help 2>&1)
	! printf '%s\n' "$out" | grep -qi "unknown command"
}

# t_agent_start AGENT SOCK MODULE [ARGS...]: a foreground agent in the
# background, added to T_PIDS; waits for its socket.  Log in T_DIR/agent.log.
t_agent_start() {
	local agent=$1 sock=$2 module=$3
	shift 3
	mkdir -p "$(dirname "$sock")"
	chmod 700 "$(dirname "$sock")"
	"$agent" -D -a "$sock" --module "$module" "$@" >>"$T_DIR/agent.log" 2>&1 &
	T_AGENT_PID=$!
	T_PIDS="${T_PIDS:-} $T_AGENT_PID"
	for _ in $(seq 200); do
		[ -S "$sock" ] && return 0
		kill -0 "$T_AGENT_PID" 2>/dev/null || break
		sleep 0.05
	done
	tail -n 20 "$T_DIR/agent.log"
	return 1
}

# t_crlf IN OUT: bare LF -> CRLF (the canonical form a signature covers).
t_crlf() { perl -pe 's/\r?\n/\r\n/' "$1" >"$2"; }

# t_same_text A B: equal after CRLF -> LF.
t_same_text() {
	cmp -s <(perl -pe 's/\r\n/\n/' "$1") <(perl -pe 's/\r\n/\n/' "$2")
}

# t_file_sum FILE: a fingerprint to prove later that FILE was not touched.
t_file_sum() { sha256sum "$1" | cut -d' ' -f1; }

# t_json FILE FILTER: jq -r on a JSON document; fails on invalid JSON.
t_json() { jq -er "$2" "$1" 2>/dev/null; }

# t_mime COMMAND ARGS...: a small MIME reader for checking S/MIME output
# without trusting the code under test.  Commands:
#   info FILE            "type<TAB>smime-type<TAB>protocol<TAB>micalg", all
#                        lower case; a file that starts with a DER SEQUENCE
#                        is "application/der"
#   header FILE NAME     the unfolded value of the first NAME: header
#   headers FILE         the header block (up to the empty line), as is
#   body FILE OUT        the body, transfer encoding (base64, quoted-
#                        printable) undone
#   rawbody FILE OUT     the body bytes as they are
#   parts FILE DIR       a multipart's parts as DIR/1, DIR/2, ... (exact
#                        bytes between the delimiters); prints the count
#   wrap IN OUT FILE...  OUT = the From/To/Cc/Date/Subject/Message-ID
#                        headers of IN (when FILE lacks a From:) + FILE
#   der2mime DER TYPE OUT  application/pkcs7-mime; smime-type=TYPE, base64
t_mime() {
	perl -e "$T_MIME_PL" -- "$@"
}

# shellcheck disable=SC2016
T_MIME_PL='
use strict; use warnings; use MIME::Base64; use MIME::QuotedPrint;
sub slurp { local $/; open my $f, "<:raw", $_[0] or die "$_[0]: $!\n"; my $d = <$f>; $d // "" }
sub spit { open my $f, ">:raw", $_[0] or die "$_[0]: $!\n"; print $f $_[1]; close $f or die }
sub split_msg {            # (header text, body)
	my $d = shift;
	# No header block at all (e.g. bare text that was encrypted).
	return ("", $d) if $d =~ /^\r?\n/ || $d !~ /^[!-9;-~]+[ \t]*:/;
	return ($1, $2) if $d =~ /\A(.*?\r?\n)\r?\n(.*)\z/s;
	return ($d, "");
}
sub header {
	my ($h, $name) = @_;
	(my $u = $h) =~ s/\r?\n([ \t])/$1/g;
	for my $l (split /\r?\n/, $u) {
		return $1 if $l =~ /^\Q$name\E[ \t]*:[ \t]*(.*?)\s*$/i;
	}
	return undef;
}
sub param {
	my ($v, $p) = @_;
	return undef unless defined $v;
	return $1 if $v =~ /;\s*\Q$p\E\s*=\s*"([^"]*)"/i;
	return $1 if $v =~ /;\s*\Q$p\E\s*=\s*([^;\s]+)/i;
	return undef;
}
my $cmd = shift @ARGV // die "usage\n";
if ($cmd eq "info") {
	my $d = slurp($ARGV[0]);
	if ($d =~ /^\x30/) { print "application/der\t-\t-\t-\n"; exit 0 }
	my ($h) = split_msg($d);
	my $ct = header($h, "Content-Type") // "text/plain";
	my ($t) = $ct =~ /^\s*([^;\s]+)/;
	print join("\t", map { defined $_ ? lc $_ : "-" } $t,
		param($ct, "smime-type"), param($ct, "protocol"), param($ct, "micalg")), "\n";
} elsif ($cmd eq "header") {
	my ($h) = split_msg(slurp($ARGV[0]));
	my $v = header($h, $ARGV[1]);
	exit 1 unless defined $v;
	print "$v\n";
} elsif ($cmd eq "headers") {
	my ($h) = split_msg(slurp($ARGV[0]));
	print $h;
} elsif ($cmd eq "body" || $cmd eq "rawbody") {
	my ($h, $b) = split_msg(slurp($ARGV[0]));
	my $cte = lc(header($h, "Content-Transfer-Encoding") // "");
	if ($cmd eq "body" && $cte eq "base64") {
		die "bad base64\n" if $b =~ /[^A-Za-z0-9+\/=\s]/;
		$b = decode_base64($b);
	} elsif ($cmd eq "body" && $cte eq "quoted-printable") {
		$b = decode_qp($b);
	}
	spit($ARGV[1], $b);
} elsif ($cmd eq "parts") {
	my ($file, $dir) = @ARGV;
	my ($h, $b) = split_msg(slurp($file));
	my $bd = param(header($h, "Content-Type") // "", "boundary");
	die "no boundary\n" unless defined $bd;
	# RFC 2046: a delimiter is CRLF "--" boundary at the start of a line;
	# the CRLF before it belongs to the delimiter, not to the part.
	my $b2 = "\n" . $b;
	my @pos;
	while ($b2 =~ /\r?\n--\Q$bd\E(--)?[ \t]*(?:\r?\n|\z)/g) {
		push @pos, [$-[0], $+[0], defined $1];
		last if defined $1;
	}
	die "no parts\n" unless @pos;
	# Without a close delimiter (seen in the wild) the last part runs to
	# the end.
	push @pos, [length $b2, length $b2, 1] unless $pos[-1][2];
	my $n = 0;
	for my $i (0 .. $#pos - 1) {
		$n++;
		spit("$dir/$n", substr($b2, $pos[$i][1], $pos[$i + 1][0] - $pos[$i][1]));
	}
	print "$n\n";
} elsif ($cmd eq "wrap") {
	my ($outer, $out, $inner) = @ARGV;
	my ($oh) = split_msg(slurp($outer));
	my $d = slurp($inner);
	my ($ih) = split_msg($d);
	my $pre = "";
	unless (defined header($ih, "From")) {
		(my $u = $oh) =~ s/\r?\n([ \t])/$1/g;
		for my $l (split /\r?\n/, $u) {
			$pre .= "$l\r\n" if $l =~ /^(From|To|Cc|Date|Subject|Message-ID|Sender)\s*:/i;
		}
	}
	spit($out, $pre . $d);
} elsif ($cmd eq "der2mime") {
	my ($der, $type, $out) = @ARGV;
	my $b = encode_base64(slurp($der), "\r\n");
	spit($out, "MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=$type; name=smime.p7m\r\n" .
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7m\r\n\r\n$b");
} else {
	die "t_mime: unknown command $cmd\n";
}
'

# t_smime_split MSG CONTENT SIG: a multipart/signed message's signed part in
# canonical form (CRLF) and its signature as DER.
t_smime_split() {
	local msg=$1 content=$2 sig=$3 d n
	d=$(mktemp -d "$T_DIR/split.XXXXXX")
	n=$(t_mime parts "$msg" "$d") || return 1
	[ "$n" = 2 ] || { echo "multipart/signed with $n parts"; return 1; }
	t_crlf "$d/1" "$content" && t_mime body "$d/2" "$sig"
	local rc=$?
	rm -rf "$d"
	return $rc
}

# t_smime_der MSG DER: the CMS object of an application/pkcs7-mime message.
t_smime_der() { t_mime body "$1" "$2" && [ -s "$2" ]; }

# t_gpgsm_home DIR CAFILE...: a private GNUPGHOME for gpgsm with the CA
# certificates imported, the first one trusted as root, CRL checks off.
# Export GNUPGHOME=DIR to use it; t_gpgsm_stop DIR ends its gpg-agent.
t_gpgsm_home() {
	local dir=$1 fpr
	shift
	mkdir -p "$dir" && chmod 700 "$dir" || return 1
	printf 'disable-crl-checks\ndisable-dirmngr\n' >"$dir/gpgsm.conf"
	printf 'allow-loopback-pinentry\n' >"$dir/gpg-agent.conf"
	GNUPGHOME=$dir gpgsm --batch --import "$@" >/dev/null 2>&1 || return 1
	fpr=$(openssl x509 -in "$1" -noout -fingerprint -sha1 | cut -d= -f2)
	printf '%s S\n' "$fpr" >"$dir/trustlist.txt"
}
t_gpgsm_stop() { GNUPGHOME=$1 gpgconf --kill all >/dev/null 2>&1 || true; }

# t_nss_db DIR ROOT [CERT...]: an NSS database with ROOT trusted for e-mail
# ("CT,C,C") and the other certificates imported untrusted.
t_nss_db() {
	local dir=$1 root=$2 i=0 c
	shift 2
	mkdir -p "$dir" || return 1
	certutil -N -d "sql:$dir" --empty-password >/dev/null 2>&1 || return 1
	certutil -A -d "sql:$dir" -n root -t CT,C,C -i "$root" >/dev/null 2>&1 || return 1
	for c in "$@"; do
		i=$((i + 1))
		certutil -A -d "sql:$dir" -n "cert$i" -t ,, -i "$c" >/dev/null 2>&1 || return 1
	done
}

# t_issue_cert CAKEY CACERT KEY SUBJECT OUT START END: an S/MIME end-entity
# certificate (RSA or EC) with an rfc822Name from SUBJECT's emailAddress,
# valid START..END (YYYYmmddHHMMSSZ), e.g. for an expired signer.
t_issue_cert() {
	local cakey=$1 cacert=$2 key=$3 subject=$4 out=$5 start=$6 end=$7
	local w
	w=$(mktemp -d "$T_DIR/ca.XXXXXX")
	mkdir -p "$w/new"
	: >"$w/index.txt"
	cat >"$w/ca.cnf" <<-CNF
		[ ca ]
		default_ca = c
		[ c ]
		database = $w/index.txt
		new_certs_dir = $w/new
		serial = $w/serial
		default_md = sha256
		policy = p
		preserve = yes
		email_in_dn = yes
		unique_subject = no
		[ p ]
		commonName = supplied
		emailAddress = optional
		[ req ]
		distinguished_name = dn
		[ dn ]
		[ ee ]
		basicConstraints = critical, CA:false
		subjectAltName = email:copy
		extendedKeyUsage = emailProtection
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
		keyUsage = critical, digitalSignature, keyEncipherment
	CNF
	openssl req -new -config "$w/ca.cnf" -key "$key" -subj "$subject" -out "$w/req.pem" &&
		openssl ca -batch -notext -config "$w/ca.cnf" -rand_serial -startdate "$start" \
			-enddate "$end" -extensions ee -cert "$cacert" -keyfile "$cakey" \
			-in "$w/req.pem" -out "$out"
}

# t_self_ca KEY CERT CN: a self-signed CA nobody trusts.
t_self_ca() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null &&
		openssl req -x509 -new -key "$1" -subj "/CN=$3" -days 30 -out "$2" \
			-addext "basicConstraints=critical,CA:true" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# t_der_flip DER OUT: OUT = DER with one byte flipped in the middle of the
# content octets (signed eContent, or the (authenticated-)encrypted
# content), found with asn1parse: the first [0] after the id-data content
# type, then its first non-empty primitive OCTET STRING when constructed.
t_der_flip() {
	local der=$1 out=$2 line off hl len pos
	line=$(openssl asn1parse -inform DER -in "$der" 2>/dev/null | awk '
		!anchor && /OBJECT +:pkcs7-data/ { anchor = 1; next }
		anchor && !inc && /cont \[ 0 \]/ { if (/prim:/) { print; exit } inc = 1; next }
		inc && /prim: OCTET STRING/ && !/ l= *0 / { print; exit }')
	[ -n "$line" ] || { echo "no content octets found"; return 1; }
	off=$(echo "$line" | sed -E 's/^ *([0-9]+):.*/\1/')
	hl=$(echo "$line" | sed -E 's/.*hl= *([0-9]+).*/\1/')
	len=$(echo "$line" | sed -E 's/.* l= *([0-9]+).*/\1/')
	[ "$len" -gt 0 ] || { echo "empty content octets"; return 1; }
	pos=$((off + hl + len / 2))
	perl -e 'local $/; open my $f, "<:raw", $ARGV[0] or die; my $d = <$f>;
		substr($d, $ARGV[1], 1) = chr(ord(substr($d, $ARGV[1], 1)) ^ 0x01);
		open my $o, ">:raw", $ARGV[2] or die; print $o $d' "$der" "$pos" "$out"
}

# Exit codes of p11 verify/decrypt: each status must always come with the
# same code, different failure statuses with different codes, and the help
# text must agree where it documents a status.  t_p11_codes_init P11 first.
declare -gA T_CODE_OF=()
t_p11_codes_init() {
	T_P11_HELP=$("$1" --help 2>&1; "$1" verify --help 2>&1; "$1" decrypt --help 2>&1)
}
t_p11_note_code() { # STATUS RC
	local st=$1 rc=$2 doc
	if [ -n "${T_CODE_OF[$st]:-}" ] && [ "${T_CODE_OF[$st]}" != "$rc" ]; then
		echo "status $st came with exit $rc here but exit ${T_CODE_OF[$st]} before"
		return 1
	fi
	T_CODE_OF[$st]=$rc
	doc=$(printf '%s\n' "${T_P11_HELP:-}" |
		grep -E "^[[:space:]]*[0-9]+[[:space:]]+(.*[^a-z-])?$st([^a-z-].*)?$" | head -n 1 | awk '{print $1}')
	if [ -n "$doc" ] && [ "$doc" != "$rc" ]; then
		echo "status $st: exit $rc, but p11 --help documents exit $doc"
		return 1
	fi
}
t_p11_codes_distinct() {
	local st codes=
	for st in "${!T_CODE_OF[@]}"; do
		echo "  $st -> exit ${T_CODE_OF[$st]}"
		# valid (verify) and ok (decrypt) are both 0.
		case $st in valid | ok) continue ;; esac
		codes="$codes ${T_CODE_OF[$st]}"
	done
	[ -z "$(printf '%s\n' $codes | sort | uniq -d)" ] || { echo "two statuses share an exit code"; return 1; }
}

# t_p11_status CMD JSON WANT [ARGS...]: runs `p11 CMD --json ARGS` (the
# test defines p11()), JSON to the file JSON.  The status must be WANT
# (alternatives as "a|b"); exit 0 exactly for valid/ok, and the code fits
# the others (t_p11_note_code).  Sets T_ST and T_RC.
t_p11_status() {
	local cmd=$1 json=$2 want=$3
	shift 3
	p11 "$cmd" --json "$@" >"$json" 2>"$json.err"
	T_RC=$?
	T_ST=$(t_json "$json" .status) || {
		T_ST=none
		echo "p11 $cmd (exit $T_RC) printed no JSON status:"
		head -c 600 "$json"
		head -n 5 "$json.err"
		return 1
	}
	t_p11_note_code "$T_ST" "$T_RC" || return 1
	case "|$want|" in
	*"|$T_ST|"*) ;;
	*)
		echo "p11 $cmd: status $T_ST (exit $T_RC), want $want"
		head -c 800 "$json"
		head -n 5 "$json.err"
		return 1
		;;
	esac
	case $T_ST in
	valid | ok) [ "$T_RC" -eq 0 ] || { echo "status $T_ST but exit $T_RC"; return 1; } ;;
	*) [ "$T_RC" -ne 0 ] || { echo "status $T_ST but exit 0"; return 1; } ;;
	esac
}

# t_softhsm_module: the libsofthsm2.so path (as make-token.sh finds it).
t_softhsm_module() {
	local m
	for m in "${SOFTHSM2_MODULE:-}" /usr/lib/softhsm/libsofthsm2.so \
		"/usr/lib/$(uname -m)-linux-gnu/softhsm/libsofthsm2.so" /usr/lib64/pkcs11/libsofthsm2.so \
		/usr/lib/pkcs11/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
		[ -n "$m" ] && [ -r "$m" ] && { echo "$m"; return 0; }
	done
	return 1
}

# t_fresh_token DIR LABEL: an empty SoftHSM token (user PIN 123456, SO PIN
# 12345678) in DIR; exports SOFTHSM2_CONF.
t_fresh_token() {
	local dir=$1 label=$2
	mkdir -p "$dir/tokens" || return 1
	dir=$(cd "$dir" && pwd -P)
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
		"$dir" >"$dir/softhsm2.conf"
	export SOFTHSM2_CONF=$dir/softhsm2.conf
	softhsm2-util --init-token --free --label "$label" --pin 123456 --so-pin 12345678 >/dev/null
}
