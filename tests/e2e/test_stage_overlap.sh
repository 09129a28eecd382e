#!/usr/bin/env bash
# Stage overlap (runner/executor/scheduler.c): every stage starts at once (bounded by
# --jobs) and a step reading another stage (COPY --from, RUN --mount from=) waits for
# it there; FROM stage starts after the whole stage. --jobs 1 is the sequential build;
# the order never reaches the image; a failing stage ends the others promptly and
# leaves nothing behind; --debug prints one timing line per step.
. "$(dirname "$0")/lib.sh"

load_busybox

# ms FILE: a time a step wrote (the host's uptime: busybox's date has no %N) in
# milliseconds, for comparisons in the shell.
ms() { awk '{ printf "%.0f\n", $1 * 1000 }' "$1"; }

# 1. Overlap: stage b and the final stage start while stage a still runs; the final
#    stage's COPY --from=a waits for a and sees its last step's files.
c=$(ctx overlap <<'EOF'
FROM busybox AS a
RUN cut -d' ' -f1 /proc/uptime > /start-a && sleep 3 && cut -d' ' -f1 /proc/uptime > /end-a
RUN echo last > /last-a
FROM busybox AS b
RUN cut -d' ' -f1 /proc/uptime > /start-b
FROM busybox
RUN cut -d' ' -f1 /proc/uptime > /start-final
COPY --from=a /start-a /end-a /last-a /t/
COPY --from=b /start-b /t/
RUN cut -d' ' -f1 /proc/uptime > /after-copy
EOF
)
if build "$c" --no-cache --jobs 4 -o "type=local,dest=$WORK/overlap"; then
	o=$WORK/overlap
	[ "$(ms "$o/t/start-b")" -lt "$(ms "$o/t/end-a")" ] &&
		ok "stage b started before stage a finished" ||
		not_ok "stage b started before stage a finished"
	[ "$(ms "$o/start-final")" -lt "$(ms "$o/t/end-a")" ] &&
		ok "the final stage's first RUN ran before stage a finished" ||
		not_ok "the final stage's first RUN ran before stage a finished"
	[ "$(ms "$o/after-copy")" -ge "$(ms "$o/t/end-a")" ] &&
		ok "the steps after COPY --from=a ran after stage a finished" ||
		not_ok "the steps after COPY --from=a ran after stage a finished"
	is "$(cat "$o/t/last-a" 2>/dev/null)" "last" "COPY --from=a sees stage a's final files"
	like "$(cat "$WORK/build.log")" "#[0-9]+ \[stage-2 3/5\] COPY --from=a .* waiting for stage a" \
		"plain progress shows the COPY waiting for stage a"
	n=$(grep -cE '^#[0-9]+ \[stage-2 3/5\] COPY --from=a' "$WORK/build.log")
	is "$n" 2 "the waiting step is shown again under its number when it starts"
else
	build_failed "the overlapping build"
fi

# 2. --jobs 1: the sequential build, stage by stage in Dockerfile order, no waits.
if build "$c" --no-cache --jobs 1 -o "type=local,dest=$WORK/seq"; then
	o=$WORK/seq
	[ "$(ms "$o/t/end-a")" -le "$(ms "$o/t/start-b")" ] &&
		[ "$(ms "$o/t/start-b")" -le "$(ms "$o/start-final")" ] &&
		ok "--jobs 1 runs stage a, then b, then the final stage" ||
		not_ok "--jobs 1 runs stage a, then b, then the final stage"
	unlike "$(cat "$WORK/build.log")" "waiting for" "--jobs 1: no step waits"
else
	build_failed "the sequential build"
fi

# 3. FROM stage starts after the whole stage; RUN --mount from= waits for its stage.
c=$(ctx fromstage <<'EOF'
FROM busybox AS base
RUN sleep 1 && echo base > /base
RUN echo base2 >> /base
FROM base AS derived
RUN cat /base > /derived
FROM busybox AS src
RUN sleep 2 && echo mounted > /m
FROM derived
RUN --mount=from=src,target=/mnt cat /mnt/m > /got
EOF
)
if build "$c" --jobs 4 -o "type=local,dest=$WORK/from"; then
	is "$(cat "$WORK/from/derived" 2>/dev/null | tr '\n' ' ')" "base base2 " \
		"FROM stage sees the whole base stage"
	is "$(cat "$WORK/from/got" 2>/dev/null)" "mounted" "RUN --mount from=src sees src's files"
	like "$(cat "$WORK/build.log")" "RUN --mount=from=src.* waiting for stage src" \
		"the RUN --mount from=src step waited for stage src"
