#!/usr/bin/env bash
# tests/bench/bench_store.sh — the store's image import and export paths against
# skopeo and buildah on the same machine: load a docker save tar, load an OCI
# archive, save as docker and OCI archives. Prints hyperfine's table and the
# peak RSS (GNU time) of each molt command. Nothing here is asserted.
set -u
MOLT=${MOLT:-$(dirname "$0")/../../build/molt}
work=$(mktemp -d "${TMPDIR:-/tmp}/molt-bench-store.XXXXXX")
trap '"$MOLT" --root "$work/store" prune --all >/dev/null 2>&1; rm -rf "$work"' EXIT
bash "$(dirname "$0")/../../scripts/mkbase.sh" busybox "$work/bb" >/dev/null || exit 1
# A bigger image than busybox: its rootfs plus 64 MiB of incompressible data.
mkdir -p "$work/big/data"; cp -a "$work/bb/rootfs/." "$work/big/"
head -c $((64 << 20)) /dev/urandom >"$work/big/data/blob"
tar -C "$work/big" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/big.tar" .
"$MOLT" --root "$work/seed" import "$work/big.tar" big:1 >/dev/null
"$MOLT" --root "$work/seed" save -o "$work/big-docker.tar" big:1
"$MOLT" --root "$work/seed" save --format oci -o "$work/big-oci.tar" big:1
"$MOLT" --root "$work/store" load -i "$work/big-docker.tar" >/dev/null
rm -rf "$work/seed"

if ! command -v hyperfine >/dev/null; then
	echo "hyperfine is not installed (scripts/install-deps.sh installs it)"; exit 0
fi
cmds=(-n "molt load (docker tar)" --prepare "rm -rf '$work/s1'" "'$MOLT' --root '$work/s1' load -i '$work/big-docker.tar'"
	-n "molt load (oci archive)" --prepare "rm -rf '$work/s1'" "'$MOLT' --root '$work/s1' load -i '$work/big-oci.tar'"
	-n "molt save --format docker" --prepare true "'$MOLT' --root '$work/store' save -o '$work/o1.tar' big:1"
	-n "molt save --format oci" --prepare true "'$MOLT' --root '$work/store' save --format oci -o '$work/o2.tar' big:1")
if command -v skopeo >/dev/null; then
	cmds+=(-n "skopeo copy docker-archive → oci dir" --prepare "rm -rf '$work/sk'"
		"skopeo copy -q docker-archive:'$work/big-docker.tar' oci:'$work/sk':big")
fi
if command -v buildah >/dev/null; then
	cmds+=(-n "buildah pull docker-archive" --prepare "rm -rf '$work/bh'"
		"buildah --root '$work/bh' --runroot '$work/bhr' --storage-driver vfs pull -q docker-archive:'$work/big-docker.tar'")
fi
hyperfine --style basic --warmup 1 --runs 5 --export-markdown "$work/table.md" "${cmds[@]}" >"$work/hf.log" 2>&1 || { tail -5 "$work/hf.log";
	echo "(some commands failed under hyperfine)"; }
cat "$work/table.md" 2>/dev/null
echo
echo "| command | peak RSS (KiB) |"
echo "|:---|---:|"
rm -rf "$work/s1"
rss() { { /usr/bin/time -f %M "$MOLT" "$@" >/dev/null; } 2>&1 | tail -n 1; }
echo "| molt load (docker tar) | $(rss --root "$work/s1" load -i "$work/big-docker.tar") |"
echo "| molt save --format docker | $(rss --root "$work/store" save -o "$work/o3.tar" big:1) |"
echo "| molt save --format oci | $(rss --root "$work/store" save --format oci -o "$work/o4.tar" big:1) |"
