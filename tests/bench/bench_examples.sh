#!/usr/bin/env bash
# bench_examples.sh — wall time of `molt build examples/react-nginx` against `buildah bud`
# of the same Dockerfile, context and build args on the same machine: the same Debian base
# (scripts/mkbase.sh debian), a fresh store / no cache for every run, apt-get and yarn
# fetching over the network each time. Minutes per build, so few runs
# (BENCH_EXAMPLES_RUNS, default 1): the median of those.
# The Debian base is taken from MOLT_DEBIAN_CACHE (default /var/cache/molt/debian-bookworm,
# where `make check-slow` keeps it), made there when missing and running as root.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_EXAMPLES_RUNS:-1}
ctx=$top/examples/react-nginx
deb=${MOLT_DEBIAN_CACHE:-/var/cache/molt/debian-bookworm}
if ! command -v hyperfine >/dev/null; then echo "hyperfine missing (scripts/install-deps.sh)"; exit 1; fi
if [ ! -f "$deb/oci/index.json" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "(no Debian base in $deb; run 'sudo scripts/mkbase.sh debian $deb' once)"; exit 0
	fi
	"$top/scripts/mkbase.sh" debian "$deb" >/dev/null || exit 1
fi
bench_mkdir examples
bah=(buildah --root "$dir/buildah" --runroot "$dir/buildah-run")
cleanup() {
	"$molt" --root "$dir/store" prune --all >/dev/null 2>&1
	if command -v buildah >/dev/null; then
		bench_buildah_clean
	fi
	rm -rf "$dir" 2>/dev/null
}
trap cleanup EXIT

# The same build args as tests/e2e/slow_examples.sh (see the Dockerfile for why TLS may
# need relaxing on a package network with its own certificate authority).
strict=${MOLT_NPM_STRICT_SSL:-true}
if [ -z "${MOLT_NPM_STRICT_SSL:-}" ] && ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	strict=false
fi
bargs="--build-arg NPM_REGISTRY=$(npm config get registry 2>/dev/null || true) --build-arg NPM_STRICT_SSL=$strict"

# A fresh store for every molt run (molt has no build cache to defeat, but the store
# would still hold the previous run's layers).
prep_molt="$molt --root $dir/store prune --all >/dev/null 2>&1; rm -rf $dir/store; $molt --root $dir/store load -i $deb/oci >/dev/null"
cmds=("$molt --root $dir/store build --progress quiet $bargs -t molt-bench-react $ctx")
preps=("$prep_molt")
names=("molt build")
if command -v buildah >/dev/null; then
	export BUILDAH_ISOLATION=chroot
	if id=$("${bah[@]}" pull -q "oci:$deb/oci" 2>"$dir/pull.log") &&
		"${bah[@]}" tag "$id" docker.io/library/debian:bookworm >/dev/null 2>>"$dir/pull.log"; then
		# --layers=false: no intermediate images, so nothing is cached between runs.
		cmds+=("${bah[*]} bud --pull=never --layers=false --no-cache -q $bargs -t molt-bench-react $ctx")
		preps+=("${bah[*]} rmi -f molt-bench-react >/dev/null 2>&1; true")
		names+=("buildah bud")
	else
		echo "(buildah could not take the Debian base: $(tail -n 1 "$dir/pull.log"))"
	fi
else
	echo "(buildah not installed: no comparison)"
fi
args=()
for i in "${!cmds[@]}"; do args+=(--prepare "${preps[$i]}" -n "${names[$i]}" "${cmds[$i]}"); done
if ! hyperfine --runs "$runs" --export-json "$dir/h.json" "${args[@]}" >"$dir/hyperfine.log" 2>&1; then
	echo "hyperfine failed:"; tail -n 20 "$dir/hyperfine.log"
	# Which command failed, and why, in its own words.
	for i in "${!cmds[@]}"; do
		bash -c "${preps[$i]}"
		bash -c "${cmds[$i]}" >"$dir/once.log" 2>&1 || { echo "${names[$i]} failed (exit $?):"; tail -n 20 "$dir/once.log"; }
	done
	exit 1
fi
printf '%-14s %10s %10s %10s\n' "command" "median s" "min s" "max s"
jq -r '.results[] | "\(.command)\t\(.median)\t\(.min)\t\(.max)"' "$dir/h.json" |
	while IFS=$'\t' read -r a b c d; do printf '%-14s %10.1f %10.1f %10.1f\n' "$a" "$b" "$c" "$d"; done
jq -r '.results | if length > 1 then "ratio molt/buildah: \(.[0].median / .[1].median * 1000 | round / 1000)" else empty end' "$dir/h.json"
echo "($runs run(s) each; examples/react-nginx, no cache, packages fetched every run)"
exit 0
