#!/usr/bin/env bash
# What "cmake --install" writes, staged with DESTDIR: every file inside the
# prefix (nothing in OpenSSL's system folder unless the prefix is /usr),
# the pieces a user needs, and the staged OpenSSL provider loads.
#   test_install.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: test_install.sh BUILD_DIR}
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[ -n "$prefix" ] || { echo "no CMAKE_INSTALL_PREFIX in $build"; exit 1; }
stage=$(mktemp -d "${TMPDIR:-/tmp}/p11a-install.XXXXXX")
trap 'rm -rf "$stage" "$stage.outside"' EXIT
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
		"LD_LIBRARY_PATH='$lib' openssl list -providers -provider-path '$prov' -provider p11agent | grep -q 'status: active'"
fi
check "the installed p11 does not load libp11agent or Nettle (linked in)" bash -c \
	"readelf -d '$root/bin/p11' | grep -q NEEDED && ! readelf -d '$root/bin/p11' | grep NEEDED | grep -Eq 'libp11agent|libnettle'"
check "the installed p11 runs (--version)" bash -c "'$root/bin/p11' --version | grep -q ."
exit $fail
