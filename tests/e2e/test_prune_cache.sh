#!/usr/bin/env bash
# molt prune --keep-storage SIZE / --filter until=DURATION (layers/cache_prune.c): build
# cache entries go least recently used first, tagged images and their layers stay, no
# entry is left pointing at a missing blob, and a prune beside a build is safe.
. "$(dirname "$0")/lib.sh"

unset SOURCE_DATE_EPOCH
load_busybox

MIB=$((1024 * 1024))
SZ=4 # MiB of random data per entry: a ~4 MiB blob and a ~4 MiB unpacked layer

# entry N: a context whose one RUN writes SZ MiB of random (incompressible) data.
entry() {
	ctx "e$1" <<EOF
FROM busybox
RUN head -c $((SZ * MIB)) /dev/urandom > /r$1
EOF
}
# status N: how e<N>'s RUN ended in the last build (CACHED or DONE).
status() { step_status "$WORK/build.log" "RUN head"; }
# usage: bytes the store's blobs and unpacked layers take (as du counts them).
usage() { du -s -B1 "$MOLT_ROOT/blobs" "$MOLT_ROOT/layers" 2>/dev/null | awk '{t += $1} END {print t}'; }
# entry_key N: the cache key of e<N>'s RUN (from the records --explain-cache reads).
entry_key() {
	jq -r --arg t "/r$1" 'select(.instruction | endswith($t)) | .key' "$MOLT_ROOT"/cache/inputs/* |
		head -n 1
}
# consistent: every cache entry's blob and every tagged image's blobs are there.
consistent() {
	local f d
	for f in "$MOLT_ROOT"/cache/sha256/*; do
		[ -e "$f" ] || continue
		d=$(jq -r '.layer.digest // empty' "$f")
		[ -z "$d" ] || [ -f "$MOLT_ROOT/blobs/sha256/${d#sha256:}" ] || { echo "entry $f: blob $d missing"; return 1; }
	done
	"$MOLT" images >/dev/null || return 1
	"$MOLT" save -o "$WORK/keep.tar" keep >/dev/null || { echo "save keep failed"; return 1; }
}

for i in 1 2 3 4; do
	build "$(entry $i)" || { not_ok "build e$i"; diag "$(tail -n 20 "$WORK/build.log")"; }
	sleep 0.05 # distinct mtimes on a file system with coarse timestamps
done
k=$(ctx keep <<EOF
FROM busybox
RUN head -c $((SZ * MIB)) /dev/urandom > /k
EOF
)
build "$k" -t keep || { not_ok "build the tagged image"; diag "$(tail -n 20 "$WORK/build.log")"; }
# A hit marks e2 used: it is now the most recently used entry of the four.
build "$(entry 2)" && is "$(status)" CACHED "e2 hits before the prune" || not_ok "rebuild e2"

# 1. --keep-storage: room for all but two entries and a half: e1 and e3, the least
#    recently used, go; e2 (touched by its hit) and e4 stay.
before=$(usage)
limit=$((before - 2 * 2 * SZ * MIB + SZ * MIB))
out=$("$MOLT" prune --keep-storage "$limit" 2>&1)
check "prune --keep-storage succeeds" test $? -eq 0
like "$out" "removed 2 build cache entries" "two entries removed (LRU up to the limit)"
like "$out" "removed 4 untagged images" "the untagged results of e1-e4 left the index"
is "$("$MOLT" images --json | jq -r '[.[] | select(.Name == null)] | length' 2>&1)" 0 \
	"molt images lists no untagged image afterwards"
after=$(usage)
[ "$after" -le "$limit" ] && ok "the store now takes at most SIZE ($after <= $limit)" ||
	{ not_ok "the store now takes at most SIZE"; diag "before $before after $after limit $limit"; }
build "$(entry 4)" && is "$(status)" CACHED "e4 (recently built) was kept"
build "$(entry 2)" && is "$(status)" CACHED "e2 (recently hit) was kept"
build "$(entry 3)" && is "$(status)" DONE "e3 (least recently used) was removed"
build "$(entry 1)" && is "$(status)" DONE "e1 (least recently used) was removed"
check "no entry points at a missing blob; images list and save" consistent

# 2. --filter until=: only entries unused that long go (an entry's last use is its
#    file's mtime, which a hit touches; here set back three days by hand).
key=$(entry_key 4)
touch -d '3 days ago' "$MOLT_ROOT/cache/sha256/${key#sha256:}"
out=$("$MOLT" prune --filter until=48h 2>&1)
like "$out" "removed 1 build cache entry" "--filter until=48h removes the one entry unused for 3 days"
build "$(entry 4)" && is "$(status)" DONE "e4, unused for 3 days, was removed"
build "$(entry 2)" && is "$(status)" CACHED "e2, used today, was kept"
key=$(entry_key 1)
touch -d '2 hours ago' "$MOLT_ROOT/cache/sha256/${key#sha256:}"
out=$("$MOLT" prune --keep-duration 3h 2>&1)
like "$out" "removed 0 build cache entries" "--keep-duration 3h keeps an entry used 2 hours ago"
check "consistent after pruning by age" consistent

# 3. --keep-storage 0: every cache entry goes, the tagged image and its layers stay.
out=$("$MOLT" prune --keep-storage 0 2>&1)
like "$out" "kept 0" "--keep-storage 0 removes every cache entry"
like "$out" "tagged images hold .* and are kept" "and says the images are kept"
[ -z "$(ls -A "$MOLT_ROOT/cache/sha256" 2>/dev/null)" ] && ok "the cache index is empty" ||
	not_ok "the cache index is empty"
check "the tagged image survives whole" consistent
f=$(ctx fromkeep <<'EOF'
FROM keep
RUN test -s /k
EOF
)
build "$f" && ok "a build on the kept image runs (its layers are there)" ||
	{ not_ok "a build on the kept image"; diag "$(tail -n 20 "$WORK/build.log")"; }

# 4. A prune beside a running build: gc.lock orders them, nothing is half-removed.
s=$(ctx slow <<EOF
FROM busybox
RUN head -c $((SZ * MIB)) /dev/urandom > /s && sleep 2
RUN echo after > /after
EOF
)
"$MOLT" build --progress plain -t slow "$s" >"$WORK/slow.out" 2>"$WORK/slow.log" &
bpid=$!
sleep 1
"$MOLT" prune --keep-storage 0 >"$WORK/prune.out" 2>&1
prc=$?
wait $bpid
brc=$?
is "$brc $prc" "0 0" "a build and a prune at once both succeed"
check "consistent after the concurrent prune" consistent
build "$s" -t slow && ok "the concurrently built image rebuilds" || not_ok "rebuild slow"

# 5. Bad values are usage errors.
molt_fails 2 "keep-storage 'lots': not a size" "a bad size is a usage error" "$MOLT" prune --keep-storage lots
molt_fails 2 "only until=DURATION" "an unknown filter is a usage error" "$MOLT" prune --filter label=x
molt_fails 2 "not a duration" "a bad duration is a usage error" "$MOLT" prune --filter until=soon
molt_fails 2 "takes no --keep-storage" "--all with --keep-storage is refused" "$MOLT" prune --all --keep-storage 1g

done_testing
