#!/usr/bin/env bash
# Configures and builds one flavour of p11agent.
#   scripts/build.sh [release|asan|clang|fuzz]   (build dir: build/<flavour>)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
dir=$top/build/$flavour
jobs=$(nproc)
case $flavour in
release) cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP11A_WERROR=ON >/dev/null ;;
asan) cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DP11A_SANITIZE=ON -DP11A_WERROR=ON >/dev/null ;;
clang) CC=clang cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP11A_WERROR=ON >/dev/null ;;
fuzz) CC=clang cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DP11A_FUZZ=ON -DP11A_WERROR=ON >/dev/null ;;
*) echo "unknown flavour $flavour" >&2; exit 2 ;;
esac
target=all
[ "$flavour" = fuzz ] && target=fuzzers
cmake --build "$dir" -j"$jobs" --target "$target" >"$dir/build.log" 2>&1 ||
	{ tail -n 40 "$dir/build.log" >&2; exit 1; }
ln -sfn "build/$flavour/compile_commands.json" "$top/compile_commands.json" 2>/dev/null || true
echo "$dir"
