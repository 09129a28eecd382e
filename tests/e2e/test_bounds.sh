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

# RSS limits: a sanitizer build keeps freed memory in quarantine and has shadow memory,
# so it gets a small quarantine and limits 3 times higher (still far below the GiBs an
# unbounded buffer reaches).
rss_factor=1
if grep -q __asan_init "$MOLT" 2>/dev/null; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8
	rss_factor=3
fi
# rss_below KIB LIMIT_MIB NAME: the case that a peak RSS stays under LIMIT_MIB (x factor).
rss_below() {
	local lim=$(($2 * 1024 * rss_factor))
	if [ "${1:-0}" -gt 0 ] && [ "$1" -lt $lim ]; then
		ok "$3 (${1} KiB)"
	else
		not_ok "$3"; diag "peak RSS: ${1:-?} KiB, limit $lim KiB"
	fi
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
rss_below "$rss" 100 "long line: molt's peak RSS stays under 100 MiB"
n=$(grep -E '^#[0-9]+ [0-9.]+ a{1000}' "$WORK/rss.log" | sed -E 's/^#[0-9]+ [0-9.]+ //' | tr -d '\n' | wc -c)
is "$n" 200000000 "long line: plain progress still prints all of it (after its '#N 0.123 ' prefix)"
like "$(grep -E -A1 '^#[0-9]+ [0-9.]+ a{1000}' "$WORK/rss.log" | tail -n 1)" '^#[0-9]+ [0-9.]+ after-the-long-line$' \
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
like "$(cat "$WORK/build.log")" "\.dockerignore'? is not a regular file" "fifo: ... saying so"

c=$(ctx fifo-dockerfile </dev/null)
rm "$c/Dockerfile"; mkfifo "$c/Dockerfile"
rc=$(b "$c")
is "$rc" 1 "fifo: a context whose Dockerfile is a FIFO fails (no hang)"
like "$(cat "$WORK/build.log")" "'Dockerfile':? (is )?not a regular file" "fifo: ... saying so"
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
rss_below "$rss" 200 "expansion: ... with molt's peak RSS under 200 MiB"

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
rss_below "$rss" 200 "expansion: ... with molt's peak RSS under 200 MiB"
sed -i '/^ARG A[3-9]=/d; s/\$A[3-9]$/$A0/' "$c/Dockerfile"
molt_fails 2 "^molt: Dockerfile:8: LABEL: the stage's labels exceed 4 MiB" \
	"expansion: three 1 MiB ARGs x 300 LABELs stop at the label past 4 MiB" \
	"${bounded[@]}" "$MOLT" build --progress quiet "$c"

# A base image whose config has 200,000 Env entries.
PYTHONPATH="$(dirname "$0")" python3 - "$FIXTURES/busybox/oci" "$WORK/envbomb" <<'PY'
import json, os, shutil, sys
from oci_blobs import Blobs
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
read, write = Blobs(dst).read, Blobs(dst).write
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
c=$(ctx envbomb </dev/null)
gen '
print("FROM envbomb")
for i in range(5000):
    print("ENV X%d=%d" % (i, i))
print("ENV E0=changed")
print("LABEL a=b")' "$c/Dockerfile"
check "200k Env: 5,000 ENVs and a LABEL on it plan and commit in under 60 s" \
	"${bounded[@]}" "$MOLT" build --progress quiet -t envbomb:2 "$c"
env_of() { "$MOLT" inspect "$1" | python3 -c 'import json, sys; e = json.load(sys.stdin)[0]["Config"]["Env"]; print(len(e), e[1], e[-1])'; }
is "$(env_of envbomb:2)" "205001 E0=changed X4999=4999" \
	"200k Env: ... its Env has every entry once, changed in place, new ones last"
printf 'FROM envbomb\nRUN echo $E199999\n' >"$c/Dockerfile"
molt_fails 126 "RUN: run '/bin/sh': Argument list too long" \
	"200k Env: a RUN on it fails at once with execve's E2BIG, as docker's would" \
	"${bounded[@]}" "$MOLT" build --progress quiet "$c"


# ---- 4. decompression bombs and sparse claims: a cap, a free-space reserve, nothing left
# layout DIR NAME TAR: an OCI layout holding an image NAME with TAR (gzip -1) as its layer.
layout() {
	python3 - "$@" <<'PY'
import gzip, hashlib, json, os, shutil, sys
out, name, tar = sys.argv[1:4]
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
def put(b):
    h = hashlib.sha256(b).hexdigest()
    open(os.path.join(blobs, h), "wb").write(b)
    return "sha256:" + h, len(b)
diff, gz = hashlib.sha256(), os.path.join(blobs, "tmp")
with open(tar, "rb") as f, gzip.GzipFile(gz, "wb", compresslevel=1, mtime=0) as z:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        diff.update(chunk); z.write(chunk)
ld = hashlib.sha256(open(gz, "rb").read()).hexdigest()
os.rename(gz, os.path.join(blobs, ld))
cfg = {"architecture": "amd64", "os": "linux", "config": {},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]}}
cd, cl = put(json.dumps(cfg).encode())
man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cl},
       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": "sha256:" + ld, "size": os.path.getsize(os.path.join(blobs, ld))}]}
