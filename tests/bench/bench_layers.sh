#!/usr/bin/env bash
# tests/bench/bench_layers.sh — the layers module against the standard tools on the
# same machine: unpack vs `tar -x`; layer writing (gzip, zstd) vs `tar | gzip` and
# `tar | zstd`; the differ for a 1-file change on a 100,000-file tree (overlay upper
# scan and snapshot walk); peak RSS of each (GNU time %M). Nothing is asserted.
# The driver, tests/bench/bench_layers.c, is compiled here against build/libmolt.a.
set -u
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${B:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/molt-bench-layers.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkgs="libseccomp libcap libmnl libarchive jansson libcrypto libcurl libdeflate libzstd"
# shellcheck disable=SC2046
cc -std=gnu17 -O2 -D_GNU_SOURCE $(pkg-config --cflags $pkgs) -o "$work/bench_layers" \
	"$top/tests/bench/bench_layers.c" "$B/libmolt.a" $(pkg-config --libs $pkgs) -lpthread || exit 1
drv=$work/bench_layers
files=${BENCH_FILES:-100000}

# A data tree (~100 MiB of half-compressible files) for throughput ...
mkdir -p "$work/data"
for d in $(seq 1 40); do
	mkdir -p "$work/data/d$d"
	for f in $(seq 1 25); do
		head -c 65536 /dev/urandom | base64 >"$work/data/d$d/f$f"
		head -c 65536 /dev/zero >>"$work/data/d$d/f$f"
	done
done
# ... and a 100,000-file tree of small files for the differ.
mkdir -p "$work/many"
(cd "$work/many" && for d in $(seq 1 $((files / 1000))); do
	mkdir "d$d" && (cd "d$d" && seq 1 1000 | xargs touch)
done)
tar -C "$work/data" -cf "$work/data.tar" .
"$drv" write "$work/data" "$work/data.tar.gz" gzip || exit 1

rss() { # rss LABEL CMD... : one run under GNU time
	local label=$1 kib="? (GNU time missing)"
	shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -o "$work/rss" -f '%M' "$@" >/dev/null 2>&1
		kib=$(tail -n 1 "$work/rss")
	fi
	printf '| %s | %s |\n' "$label" "$kib"
}

if command -v hyperfine >/dev/null; then
	hyperfine --style basic --warmup 1 --runs 3 --export-markdown "$work/t1.md" \
		-n "molt unpack (gzip layer)" --prepare "rm -rf '$work/u1'" "'$drv' unpack '$work/data.tar.gz' '$work/u1'" \
		-n "tar -xzf (same layer)" --prepare "rm -rf '$work/u2'; mkdir '$work/u2'" "tar -C '$work/u2' -xzf '$work/data.tar.gz'" \
		-n "molt write gzip" --prepare true "'$drv' write '$work/data' '$work/o.tar.gz' gzip" \
		-n "tar | gzip" --prepare true "tar -C '$work/data' -cf - . | gzip >'$work/o2.tar.gz'" \
		-n "molt write zstd" --prepare true "'$drv' write '$work/data' '$work/o.tar.zst' zstd" \
		-n "tar | zstd" --prepare true "tar -C '$work/data' -cf - . | zstd -q -3 >'$work/o2.tar.zst'" \
		>"$work/hf.log" 2>&1 || { tail -5 "$work/hf.log"; echo "(hyperfine failed)"; }
	cat "$work/t1.md" 2>/dev/null
else
	echo "hyperfine is not installed (scripts/install-deps.sh installs it)"
fi
echo
echo "differ, 1-file change on a $files-file tree (in-process timing, median of 3):"
echo "| differ | seconds | changes |"
echo "| --- | --- | --- |"
for kind in walk overlay; do
	runs=()
	for i in 1 2 3; do
		if [ $kind = walk ]; then
			out=$("$drv" diff-walk "$work/many" "d1/$i")
		else
			rm -rf "$work/ovl"; mkdir "$work/ovl"
			out=$("$drv" diff-overlay "$work/many" "$work/ovl" "d1/$i")
		fi
		runs+=("$out")
	done
	med=$(printf '%s\n' "${runs[@]}" | sed 's/.*diff_seconds=\([0-9.]*\).*/\1/' | sort -n | sed -n 2p)
	ch=$(printf '%s\n' "${runs[0]}" | sed 's/.*changes=//')
	echo "| $kind | ${med:-?} | ${ch:-?} |"
done
echo
echo "| command | peak RSS (KiB) |"
echo "| --- | --- |"
rm -rf "$work/u1"; rss "molt unpack (gzip layer)" "$drv" unpack "$work/data.tar.gz" "$work/u1"
rm -rf "$work/u2"; mkdir "$work/u2"; rss "tar -xzf" tar -C "$work/u2" -xzf "$work/data.tar.gz"
rss "molt write gzip" "$drv" write "$work/data" "$work/o.tar.gz" gzip
rss "molt write zstd" "$drv" write "$work/data" "$work/o.tar.zst" zstd
rss "tar -c (the tar side of tar | gzip)" tar -C "$work/data" -cf "$work/o3.tar" .
rss "molt diff-walk ($files files)" "$drv" diff-walk "$work/many" d1/9
rm -rf "$work/ovl"; mkdir "$work/ovl"
rss "molt diff-overlay ($files files)" "$drv" diff-overlay "$work/many" "$work/ovl" d1/9
