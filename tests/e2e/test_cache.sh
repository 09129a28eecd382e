#!/usr/bin/env bash
# The build cache end to end (SPEC §1, §3; BuildKit's behaviour where the spec is
# silent): which steps come from the cache after which change, image IDs of cached
# rebuilds, --no-cache, multi-stage reuse, a lost blob, two builds at once, prune.
. "$(dirname "$0")/lib.sh"

# No SOURCE_DATE_EPOCH here: a cached rebuild must give the same image ID by itself.
unset SOURCE_DATE_EPOCH
load_busybox

# status TEXT / statuses TEXT...: how steps ended in the last build (lib.sh step_status).
status() { step_status "$WORK/build.log" "$1"; }
statuses() { step_statuses "$WORK/build.log" "$@"; }

n_cached() { grep -c '^#[0-9]* CACHED$' "$WORK/build.log"; }

# 1. A second identical build comes entirely from the cache, with the same image ID
#    and the same files (a RUN with a side effect did not run again).
c=$(ctx basic <<'EOF'
FROM busybox
COPY a.txt /a.txt
RUN cat /proc/sys/kernel/random/uuid > /stamp
WORKDIR /work/dir
COPY b.txt /b.txt
RUN cat /b.txt > /b-copy
LABEL version=1
EOF
)
echo A >"$c/a.txt"; echo B >"$c/b.txt"
if build "$c" -t basic --iidfile "$WORK/iid1" -o "type=local,dest=$WORK/out1"; then
	ok "a first build succeeds"
	is "$(n_cached)" 0 "the first build on an empty cache runs every step"
else
	build_failed "a first build succeeds"
fi
if build "$c" -t basic --iidfile "$WORK/iid2" -o "type=local,dest=$WORK/out2"; then
	is "$(statuses 'COPY a.txt' 'RUN cat /proc' 'WORKDIR' 'COPY b.txt' 'RUN cat /b.txt')" \
		"CACHED CACHED CACHED CACHED CACHED" "a second identical build: every layer step is CACHED"
	is "$(cat "$WORK/iid2")" "$(cat "$WORK/iid1")" "a cached rebuild gives the same image ID (BuildKit)"
	is "$(cat "$WORK/out2/stamp")" "$(cat "$WORK/out1/stamp")" "a cached RUN did not run again (same side-effect marker)"
	is "$(cat "$WORK/out2/b-copy")" "B" "the cached layers make the same tree"
	[ -d "$WORK/out2/work/dir" ] && ok "a cached WORKDIR keeps its directory" || not_ok "a cached WORKDIR keeps its directory"
	like "$(grep -A1 'RUN cat /proc' "$WORK/build.log" | tail -n 1)" "^#[0-9]+ CACHED$" "plain progress prints '#N CACHED' like BuildKit"
else
	build_failed "a second build succeeds"
fi

# 2. A changed context file invalidates the COPY that reads it and what follows,
#    not the steps before it.
echo B2 >"$c/b.txt"
if build "$c" --iidfile "$WORK/iid3" -o "type=local,dest=$WORK/out3"; then
	is "$(statuses 'COPY a.txt' 'RUN cat /proc' 'WORKDIR' 'COPY b.txt' 'RUN cat /b.txt')" \
		"CACHED CACHED CACHED DONE DONE" "a changed file: its COPY and the steps after it run again, not those before"
	is "$(cat "$WORK/out3/stamp")" "$(cat "$WORK/out1/stamp")" "the RUN before the change kept its result"
	is "$(cat "$WORK/out3/b-copy")" "B2" "the RUN after the change sees the new file"
	[ "$(cat "$WORK/iid3")" != "$(cat "$WORK/iid1")" ] && ok "a changed build gives another image ID" || not_ok "a changed build gives another image ID"
else
	build_failed "a build after a change succeeds"
