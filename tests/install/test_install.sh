#!/usr/bin/env bash
# What "cmake --install" writes, staged with DESTDIR: every file inside the
# prefix (nothing in OpenSSL's system folder unless the prefix is /usr),
# the pieces a user needs, and that they run where they were put, with no
# ldconfig and no LD_LIBRARY_PATH: the staged provider loads in openssl,
# the staged p11 loads its command module (which links libp11agent).  The
# same after "cmake --install --prefix" into another folder.
#   test_install.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: test_install.sh BUILD_DIR}
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[ -n "$prefix" ] || { echo "no CMAKE_INSTALL_PREFIX in $build"; exit 1; }
stage=$(mktemp -d "${TMPDIR:-/tmp}/p11a-install.XXXXXX")
moved=$(mktemp -d "${TMPDIR:-/tmp}/p11a-install-moved.XXXXXX")
trap 'rm -rf "$stage" "$stage.outside" "$moved"' EXIT
fail=0
check() { # DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi
}

DESTDIR=$stage cmake --install "$build" >"$stage.log" 2>&1 || { cat "$stage.log"; rm -f "$stage.log"; exit 1; }
rm -f "$stage.log"
root=$stage$prefix
find "$stage" \( -type f -o -type l \) ! -path "$root/*" >"$stage.outside"
check "every installed file is under the prefix $prefix" test ! -s "$stage.outside"
[ -s "$stage.outside" ] && sed "s/^/       outside: /" "$stage.outside"
for f in bin/p11 bin/p11agent include/p11agent.h share/man/man1/p11.1 share/man/man1/p11agent.1; do
	check "installed: $f" test -e "$root/$f"
done
lib=$(find "$root" -name 'libp11agent.so.0' -printf '%h\n' | head -n1)
check "installed: libp11agent.so.0, p11agent.pc, p11-commands.so" \
	test -n "$lib" -a -e "$lib/pkgconfig/p11agent.pc" -a -e "$lib/p11agent/p11-commands.so"
prov=$(find "$root" -name p11agent.so -path '*/ossl-modules/*' -printf '%h\n' | head -n1)
check "installed: ossl-modules/p11agent.so" test -n "$prov"
if readelf -d "$prov/p11agent.so" 2>/dev/null | grep -q 'libasan'; then
	# openssl itself is not built with the sanitizer: it cannot load it.
	echo "skip - the staged provider loads in openssl: a sanitizer build"
else
	check "the staged provider loads in openssl (list -providers)" bash -c \
		"openssl list -providers -provider-path '$prov' -provider p11agent | grep -q 'status: active'"
fi
# p11 certs runs in the command module; an empty store lists nothing.
runs_module() { # ROOT
	XDG_DATA_HOME=$1/xdg "$1/bin/p11" certs list >/dev/null 2>"$1/err" || { cat "$1/err"; return 1; }
}
check "the staged p11 loads its command module (certs list)" runs_module "$root"
# Everything must go under --prefix: nothing to a folder fixed at
# configure time (a DESTDIR run above cannot tell).
cmake --install "$build" --prefix "$moved" >"$moved.log" 2>&1 || { cat "$moved.log"; rm -f "$moved.log"; exit 1; }
grep -E '^-- (Installing|Up-to-date): ' "$moved.log" | grep -v -- "-- [A-Za-z-]*: $moved/" >"$moved.outside"
check "cmake --install --prefix $moved writes nothing outside it" test ! -s "$moved.outside"
sed "s/^/       outside: /" "$moved.outside"
rm -f "$moved.log" "$moved.outside"
check "after cmake --install --prefix elsewhere: p11 loads its command module" runs_module "$moved"
# The systemd user units: installed where systemd looks under every
# prefix, well formed, and the service starts the agent of this install.
units_ok() { # ROOT
	local u=$1/share/systemd/user
	[ -e "$u/p11agent.socket" ] && [ -e "$u/p11agent.service" ] || { echo "no units in $u"; return 1; }
	grep -qx "ExecStart=$1/bin/p11agent -D" "$u/p11agent.service" || { grep ExecStart "$u/p11agent.service"; return 1; }
	(cd "$u" && systemd-analyze verify --man=no p11agent.socket p11agent.service)
}
check "systemd units (share/systemd/user) verify, ExecStart is the installed agent" units_ok "$moved"
check "staged with DESTDIR: ExecStart names the final place, not the stage" \
	grep -qx "ExecStart=$prefix/bin/p11agent -D" "$root/share/systemd/user/p11agent.service"
check "the installed p11 does not load libp11agent or Nettle (linked in)" bash -c \
	"readelf -d '$root/bin/p11' | grep -q NEEDED && ! readelf -d '$root/bin/p11' | grep NEEDED | grep -Eq 'libp11agent|libnettle'"
check "the installed p11 runs (--version)" bash -c "'$root/bin/p11' --version | grep -q ."
exit $fail
