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



# ---- 2. ARG/ENV/LABEL blow-ups: linear time, bounded memory, limits with a clear error
# A sanitizer build maps terabytes of shadow memory, so the address-space guard (which
# keeps a regression from eating the machine) applies to a plain build only.
as_limit=4000000000
grep -q __asan_init "$MOLT" 2>/dev/null && as_limit=unlimited
bounded=(prlimit --as=$as_limit timeout 60)
gen() { python3 -c "$1" >"$2"; }

c=$(ctx envs </dev/null)
gen '
print("FROM busybox")
for i in range(5000):
    print("ENV V%d=value%d" % (i, i))
    if i % 1000 == 999:
        print("RUN env | grep -c ^V >/n%d" % i)
print("LABEL done=yes")' "$c/Dockerfile"
rss=$(peak_rss_kib "${bounded[@]}" "$MOLT" build --progress quiet -o "type=local,dest=$WORK/envs-out" "$c")
is "$(cat "$WORK/rss.rc")" 0 "expansion: 5,000 ENV lines build (in under 60 s)"
[ "$(cat "$WORK/rss.rc")" = 0 ] || diag "$(tail -n 3 "$WORK/rss.log" | cut -c1-300)"
is "$(cat "$WORK/envs-out/n4999" 2>/dev/null)" 5000 "expansion: ... and the last RUN sees all 5,000"
if [ "${rss:-0}" -gt 0 ] && [ "$rss" -lt 204800 ]; then
	ok "expansion: ... with molt's peak RSS under 200 MiB (${rss} KiB)"
else
	not_ok "expansion: ... with molt's peak RSS under 200 MiB"; diag "peak RSS: ${rss:-?} KiB"
fi

c=$(ctx args-labels </dev/null)
gen '
print("FROM busybox")
for i in range(10):
    print("ARG A%d=%s" % (i, chr(97 + i) * (1 << 20)))
for i in range(300):
    print("LABEL l%d=$A%d" % (i, i % 10))' "$c/Dockerfile"
rss=$(peak_rss_kib "${bounded[@]}" "$MOLT" build --progress quiet "$c")
is "$(cat "$WORK/rss.rc")" 2 "expansion: ten 1 MiB ARGs x 300 LABELs fail (in under 60 s)"
like "$(head -n 1 "$WORK/rss.log" | cut -c1-300)" "^molt: Dockerfile:5: ARG: the stage's build args exceed 4 MiB$" \
	"expansion: ... at the ARG past the 4 MiB limit, saying so"
like "$(sed -n 2p "$WORK/rss.log" | wc -c)" '^[0-9]{3}$' "expansion: ... echoing the line cut short, not 1 MiB of it"
if [ "${rss:-0}" -gt 0 ] && [ "$rss" -lt 204800 ]; then
	ok "expansion: ... with molt's peak RSS under 200 MiB (${rss} KiB)"
else
	not_ok "expansion: ... with molt's peak RSS under 200 MiB"; diag "peak RSS: ${rss:-?} KiB"
fi
sed -i '/^ARG A[3-9]=/d; s/\$A[3-9]$/$A0/' "$c/Dockerfile"
molt_fails 2 "^molt: Dockerfile:8: LABEL: the stage's labels exceed 4 MiB" \
	"expansion: three 1 MiB ARGs x 300 LABELs stop at the label past 4 MiB" \
	"${bounded[@]}" "$MOLT" build --progress quiet "$c"

# A base image whose config has 200,000 Env entries.
python3 - "$FIXTURES/busybox/oci" "$WORK/envbomb" <<'PY'
import hashlib, json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
blobs = os.path.join(dst, "blobs", "sha256")
def read(d): return open(os.path.join(blobs, d.split(":")[1]), "rb").read()
def write(b):
    h = hashlib.sha256(b).hexdigest()
    open(os.path.join(blobs, h), "wb").write(b)
    return "sha256:" + h
idx = json.load(open(os.path.join(dst, "index.json")))
man = json.loads(read(idx["manifests"][0]["digest"]))
cfg = json.loads(read(man["config"]["digest"]))
cfg.setdefault("config", {})["Env"] = ["PATH=/bin"] + ["E%d=v%d" % (i, i) for i in range(200000)]
cb = json.dumps(cfg).encode()
man["config"] = dict(man["config"], digest=write(cb), size=len(cb))
mb = json.dumps(man).encode()
idx["manifests"][0].update(digest=write(mb), size=len(mb))
idx["manifests"][0]["annotations"] = {"io.containerd.image.name": "docker.io/library/envbomb:latest"}
json.dump(idx, open(os.path.join(dst, "index.json"), "w"))
PY
check "200k Env: molt load takes the image (in under 60 s)" "${bounded[@]}" "$MOLT" load -i "$WORK/envbomb"
c=$(ctx envbomb <<'DF'
FROM envbomb
ENV X=1
LABEL a=b
DF
)
check "200k Env: ENV and LABEL on it plan and commit in under 60 s" \
	"${bounded[@]}" "$MOLT" build --progress quiet -t envbomb:2 "$c"
printf 'FROM envbomb\nRUN echo $E199999\n' >"$c/Dockerfile"
molt_fails 126 "RUN: run '/bin/sh': Argument list too long" \
	"200k Env: a RUN on it fails at once with execve's E2BIG, as docker's would" \
	"${bounded[@]}" "$MOLT" build --progress quiet "$c"

done_testing
