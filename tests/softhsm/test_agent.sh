#!/usr/bin/env bash
# The agent against a real SoftHSM token, with OpenSSH and openssl on the
# other side.   test_agent.sh P11AGENT P11 AGENT_PROBE LIB_TOOL
set -u
. "$(dirname "$0")/lib/common.sh"
AGENT=$1 P11=$2 PROBE=$3 LIBTOOL=$4
t_need softhsm2-util openssl ssh-keygen ssh-add
t_setup_token
SOCK=$T_DIR/run/agent.sock
mkdir -p "$T_DIR/run"
chmod 700 "$T_DIR/run"
W=$T_DIR/w
mkdir -p "$W"
M=$P11A_TEST_MODULE
SPY=${P11A_SPY_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so}
uri() { echo "pkcs11:token=$P11A_TEST_TOKEN;object=$1"; }
p11() { "$P11" --socket "$SOCK" --no-autostart "$@"; }

# Started like ssh-agent: it forks and prints the environment.
start_agent() {
	eval "$("$AGENT" -s -a "$SOCK" --module "$M" "$@")" >/dev/null || return 1
	[ -n "${P11AGENT_PID:-}" ] && [ -S "$SOCK" ] && T_PIDS="$T_PIDS $P11AGENT_PID"
}
T_PIDS=
t_check "p11agent forks, prints P11AGENT_SOCK/PID and listens" start_agent
[ -S "$SOCK" ] || { t_done; exit 1; }

second_agent_refused() { ! "$AGENT" -D -a "$SOCK" --module "$M" 2>"$W/err" && grep -q "another agent" "$W/err"; }
t_check "a second agent refuses a live agent's socket" second_agent_refused

bad_module() { ! "$AGENT" -D -a "$W/x.sock" --module "$T_DIR/evil.so" 2>"$W/err" && grep -q "not in the allowed list" "$W/err"; }
touch "$T_DIR/evil.so"
t_check "a module outside the allow-list is refused" bad_module

default_modules() {
	# No --module: every module registered with p11-kit (SoftHSM's
	# registration reads our SOFTHSM2_CONF), as the p11-kit proxy would.
	"$AGENT" -D -a "$W/default.sock" 2>"$W/default.log" &
	local pid=$!
	for _ in $(seq 100); do [ -S "$W/default.sock" ] && break; sleep 0.05; done
	SSH_AUTH_SOCK=$W/default.sock ssh-add -L >"$W/default.ids"
	kill "$pid"
	wait "$pid"
	grep -c "token=$P11A_TEST_TOKEN" "$W/default.ids" | grep -qx 4
}
t_check "without --module the agent finds the token through p11-kit's registered modules" default_modules

failed_start_reported() {
	local bogus
	bogus=$(ls /usr/lib/x86_64-linux-gnu/libz.so.* 2>/dev/null | head -n1)
	[ -n "$bogus" ] || { echo "no libz to use as a bogus module"; return 1; }
	! "$AGENT" -a "$W/bogus.sock" --module "$bogus" >"$W/bogus.out" 2>"$W/bogus.err" || return 1
	grep -q "failed to start" "$W/bogus.err" && [ ! -s "$W/bogus.out" ] && [ ! -e "$W/bogus.sock" ]
}
t_check "a background agent that cannot load its module fails visibly (exit 1, no env printed)" failed_start_reported

not_logged_in() {
	head -c 32 /dev/urandom >"$W/d32"
	! "$LIBTOOL" "$SOCK" sign "$(uri rsa2048)" pkcs1 sha256 "$W/d32" "$W/sig" 2>"$W/err" &&
		grep -q "login required" "$W/err" && grep -q "$P11A_TEST_TOKEN" "$W/err"
}
t_check "a key request before unlock fails with 'login required' naming the token" not_logged_in