fi
# Only the content counts: a new mtime is no change (BuildKit's content checksum).
touch -d '2001-01-01' "$c/a.txt"
build "$c" >/dev/null 2>&1
is "$(status 'COPY a.txt')" "CACHED" "a touched but unchanged file keeps its COPY cached"
# A LABEL does not reach any step's input (BuildKit): changing it invalidates nothing;
# an ENV does (RUN sees it).
printf 'FROM busybox\nLABEL v=1\nENV E=1\nRUN echo "$E" > /e\n' >"$c/Dockerfile.label"
build "$c" -f "$c/Dockerfile.label"
sed -i 's/^LABEL v=1/LABEL v=2/' "$c/Dockerfile.label"
build "$c" -f "$c/Dockerfile.label"
is "$(status 'RUN echo')" "CACHED" "changing a LABEL before a RUN keeps the RUN cached (BuildKit)"
sed -i 's/^ENV E=1/ENV E=2/' "$c/Dockerfile.label"
build "$c" -f "$c/Dockerfile.label"
is "$(status 'RUN echo')" "DONE" "changing an ENV before a RUN invalidates it"
echo x >"$c/mode.txt"
printf 'FROM busybox\nCOPY mode.txt /m\n' >"$c/Dockerfile.mode"
build "$c" -f "$c/Dockerfile.mode"
chmod 0600 "$c/mode.txt"
build "$c" -f "$c/Dockerfile.mode"
is "$(status 'COPY mode.txt')" "DONE" "a changed file mode invalidates its COPY"

# 3. A file the .dockerignore excludes is not part of any key.
c=$(ctx ignore <<'EOF'
FROM busybox
COPY . /ctx/
RUN ls /ctx > /listing
EOF
)
printf 'ignored.txt\nlogs/\n' >"$c/.dockerignore"
echo keep >"$c/keep.txt"; echo one >"$c/ignored.txt"; mkdir -p "$c/logs"; echo l >"$c/logs/x.log"
build "$c" >/dev/null 2>&1
echo two >"$c/ignored.txt"; echo l2 >"$c/logs/x.log"; echo new >"$c/logs/new.log"
if build "$c" -o "type=local,dest=$WORK/ign"; then
	is "$(statuses 'COPY . /ctx/' 'RUN ls')" "CACHED CACHED" "editing ignored files (.dockerignore) invalidates nothing"
	[ ! -e "$WORK/ign/ctx/ignored.txt" ] && ok "the ignored file is still not copied" || not_ok "the ignored file is still not copied"
else
	build_failed "the .dockerignore build succeeds"
fi
echo keep2 >"$c/keep.txt"
build "$c"
is "$(status 'COPY . /ctx/')" "DONE" "editing a file that is not ignored invalidates the COPY"

# 4. A build arg invalidates from the first step that sees it: RUNs after its ARG
#    (they get it as environment) — not the steps before, nor a COPY that does not use it.
c=$(ctx args <<'EOF'
FROM busybox
RUN cat /proc/sys/kernel/random/uuid > /early
ARG V=1
COPY a.txt /a.txt
RUN echo "v=$V" > /v
EOF
)
echo A >"$c/a.txt"
build "$c" --build-arg V=1 -o "type=local,dest=$WORK/arg1" >/dev/null 2>&1
if build "$c" --build-arg V=2 -o "type=local,dest=$WORK/arg2"; then
	is "$(statuses 'RUN cat /proc' 'COPY a.txt' 'RUN echo')" "CACHED CACHED DONE" \
		"a changed --build-arg invalidates from the first step that uses it (BuildKit)"
	is "$(cat "$WORK/arg2/v")" "v=2" "the RUN saw the new value"
	is "$(cat "$WORK/arg2/early")" "$(cat "$WORK/arg1/early")" "the RUN before the ARG kept its result"
else
	build_failed "the build-arg build succeeds"
fi
build "$c" --build-arg V=1 -o "type=local,dest=$WORK/arg3" >/dev/null 2>&1
is "$(status 'RUN echo')" "CACHED" "going back to the first value finds the first build's step"

