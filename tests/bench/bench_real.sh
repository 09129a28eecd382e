#!/usr/bin/env bash
# bench_real.sh — the "real builds" table of issue 13: molt against
# buildah (its own storage, --isolation=chroot, same Debian base) and, where one exists,
# the floor (the same work in a plain chroot, or tar piped into a compressor), in the
# same run. Rounds are interleaved (molt, buildah, floor, molt, buildah, floor, ...) so
# load from whatever else runs on the machine falls on every column alike; medians of
# BENCH_REAL_RUNS rounds (default 3).
#
# Rows (names for BENCH_REAL_ONLY / BENCH_REAL_SKIP, space separated):
#   c-static, react     examples/c-static, examples/react-nginx, no cache (apt and yarn
#                       fetch over the network every run)
#   apt                 one RUN `apt-get install -y python3 perl make git`, the .debs
#                       downloaded by an earlier cached step (--download-only): the cache
#                       is warmed once, then every timed build changes only a build arg
#                       that the install step alone consumes, so the figure is that step
#                       (plus each tool's fixed per-build overhead)
#   yarn                `yarnpkg install --offline` of examples/react-nginx's package set,
#                       the yarn cache filled by an earlier cached step through the
#                       NPM_REGISTRY build arg as the example does (network out of the figure)
#   files10k, random1g  a RUN creating 10,000 small files; a RUN writing 1 GiB of
#                       /dev/urandom (no cache)
#   ctx10k              COPY . /app of a 10,000-file context, rebuilt after changing one file
#   export              an image of a ~500 MB tree (FROM scratch + COPY of files of this
#                       machine's /usr, built once beforehand) exported as an OCI layout:
#                       molt save --format oci against buildah push oci:, and
#                       tar | gzip / pigz / zstd -T0 of the same tree
#   export-zstd         the same with zstd (--compression zstd, buildah push
#                       --compression-format zstd) against tar | zstd -T0
# Each command is bounded by what is left of the row's budget (BENCH_REAL_ROW_LIMIT
# seconds, default 1800); a row out of time keeps the rounds it finished. Runs as root
# (debootstrap'd base, chroot floors, buildah's native overlay).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_REAL_RUNS:-3}
limit=${BENCH_REAL_ROW_LIMIT:-1800}
deb=${MOLT_DEBIAN_CACHE:-/var/cache/molt/debian-bookworm}
if [ "$(id -u)" != 0 ]; then echo "(bench_real needs root: chroot floors, the Debian base)"; exit 0; fi
for t in buildah pigz zstd timeout unshare; do
	command -v $t >/dev/null || { echo "($t missing: scripts/install-deps.sh)"; exit 0; }
done
if [ ! -f "$deb/oci/index.json" ] || [ ! -f "$deb/rootfs.tar" ]; then
	"$top/scripts/mkbase.sh" debian "$deb" >/dev/null || exit 1
fi
bench_mkdir real
# BENCH_REAL_FS=loop: the whole work directory (stores, contexts, chroots) on a fresh
# journaled ext4 in a sparse file of BENCH_REAL_LOOP_SIZE (default 24G). An ext4 without
# a journal (this machine's /var/tmp) skips the inodes deleted in the last minutes on
# every create, so whichever column runs after a large delete pays for it; on a journaled
# one it does not. The table's last line names the filesystem either way.
img=""
if [ "${BENCH_REAL_FS:-}" = loop ]; then
	img=$dir.img
	if ! truncate -s "${BENCH_REAL_LOOP_SIZE:-24G}" "$img" || ! mkfs.ext4 -q -F "$img" ||
		! mount -o loop "$img" "$dir"; then
		echo "(BENCH_REAL_FS=loop: could not make and mount $img)"; rm -f "$img"; rmdir "$dir"; exit 1
	fi
	chmod 0755 "$dir"
fi
bah=(buildah --root "$dir/buildah" --runroot "$dir/buildah-run")
cleanup() {
	"$molt" --root "$dir/store" prune --all >/dev/null 2>&1
	bench_buildah_clean
	[ -n "${BENCH_REAL_KEEP:-}" ] && { echo "(kept $dir)"; return; }
	if [ -n "$img" ]; then
		umount "$dir" 2>/dev/null || umount -l "$dir"
		rm -f "$img"; rmdir "$dir" 2>/dev/null
		return
	fi
	rm -rf "$dir" 2>/dev/null
}
trap cleanup EXIT
export BUILDAH_ISOLATION=chroot
m=("$molt" --root "$dir/store")
"${m[@]}" load -i "$deb/oci" >/dev/null || { echo "molt load of the Debian base failed"; exit 1; }
id=$("${bah[@]}" pull -q "oci:$deb/oci" 2>"$dir/pull.log") &&
	"${bah[@]}" tag "$id" docker.io/library/debian:bookworm 2>>"$dir/pull.log" ||
	{ echo "buildah could not take the Debian base: $(tail -n 1 "$dir/pull.log")"; exit 1; }

