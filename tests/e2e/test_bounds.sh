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
done_testing