# 5. --no-cache runs every step again (and still records, as docker).
c=$WORK/ctx/basic
build "$c" --no-cache -o "type=local,dest=$WORK/nc"
is "$(n_cached)" 0 "--no-cache: no step is CACHED"
[ "$(cat "$WORK/nc/stamp" 2>/dev/null)" != "$(cat "$WORK/out1/stamp")" ] \
	&& ok "--no-cache re-runs RUN (a new side-effect marker)" || not_ok "--no-cache re-runs RUN (a new side-effect marker)"
build "$c" -o "type=local,dest=$WORK/nc2"
is "$(cat "$WORK/nc2/stamp" 2>/dev/null)" "$(cat "$WORK/nc/stamp" 2>/dev/null)" "a build after --no-cache uses what --no-cache recorded"

# 6. Multi-stage: only the final stage changed → the builder stage is reused.
c=$(ctx multi <<'EOF'
FROM busybox AS builder
RUN cat /proc/sys/kernel/random/uuid > /built
RUN cp /built /built2

FROM busybox
COPY --from=builder /built2 /app/built
COPY final.txt /app/final.txt
EOF
)
echo one >"$c/final.txt"
build "$c" -o "type=local,dest=$WORK/ms1" >/dev/null 2>&1
echo two >"$c/final.txt"
if build "$c" -o "type=local,dest=$WORK/ms2"; then
	is "$(statuses 'RUN cat /proc' 'RUN cp' 'COPY --from=builder' 'COPY final.txt')" "CACHED CACHED CACHED DONE" \
		"only the final stage changed: the builder stage and COPY --from are cached"
	is "$(cat "$WORK/ms2/app/built")" "$(cat "$WORK/ms1/app/built")" "the builder's output is the cached one"
	is "$(cat "$WORK/ms2/app/final.txt")" "two" "the final stage has the new file"
else
	build_failed "the multi-stage rebuild succeeds"
fi

