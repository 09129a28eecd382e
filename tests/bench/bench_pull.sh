#!/usr/bin/env bash
# bench_pull.sh — pulling a Debian+gcc-sized image from a local registry (Debian's
# docker-registry on 127.0.0.1, plain HTTP) until it is ready to run:
#   molt pull + the first `molt run IMAGE true`, on an empty store
#   buildah pull + buildah from + buildah run CTR true, on empty storage
#   skopeo copy docker://… oci:DIR (blob fetch only: the floor for the download)
# Runs are interleaved (the order rotates each round) so a noisy neighbour on the machine
# hurts every tool alike; BENCH_PULL_RUNS rounds (default 3), medians printed.
#
# The image: the Debian base from MOLT_DEBIAN_CACHE (default /var/cache/molt/debian-
# bookworm, made there with scripts/mkbase.sh when missing and running as root), else
# the busybox base, plus BENCH_PULL_EXTRA_MB (default 150: what gcc adds to Debian) of
# files in 3 more layers — seeded, half random and half text, 4 KiB to 1 MiB each —
# kept in BENCH_PULL_CACHE so later runs do not remake them. BENCH_PULL_MKBASE=0: never
# make the Debian base here.
# Until molt's registry client exists this prints "molt pull: not available".
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_PULL_RUNS:-3}
extra_mb=${BENCH_PULL_EXTRA_MB:-150}
deb=${MOLT_DEBIAN_CACHE:-/var/cache/molt/debian-bookworm}
cache=${BENCH_PULL_CACHE:-/var/tmp/molt-bench-pull}
for t in docker-registry skopeo python3 curl; do
	command -v "$t" >/dev/null || { echo "($t missing: scripts/install-deps.sh)"; exit 0; }
done

bench_mkdir pull
export TMPDIR=$dir REG_LIFETIME=${BENCH_PULL_LIFETIME:-3600}
# shellcheck source=../e2e/registry_lib.sh
. "$top/tests/e2e/registry_lib.sh"
# Every round of every tool gets directories of its own (@R@ is the round), removed only
# at the end: on ext4 without a journal, creating files right after a large delete is
# slow for minutes, which made the first runs here vary 1.7 s to 5.9 s for the same pull.
bah=(buildah --root "$dir/buildah-@R@" --runroot "$dir/buildah-run-@R@")
# Empty buildah storage, as a script the timing loop runs between rounds.
cat >"$dir/buildah-clean.sh" <<EOF
for r in once \$(seq 0 $((runs - 1))); do
	b="buildah --root $dir/buildah-\$r --runroot $dir/buildah-run-\$r"
	[ -d "$dir/buildah-\$r" ] || continue
	\$b rm -a >/dev/null 2>&1
	\$b rmi -a -f >/dev/null 2>&1
done
# overlay mounts buildah's storage may still hold under this run's directory
awk -v d="$dir/buildah" 'index(\$2, d) == 1 { print \$2 }' /proc/self/mounts | sort -r |
	xargs -r umount >/dev/null 2>&1
rm -rf "$dir"/buildah-*
EOF
cleanup() {
	for s in "$dir"/molt-*; do [ -d "$s" ] && "$molt" --root "$s" prune --all >/dev/null 2>&1; done
	command -v buildah >/dev/null && bash "$dir/buildah-clean.sh"
	reg_cleanup
	rm -rf "$dir" 2>/dev/null
}
trap cleanup EXIT

# ---------------------------------------------------------------- the image
base=$deb base_name="debian bookworm"
if [ ! -f "$deb/oci/index.json" ] && [ "${BENCH_PULL_MKBASE:-1}" = 1 ] && [ "$(id -u)" = 0 ] &&
	command -v debootstrap >/dev/null; then
	echo "(making the Debian base in $deb: a few minutes, once)"
	# Under the lock and with the stamp tests/run-tests.sh uses for the same cache, so a
	# test run at the same time neither races this nor remakes it.
	(
		flock 9
		if [ ! -f "$deb/oci/index.json" ]; then
			"$top/scripts/mkbase.sh" debian "$deb" &&
				sha256sum "$top/scripts/mkbase.sh" | cut -d' ' -f1 >"$deb/stamp"
		fi
	) 9>/run/molt-debian-base.lock >"$dir/mkbase.log" 2>&1 || tail -n 3 "$dir/mkbase.log"
fi
if [ ! -f "$deb/oci/index.json" ]; then
	base=$dir/busybox base_name="busybox (no Debian base in $deb)"
	"$top/scripts/mkbase.sh" busybox "$base" >"$dir/mkbase.log" 2>&1 ||
		{ echo "mkbase busybox failed:"; tail -n 5 "$dir/mkbase.log"; exit 1; }