md, ml = put(json.dumps(man).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": man["mediaType"], "digest": md, "size": ml,
           "annotations": {"io.containerd.image.name": name}}]}, open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
}
# left_over: what a failed unpack left in the store's scratch and layer trees, beyond
# what was there at the last `snap`.
store_list() { find "$MOLT_ROOT/tmp" "$MOLT_ROOT/layers" -mindepth 2 -maxdepth 2 2>/dev/null | sort; }
snap() { store_list >"$WORK/store.before"; }
left_over() { store_list | comm -13 "$WORK/store.before" -; }

B=$WORK/bombs; mkdir -p "$B/zeros" "$B/sparse" "$B/as"
head -c 100M /dev/zero >"$B/zeros/big"
tar -C "$B/zeros" -cf "$B/zeros.tar" big && rm -f "$B/zeros/big"
head -c 100M /dev/zero | tr '\0' a >"$B/as/big"
tar -C "$B/as" -cf "$B/as.tar" big && rm -f "$B/as/big"
truncate -s 20G "$B/sparse/huge"
tar -C "$B/sparse" --sparse -cf "$B/sparse.tar" huge && rm -f "$B/sparse/huge"
layout "$B/zeros-oci" docker.io/library/zerobomb:latest "$B/zeros.tar"
layout "$B/sparse-oci" docker.io/library/sparsebomb:latest "$B/sparse.tar"
layout "$B/as-oci" docker.io/library/abomb:latest "$B/as.tar"
for i in zeros sparse as; do
	"$MOLT" load -i "$B/$i-oci" >/dev/null 2>&1 || not_ok "bombs: load the $i bomb image (its blob is small)"
done
snap
# COPY --from unpacks the image's layers (the bomb images have no shell for a RUN).
c=$(ctx bomb <<'DF'
FROM busybox
COPY --from=zerobomb /big /big
DF
)
molt_fails 1 "layer sha256:[0-9a-f]+: unpacks to more than the limit of 52428800 bytes \(--max-unpack, MOLT_MAX_UNPACK\)" \
	"bombs: a 100 MiB gzip layer stops at MOLT_MAX_UNPACK=50M" \
	env MOLT_MAX_UNPACK=50M timeout 60 "$MOLT" build --progress quiet "$c"
is "$(left_over)" "" "bombs: ... and nothing of it is left in the store"
molt_fails 1 "unpacks to more than the limit of 52428800 bytes" \
	"bombs: --max-unpack 50M does the same" \
	timeout 60 "$MOLT" build --progress quiet --max-unpack 50M "$c"
printf 'FROM busybox\nCOPY --from=sparsebomb /huge /huge\n' >"$c/Dockerfile"
molt_fails 1 "unpacks to more than the limit of 52428800 bytes" \
	"bombs: a layer entry claiming 20 GiB of sparse data stops at its header" \
	env MOLT_MAX_UNPACK=50M timeout 20 "$MOLT" build --progress quiet "$c"
is "$(left_over)" "" "bombs: ... and nothing of it is left in the store"
free=$(df -B1 --output=avail "$MOLT_ROOT" | tail -n 1 | tr -d ' ')
printf 'FROM busybox\nCOPY --from=abomb /big /big\n' >"$c/Dockerfile"
molt_fails 1 "stopped before the store's filesystem runs out of space" \
	"bombs: an unpack of 100 MiB of 'a' that would eat into the free-space reserve stops" \
	env MOLT_UNPACK_RESERVE=$free timeout 60 "$MOLT" build --progress quiet "$c"
is "$(left_over)" "" "bombs: ... and nothing of it is left in the store"
check "bombs: with room and no cap the 100 MiB layer unpacks (the limits are not in the way)" \
	timeout 60 "$MOLT" build --progress quiet "$c"
printf 'FROM busybox\nCOPY --from=zerobomb /big /big\n' >"$c/Dockerfile"
check "bombs: ... and so does the one of zeros" timeout 60 "$MOLT" build --progress quiet "$c"
big=
for f in $(find "$MOLT_ROOT/layers" -name big -size +99M); do
	[ "$(head -c 1 "$f" | od -An -tx1 | tr -d ' ')" = 00 ] && big=$f
done
kib=$(du -k "$big" 2>/dev/null | cut -f1)
if [ -n "$big" ] && [ "${kib:-999999}" -lt 1024 ]; then
	ok "bombs: ... its 100 MiB of zeros unpack as a hole (${kib} KiB on disk)"
else
	not_ok "bombs: ... its 100 MiB of zeros unpack as a hole"; diag "'$big': ${kib:-?} KiB on disk"
fi
snap