# 7. A cache entry whose blob is gone is a miss; the build still works and the
#    entry is replaced.
c=$WORK/ctx/basic
# Every version of the step (b.txt had two contents) loses its blob.
victims=""
for e in "$MOLT_ROOT"/cache/sha256/*; do
	if jq -e '.history.created_by | test("RUN cat /b.txt")' "$e" >/dev/null 2>&1; then
		victims="$victims $(jq -r '.layer.digest' "$e" | sed 's/^sha256://')"
	fi
done
victim=${victims##* }
if [ -n "$victim" ] && (cd "$MOLT_ROOT/blobs/sha256" && rm -f $victims); then
	if build "$c" -o "type=local,dest=$WORK/lost"; then
		ok "a build whose cached blob was deleted succeeds"
		is "$(statuses 'COPY b.txt' 'RUN cat /b.txt')" "CACHED DONE" "the entry with the missing blob is a miss, the others hit"
		is "$(cat "$WORK/lost/b-copy")" "B2" "the step ran again"
		build "$c"
		is "$(status 'RUN cat /b.txt')" "CACHED" "the step that ran again replaced the entry: the next build hits"
	else
		build_failed "a build whose cached blob was deleted succeeds"
	fi
else
	not_ok "find the cache entry of a RUN step in the store"
fi

# 8. Two builds at once on one store both succeed, and the cache is whole after.
c=$(ctx conc <<'EOF'
FROM busybox
ARG N
RUN echo "$N" > /n && cat /proc/sys/kernel/random/uuid > /u
COPY f.txt /f.txt
EOF
)
echo f >"$c/f.txt"
"$MOLT" build --progress plain --build-arg N=1 "$c" >/dev/null 2>"$WORK/c1.log" &
p1=$!
"$MOLT" build --progress plain --build-arg N=2 "$c" >/dev/null 2>"$WORK/c2.log" &
p2=$!
"$MOLT" build --progress plain --build-arg N=1 "$c" >/dev/null 2>"$WORK/c3.log" &
p3=$!
rc=0; wait $p1 || rc=1; wait $p2 || rc=1; wait $p3 || rc=1
is "$rc" 0 "three builds at once on one store all succeed"
[ $rc -eq 0 ] || diag "$(tail -n 5 "$WORK/c1.log" "$WORK/c2.log" "$WORK/c3.log")"
build "$c" --build-arg N=2
is "$(statuses 'RUN echo' 'COPY f.txt')" "CACHED CACHED" "a build after concurrent builds finds their entries"

# 9. ADD of a URL (a busybox httpd on loopback): without --checksum the URL is fetched
#    and its content decides (BuildKit); with --checksum the checksum is the key and a
#    hit fetches nothing.
mkdir -p "$WORK/www"; echo v1 >"$WORK/www/f.txt"
serve_dir "$WORK/www"
c=$(ctx addurl <<EOF
FROM busybox
ADD http://127.0.0.1:$hport/f.txt /dl/
RUN cat /dl/f.txt > /seen; cat /proc/sys/kernel/random/uuid > /u
EOF
)
build "$c" -o "type=local,dest=$WORK/au1" >/dev/null 2>&1
if build "$c" -o "type=local,dest=$WORK/au2"; then
	is "$(statuses 'ADD http' 'RUN cat /dl')" "CACHED CACHED" "ADD URL without --checksum: an unchanged download is CACHED (BuildKit)"
	is "$(cat "$WORK/au2/u")" "$(cat "$WORK/au1/u")" "the RUN after an unchanged download did not run again"
else
	build_failed "ADD URL rebuild succeeds"
fi
echo v2 >"$WORK/www/f.txt"; touch -d '2030-01-01' "$WORK/www/f.txt"
if build "$c" -o "type=local,dest=$WORK/au3"; then
	is "$(statuses 'ADD http' 'RUN cat /dl')" "DONE DONE" "ADD URL without --checksum: changed content at the URL invalidates the ADD"
	is "$(cat "$WORK/au3/seen")" "v2" "the new content was added"
else
	build_failed "ADD URL build after a change succeeds"
fi
sum=$(sha256sum "$WORK/www/f.txt" | cut -d' ' -f1)
c=$(ctx addsum <<EOF
FROM busybox
ADD --checksum=sha256:$sum http://127.0.0.1:$hport/f.txt /dl/
EOF
)
build "$c" >/dev/null 2>&1
stop_served
if build "$c" -o "type=local,dest=$WORK/as"; then
	is "$(status 'ADD --checksum')" "CACHED" "ADD --checksum: a hit needs no download (the server is gone)"
	is "$(cat "$WORK/as/dl/f.txt")" "v2" "the cached layer holds the file"
else
	build_failed "ADD --checksum rebuild without the server succeeds"
fi

# 10. prune keeps what the cache references; prune --all drops the cache too.
c=$WORK/ctx/basic
for img in $("$MOLT" images --json 2>/dev/null | jq -r '.[].Names[]? // empty' 2>/dev/null); do "$MOLT" rmi "$img" >/dev/null 2>&1; done
"$MOLT" rmi basic >/dev/null 2>&1
"$MOLT" prune >/dev/null 2>"$WORK/prune.log" || { not_ok "molt prune"; diag "$(cat "$WORK/prune.log")"; }
if build "$c" -o "type=local,dest=$WORK/pruned"; then
	is "$(statuses 'COPY a.txt' 'RUN cat /proc' 'COPY b.txt' 'RUN cat /b.txt')" "CACHED CACHED CACHED CACHED" \
		"after rmi + prune the cache still holds its layers"
	is "$(cat "$WORK/pruned/b-copy")" "B2" "the pruned store still builds the same tree"
else
	build_failed "a build after prune succeeds"
fi
"$MOLT" prune --all >/dev/null 2>&1
"$MOLT" load -i "$FIXTURES/busybox/oci" >/dev/null 2>&1
build "$c"
is "$(n_cached)" 0 "prune --all drops the build cache"

done_testing
