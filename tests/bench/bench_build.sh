#!/usr/bin/env bash
# bench_build.sh — `molt build` of examples/static-site against `buildah bud` of the
# same Dockerfile on the same machine, same base image (hyperfine medians): once
# without any cache (molt --no-cache, buildah --layers=false), once as a cached
# rebuild (molt's build cache, buildah's layer cache --layers; the warmup run fills
# the caches, the timed runs rebuild an unchanged context).
# Both run as the user that runs `make bench` (as root: buildah's overlay driver,
# molt's identity-mapped build namespace).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_RUNS:-5}
if ! command -v hyperfine >/dev/null; then echo "hyperfine missing (scripts/install-deps.sh)"; exit 1; fi
# Lowercase only: buildah names an image pulled from oci:PATH after PATH.
dir=/var/tmp/molt-bench-build.$$.$RANDOM
mkdir -m 0700 "$dir" || exit 1
# buildah gets its own storage in $dir, so its layer cache starts empty and nothing
# is left in (or removed from) the machine's buildah storage.
bflags="--root $dir/buildah/root --runroot $dir/buildah/run"
cleanup() {
	"$molt" --root "$dir/store" prune --all >/dev/null 2>&1
	if command -v buildah >/dev/null; then
		buildah $bflags rmi -af >/dev/null 2>&1
		umount "$dir"/buildah/root/overlay 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
"$top/scripts/mkbase.sh" busybox "$dir/bb" >/dev/null
export MOLT_ROOT=$dir/store
"$molt" load -i "$dir/bb/oci" >/dev/null
ctx=$top/examples/static-site
cmds=("$molt build --no-cache --progress quiet $ctx" "$molt build --progress quiet $ctx")
names=("molt no-cache" "molt cached")
have_buildah=false
if command -v buildah >/dev/null; then
	export BUILDAH_ISOLATION=chroot
	id=$(buildah $bflags pull -q "oci:$dir/bb/oci" 2>/dev/null) &&
		buildah $bflags tag "$id" docker.io/library/busybox:latest >/dev/null 2>&1
	cmds+=("buildah $bflags bud --pull=never --layers=false -q -t molt-bench-site $ctx"
		"buildah $bflags bud --pull=never --layers -q -t molt-bench-site $ctx")
	names+=("buildah no-cache" "buildah cached")
	have_buildah=true
else
	echo "(buildah not installed: no comparison)"
fi
# One hyperfine run per command: the warmup of the cached rows fills their cache.
printf '%-18s %10s\n' "command" "median s"
declare -A median
for i in "${!cmds[@]}"; do
	if ! hyperfine --warmup 1 --runs "$runs" --export-json "$dir/h.json" -n "${names[$i]}" \
		"${cmds[$i]}" >/dev/null 2>&1; then
		echo "hyperfine failed: ${names[$i]}"; hyperfine --runs 1 "${cmds[$i]}"; continue
	fi
	median[${names[$i]}]=$(jq -r '.results[0].median' "$dir/h.json")
	printf '%-18s %10.3f\n' "${names[$i]}" "${median[${names[$i]}]}"
done
ratio() { awk -v a="${median[$1]:-0}" -v b="${median[$2]:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
if $have_buildah; then
	echo "ratio molt/buildah, no cache: $(ratio 'molt no-cache' 'buildah no-cache')"
	echo "ratio molt/buildah, cached rebuild: $(ratio 'molt cached' 'buildah cached')"
fi
echo "molt cached rebuild / molt no-cache: $(ratio 'molt cached' 'molt no-cache')"
rss=$( { /usr/bin/time -f %M "$molt" build --no-cache --progress quiet "$ctx" >/dev/null; } 2>&1 | tail -n 1)
echo "molt build peak RSS (main process): ${rss} KiB"
exit 0