else
	build_failed "FROM stage / --mount from= build"
fi

# 4. The order stages run in never reaches the image: --jobs 1 and --jobs 4 give the
#    same image ID without the cache, and a cached rebuild gives it too.
c=$(ctx det <<'EOF'
FROM busybox AS a
RUN sleep 2 && echo a > /a && mkdir -p /d/x && echo 1 > /d/x/f
FROM busybox AS b
RUN echo b > /b
FROM busybox
RUN echo first > /first
COPY --from=b /b /b
COPY --from=a /a /d /from-a/
RUN ls -R /from-a > /listing
EOF
)
export SOURCE_DATE_EPOCH=1700000000
build "$c" --no-cache --jobs 1 --iidfile "$WORK/iid1" || build_failed "jobs 1 build" 5
build "$c" --no-cache --jobs 4 --iidfile "$WORK/iid4" || build_failed "jobs 4 build" 5
is "$(cat "$WORK/iid4" 2>/dev/null)" "$(cat "$WORK/iid1" 2>/dev/null)" \
	"--jobs 1 and --jobs 4 give the same image ID"
build "$c" --jobs 4 --iidfile "$WORK/iidc" || not_ok "cached build"
is "$(cat "$WORK/iidc" 2>/dev/null)" "$(cat "$WORK/iid1" 2>/dev/null)" \
	"a cached overlapping rebuild gives the same image ID"
is "$(grep -c ' CACHED$' "$WORK/build.log")" 6 "every layer step of the rebuild is a cache hit"
unset SOURCE_DATE_EPOCH

# 5. --debug: one timing line per layer step with every phase.
if "$MOLT" --debug build --progress plain --no-cache --jobs 4 "$c" >/dev/null 2>"$WORK/debug.log"; then
	n=$(grep -cE 'debug: timing \[[^]]*\] .*: wait [0-9.]+ key [0-9.]+ mount [0-9.]+ run [0-9.]+ diff [0-9.]+ commit [0-9.]+ record [0-9.]+ total [0-9.]+ s' "$WORK/debug.log")
	is "$n" 6 "--debug prints one timing line per layer step"
	like "$(grep 'timing \[stage-2 4/5\]' "$WORK/debug.log")" "wait 0\.[0-9]*[1-9]|wait [1-9]" \
		"the timing line of COPY --from=a shows its wait"
	like "$(cat "$WORK/debug.log")" "debug: timing build: bases resolved" "--debug times the bases"
	like "$(cat "$WORK/debug.log")" "debug: timing build: exported" "--debug times the export"
else
	not_ok "--debug build"; diag "$(tail -n 20 "$WORK/debug.log")"
fi

# 6. A failing stage ends the build with its error while another stage's RUN sleeps:
#    that RUN is ended at once, nothing is left mounted, running or in tmp/.
marker=molt-overlap-$$-$RANDOM
c=$(ctx fail <<EOF
FROM busybox AS slow
RUN sh -c 'while :; do sleep 1; done' $marker
FROM busybox AS bad
RUN sleep 2; echo boom-$marker; exit 3
FROM busybox
COPY --from=slow / /s
COPY --from=bad / /b
EOF
)
t0=$(date +%s)
build "$c" --no-cache --jobs 4
rc=$?
t1=$(date +%s)
is "$rc" 1 "a failing stage fails the build"
[ $((t1 - t0)) -lt 60 ] && ok "the build ends promptly ($((t1 - t0)) s), not after the sleeping stage" ||
	not_ok "the build ends promptly ($((t1 - t0)) s)"
is "$(grep -c 'ERROR: process .*did not complete successfully' "$WORK/build.log")" 1 \
	"the failed step's error is printed once"
