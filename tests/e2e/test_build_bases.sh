#!/usr/bin/env bash
# molt build resolves every image the Dockerfile names once, before any stage runs:
# a `molt tag` that moves the name of a base image while the build runs must not give
# a later stage other layers (or another cache key) than the expansion saw.
. "$(dirname "$0")/lib.sh"

load_busybox

# "other": a one-layer image with nothing but a marker file.
mkdir -p "$WORK/other"
echo other >"$WORK/other/other-marker"
tar -C "$WORK/other" -cf "$WORK/other.tar" .
"$MOLT" import "$WORK/other.tar" other:1 >/dev/null 2>&1 || { not_ok "import other:1"; done_testing; exit 1; }

# Stage 1 starts only after stage 0 (COPY --from=a), which waits long enough for the
# test to retag busybox in between.
c=$(ctx pinned <<'EOF2'
FROM busybox AS a
RUN sleep 4 && echo from-a >/x
FROM busybox
COPY --from=a /x /x
EOF2
)
"$MOLT" build --progress plain -o "type=tar,dest=$WORK/out.tar" "$c" >"$WORK/build.out" 2>"$WORK/build.log" &
pid=$!
for _ in $(seq 1 100); do
	grep -q 'RUN sleep' "$WORK/build.log" 2>/dev/null && break
	sleep 0.1
done
"$MOLT" tag other:1 busybox >/dev/null 2>&1
retagged=$?
kill -0 "$pid" 2>/dev/null && running=yes || running=no
wait "$pid"
rc=$?
is "$retagged/$running" "0/yes" "busybox was retagged while the build was running"
is "$rc" 0 "the build succeeds"
files=$(tar -tf "$WORK/out.tar" 2>/dev/null)
like "$files" '(^|/)bin/busybox' "the second FROM busybox is the busybox the build started with"
unlike "$files" 'other-marker' "the second FROM busybox is not the image tagged during the build"
like "$files" '(^|/)x$' "COPY --from=a of the first stage is in the result"

# Only the stages the target needs have their images pulled and resolved (as BuildKit)
# (other:1 has no shell: busybox is other:1 now, see above):
# an unneeded stage's image, missing here (and on no registry: port 1 of loopback),
# is not looked for.
c=$(ctx unneeded <<'EOF2'
FROM 127.0.0.1:1/molt-test/nowhere:1 AS unused
RUN false
FROM other:1 AS wanted
ENV W=wanted
EOF2
)
"$MOLT" build --progress plain --target wanted "$c" >"$WORK/t.out" 2>"$WORK/t.log"
is "$?" 0 "--target builds without the unneeded stage's image"
unlike "$(cat "$WORK/t.log")" 'pulling|nowhere' "the unneeded stage's image is not pulled"
done_testing