# The same bombs inside a docker save tar given to molt load.
mkdir -p "$B/save"; echo '[]' >"$B/save/manifest.json"; truncate -s 20G "$B/save/layer.tar"
tar -C "$B/save" --sparse -cf "$B/save-sparse.tar" manifest.json layer.tar && rm -f "$B/save/layer.tar"
molt_fails 1 "'.*save-sparse.tar': unpacks to more than the limit of 52428800 bytes" \
	"bombs: molt load of a tar with a member claiming 20 GiB sparse stops at its header" \
	timeout 20 "$MOLT" load --max-unpack 50M -i "$B/save-sparse.tar"
head -c 100M /dev/zero | gzip -1 >"$B/save/zeros.gz"
(cd "$B/save" && gzip -dc zeros.gz >blob && tar -cf - blob | gzip -1 >"$B/save-zeros.tar.gz" && rm blob)
molt_fails 1 "unpacks to more than the limit of 52428800 bytes" \
	"bombs: molt load of a gzip tar expanding to 100 MiB stops at MOLT_MAX_UNPACK=50M" \
	env MOLT_MAX_UNPACK=50M timeout 60 "$MOLT" load -i "$B/save-zeros.tar.gz"
is "$(left_over)" "" "bombs: ... and nothing of them is left in the store"
# A docker save tar whose layer is a sparse member of 512 MiB of zeros (a valid, empty
# tar): loaded, it must stay sparse in the store.
S=$WORK/sparse-save; mkdir -p "$S"
zeros512=sha256:9acca8e8c22201155389f65abbf6bc9723edc7384ead80503839f49dcc56d767
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
	"$zeros512" >"$S/config.json"
printf '[{"Config":"config.json","RepoTags":["sparse:1"],"Layers":["layer.tar"]}]' >"$S/manifest.json"
truncate -s 512M "$S/layer.tar"
tar -C "$S" --sparse -cf "$WORK/sparse-save.tar" manifest.json config.json layer.tar && rm -f "$S/layer.tar"
du_before=$(du -sk "$MOLT_ROOT" | cut -f1)
check "sparse: molt load takes a docker save tar with a 512 MiB sparse layer member" \
	timeout 60 "$MOLT" load -i "$WORK/sparse-save.tar"
grew=$(( $(du -sk "$MOLT_ROOT" | cut -f1) - du_before ))
if [ "$grew" -lt 65536 ]; then
	ok "sparse: ... and it stays sparse: the store grew by ${grew} KiB, not 512 MiB"
else
	not_ok "sparse: ... and it stays sparse"; diag "the store grew by ${grew} KiB"
fi
molt_fails 2 "MOLT_MAX_UNPACK='lots' is not a size" "bombs: a bad MOLT_MAX_UNPACK is refused" \
	env MOLT_MAX_UNPACK=lots "$MOLT" images


# ---- 5. deep trees with bounded fds: molt runs with 256 descriptors
lim=(prlimit --nofile=256 timeout 120)
scratch() { find "$MOLT_ROOT/tmp" -mindepth 1 -maxdepth 1 2>/dev/null; }
for n in 600 2000; do
	c=$(ctx deep$n <<DF
FROM busybox AS deep
RUN d=/deep; for i in \$(seq $n); do d=\$d/d; done; mkdir -p \$d && echo bottom >\$d/f
RUN test -f /deep\$(printf '/d%.0s' \$(seq $n))/f
FROM busybox
COPY --from=deep /deep /deep
DF
)
	rm -rf "$WORK/deep-out"
	check "deep: a $n-deep tree from RUN, COPY --from and -o type=local with 256 fds" \
		"${lim[@]}" "$MOLT" build --progress quiet -o "type=local,dest=$WORK/deep-out" "$c"
	is "$(find "$WORK/deep-out/deep" -name f | wc -l)" 1 "deep: ... the output holds the $n-deep file"
	is "$(scratch)" "" "deep: ... and leaves nothing in MOLT_ROOT/tmp"
done
c=$WORK/ctx/deep600
out=$(MOLT_DIFFER=walk "${lim[@]}" "$MOLT" build --progress quiet --no-cache "$c" 2>&1)
is "$?" 0 "deep: the same 600 deep with the walk differ"
[ -z "$(scratch)" ] && ok "deep: ... leaves nothing in MOLT_ROOT/tmp" || not_ok "deep: ... leaves nothing in MOLT_ROOT/tmp"
out=$(MOLT_DIFFER=walk "${lim[@]}" "$MOLT" build --progress quiet --no-cache "$WORK/ctx/deep2000" 2>&1)
like "$out" "path too deep \(limit 1024 directories\)|^sha256:" \
	"deep: 2000 deep with the walk differ builds or stops at the unpack depth limit, saying so"
is "$(scratch)" "" "deep: ... leaves nothing in MOLT_ROOT/tmp"
check "deep: molt prune --all removes it all with 256 fds" "${lim[@]}" "$MOLT" prune --all
[ ! -e "$MOLT_ROOT/layers" ] && ok "deep: ... the store is gone" || not_ok "deep: ... the store is gone"

done_testing