# The npm registry as the examples use it (read at run time, written nowhere); a package
# network with its own certificate authority shows up as extra CAs on this host.
registry=$(npm config get registry 2>/dev/null || true)
strict=${MOLT_NPM_STRICT_SSL:-true}
if [ -z "${MOLT_NPM_STRICT_SSL:-}" ] && ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	strict=false
fi
npm_ok=""
[ -n "$registry" ] && curl -fsS -o /dev/null --max-time 15 "${registry%/}/react" 2>/dev/null && npm_ok=1
bargs="--build-arg NPM_REGISTRY=$registry --build-arg NPM_STRICT_SSL=$strict"

# ---- timing -------------------------------------------------------------------------
results=$dir/results.tsv   # row label, column, median seconds or "skip: reason"
: >"$results"
row_start=0
now() { date +%s.%N; }
left() { awk -v s="$row_start" -v n="$(now)" -v l="$limit" 'BEGIN { printf "%d", l - (n - s) }'; }
# timed LOG CMD: runs CMD (bash) bounded by the row's remaining time; prints seconds.
timed() {
	local log=$1 cmd=$2 t0 t1 budget
	budget=$(left)
	[ "$budget" -gt 5 ] || return 124
	t0=$(now)
	timeout -k 10 "$budget" bash -c "$cmd" >>"$log" 2>&1 || return $?
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure LABEL: the round loop over the columns the row set up: molt, buildah and any
# number of floors, each a (prep, cmd) pair of bash strings; prep is not timed.
measure() {
	local label=$1 i c n=${#colnames[@]} log=$dir/log.$RANDOM t
	declare -A times=() failed=()
	for ((i = 1; i <= runs; i++)); do
		for ((c = 0; c < n; c++)); do
			[ -n "${failed[$c]:-}" ] && continue
			bash -c "${preps[$c]//@I@/$i}" >>"$log" 2>&1
			if t=$(timed "$log" "${cmds[$c]//@I@/$i}"); then
				times[$c]="${times[$c]:-} $t"
			else
				local rc=$?
				if [ $rc = 124 ] || [ $rc = 137 ]; then failed[$c]="out of time (row limit ${limit}s)"
				else failed[$c]="failed (exit $rc): $(tail -n 3 "$log" | tr '\n' ' ' | cut -c1-160)"; fi
			fi
		done
	done
	for ((c = 0; c < n; c++)); do
		local med
		med=$(echo "${times[$c]:-}" | median)
		if [ -n "$med" ]; then
			local k; k=$(echo "${times[$c]}" | wc -w)
			[ "$k" -lt "$runs" ] && med="$med ($k/$runs)"
			printf '%s\t%s\t%s\n' "$label" "${colnames[$c]}" "$med" >>"$results"
		else
			printf '%s\t%s\tskip: %s\n' "$label" "${colnames[$c]}" "${failed[$c]:-no run}" >>"$results"
		fi
	done
}
skip_row() { printf '%s\tall\tskip: %s\n' "$1" "$2" >>"$results"; }
wanted() {
	case " ${BENCH_REAL_SKIP:-} " in *" $1 "*) skip_row "$2" "BENCH_REAL_SKIP"; return 1 ;; esac
	[ -z "${BENCH_REAL_ONLY:-}" ] && return 0
	case " $BENCH_REAL_ONLY " in *" $1 "*) return 0 ;; esac
	skip_row "$2" "not in BENCH_REAL_ONLY"; return 1
}
begin_row() { row_start=$(now); preps=(); cmds=(); colnames=(); }
col() { colnames+=("$1"); preps+=("$2"); cmds+=("$3"); }

M="${m[*]}"
B="${bah[*]}"
mq="$M build --progress quiet"
bq="$B bud --pull=never -q"

