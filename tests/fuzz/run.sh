#!/usr/bin/env bash
# Runs every libFuzzer binary (fuzz_*) already built in BUILD_DIR for
# SECONDS each, over a scratch copy of its seed corpus, so the committed
# corpus is never modified.  Builds nothing.  Fails when no binary is
# found or when any target crashes, leaks, times out or runs out of
# memory; crash inputs are kept and their path printed.
#
# Usage: tests/fuzz/run.sh SECONDS [BUILD_DIR]
# BUILD_DIR defaults to $P11A_FUZZ_BUILD_DIR, else ./build-fuzz.  Build it
# with: CC=clang cmake -S . -B BUILD_DIR -DP11A_FUZZ=ON && cmake --build
# BUILD_DIR
set -u

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
	echo "usage: $0 SECONDS [BUILD_DIR]" >&2
	exit 2
fi
secs=$1
build=${2:-${P11A_FUZZ_BUILD_DIR:-build-fuzz}}
here=$(cd "$(dirname "$0")" && pwd)

if [ ! -d "$build" ]; then
	echo "$0: no build directory $build" >&2
	exit 2
fi

mapfile -t bins < <(find "$build" -type f -perm -u+x -name 'fuzz_*' \
	! -name 'fuzz_replay_*' ! -name '*.*' | sort)
if [ ${#bins[@]} -eq 0 ]; then
	echo "$0: no fuzz_* binaries in $build (configure with" \
		"-DP11A_FUZZ=ON and CC=clang, then build)" >&2
	exit 1
fi

# UBSan in the fuzz build may be recoverable: make every report fatal.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/p11a-fuzz.XXXXXX")
failed=0
for bin in "${bins[@]}"; do
	name=$(basename "$bin")
	work=$scratch/$name
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$here/corpus/$name" ]; then
		cp -R "$here/corpus/$name/." "$work/corpus/"
	else
		echo "$name: no seed corpus in $here/corpus/$name" >&2
	fi
	args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
		-print_final_stats=1 -artifact_prefix="$work/artifacts/")
	if [ -f "$here/$name.dict" ]; then
		args+=(-dict="$here/$name.dict")
	fi
	echo "== $name: ${secs}s"
	if "$bin" "${args[@]}" "$work/corpus" >"$work/log" 2>&1; then
		grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' \
			"$work/log"
		rm -rf "$work"
	else
		failed=1
		tail -n 60 "$work/log"
		echo "$name: FAILED; log and crash inputs in $work" >&2
	fi
done
if [ $failed -eq 0 ]; then
	rm -rf "$scratch"
fi
exit $failed
