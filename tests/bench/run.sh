#!/usr/bin/env bash
# tests/bench/run.sh — `make bench`: runs every tests/bench/bench_*.sh and prints
# their tables. Timings are medians from hyperfine; peak RSS from GNU time.
# bench_real.sh (the real-builds table: minutes of apt, yarn and buildah runs; root only)
# is left out with BENCH_REAL_SKIP="c-static react apt yarn files10k random1g ctx10k export"
# row by row, or run alone: bash tests/bench/bench_real.sh.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export MOLT=${MOLT:-$top/build/molt} TOP=$top
for b in "$top"/tests/bench/bench_*.sh; do
	[ -f "$b" ] || continue
	echo "== $(basename "$b" .sh)"
	bash "$b" || echo "(benchmark $(basename "$b") failed)"
done
