#!/usr/bin/env bash
# Build contexts and outputs that are not directories (issue 12): `-` on stdin (a tar,
# or a Dockerfile alone), a git URL, --build-context NAME=…; `-o -` and `molt save` to
# stdout, `molt load` from stdin, -o type=registry.
. "$(dirname "$0")/lib.sh"

load_busybox

# ---- a context tar on stdin
mkdir -p "$WORK/t1/sub"
printf 'FROM busybox\nCOPY hello /hello\nRUN cat /hello >/copied\n' >"$WORK/t1/Dockerfile"
printf 'FROM busybox\nCOPY sub/x /x\n' >"$WORK/t1/sub/Other.Dockerfile"
echo from-stdin-tar >"$WORK/t1/hello"
echo sub-x >"$WORK/t1/sub/x"
tar -C "$WORK/t1" -cf "$WORK/t1.tar" .
"$MOLT" build --progress plain -o "type=tar,dest=$WORK/t1.out" - <"$WORK/t1.tar" >/dev/null 2>"$WORK/t1.log"
is "$?" 0 "a context tar on stdin builds"
is "$(tar -xOf "$WORK/t1.out" copied 2>/dev/null)" from-stdin-tar "COPY read the file from the tar on stdin"
gzip -c "$WORK/t1.tar" >"$WORK/t1.tgz"
"$MOLT" build --progress plain -f sub/Other.Dockerfile -o "type=tar,dest=$WORK/t2.out" - \
	<"$WORK/t1.tgz" >/dev/null 2>"$WORK/t2.log"
is "$?" 0 "a gzip context tar on stdin with -f inside it builds"
is "$(tar -xOf "$WORK/t2.out" x 2>/dev/null)" sub-x "-f names a Dockerfile inside the stdin context"
printf 'FROM busybox\nRUN echo dockerfile-only >/only\n' |
	"$MOLT" build --progress plain -o "type=tar,dest=$WORK/t3.out" - >/dev/null 2>"$WORK/t3.log"
is "$?" 0 "a Dockerfile alone on stdin builds (empty context)"
is "$(tar -xOf "$WORK/t3.out" only 2>/dev/null)" dockerfile-only "the stdin Dockerfile ran"
molt_fails 1 "COPY.*hello" "COPY from the empty context of a stdin Dockerfile fails" \
	"$MOLT" build --progress plain - <<<$'FROM busybox\nCOPY hello /hello'
molt_fails 2 "the Dockerfile and the context cannot both come from stdin" "-f - with context - is refused" \
	"$MOLT" build -f - - </dev/null
# a hostile tar: an entry climbing out with .. is refused; one through a symlink to /
# lands inside the context; a device node is not made
python3 - "$WORK/evil.tar" "$WORK/evil2.tar" <<'PY'
import io, sys, tarfile
def add(t, name, data=b"", **kw):
    i = tarfile.TarInfo(name); i.size = len(data)
    for k, v in kw.items(): setattr(i, k, v)
    t.addfile(i, io.BytesIO(data))
d = b"FROM busybox\nCOPY . /ctx\n"
with tarfile.open(sys.argv[1], "w") as t:
    add(t, "Dockerfile", d)
    add(t, "../../../../../../../../tmp/molt-ctx-escape", b"escaped\n")
