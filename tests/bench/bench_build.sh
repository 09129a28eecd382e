#!/usr/bin/env bash
# bench_build.sh — `molt build` of examples/static-site against `buildah bud` of the
# same Dockerfile on the same machine, same base image, no cache (hyperfine medians).
# Both run as the user that runs `make bench` (as root: buildah's overlay driver,
# molt's identity-mapped build namespace).
set -u
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
molt=${MOLT:-$top/build/molt}
runs=${BENCH_RUNS:-5}
if ! command -v hyperfine >/dev/null; then echo "hyperfine missing (scripts/install-deps.sh)"; exit 1; fi
dir=$(mktemp -d /var/tmp/molt-bench-build.XXXXXX)
trap '"$molt" --root "$dir/store" prune --all >/dev/null 2>&1; rm -rf "$dir"' EXIT
"$top/scripts/mkbase.sh" busybox "$dir/bb" >/dev/null
export MOLT_ROOT=$dir/store
"$molt" load -i "$dir/bb/oci" >/dev/null
ctx=$top/examples/static-site
cmds=("$molt build --progress quiet $ctx")
names=("molt build")
if command -v buildah >/dev/null; then
	export BUILDAH_ISOLATION=chroot
	id=$(buildah pull -q "oci:$dir/bb/oci" 2>/dev/null) && buildah tag "$id" docker.io/library/busybox:latest >/dev/null 2>&1
	cmds+=("buildah bud --pull=never --layers=false -q -t molt-bench-site $ctx")
	names+=("buildah bud")
else
	echo "(buildah not installed: no comparison)"
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine --warmup 1 --runs "$runs" --export-json "$dir/h.json" "${args[@]}" >/dev/null 2>&1 ||
	{ echo "hyperfine failed"; hyperfine --runs 1 "${args[@]}"; exit 1; }
printf '%-14s %10s\n' "command" "median s"
jq -r '.results[] | "\(.command) \(.median)"' "$dir/h.json" | while read -r a b c; do printf '%-14s %10.3f\n' "$a $b" "$c"; done
jq -r '.results | if length > 1 then "ratio molt/buildah: \(.[0].median / .[1].median * 1000 | round / 1000)" else empty end' "$dir/h.json"
rss=$( { /usr/bin/time -f %M "$molt" build --progress quiet "$ctx" >/dev/null; } 2>&1 | tail -n 1)
echo "molt build peak RSS (main process): ${rss} KiB"
command -v buildah >/dev/null && buildah rmi -f molt-bench-site >/dev/null 2>&1
exit 0
