#!/usr/bin/env bash
# phase_times.sh MOLT-ARGS... — where a `molt build` spends its time, per step, without
# instrumenting molt: strace records only the phase boundaries (overlay mounts, fsync,
# syncfs, renames; a few hundred events, so the build runs at close to its own speed)
# and awk splits each committed step into
#   step    its overlay mounted read-write → the read-only view of its lower layers
#           mounted for the differ (the step's command or COPY, and the unmount)
#   write   → the layer blob fsynced (differ walk, tar, gzip, digests)
#   sync    → the upper tree synced (syncfs) and the blob and store index fsynced
# "before" is everything until the first step's mount (plan, cache keys, context hashing,
# base layers). A step with no lower layers (FROM scratch) has no view: its step and
# write are one figure. Example:
#   tests/bench/phase_times.sh --root /var/tmp/s build --no-cache examples/c-static
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
molt=${MOLT:-$top/build/molt}
command -v strace >/dev/null || { echo "strace missing" >&2; exit 1; }
trace=$(mktemp /tmp/molt-phases.XXXXXX)
trap 'rm -f "$trace"' EXIT
t0=$(date +%s.%N)
strace -f -ttt -qq -e trace=fsmount,syncfs,fsync,rename,renameat2 -e signal=none \
	-o "$trace" "$molt" "$@" >/dev/null || { echo "molt $* failed" >&2; exit 1; }
t1=$(date +%s.%N)
awk -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v t0="$t0" '
function secs(ts) { return ts + 0 }
function flush() {
	if (!rw) return
	n++
	if (!ro) ro = rw
	printf "step %2d: step %7.2f s   write %7.2f s   sync %5.2f s\n", n, ro - rw, blob - ro, last - blob
	ss += ro - rw; sw += blob - ro; sy += last - blob; rw = 0; ro = 0; blob = 0
}
{ t = secs($2) }
# Only the runner process: the step processes fsync and rename files too.
$3 ~ /^fsmount\(/ && $0 !~ /RDONLY/ { flush(); rw = t; runner = $1; if (!before) before = t - t0; next }
$1 != runner { next }
$3 ~ /^fsmount\(/ && rw && !blob { ro = t; next }
$3 ~ /^fsync\(/ && rw && !blob { blob = t; last = t; next }
rw && blob { last = t }
END {
	flush()
	printf "before the first step %.2f s; steps %.2f s, layer writes %.2f s, syncs %.2f s; wall %.2f s\n", before, ss, sw, sy, wall
}' "$trace"