with tarfile.open(sys.argv[2], "w") as t:
    add(t, "Dockerfile", d)
    add(t, "link", type=tarfile.SYMTYPE, linkname="/")
    add(t, "link/tmp/molt-ctx-escape2", b"inside\n")
    add(t, "null2", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
PY
molt_fails 1 "build context from stdin: .*'../../../../../../../../tmp/molt-ctx-escape': path escapes the root" \
	"a context tar entry with .. is refused" "$MOLT" build - <"$WORK/evil.tar"
"$MOLT" build --progress plain -o "type=tar,dest=$WORK/evil2.out" - <"$WORK/evil2.tar" >/dev/null 2>"$WORK/evil2.log"
is "$?" 0 "a context tar with a symlink to / and a device node builds"
is "$(tar -xOf "$WORK/evil2.out" ctx/tmp/molt-ctx-escape2 2>/dev/null)" inside \
	"an entry through a symlink to / lands inside the context"
unlike "$(tar -tf "$WORK/evil2.out" 2>/dev/null)" 'ctx/null2' "the device node is not made"
like "$(cat "$WORK/evil2.log")" "device node 'null2' skipped" "… and that is said"
ls /tmp/molt-ctx-escape* "${TMPDIR:-/tmp}"/molt-ctx-escape* >/dev/null 2>&1 && esc=yes || esc=no
is "$esc" no "nothing was written outside the context"
MOLT_MAX_CONTEXT=1k molt_fails 1 "stdin is larger than 1024 bytes" "a context tar over MOLT_MAX_CONTEXT is refused" \
	"$MOLT" build - <"$WORK/t1.tar"
ls -d "${TMPDIR:-/tmp}"/molt-context-* >/dev/null 2>&1 && left=yes || left=no
is "$left" no "no scratch copy of a stdin context is left behind"

# ---- -o - and dest=-: a tar on stdout
c=$(ctx out <<'EOF2'
FROM busybox
RUN echo on-stdout >/marker
EOF2
)
"$MOLT" build --progress plain -o - "$c" >"$WORK/o1.tar" 2>"$WORK/o1.log"
is "$?" 0 "-o - builds"
is "$(tar -xOf "$WORK/o1.tar" marker 2>/dev/null)" on-stdout "-o - writes the rootfs tar to stdout"
"$MOLT" build --progress plain -o type=docker,dest=- -t stdout:1 "$c" >"$WORK/o2.tar" 2>/dev/null
is "$?" 0 "-o type=docker,dest=- builds"
like "$(tar -xOf "$WORK/o2.tar" manifest.json 2>/dev/null)" 'stdout:1' "type=docker,dest=- is a docker-load tar on stdout"
"$MOLT" build --progress quiet -o type=oci,dest=- "$c" >"$WORK/o3.tar" 2>/dev/null
is "$?" 0 "-o type=oci,dest=- with --progress quiet builds"
like "$(tar -tf "$WORK/o3.tar" 2>/dev/null)" 'index.json' "type=oci,dest=- is an OCI archive, not mixed with the image ID"
molt_fails 2 "a local output is a directory; use type=tar" "type=local,dest=- is refused" \
	"$MOLT" build -o type=local,dest=- "$c"
molt_fails 2 "only one --output can go to stdout" "two outputs to stdout are refused" \
	"$MOLT" build -o - -o type=oci,dest=- "$c"
if command -v script >/dev/null; then
	out=$(script -qec "$MOLT build -o - $c" /dev/null 2>&1)
	like "$out" "refusing to write the build output to a terminal" "-o - onto a terminal is refused"
	out=$(script -qec "$MOLT build -" /dev/null 2>&1 </dev/null)
	like "$out" "refusing to read a tar from a terminal" "build - with a terminal on stdin is refused"
else
	skip "script(1) missing: terminal case"
fi

# ---- molt save to stdout, molt load from stdin
"$MOLT" save stdout:1 >"$WORK/s1.tar" 2>"$WORK/s1.log"
is "$?" 0 "molt save without -o writes to stdout"
"$MOLT" save -o - stdout:1 >"$WORK/s2.tar" 2>/dev/null
cmp -s "$WORK/s1.tar" "$WORK/s2.tar" && same=yes || same=no
is "$same" yes "molt save -o - is the same tar"
"$MOLT" rmi stdout:1 >/dev/null 2>&1
out=$("$MOLT" load <"$WORK/s1.tar" 2>&1)
is "$?" 0 "molt load reads stdin"
like "$out" "Loaded image: docker.io/library/stdout:1" "molt load from stdin names the image"
"$MOLT" rmi stdout:1 >/dev/null 2>&1
"$MOLT" load -i - <"$WORK/s1.tar" >/dev/null 2>&1
is "$?" 0 "molt load -i - reads stdin"
like "$("$MOLT" images 2>&1)" 'docker.io/library/stdout +1' "the image loaded with -i - is in the store"
molt_fails 1 "load from stdin: .*not a readable tar" "garbage on stdin is refused" "$MOLT" load <<<garbage
molt_fails 2 "nothing to load: stdin is empty" "an empty stdin is a usage error" "$MOLT" load -i - </dev/null
if command -v script >/dev/null; then
	out=$(script -qec "$MOLT save stdout:1" /dev/null 2>&1)
	like "$out" "refusing to write an image tar to a terminal" "molt save onto a terminal is refused"
	out=$(script -qec "$MOLT load" /dev/null 2>&1 </dev/null)
	like "$out" "refusing to read an image tar from a terminal" "molt load from a terminal is refused"
fi

# ---- --build-context
mkdir -p "$WORK/named"
echo from-named-dir >"$WORK/named/file"
n=$(ctx named <<'EOF2'
FROM busybox AS assets
RUN echo from-stage >/file
FROM busybox
COPY --from=assets /file /file
COPY --from=extra /marker /extra
EOF2
)
"$MOLT" build --progress plain --build-context assets="$WORK/named" --build-context extra=docker-image://stdout:1 \
	-o "type=tar,dest=$WORK/n1.tar" "$n" >/dev/null 2>"$WORK/n1.log"
rc=$?
is "$rc" 0 "--build-context DIR and docker-image:// build"
is "$(tar -xOf "$WORK/n1.tar" file 2>/dev/null)" from-named-dir "a named directory context overrides the stage of that name"
is "$(tar -xOf "$WORK/n1.tar" extra 2>/dev/null)" on-stdout "a docker-image:// context is read by COPY --from"
molt_fails 1 "127.0.0.1:1/nonexistent-image:1" "a missing docker-image:// context fails" \
	"$MOLT" build --build-context extra=docker-image://127.0.0.1:1/nonexistent-image:1 --tls-verify=false "$n"
molt_fails 2 "is not NAME=SOURCE" "--build-context without = is refused" "$MOLT" build --build-context foo "$n"
molt_fails 1 "not supported as a named context" "a git named context is refused" \
	"$MOLT" build --build-context x=https://127.0.0.1:1/r.git "$n"
f=$(ctx named-from <<'EOF2'
FROM base
COPY --from=base /file /again
EOF2
)
"$MOLT" build --progress plain --build-context base="$WORK/named" -o "type=tar,dest=$WORK/n2.tar" \
	"$f" >/dev/null 2>"$WORK/n2.log"
is "$?" 0 "FROM NAME with a directory context builds"
is "$(tar -tf "$WORK/n2.tar" 2>/dev/null | sed 's|^\./||' | grep -v '/$' | sort | tr '\n' ' ')" "again file " \
	"FROM a directory context: its files are the rootfs"
o=$(ctx named-layout <<'EOF2'
FROM base
RUN echo layout >/seen
EOF2
)
"$MOLT" build --progress plain --build-context base=oci-layout://"$FIXTURES/busybox/oci" \
	-o "type=tar,dest=$WORK/n4.tar" "$o" >/dev/null 2>"$WORK/n4.log"
is "$?" 0 "FROM NAME with an oci-layout:// context builds"
is "$(tar -xOf "$WORK/n4.tar" seen 2>/dev/null)" layout "the oci-layout:// image ran the RUN"

# ---- a git URL (git daemon on 127.0.0.1)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
bg_pids=()
trap 'for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; cleanup_work' EXIT
if command -v git >/dev/null && git daemon --help >/dev/null 2>&1; then
	src=$WORK/gitsrc
	mkdir -p "$src/app"
	printf 'FROM busybox\nCOPY . /ctx\n' >"$src/Dockerfile"
	printf 'FROM busybox\nCOPY . /app\n' >"$src/app/Dockerfile"
	echo v1 >"$src/app/version"
	ln -s / "$src/rootlink"
	git -C "$src" init -q -b main && git -C "$src" add -A &&
		git -C "$src" -c user.name=t -c user.email=t@t commit -qm one && git -C "$src" tag v1 &&
		echo v2 >"$src/app/version" && git -C "$src" -c user.name=t -c user.email=t@t commit -qam two
	mkdir -p "$WORK/git" && git clone -q --bare "$src" "$WORK/git/repo.git"
	port=$(free_port)
	timeout 300 git daemon --listen=127.0.0.1 --port="$port" --base-path="$WORK/git" --export-all \
		--reuseaddr "$WORK/git" >"$WORK/gitd.log" 2>&1 &
	bg_pids+=($!)
	for _ in $(seq 1 50); do git ls-remote "git://127.0.0.1:$port/repo.git" >/dev/null 2>&1 && break; sleep 0.1; done
	url=git://127.0.0.1:$port/repo.git
	"$MOLT" build --progress plain -o "type=tar,dest=$WORK/g1.tar" "$url" >/dev/null 2>"$WORK/g1.log"
	is "$?" 0 "a git:// context builds"
	files=$(tar -tf "$WORK/g1.tar" 2>/dev/null)
	like "$files" '(^|/)ctx/app/version$' "the repository is the context"
	unlike "$files" '(^|/)ctx/\.git' ".git is not in the context"
	is "$(tar -xOf "$WORK/g1.tar" ctx/app/version 2>/dev/null)" v2 "the default branch's head is built"
	"$MOLT" build --progress plain -o "type=tar,dest=$WORK/g2.tar" "$url#v1:app" >/dev/null 2>"$WORK/g2.log"
	is "$?" 0 "a git context with #ref:subdir builds"
	is "$(tar -xOf "$WORK/g2.tar" app/version 2>/dev/null)" v1 "#v1:app builds the tag's subdirectory with its Dockerfile"
	molt_fails 1 "git context '$url#nosuchref': git fetch failed" "a missing ref fails with git's step named" \
		"$MOLT" build "$url#nosuchref"
	molt_fails 1 "subdirectory 'rootlink'.*not a symlink" "a subdirectory that is a symlink is refused" \
		"$MOLT" build "$url#main:rootlink"
	molt_fails 1 "may not start with '-'" "a ref starting with - is refused" "$MOLT" build "$url#--upload-pack=x"
	# a "dumb" http server (static files): no shallow fetch there, the whole history
	git -C "$WORK/git/repo.git" update-server-info
	wport=$(free_port)
	(cd "$WORK/git" && exec timeout 300 python3 -m http.server --bind 127.0.0.1 "$wport") >"$WORK/http.log" 2>&1 &
	bg_pids+=($!)
	for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$wport/repo.git/HEAD" >/dev/null 2>&1 && break; sleep 0.1; done
	"$MOLT" build --progress plain -o "type=tar,dest=$WORK/g3.tar" "http://127.0.0.1:$wport/repo.git#main:app" \
		>/dev/null 2>"$WORK/g3.log"
	is "$?" 0 "a git context over dumb http builds"
	is "$(tar -xOf "$WORK/g3.tar" app/version 2>/dev/null)" v2 "… with the branch's files"
	like "$(cat "$WORK/g3.log")" "a shallow fetch failed; fetching the whole history" "… after saying the shallow fetch failed"
	# a server that accepts and says nothing: bounded by MOLT_GIT_TIMEOUT
	hport=$(free_port)
	timeout 60 python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)' "$hport" &
	bg_pids+=($!)
	sleep 0.3
	start=$(date +%s)
	MOLT_GIT_TIMEOUT=2 molt_fails 1 "git fetch took more than 2 seconds \(MOLT_GIT_TIMEOUT" \
		"a silent git server is given up on after MOLT_GIT_TIMEOUT" "$MOLT" build "git://127.0.0.1:$hport/x.git"
	took=$(( $(date +%s) - start ))
	[ "$took" -lt 20 ] && ok "the timeout ended the build in ${took}s" || not_ok "the timeout took ${took}s"
	ls -d "${TMPDIR:-/tmp}"/molt-context-* >/dev/null 2>&1 && left=yes || left=no
	is "$left" no "no checkout is left behind"
else
	skip "git (with git daemon) is not installed: git contexts"
fi

done_testing