unlock() { p11 unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$T_DIR/pin"; }
t_check "p11 unlock with --pin-fd" unlock

keys_listed() {
	p11 keys >"$W/keys" || return 1
	for n in rsa2048 rsa4096 p256 p384; do grep -q "$n@p11agent.test" "$W/keys" || return 1; done
	p11 keys --json | grep -q '"uri"'
}
t_check "p11 keys lists the four keys with e-mail (table and JSON)" keys_listed
t_check "p11 status shows the token logged in" bash -c "'$P11' --socket '$SOCK' status | grep -qi 'logged in'"

# --- OpenSSH -----------------------------------------------------------
ssh_add_lists() {
	SSH_AUTH_SOCK=$SOCK ssh-add -L >"$W/ids" || return 1
	for n in rsa2048 rsa4096 p256 p384; do
		grep -qF "$(cut -d' ' -f2 "$T_KEYS/$n.ssh.pub")" "$W/ids" || return 1
	done
}
t_check "ssh-add -L lists the RSA and ECDSA token keys" ssh_add_lists

ssh_keygen_sign() { # NAME
	cut -d' ' -f1,2 "$T_KEYS/$1.ssh.pub" >"$W/$1.pub"
	echo "signed by $1 $RANDOM" >"$W/msg"
	rm -f "$W/msg.sig"
	SSH_AUTH_SOCK=$SOCK ssh-keygen -Y sign -f "$W/$1.pub" -n file "$W/msg" || return 1
	echo "$1@p11agent.test $(cat "$W/$1.pub")" >"$W/allowed"
	ssh-keygen -Y verify -f "$W/allowed" -I "$1@p11agent.test" -n file -s "$W/msg.sig" <"$W/msg" || return 1
	echo tampered >>"$W/msg"
	! ssh-keygen -Y verify -f "$W/allowed" -I "$1@p11agent.test" -n file -s "$W/msg.sig" <"$W/msg"
}
for n in rsa2048 rsa4096 p256 p384; do
	t_check "ssh-keygen -Y sign through the agent with $n verifies" ssh_keygen_sign $n
done

sshd_login() {
	[ "$(id -u)" -eq 0 ] || { echo "sshd test needs root"; return 0; }
	command -v /usr/sbin/sshd >/dev/null || { echo "no sshd"; return 1; }
	local d=$T_DIR/sshd port
	mkdir -p "$d" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$d/host" || return 1
	cut -d' ' -f1,2 "$T_KEYS/p256.ssh.pub" >"$d/authorized_keys"
	cut -d' ' -f1,2 "$T_KEYS/rsa2048.ssh.pub" >>"$d/authorized_keys"
	chmod 600 "$d/authorized_keys"
	port=$((20000 + RANDOM % 20000))
	cat >"$d/config" <<-CONF
		ListenAddress 127.0.0.1
		Port $port
		HostKey $d/host
		AuthorizedKeysFile $d/authorized_keys
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		PubkeyAuthentication yes
		PermitRootLogin prohibit-password
		StrictModes no
		UsePAM no
		PidFile $d/pid
	CONF
	/usr/sbin/sshd -f "$d/config" -D -e 2>"$d/log" &
	local sshd_pid=$!
	T_PIDS="$T_PIDS $sshd_pid"
	for _ in $(seq 50); do grep -q "Server listening" "$d/log" 2>/dev/null && break; sleep 0.1; done
	local out
	out=$(ssh -F none -o IdentityAgent="$SOCK" -o IdentitiesOnly=no -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-p "$port" "$(id -un)@127.0.0.1" echo logged-in-through-p11agent)
	kill "$sshd_pid"
	[ "$out" = logged-in-through-p11agent ] || { cat "$d/log"; return 1; }
}
t_check "sshd on 127.0.0.1 accepts ssh -o IdentityAgent=\$P11AGENT_SOCK" sshd_login

# --- libp11agent: sign-digest / decrypt / derive -------------------------
lib_sign() { # NAME MECH HASH
	local name=$1 mech=$2 hash=$3 opts=()
	head -c 500 /dev/urandom | openssl dgst "-$hash" -binary >"$W/digest"
	"$LIBTOOL" "$SOCK" sign "$(uri "$name")" "$mech" "$hash" "$W/digest" "$W/sig" || return 1
	case $mech in
	pss) opts=(-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest) ;;
	ecdsa) t_ecdsa_raw_to_der "$W/sig" "$W/sig.der" && mv "$W/sig.der" "$W/sig" ;;
	esac
	openssl pkeyutl -verify -pubin -inkey "$T_KEYS/$name.pub.pem" -pkeyopt "digest:$hash" \
		"${opts[@]}" -in "$W/digest" -sigfile "$W/sig"
}
for n in rsa2048 rsa4096; do
	for h in sha1 sha256 sha384 sha512; do t_check "libp11agent $n PKCS#1 $h verifies" lib_sign $n pkcs1 $h; done
	for h in sha256 sha512; do t_check "libp11agent $n PSS $h verifies" lib_sign $n pss $h; done
