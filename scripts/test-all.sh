#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs packages,
# builds, runs every test in a normal build and under ASan+UBSan, and
# fuzzes the protocol decoders for 60 s.  Exit 0 only if all pass.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
start=$(date +%s)
scripts/deps.sh

echo "== release build"
rel=$(scripts/build.sh release)
echo "== asan build"
asan=$(scripts/build.sh asan)
echo "== clang -Werror build (compile check only)"
scripts/build.sh clang >/dev/null
echo "== build time: $(($(date +%s) - start)) s"

echo "== tests (release)"
ctest --test-dir "$rel" --output-on-failure -j2
echo "== tests (ASan+UBSan)"
ctest --test-dir "$asan" --output-on-failure -j2

if [ -x "$top/tests/fuzz/run.sh" ]; then
	echo "== fuzz (60 s per target)"
	fuzz=$(scripts/build.sh fuzz)
	"$top/tests/fuzz/run.sh" 60 "$fuzz"
fi
echo "== all tests passed in $(($(date +%s) - start)) s"
