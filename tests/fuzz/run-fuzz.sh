#!/usr/bin/env bash
# tests/fuzz/run-fuzz.sh — builds every tests/fuzz/fuzz_*.c with clang's libFuzzer,
# ASan and UBSan, and runs each for FUZZ_TIME seconds on a corpus seeded from
# tests/fuzz/seeds/NAME/. With FUZZ_TAP=1 it prints TAP (one case per target).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
out=$top/build-fuzz
time=${FUZZ_TIME:-600}
n=0 failed=0
mkdir -p "$out"
src=$(cd "$top" && ls lib/*.c layers/*.c sandbox/*.c runner/*/*.c 2>/dev/null | grep -v '^runner/cli/main.c$')
cflags="-std=gnu17 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(pkg-config --cflags libseccomp libcap libmnl libarchive jansson libcrypto libcurl)"
libs="$(pkg-config --libs libseccomp libcap libmnl libarchive jansson libcrypto libcurl libdeflate libzstd) -lpthread"
for f in "$top"/tests/fuzz/fuzz_*.c; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .c)
	n=$((n + 1))
	# shellcheck disable=SC2086
	if ! (cd "$top" && clang $cflags -o "$out/$name" "$f" $src $libs) >"$out/$name.build.log" 2>&1; then
		failed=$((failed + 1)); echo "not ok $n - $name builds"; sed 's/^/# /' "$out/$name.build.log" | tail -n 20
		continue
	fi
	corpus=$out/corpus-$name
	mkdir -p "$corpus"
	[ -d "$top/tests/fuzz/seeds/$name" ] && cp -n "$top/tests/fuzz/seeds/$name"/* "$corpus/" 2>/dev/null
	if (cd "$out" && "./$name" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 "$corpus") >"$out/$name.log" 2>&1; then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$name.log" | grep -o '[0-9]*$')
		echo "ok $n - $name ran ${time}s, ${runs:-?} inputs, no crash"
	else
		failed=$((failed + 1)); echo "not ok $n - $name crashed (see $out/$name.log)"
		grep -E 'ERROR|SUMMARY|runtime error' "$out/$name.log" | head -n 5 | sed 's/^/# /'
	fi
done
[ "${FUZZ_TAP:-0}" = 1 ] && echo "1..$n"
[ $failed -eq 0 ]