# ---- plain chroot floors --------------------------------------------------------------
# floor_tree NAME CTX PREFIX: the Debian base unpacked, CTX copied to /app, PREFIX run in
# it once (with this host's resolver, for apt and yarn downloads) — the chroot
# counterpart of the cached steps before a timed step.
floor_tree() {
	local t=$dir/floor-$1/base
	mkdir -p "$t" && tar -xf "$deb/rootfs.tar" -C "$t" || return 1
	cp -a /dev/null /dev/zero /dev/random /dev/urandom "$t/dev/"
	cp -L /etc/resolv.conf "$t/etc/resolv.conf"
	mkdir -p "$t/app" && cp -a "$2/." "$t/app/"
	in_chroot "$t" "$3" >"$dir/floor-$1/prep.log" 2>&1
}
# in_chroot TREE CMD: CMD by /bin/sh in TREE, as root, with its own /proc.
in_chroot() {
	unshare -m -p -f --mount-proc="$1/proc" chroot "$1" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		NPM_REGISTRY="$registry" NPM_STRICT_SSL="$strict" /bin/sh -c "$2"
}
export -f in_chroot
export registry strict

# step_row KEY LABEL CTX PREFIX STEP: PREFIX as a cached step, STEP timed after a build
# arg only it consumes changed; the floor runs STEP in a fresh copy of the chroot tree.
step_row() {
	local key=$1 label=$2 ctx=$3 prefix=$4 step=$5
	wanted "$key" "$label" || return 0
	begin_row
	local c=$dir/ctx-$key
	mkdir -p "$c" && cp -a "$ctx/." "$c/"
	printf 'FROM debian:bookworm\nARG NPM_REGISTRY=\nARG NPM_STRICT_SSL=true\nCOPY . /app\nRUN %s\nARG STAMP=0\nRUN : "$STAMP" && %s\n' \
		"$prefix" "$step" >"$c/Dockerfile"
	# Warm both caches up to the timed step (untimed; network for the downloads).
	if ! $mq $bargs --build-arg STAMP=warm -t bench-$key "$c" >"$dir/warm-$key.log" 2>&1; then
		skip_row "$label" "molt warm-up build failed: $(tail -n 2 "$dir/warm-$key.log" | tr '\n' ' ')"; return 0
	fi
	if ! $bq --layers $bargs --build-arg STAMP=warm -t bench-$key "$c" >>"$dir/warm-$key.log" 2>&1; then
		skip_row "$label" "buildah warm-up build failed: $(tail -n 2 "$dir/warm-$key.log" | tr '\n' ' ')"; return 0
	fi
	col molt ":" "$mq $bargs --build-arg STAMP=run@I@ -t bench-$key $c"
	col buildah ":" "$bq --layers $bargs --build-arg STAMP=run@I@ -t bench-$key $c"
	local f=$dir/floor-$key
	if floor_tree "$key" "$ctx" "$prefix"; then
		printf '%s\n' "$step" >"$f/step"
		col "floor" "rm -rf $f/run; cp -a $f/base $f/run" "in_chroot $f/run \"\$(cat $f/step)\""
	else
		printf '%s\tfloor\tskip: chroot preparation failed (%s)\n' "$label" "$(tail -n 1 "$f/prep.log")" >>"$results"
	fi
	measure "$label"
	rm -rf "$f"
}

# ---- rows -----------------------------------------------------------------------------
ex=$top/examples
if wanted c-static "examples/c-static (no cache)"; then
	begin_row
	col molt ":" "$mq --no-cache -t bench-c $ex/c-static"
	col buildah "$B rmi -f bench-c" "$bq --layers=false --no-cache -t bench-c $ex/c-static"
	measure "examples/c-static (no cache)"
fi
if wanted react "examples/react-nginx (no cache)"; then
	if [ -z "$npm_ok" ]; then
		skip_row "examples/react-nginx (no cache)" "the npm registry does not answer"
	else
		begin_row
		col molt ":" "$mq --no-cache $bargs -t bench-react $ex/react-nginx"
		col buildah "$B rmi -f bench-react" "$bq --layers=false --no-cache $bargs -t bench-react $ex/react-nginx"
		measure "examples/react-nginx (no cache)"
	fi
fi
empty=$dir/empty; mkdir -p "$empty"
step_row apt "RUN apt-get install python3 perl make git (debs cached)" "$empty" \
	"apt-get update && apt-get install -y --download-only python3 perl make git" \
	"apt-get install -y python3 perl make git"
if [ -z "$npm_ok" ]; then
	wanted yarn "RUN yarn install --offline (react-nginx set)" &&
		skip_row "RUN yarn install --offline (react-nginx set)" "the npm registry does not answer"