is "$(grep -c "^molt: .*exit code: 3" "$WORK/build.log")" 1 "the build's error is printed once"
like "$(cat "$WORK/build.log")" "CANCELED" "the other stages' steps are shown canceled"
sleep 0.5
is "$(pgrep -f "$marker" | wc -l)" 0 "no process of the sleeping stage is left"
pgrep -f "$marker" | xargs -r kill -9 2>/dev/null
is "$(ls -A "$MOLT_ROOT/tmp" 2>/dev/null | wc -l)" 0 "the store's tmp/ is empty"
is "$(grep -c "$MOLT_ROOT" /proc/self/mountinfo)" 0 "nothing of the store is left mounted"
# The store's lock is free: another build runs.
c2=$(ctx after <<'EOF'
FROM busybox
RUN echo fine > /fine
EOF
)
build "$c2" && ok "the store builds again after the failure" ||
	build_failed "the store builds again after the failure" 5

# 7. SIGINT while one stage runs and another waits for it: exit 130 at once, the running
#    stage's processes gone, nothing left in tmp/.
c=$(ctx sigint <<EOF
FROM busybox AS slow
RUN sh -c 'while :; do sleep 1; done' $marker-int
FROM busybox
COPY --from=slow / /s
EOF
)
"$MOLT" build --progress plain --no-cache --jobs 4 "$c" >/dev/null 2>"$WORK/int.log" &
pid=$!
for _ in $(seq 300); do grep -q "waiting for stage slow" "$WORK/int.log" && pgrep -f "$marker-int" >/dev/null && break; sleep 0.1; done
like "$(cat "$WORK/int.log")" "waiting for stage slow" "the final stage waits for the running one"
kill -INT "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { not_ok "molt exits within 30 s of SIGINT"; kill -KILL "$pid"; }
wait "$pid"
is "$?" 130 "SIGINT with a waiting stage: exit 130"
sleep 0.5
is "$(pgrep -f "$marker-int" | wc -l)" 0 "SIGINT: no process of the running stage is left"
pgrep -f "$marker-int" | xargs -r kill -9 2>/dev/null
is "$(ls -A "$MOLT_ROOT/tmp" 2>/dev/null | wc -l)" 0 "SIGINT: the store's tmp/ is empty"

# 8. Two stages FROM one base on a fresh store unpack it once (layers/store_unpack.c): the
#    stage that takes the layer's unpack lock unpacks it, the other waits for the lock and
#    finds the tree published. The lock is held here first, as another build would hold
#    it: while it is held no stage unpacks the layer; once it is released the build
#    unpacks it and ends, and no lock file is left.
r8=$WORK/store-unpack
MOLT_ROOT=$r8 "$MOLT" load -i "$FIXTURES/busybox/oci" >/dev/null 2>&1
did=$(MOLT_ROOT=$r8 "$MOLT" inspect busybox | awk '/"Layers"/ { getline; gsub(/[ ",]/, ""); print; exit }')
hex=${did#sha256:}
lock=$r8/layers/unpack-$hex.lock
c=$(ctx unpack-once <<'EOF'
FROM busybox AS a
RUN echo a > /a
FROM busybox
RUN echo b > /b
COPY --from=a /a /a
EOF
)
flock "$lock" sleep 4 &
holder=$!
for _ in $(seq 100); do flock -n "$lock" true || break; sleep 0.05; done
MOLT_ROOT=$r8 "$MOLT" --debug build --progress plain --no-cache --jobs 4 "$c" >/dev/null 2>"$WORK/unpack.log" &
pid=$!
sleep 3
kill -0 "$pid" 2>/dev/null && [ ! -e "$r8/layers/sha256/$hex" ] &&
	ok "while another process holds the layer's unpack lock, no stage unpacks it" ||
	not_ok "while another process holds the layer's unpack lock, no stage unpacks it"
wait "$holder"
wait "$pid"
is "$?" 0 "the build ends once the lock is released"
is "$(grep -c "store: unpacked layer $did" "$WORK/unpack.log")" 1 \
	"two stages FROM one base: its layer is unpacked once"
is "$(ls "$r8/layers" | grep -c '\.lock$')" 0 "no unpack lock file is left"

done_testing
