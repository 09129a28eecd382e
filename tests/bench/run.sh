#!/usr/bin/env bash
# tests/bench/run.sh — `make bench`: runs every tests/bench/bench_*.sh and prints
# their tables. Timings are medians from hyperfine; peak RSS from GNU time.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export MOLT=${MOLT:-$top/build/molt} TOP=$top
for b in "$top"/tests/bench/bench_*.sh; do
	[ -f "$b" ] || continue
	echo "== $(basename "$b" .sh)"
	bash "$b" || echo "(benchmark $(basename "$b") failed)"
done
