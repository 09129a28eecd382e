#!/usr/bin/env bash
# Bounds (issue 9): hostile Dockerfiles, contexts and images get a clear error or a
# bounded result, never a hang or an unbounded resource. Every command runs under
# `timeout` so a regression fails here instead of hanging the run.
. "$(dirname "$0")/lib.sh"

"$MOLT" load -i "$FIXTURES/busybox/oci" >/dev/null 2>&1 || { not_ok "load the busybox base"; done_testing; exit 1; }

# ctx NAME: a fresh build context; the Dockerfile comes on stdin.
ctx() {
	local d=$WORK/ctx/$1
	rm -rf "$d"; mkdir -p "$d"
	cat >"$d/Dockerfile"
	printf '%s' "$d"
}

# peak_rss_kib CMD...: runs CMD under GNU time; its peak RSS in KiB on stdout, CMD's
# stderr in $WORK/rss.log and its exit status in $WORK/rss.rc.
peak_rss_kib() {
	/usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>"$WORK/rss.log"
	echo $? >"$WORK/rss.rc"
	tail -n 1 "$WORK/rss"
}

# ---- 1. a step printing 200 MiB without a newline
c=$(ctx longline <<'DF'
FROM busybox
RUN head -c 200000000 /dev/zero | tr '\0' a; echo; echo after-the-long-line
RUN head -c 100000 /dev/zero | tr '\0' b; exit 3
DF
)
rss=$(peak_rss_kib timeout 120 "$MOLT" build --progress plain "$c")
is "$(cat "$WORK/rss.rc")" 1 "long line: the build runs to the failing step"
if [ "${rss:-0}" -gt 0 ] && [ "$rss" -lt 102400 ]; then
	ok "long line: molt's peak RSS stays under 100 MiB (${rss} KiB)"
else
	not_ok "long line: molt's peak RSS stays under 100 MiB"; diag "peak RSS: ${rss:-?} KiB"
fi
n=$(grep -E '^#[0-9]+ a{1000}' "$WORK/rss.log" | tr -d '\n' | wc -c)
is "$n" 200000003 "long line: plain progress still prints all of it (with its '#N ' prefix)"
like "$(grep -E -A1 '^#[0-9]+ a{1000}' "$WORK/rss.log" | tail -n 1)" '^#[0-9]+ after-the-long-line$' \
	"long line: the next line starts a line of its own"
is "$(tail -n 3 "$WORK/rss.log" | grep -cE '^b{4096}… \(95904 bytes cut\)$')" 1 \
	"long line: the error's output tail keeps 4 KiB of a line and says what was cut"

# ---- 3. FIFOs never opened for reading: copied as FIFOs, or refused clearly
# b CTX ARGS...: a bounded build; stderr in $WORK/build.log, exit status echoed.
b() {
	local c=$1; shift
	timeout 30 "$MOLT" build --progress plain "$@" "$c" >"$WORK/build.out" 2>"$WORK/build.log"
	echo $?
}
c=$(ctx fifo <<'DF'
FROM busybox AS src
RUN mkfifo -m 0640 /made-fifo
FROM busybox
COPY fifo /from-context
COPY dir/ /dir/
COPY --from=src /made-fifo /from-stage
RUN test -p /from-context && test -p /dir/inner && test -p /from-stage && \
	stat -c %a /from-stage >/modes
DF
)
mkfifo "$c/fifo"; mkdir "$c/dir"; mkfifo "$c/dir/inner"
rc=$(b "$c" -o "type=local,dest=$WORK/fifo-out")
is "$rc" 0 "fifo: COPY of a FIFO from the context, inside a directory and --from a stage finishes"
[ "$rc" = 0 ] || diag "$(tail -n 5 "$WORK/build.log")"
is "$(cat "$WORK/fifo-out/modes" 2>/dev/null)" 640 "fifo: each is copied as a FIFO with its mode"

c=$(ctx fifo-passwd <<'DF'
FROM busybox
RUN rm /etc/passwd && mkfifo /etc/passwd
COPY --chown=app a /a
DF
)
echo a >"$c/a"
rc=$(b "$c")
is "$rc" 1 "fifo: COPY --chown with /etc/passwd a FIFO fails (no hang)"
like "$(cat "$WORK/build.log")" "chown=app: the image's /etc/passwd is not a regular file" \
	"fifo: ... saying /etc/passwd is not a regular file"

c=$(ctx fifo-ignore <<'DF'
FROM busybox
COPY a /a
DF
)
echo a >"$c/a"; mkfifo "$c/.dockerignore"
rc=$(b "$c")
is "$rc" 1 "fifo: a FIFO .dockerignore fails the build (no hang)"
like "$(cat "$WORK/build.log")" "\.dockerignore is not a regular file" "fifo: ... saying so"

c=$(ctx fifo-dockerfile </dev/null)
rm "$c/Dockerfile"; mkfifo "$c/Dockerfile"
rc=$(b "$c")
is "$rc" 1 "fifo: a context whose Dockerfile is a FIFO fails (no hang)"
like "$(cat "$WORK/build.log")" "Dockerfile': not a regular file" "fifo: ... saying so"
rc=$(b "$c" -f <(printf 'FROM busybox\nRUN true\n'))
is "$rc" 0 "fifo: an explicit -f <(...) pipe is still read"


done_testing
