#!/usr/bin/env bash
# SIGINT during a build (SPEC §7): molt exits 130, every process of the running step
# is gone (a daemon the step started included), and the store is exactly as before —
# same index.json, same blobs, same unpacked layers, an empty tmp/ — with no
# temporary directory left anywhere.
. "$(dirname "$0")/lib.sh"

"$MOLT" load -i "$FIXTURES/busybox/oci" >/dev/null 2>&1 || { not_ok "load the busybox base"; done_testing; exit 1; }

# The interrupted build's finished first step is then the very layer of the first build.
export SOURCE_DATE_EPOCH=1700000000
# A marker no other process on this machine has in its command line.
marker=molt-sigint-$$-$RANDOM
c=$WORK/ctx; mkdir -p "$c"
cat >"$c/Dockerfile" <<EOF
FROM busybox
RUN echo before > /before
RUN sh -c 'while :; do sleep 1; done' $marker-daemon >/dev/null 2>&1 & exec sh -c 'while :; do sleep 1; done' $marker-step
RUN echo never > /never
EOF

# The store as a listing: every path under it with type and size (tmp/ shown apart).
# (not tmp/, nor --explain-cache's hints: the step that hit before the interrupt put its
# key first in a link list, a finished write that is right to keep)
listing() {
	(cd "$MOLT_ROOT" && find . \( -path ./tmp -o -path ./cache/links -o -path ./cache/inputs \) \
		-prune -o -printf '%y %s %p\n' | LC_ALL=C sort)
}

# A first build of the steps before the sleeping one, so that the store already
# holds layers the interrupted build must not touch.
printf 'FROM busybox\nRUN echo before > /before\n' >"$WORK/Dockerfile.pre"
"$MOLT" build --progress quiet -f "$WORK/Dockerfile.pre" -t pre "$c" >/dev/null 2>&1 || not_ok "the first build"
before=$(listing)
index_before=$(cat "$MOLT_ROOT/index.json")
tmp_before=$(ls -A "${TMPDIR:-/tmp}" | LC_ALL=C sort)

"$MOLT" build --progress plain -t interrupted "$c" >"$WORK/out" 2>"$WORK/log" &
pid=$!
# Wait until the step and its daemon run.
for _ in $(seq 200); do
	pgrep -f "$marker-step" >/dev/null && pgrep -f "$marker-daemon" >/dev/null && break
	sleep 0.1
done
if pgrep -f "$marker-step" >/dev/null && pgrep -f "$marker-daemon" >/dev/null; then
	ok "the RUN step and the daemon it started are running"
else
	not_ok "the RUN step and the daemon it started are running"; diag "$(tail -n 10 "$WORK/log")"
fi
kill -INT "$pid"
rc=0
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	not_ok "molt exits within 30 s of SIGINT"; kill -KILL "$pid" 2>/dev/null
fi
wait "$pid"; rc=$?
is "$rc" 130 "SIGINT: molt build exits 130 (128 + SIGINT)"
like "$(cat "$WORK/log")" "interrupted" "SIGINT: the message says the build was interrupted"
sleep 0.5
is "$(pgrep -f "$marker" | wc -l)" 0 "SIGINT: no process of the step is left (the step and its daemon)"
pgrep -fa "$marker" | while read -r p; do diag "left: $p"; done
pgrep -f "$marker" | xargs -r kill -9 2>/dev/null

is "$(cat "$MOLT_ROOT/index.json")" "$index_before" "SIGINT: index.json is as before"
after=$(listing)
if [ "$after" = "$before" ]; then
	ok "SIGINT: blobs and unpacked layers are as before (no half blob, no new tree)"
else
	not_ok "SIGINT: blobs and unpacked layers are as before (no half blob, no new tree)"
	diag "$(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | head -n 20)"
fi
is "$(ls -A "$MOLT_ROOT/tmp" 2>/dev/null | wc -l)" 0 "SIGINT: the store's tmp/ is empty"
ls -A "$MOLT_ROOT/tmp" 2>/dev/null | while read -r t; do diag "left in tmp/: $t"; done
is "$(ls -A "${TMPDIR:-/tmp}" | LC_ALL=C sort)" "$tmp_before" "SIGINT: no temporary directory is left in \$TMPDIR"
"$MOLT" images 2>/dev/null | grep -q interrupted && not_ok "SIGINT: nothing is tagged" || ok "SIGINT: nothing is tagged"

# The store still works: the same build, uninterrupted, finishes.
sed -i "s/while :; do sleep 1; done/true/g" "$c/Dockerfile"
if "$MOLT" build --progress quiet -t after "$c" >/dev/null 2>"$WORK/log"; then
	ok "after SIGINT the store builds again"
else
	not_ok "after SIGINT the store builds again"; diag "$(tail -n 10 "$WORK/log")"
fi

done_testing