fi
base_digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$base/oci/index.json")
image=$cache/oci-${base_digest#sha256:}-$extra_mb
if [ ! -f "$image/index.json" ]; then
	echo "(writing the ${extra_mb} MB of extra layers into $image, once)"
	rm -rf "$image.tmp" && mkdir -p "$cache" &&
		python3 "$top/tests/bench/mklayers.py" "$base/oci" "$image.tmp" "$extra_mb" &&
		mv "$image.tmp" "$image" || { echo "making the image failed"; exit 1; }
fi
sizes=$(python3 - "$image" <<'EOF'
import json, os, sys
d = sys.argv[1]
blob = lambda g: os.path.join(d, "blobs", "sha256", g.split(":")[1])
idx = json.load(open(os.path.join(d, "index.json")))
m = json.load(open(blob(idx["manifests"][0]["digest"])))
print(len(m["layers"]), sum(l["size"] for l in m["layers"]) // (1 << 20))
EOF
)
read -r n_layers gz_mb <<<"$sizes"

reg_start || { echo "docker-registry did not start"; exit 1; }
ref=$REG_HOST/bench/image:latest
reg_skopeo copy --quiet --dest-tls-verify=false "oci:$image:latest" "docker://$ref" ||
	{ echo "pushing the image to the local registry failed"; exit 1; }
echo "image: $base_name + $extra_mb MB of files; $n_layers layers, $gz_mb MiB compressed; registry $REG_HOST"
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG_HOST" >"$dir/registries.conf"
export CONTAINERS_REGISTRIES_CONF=$dir/registries.conf BUILDAH_ISOLATION=chroot

# ---------------------------------------------------------------- the contenders
names=() preps=() cmds=()
molt_prep="true"
molt_cmd="$molt --root $dir/molt-@R@ pull $ref >/dev/null && $molt --root $dir/molt-@R@ run $ref true"
if ! "$molt" pull --help >/dev/null 2>&1; then
	echo "molt pull: not available ('molt pull --help' fails)"
elif ! bash -c "${molt_cmd//@R@/once}" >"$dir/molt-once.log" 2>&1; then
	echo "molt pull: not available ($(tail -n 1 "$dir/molt-once.log"))"
else
	names+=("molt pull + run true") preps+=("$molt_prep") cmds+=("$molt_cmd")
	# The download alone, to hold against skopeo's: a store whose layers are unpacked
	# already loses its large blobs before each round, so the pull fetches them again
	# and has nothing to unpack.
	if "$molt" --root "$dir/molt-fetch" pull -q "$ref" >/dev/null 2>&1; then
		names+=("molt pull (blobs only)")
		preps+=("find $dir/molt-fetch/blobs/sha256 -type f -size +1M -delete")
		cmds+=("$molt --root $dir/molt-fetch pull -q $ref")
	fi
fi
if command -v buildah >/dev/null; then
	names+=("buildah pull + from + run true") preps+=("true")
	cmds+=("${bah[*]} pull -q --tls-verify=false docker://$ref >/dev/null && c=\$(${bah[*]} from --pull=never $ref) && ${bah[*]} run \$c true")
else
	echo "(buildah not installed: no comparison)"
fi
names+=("skopeo copy (blobs only)") preps+=("true")
cmds+=("skopeo --policy $REG_DIR/policy.json copy --quiet --src-tls-verify=false docker://$ref oci:$dir/skopeo-oci-@R@:x")

# ---------------------------------------------------------------- interleaved rounds
n=${#cmds[@]}
declare -A times
for ((r = 0; r < runs; r++)); do
	for ((k = 0; k < n; k++)); do
		i=$(((k + r) % n))
		bash -c "${preps[$i]}" >/dev/null 2>&1
		sync
		t0=$(date +%s.%N)
		if ! bash -c "${cmds[$i]//@R@/$r}" >"$dir/run.log" 2>&1; then
			echo "${names[$i]} failed (round $((r + 1))):"; tail -n 5 "$dir/run.log"
			continue
		fi
		t1=$(date +%s.%N)
		times[$i]="${times[$i]:-} $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
	done
done
printf '%-32s %9s %9s %9s\n' "command" "median s" "min s" "max s"
medians=()
for ((i = 0; i < n; i++)); do
	stats=$(python3 -c 'import statistics, sys; v = [float(x) for x in sys.argv[1:]]; print("%.2f %.2f %.2f" % (statistics.median(v), min(v), max(v)) if v else "- - -")' ${times[$i]:-})
	read -r med lo hi <<<"$stats"
	medians+=("$med")
	printf '%-32s %9s %9s %9s\n' "${names[$i]}" "$med" "$lo" "$hi"
done
# ratio A B LABEL: the medians of the rows named A and B.
ratio() {
	local a= b=
	for ((i = 0; i < n; i++)); do
		[ "${names[$i]}" = "$1" ] && a=${medians[$i]}
		[ "${names[$i]}" = "$2" ] && b=${medians[$i]}
	done
	[ -n "$a" ] && [ -n "$b" ] || return 0
	python3 -c 'import sys; a, b = sys.argv[1], sys.argv[2]; print("%s: %s" % (sys.argv[3], "%.2f" % (float(a) / float(b)) if "-" not in (a, b) else "-"))' "$a" "$b" "$3"
}
ratio "molt pull + run true" "buildah pull + from + run true" "ratio molt / buildah (pull until ready to run)"
ratio "molt pull (blobs only)" "skopeo copy (blobs only)" "ratio molt / skopeo (the download alone)"
echo "(targets: molt / buildah <= 0.33; molt's blob fetch no slower than skopeo's)"
