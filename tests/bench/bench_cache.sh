#!/usr/bin/env bash
# bench_cache.sh — a CI runner with an empty store and a shared build cache (issue #11):
# examples/c-static (a builder stage installing gcc with apt-get, the static binary
# alone in scratch) built on an empty store
#   molt --cache-from         the cache a first build exported (--cache-to mode=max) to a
#                             local registry (Debian's docker-registry on 127.0.0.1)
#   molt full rebuild         the same empty store, no cache (apt over the network)
#   buildah --cache-from      buildah bud --layers --cache-from against the same registry,
#                             its cache made by buildah bud --layers --cache-to
# Every round starts each tool on empty storage holding only the Debian base (loaded
# untimed). Rounds are interleaved so load from the rest of the machine falls on every
# column alike; medians of BENCH_CACHE_RUNS rounds (default 3) and the ratios.
# Runs as root (the Debian base, buildah's storage); the targets: molt --cache-from at
# least 10x faster than the full rebuild and 5x faster than buildah's cache hit.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_CACHE_RUNS:-3}
deb=${MOLT_DEBIAN_CACHE:-/var/cache/molt/debian-bookworm}
if [ "$(id -u)" != 0 ]; then echo "(bench_cache needs root: the Debian base, buildah)"; exit 0; fi
for t in buildah docker-registry skopeo curl python3 openssl htpasswd; do
	command -v $t >/dev/null || { echo "($t missing: scripts/install-deps.sh)"; exit 0; }
done
if [ ! -f "$deb/oci/index.json" ]; then
	"$top/scripts/mkbase.sh" debian "$deb" >/dev/null || exit 1
fi
bench_mkdir cache
export TMPDIR=$dir REG_LIFETIME=${BENCH_CACHE_LIFETIME:-3600}
# shellcheck source=../e2e/registry_lib.sh
. "$top/tests/e2e/registry_lib.sh"
bah=(buildah --root "$dir/buildah" --runroot "$dir/buildah-run")
cleanup() {
	"$molt" --root "$dir/store" prune --all >/dev/null 2>&1
	"$molt" --root "$dir/warm" prune --all >/dev/null 2>&1
	bench_buildah_clean
	reg_cleanup
	[ -n "${BENCH_CACHE_KEEP:-}" ] && { echo "(kept $dir)"; return; }
	rm -rf "$dir" 2>/dev/null
}
trap cleanup EXIT
export BUILDAH_ISOLATION=chroot

reg_start || { echo "(the local registry did not start)"; exit 0; }
reg_molt_env
echo '{"auths":{}}' >"$REGISTRY_AUTH_FILE" # anonymous; buildah wants the file to exist
R=$REG_HOST
ctx=$top/examples/c-static
m=("$molt" --root "$dir/store")
# Empty storage with the Debian base: molt's store, buildah's (as a script for the rounds).
cat >"$dir/molt-fresh.sh" <<EOF
"$molt" --root "$dir/store" prune --all >/dev/null 2>&1; rm -rf "$dir/store"
"$molt" --root "$dir/store" load -i "$deb/oci" >/dev/null
EOF
cat >"$dir/buildah-fresh.sh" <<EOF
b="${bah[*]}"
\$b rm -a >/dev/null 2>&1; \$b rmi -a -f >/dev/null 2>&1
id=\$(\$b pull -q "oci:$deb/oci") && \$b tag "\$id" docker.io/library/debian:bookworm
EOF

# The caches, made once (untimed): molt's with mode=max, buildah's with --cache-to.
"$molt" --root "$dir/warm" load -i "$deb/oci" >/dev/null &&
	"$molt" --root "$dir/warm" build --progress quiet \
		--cache-to "type=registry,ref=$R/bench/c-static-cache:molt,mode=max" "$ctx" \
		>"$dir/warm-molt.log" 2>&1 ||
	{ echo "(molt's warm-up build failed: $(tail -n 2 "$dir/warm-molt.log" | tr '\n' ' '))"; exit 0; }
bash "$dir/buildah-fresh.sh" >"$dir/warm-buildah.log" 2>&1 &&
	"${bah[@]}" bud --pull=never -q --layers --tls-verify=false \
		--cache-to "$R/bench/c-static-buildah-cache" -t bench-c "$ctx" >>"$dir/warm-buildah.log" 2>&1 ||
	{ echo "(buildah's warm-up build failed: $(tail -n 2 "$dir/warm-buildah.log" | tr '\n' ' '))"; exit 0; }

now() { date +%s.%N; }
# timed CMD: seconds CMD (bash) took; its output goes to the log.
timed() {
	local t0 t1
	t0=$(now)
	timeout -k 10 1800 bash -c "$1" >>"$dir/rounds.log" 2>&1 || return $?
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

names=("molt --cache-from (empty store)" "molt full rebuild (empty store)" "buildah --cache-from (empty storage)")
preps=("bash $dir/molt-fresh.sh" "bash $dir/molt-fresh.sh" "bash $dir/buildah-fresh.sh")
cmds=(
	"${m[*]} build --progress quiet --cache-from type=registry,ref=$R/bench/c-static-cache:molt -t bench-c $ctx"
	"${m[*]} build --progress quiet --no-cache -t bench-c $ctx"
	"${bah[*]} bud --pull=never -q --layers --tls-verify=false --cache-from $R/bench/c-static-buildah-cache -t bench-c $ctx"
)
declare -A times=()
for ((i = 1; i <= runs; i++)); do
	for c in 0 1 2; do
		bash -c "${preps[$c]}" >>"$dir/rounds.log" 2>&1
		if t=$(timed "${cmds[$c]}"); then
			times[$c]="${times[$c]:-} $t"
		else
			echo "(${names[$c]}: round $i failed: $(tail -n 2 "$dir/rounds.log" | tr '\n' ' '))"
		fi
	done
done
# The molt hit ran no step: its log says CACHED for every layer step (checked once more).
bash "$dir/molt-fresh.sh" >/dev/null 2>&1
"${m[@]}" build --progress plain --cache-from "type=registry,ref=$R/bench/c-static-cache:molt" \
	"$ctx" >"$dir/check.log" 2>&1
hit=$(grep -c '^#[0-9]* CACHED$' "$dir/check.log")
fetched=$(ls "$dir/store/blobs/sha256" 2>/dev/null | wc -l)

med=()
printf '\n| %-40s | %-9s | %-22s |\n' "examples/c-static, empty store" "median s" "rounds s"
printf '| %-40s | %-9s | %-22s |\n' "---" "---" "---"
for c in 0 1 2; do
	med[$c]=$(echo "${times[$c]:-}" | median)
	printf '| %-40s | %-9s | %-22s |\n' "${names[$c]}" "${med[$c]:--}" "$(echo ${times[$c]:-})"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", b / a; else print "-" }'; }
echo
echo "molt --cache-from: $hit layer steps from the cache; $fetched blobs in the store after it (base included)"
echo "molt --cache-from vs full rebuild: $(ratio "${med[0]:-0}" "${med[1]:-0}") faster (target 10x)"
echo "molt --cache-from vs buildah --cache-from: $(ratio "${med[0]:-0}" "${med[2]:-0}") faster (target 5x)"