else
	ymeta=$dir/yarn-meta; mkdir -p "$ymeta"
	cp "$ex/react-nginx/package.json" "$ex/react-nginx/yarn.lock" "$ymeta/"
	step_row yarn "RUN yarn install --offline (react-nginx set)" "$ymeta" \
		"apt-get update && apt-get install -y --no-install-recommends nodejs yarnpkg && rm -rf /var/lib/apt/lists/* && cd /app && reg=\"\${NPM_REGISTRY:-\$(yarnpkg config get registry)}\" && sed -i \"s|@NPM_REGISTRY@|\${reg%/}|\" yarn.lock && yarnpkg config set strict-ssl \"\$NPM_STRICT_SSL\" >/dev/null && yarnpkg install --frozen-lockfile --non-interactive --no-progress --registry \"\$reg\" --cache-folder /yarn-cache && rm -rf node_modules" \
		"cd /app && yarnpkg install --offline --frozen-lockfile --non-interactive --no-progress --cache-folder /yarn-cache"
fi

# one_run_row KEY LABEL CMD: FROM debian + RUN CMD, no cache; the floor is CMD in a chroot.
one_run_row() {
	local key=$1 label=$2 cmd=$3
	wanted "$key" "$label" || return 0
	begin_row
	local c=$dir/ctx-$key f=$dir/floor-$key
	mkdir -p "$c"
	printf 'FROM debian:bookworm\nRUN %s\n' "$cmd" >"$c/Dockerfile"
	col molt ":" "$mq --no-cache -t bench-$key $c"
	col buildah "$B rmi -f bench-$key" "$bq --layers=false --no-cache -t bench-$key $c"
	if floor_tree "$key" "$empty" ":"; then
		printf '%s\n' "$cmd" >"$f/step"
		col floor "rm -rf $f/run; cp -a $f/base $f/run" "in_chroot $f/run \"\$(cat $f/step)\""
	fi
	measure "$label"
	"${m[@]}" rmi "bench-$key" >/dev/null 2>&1; "${m[@]}" prune >/dev/null 2>&1
	"${bah[@]}" rmi -f "bench-$key" >/dev/null 2>&1
	rm -rf "$f"
}
one_run_row files10k "RUN creating 10,000 small files" \
	'mkdir /many && i=0 && while [ $i -lt 10000 ]; do echo "file $i" >/many/f$i; i=$((i+1)); done'
one_run_row random1g "RUN writing 1 GiB from /dev/urandom" \
	'head -c 1073741824 /dev/urandom >/big'

if wanted ctx10k "one-file change, 10,000-file context"; then
	begin_row
	c=$dir/ctx-ctx10k
	mkdir -p "$c"
	for d in $(seq -w 0 99); do
		mkdir "$c/d$d"
		for f in $(seq -w 0 99); do printf 'context file %s/%s\n' "$d" "$f" >"$c/d$d/f$f"; done
	done
	printf 'FROM debian:bookworm\nCOPY . /app\n' >"$c/Dockerfile"
	$mq -t bench-ctx "$c" >/dev/null 2>&1; $bq --layers -t bench-ctx "$c" >/dev/null 2>&1
	# Each timed build follows a change of one file's content.
	col molt "echo molt @I@ >$c/d42/f42" "$mq -t bench-ctx $c"
	col buildah "echo buildah @I@ >$c/d42/f42" "$bq --layers -t bench-ctx $c"
	col "floor" "rm -rf $dir/ctx-copy" "cp -a $c $dir/ctx-copy"
	measure "one-file change, 10,000-file context"
	rm -rf "$dir/ctx-copy"
fi