done
for n in p256 p384; do
	for h in sha256 sha384; do t_check "libp11agent $n ECDSA $h verifies" lib_sign $n ecdsa $h; done
done

lib_decrypt() { # NAME PAD HASH
	local name=$1 pad=$2 hash=$3 opts=(-pkeyopt rsa_padding_mode:pkcs1)
	[ "$pad" = oaep ] && opts=(-pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$hash" -pkeyopt "rsa_mgf1_md:$hash")
	head -c 32 /dev/urandom >"$W/secret"
	openssl pkeyutl -encrypt -pubin -inkey "$T_KEYS/$name.pub.pem" "${opts[@]}" -in "$W/secret" -out "$W/ct"
	"$LIBTOOL" "$SOCK" decrypt "$(uri "$name")" "$pad" "$hash" "$W/ct" "$W/pt" && cmp "$W/secret" "$W/pt"
}
for n in rsa2048 rsa4096; do
	t_check "libp11agent $n PKCS#1 v1.5 decrypt" lib_decrypt $n pkcs1 sha1
	t_check "libp11agent $n OAEP-SHA1 decrypt" lib_decrypt $n oaep sha1
	t_check "libp11agent $n OAEP-SHA256 decrypt" lib_decrypt $n oaep sha256
done

lib_derive() { # NAME CURVE
	openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -out "$W/peer.key" 2>/dev/null
	openssl pkey -in "$W/peer.key" -pubout -out "$W/peer.pub"
	t_ec_point "$W/peer.pub" "$W/peer.point"
	"$LIBTOOL" "$SOCK" derive "$(uri "$1")" "$W/peer.point" "$W/ours" || return 1
	openssl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$T_KEYS/$1.pub.pem" -out "$W/theirs"
	cmp "$W/ours" "$W/theirs"
}
t_check "libp11agent P-256 derive equals openssl" lib_derive p256 P-256
t_check "libp11agent P-384 derive equals openssl" lib_derive p384 P-384

# --- hostile and busy clients ------------------------------------------
t_check "garbage clients (random bytes, truncated, 1 GiB header, 1000 drops) leave the agent serving" \
	"$PROBE" garbage "$SOCK"
t_check "64 concurrent clients x 50 sign-digest all succeed" "$PROBE" sign "$SOCK" "$(uri rsa2048)" 64 50

other_uid_refused() {
	command -v setpriv >/dev/null || { echo "no setpriv"; return 1; }
	[ "$(id -u)" -eq 0 ] || { echo "needs root to switch uid"; return 0; }
	# Open the folder and socket so only SO_PEERCRED stands in the way.
	chmod 755 "$T_DIR" "$T_DIR/run"; chmod 666 "$SOCK"
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$PROBE" refused "$SOCK" 2>&1
	local rc=$?
	chmod 600 "$SOCK"; chmod 700 "$T_DIR/run" "$T_DIR"
	echo "probe exit $rc"
	[ $rc -eq 0 ]
}
t_check "a client of another uid is refused (SO_PEERCRED)" other_uid_refused

lock_unlock() {
	printf 'lockpass\n' >"$W/lp"
	p11 lock --pass-fd 3 3<"$W/lp" || return 1
	! "$LIBTOOL" "$SOCK" sign "$(uri rsa2048)" pkcs1 sha256 "$W/d32" "$W/sig" 2>"$W/err" || return 1
	grep -qi "locked" "$W/err" || return 1
	p11 unlock-agent --pass-fd 3 3<"$W/lp" || return 1
	# Locking logged the tokens out: a key request needs a new login.
	! "$LIBTOOL" "$SOCK" sign "$(uri rsa2048)" pkcs1 sha256 "$W/d32" "$W/sig" 2>/dev/null || return 1
	unlock
}
t_check "p11 lock refuses key use and logs out; unlock-agent + unlock restore it" lock_unlock

logout_works() {
	p11 logout "$P11A_TEST_TOKEN" || return 1
	! "$LIBTOOL" "$SOCK" sign "$(uri rsa2048)" pkcs1 sha256 "$W/d32" "$W/sig" 2>/dev/null || return 1
	unlock
}
t_check "p11 logout drops the login" logout_works

# A list answers from the agent's last reading of the tokens (a few
# seconds at most); p11 keys asks for a fresh one.
key_behind_back() {
	local t0 seen=
	command -v pkcs11-tool >/dev/null || { echo "no pkcs11-tool (opensc)"; return 1; }
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/behind.pem" 2>/dev/null || return 1
	"$LIBTOOL" "$SOCK" list rescan >/dev/null || return 1
	t0=$SECONDS
	softhsm2-util --import "$W/behind.pem" --token "$P11A_TEST_TOKEN" --label behind --id 0b0b \
		--pin "$P11A_TEST_PIN" >/dev/null || return 1
	"$LIBTOOL" "$SOCK" list >"$W/list0" || return 1
	if [ $((SECONDS - t0)) -lt 4 ] && grep -q "object=behind" "$W/list0"; then
		echo "a plain list read the token again (no cache)"
		return 1
	fi
	p11 keys | grep -q "behind" || { echo "p11 keys does not show the new key"; return 1; }
	pkcs11-tool --module "$M" --token-label "$P11A_TEST_TOKEN" --login --pin "$P11A_TEST_PIN" \
		--delete-object --type privkey --label behind >/dev/null 2>&1 || return 1
	pkcs11-tool --module "$M" --token-label "$P11A_TEST_TOKEN" --login --pin "$P11A_TEST_PIN" \
		--delete-object --type pubkey --label behind >/dev/null 2>&1 || return 1
	for _ in $(seq 80); do # a plain list catches up within 5 s
		"$LIBTOOL" "$SOCK" list >"$W/list1" || return 1
		grep -q "object=behind" "$W/list1" || { seen=gone; break; }
		sleep 0.1
	done
	[ "$seen" = gone ] || { echo "a plain list still shows the deleted key after 8 s"; return 1; }
	grep -c "^key " "$W/list1" | grep -qx 4
}
t_check "a key written behind the agent's back: p11 keys shows it at once, a plain list within 5 s" key_behind_back

stop_agent() {
	kill -TERM "$P11AGENT_PID"
	for _ in $(seq 100); do kill -0 "$P11AGENT_PID" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$P11AGENT_PID" 2>/dev/null && [ ! -e "$SOCK" ]
}
t_check "SIGTERM stops the agent and removes the socket" stop_agent

csh_and_kill() {
	local out pid
	out=$("$AGENT" -c --ssh -a "$W/csh.sock" --module "$M") || return 1
	echo "$out"
	grep -q "^setenv P11AGENT_SOCK $W/csh.sock;" <<<"$out" || return 1
	grep -q "^setenv SSH_AUTH_SOCK $W/csh.sock;" <<<"$out" || return 1
	pid=$(sed -n 's/^setenv P11AGENT_PID \([0-9]*\);$/\1/p' <<<"$out")
	[ -n "$pid" ] && T_PIDS="$T_PIDS $pid"
	P11AGENT_PID=$pid "$AGENT" -k | grep -q "^unset P11AGENT_SOCK;" || return 1
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	! kill -0 "$pid" 2>/dev/null && [ ! -e "$W/csh.sock" ]
}
t_check "-c --ssh prints csh setenv lines with SSH_AUTH_SOCK; -k stops the agent" csh_and_kill

# --- login expiry and wrong PINs on a foreground agent -------------------
fg_agent() { # extra args...; sets FG_PID
	"$AGENT" -D -a "$SOCK" "$@" 2>"$W/fg.log" &
	FG_PID=$!
	T_PIDS="$T_PIDS $FG_PID"
	for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.05; done
	return 1
}
fg_stop() { # exit status of the agent must be 0 (also: no leaks under LSan)
	kill -TERM "$FG_PID"
	wait "$FG_PID"
	local rc=$?
	[ $rc -eq 0 ] || { echo "agent exit $rc"; tail -n 30 "$W/fg.log"; }
	return $rc
}

expiry() {
	fg_agent --module "$M" -t 2 || return 1
	unlock || return 1
	"$LIBTOOL" "$SOCK" sign "$(uri p256)" ecdsa sha256 "$W/d32" "$W/sig" || return 1
	sleep 3.5
	! "$LIBTOOL" "$SOCK" sign "$(uri p256)" ecdsa sha256 "$W/d32" "$W/sig" 2>"$W/err" || return 1
	grep -q "login required" "$W/err" || return 1
	fg_stop
}
t_check "-t 2: the login expires and key use needs a new unlock; clean exit" expiry

wrong_pin() {
	[ -r "$SPY" ] || { echo "no pkcs11-spy"; return 1; }
	PKCS11SPY=$M PKCS11SPY_OUTPUT=$W/spy.log fg_agent --module "$SPY" || return 1
	printf '999999\n' >"$W/bad"
	p11 unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$W/bad" 2>"$W/err"
	local rc=$?
	cat "$W/err"
	[ $rc -ne 0 ] || return 1
	grep -q "PIN incorrect" "$W/err" || return 1
	grep -qi "tries\|try left\|locked" "$W/err" || return 1
	fg_stop || return 1
	local n
	n=$(grep -c "C_Login" "$W/spy.log")
	echo "C_Login calls: $n"
	[ "$n" -eq 1 ]
}
t_check "a wrong PIN via p11 unlock: clear message with tries left, exactly one C_Login" wrong_pin

# Lists right after one another: the second is the first's reply again,
# without a token call; a change made through the agent shows at once;
# after a second the token is read again.
list_cache() {
	[ -r "$SPY" ] || { echo "no pkcs11-spy"; return 1; }
	PKCS11SPY=$M PKCS11SPY_OUTPUT=$W/spy-list.log fg_agent --module "$SPY" || return 1
	unlock >/dev/null || return 1
	local n1 n2 n3
	"$LIBTOOL" "$SOCK" list >"$W/lc1" || return 1
	n1=$(grep -c "C_GetTokenInfo" "$W/spy-list.log")
	"$LIBTOOL" "$SOCK" list >"$W/lc2" || return 1
	n2=$(grep -c "C_GetTokenInfo" "$W/spy-list.log")
	echo "C_GetTokenInfo calls: $n1 after the first list, $n2 after the second"
	cmp -s "$W/lc1" "$W/lc2" || { echo "the second list differs"; diff "$W/lc1" "$W/lc2"; return 1; }
	[ "$n2" -eq "$n1" ] || { echo "the second list asked the token"; return 1; }
	grep -q "^token $P11A_TEST_TOKEN logged-in$" "$W/lc1" || { echo "not listed as logged in:"; cat "$W/lc1"; return 1; }
	[ "$(grep -c '^key ' "$W/lc1")" -eq 4 ] || { echo "want 4 keys:"; cat "$W/lc1"; return 1; }
	p11 logout "$P11A_TEST_TOKEN" || return 1
	"$LIBTOOL" "$SOCK" list >"$W/lc3" || return 1
	grep -q "^token $P11A_TEST_TOKEN$" "$W/lc3" || { echo "still logged in after logout:"; cat "$W/lc3"; return 1; }
	unlock >/dev/null || return 1
	"$LIBTOOL" "$SOCK" list >"$W/lc4" || return 1
	cmp -s "$W/lc1" "$W/lc4" || { echo "after unlock the list differs:"; diff "$W/lc1" "$W/lc4"; return 1; }
	n2=$(grep -c "C_GetTokenInfo" "$W/spy-list.log")
	sleep 1.2
	"$LIBTOOL" "$SOCK" list >/dev/null || return 1
	n3=$(grep -c "C_GetTokenInfo" "$W/spy-list.log")
	[ "$n3" -gt "$n2" ] || { echo "a list after 1.2 s did not ask the token"; return 1; }
	fg_stop
}
t_check "a list right after a list is answered without token calls; logout and unlock show at once" list_cache

# --- systemd socket activation -----------------------------------------
# systemd-socket-activate plays the socket unit: it listens, and on the
# first connection execs the agent with the socket as fd 3 (LISTEN_FDS).
socket_activation() {
	local s=$W/act.sock pid rc
	command -v systemd-socket-activate >/dev/null ||
		{ echo "systemd-socket-activate is missing (Debian package systemd)"; return 1; }
	systemd-socket-activate -E SOFTHSM2_CONF -l "$s" "$AGENT" -D --module "$M" 2>"$W/act.log" &
	pid=$!
	T_PIDS="$T_PIDS $pid"
	for _ in $(seq 100); do [ -S "$s" ] && break; sleep 0.05; done
	sleep 0.2
	! grep -q "p11agent:" "$W/act.log" || { echo "the agent ran before any client came"; cat "$W/act.log"; return 1; }
	# An agent that ignored fd 3 would leave the client unanswered: a
	# hang is a failure here, not a stuck test run.
	timeout 20 "$P11" --socket "$s" --no-autostart unlock --pin-fd 3 "$P11A_TEST_TOKEN" 3<"$T_DIR/pin" ||
		{ cat "$W/act.log"; return 1; }
	grep -q "p11agent: socket activation: $s" "$W/act.log" || { cat "$W/act.log"; return 1; }
	[ "$(SSH_AUTH_SOCK=$s timeout 20 ssh-add -L | grep -c "token=$P11A_TEST_TOKEN")" = 4 ] || { echo "ssh-add -L"; return 1; }
	head -c 32 /dev/urandom >"$W/act.d32"
	timeout 20 "$LIBTOOL" "$s" sign "$(uri p256)" ecdsa sha256 "$W/act.d32" "$W/act.raw" || return 1
	t_ecdsa_raw_to_der "$W/act.raw" "$W/act.sig" || return 1
	openssl pkeyutl -verify -pubin -inkey "$T_KEYS/p256.pub.pem" -in "$W/act.d32" -sigfile "$W/act.sig" ||
		{ echo "the signature does not verify"; return 1; }
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	[ $rc = 0 ] || { echo "agent exit $rc"; tail -n 20 "$W/act.log"; return 1; }
	[ -S "$s" ] || { echo "the agent removed the socket its owner (systemd) keeps"; return 1; }
}
t_check "socket activation (systemd-socket-activate): starts on the first client, serves p11/ssh-add/sign, leaves the socket on SIGTERM" socket_activation

bad_activation() {
	# LISTEN_* naming the agent itself, but fd 3 is a file: refused (exit
	# 1), not served on -a instead (then timeout stops it: exit 124).
	local rc=0
	timeout 10 env LISTEN_FDS=1 bash -c 'export LISTEN_PID=$$; exec "$0" -D -a "$1" --module "$2" 3<"$3"' \
		"$AGENT" "$W/badact.sock" "$M" "$T_DIR/pin" 2>"$W/badact.err" || rc=$?
	[ $rc = 1 ] || { echo "exit $rc, want 1"; cat "$W/badact.err"; return 1; }
	grep -q "socket activation: fd 3 is not a listening socket" "$W/badact.err" || { cat "$W/badact.err"; return 1; }
	[ ! -e "$W/badact.sock" ] || { echo "it listened on its own socket instead"; return 1; }
	# LISTEN_* left over from a parent (another pid): not ours, ignored.
	LISTEN_PID=1 LISTEN_FDS=1 fg_agent --module "$M" || { cat "$W/fg.log"; return 1; }
	p11 status >/dev/null || return 1
	fg_stop
}
t_check "socket activation: fd 3 not a listening socket is refused; LISTEN_PID of another process is ignored" bad_activation

t_done
