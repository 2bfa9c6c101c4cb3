#!/usr/bin/env bash
# Every benchmark (not tests): builds the release flavour if needed, then
# prints the agent throughput table and the S/MIME table.  The peers they
# compare against (openssh-client, libengine-pkcs11-openssl, time) come
# with scripts/deps.sh; gnupg-pkcs11-scd is optional (column n/a without).
#   tests/bench/run.sh [SECONDS_PER_THROUGHPUT_RUN] [SMIME_RUNS]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$("$top/scripts/build.sh" release)
echo "== agent throughput (tests/bench/agent_throughput.sh)"
"$top/tests/bench/agent_throughput.sh" "$build" "${1:-5}"
echo
echo "== S/MIME per message and 100 MiB (tests/bench/smime_bench.sh)"
"$top/tests/bench/smime_bench.sh" "$build" "${2:-15}"