# export_tree: the ~500 MB tree (real files of this machine — libraries, data, docs — in
# name order up to 500 MiB), and both tools' image of it (FROM scratch, COPY . /), built
# once and untimed: the export rows time the export of an image each tool already holds,
# as `tar | compressor` does for the tree (issue 13: export within 1.2x the floor).
export_tree() {
	t=$dir/tree
	[ -d "$t" ] && return 0
	mkdir -p "$t"
	find /usr/lib /usr/share -xdev -type f -size -64M -printf '%s\t%p\n' 2>/dev/null | LC_ALL=C sort -t$'\t' -k2 |
		awk -F'\t' '{ s += $1; print $2; if (s >= 500 * 1048576) exit }' |
		tar -cf - -T - 2>/dev/null | tar -xf - -C "$t"
	tsize=$(du -sm "$t" | cut -f1); tfiles=$(find "$t" -type f | wc -l)
	echo "(export tree: $tsize MiB, $tfiles files, from this machine's /usr; the export rows time
 molt save --format oci / buildah push oci: of an image built beforehand)" >"$dir/export.note"
	printf 'FROM scratch\nCOPY . /\n' >"$dir/export.Dockerfile"
	$mq -f "$dir/export.Dockerfile" -t bench-export "$t" >/dev/null &&
		$bq --layers=false -f "$dir/export.Dockerfile" -t bench-export "$t" >/dev/null
}
if wanted export "export a built 500 MB image, gzip (OCI layout)"; then
	begin_row
	if ! export_tree; then
		skip_row "export a built 500 MB image, gzip (OCI layout)" "building the image failed"
	else
		# Each round converts afresh: a second export of the same layer is a lookup
		# (layers/convert.c remembers conversions by diff ID).
		col molt "rm -rf $dir/out-m $dir/store/convert" "$M save --format oci -o $dir/out-m/ bench-export"
		col buildah "rm -rf $dir/out-b" "$B push -q bench-export oci:$dir/out-b"
		col "floor" "rm -f $dir/f.tgz" "tar -C $t -cf - . | pigz >$dir/f.tgz"
		col "tar|gzip" "rm -f $dir/f.gz" "tar -C $t -cf - . | gzip >$dir/f.gz"
		col "tar|zstd -T0" "rm -f $dir/f.zst" "tar -C $t -cf - . | zstd -q -T0 >$dir/f.zst"
		measure "export a built 500 MB image, gzip (OCI layout)"
	fi
fi
if wanted export-zstd "export a built 500 MB image, zstd (OCI layout)"; then
	begin_row
	if ! export_tree; then
		skip_row "export a built 500 MB image, zstd (OCI layout)" "building the image failed"
	else
		col molt "rm -rf $dir/out-mz $dir/store/convert" "$M save --format oci --compression zstd -o $dir/out-mz/ bench-export"
		col buildah "rm -rf $dir/out-bz" "$B push -q --compression-format zstd bench-export oci:$dir/out-bz"
		col "floor" "rm -f $dir/f.zst" "tar -C $t -cf - . | zstd -q -T0 >$dir/f.zst"
		measure "export a built 500 MB image, zstd (OCI layout)"
	fi
fi

# ---- the table ------------------------------------------------------------------------
get() { awk -F'\t' -v l="$1" -v c="$2" '$1 == l && $2 == c { print $3; exit }' "$results"; }
printf '\n| %-56s | %-9s | %-9s | %-18s | %-12s |\n' "build" "molt s" "buildah s" "floor s" "molt/buildah"
printf '| %-56s | %-9s | %-9s | %-18s | %-12s |\n' "---" "---" "---" "---" "---"
cut -f1 "$results" | awk '!seen[$0]++' | while IFS= read -r label; do
	all=$(get "$label" all)
	if [ -n "$all" ]; then printf '| %-56s | %s\n' "$label" "$all"; continue; fi
	mo=$(get "$label" molt); bu=$(get "$label" buildah); fl=$(get "$label" floor)
	ratio=$(awk -v a="${mo%% *}" -v b="${bu%% *}" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }')
	printf '| %-56s | %-9s | %-9s | %-18s | %-12s |\n' "$label" "${mo:--}" "${bu:--}" "${fl:--}" "$ratio"
	awk -F'\t' -v l="$label" '$1 == l && $2 !~ /^(molt|buildah|floor|all)$/ { printf "|   floor %-48s | %-9s | %-9s | %-18s | %-12s |\n", $2, "-", "-", $3, "-" }' "$results"
	awk -F'\t' -v l="$label" '$1 == l && $3 ~ /^skip/ && $2 != "all" { printf "    (%s: %s)\n", $2, $3 }' "$results"
done
cat "$dir/export.note" 2>/dev/null
fs=$(df -T "$dir" | awk 'NR == 2 { print $2 " on " $1 }')
journal="journaled"
[ "${fs%% *}" = ext4 ] && ! ls /proc/fs/jbd2/ 2>/dev/null | grep -q "^$(basename "$(df "$dir" | awk 'NR == 2 { print $1 }')")" && journal="no journal"
echo "(store filesystem: $fs, $journal; $(nproc) cores; $runs interleaved rounds, medians;"
echo " buildah $(buildah --version | awk '{ print $3 }'), --isolation=chroot, its own storage; floors in a plain chroot as root)"
exit 0
