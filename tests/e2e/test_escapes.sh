#!/usr/bin/env bash
# Escapes (issue 9): a hostile Dockerfile, build context or base image trying to get
# molt itself — not the sandboxed step — to read, delete or run something on the host,
# or to write to the caller's terminal. Each case checks the host afterwards.
. "$(dirname "$0")/lib.sh"

load_busybox

# exists PATH NAME: a host canary is still there.
exists() { if [ -e "$1" ]; then ok "$2"; else not_ok "$2"; diag "$(tail -n 8 "$WORK/build.log")"; fi; }

# ---- 1. Mount-point stubs are removed without following a step's symlinks
#      (CVE-2024-23652 class). The step renames the stubs' parent away and puts a
#      symlink to a host directory in its place; the host directory holds an empty
#      directory and an empty file named like the stubs.
host=$WORK/host-a
mkdir -p "$host/b" "$host/d" && : >"$host/d/f.txt"
c=$(ctx stubswap <<EOF
FROM busybox
RUN --mount=type=tmpfs,target=/a/b --mount=type=bind,source=f.txt,target=/a/d/f.txt \\
	sh -c 'mv /a /a.old && ln -s $host /a'
EOF
)
echo data >"$c/f.txt"
build "$c"
is "$?" 0 "a step that swaps a mount point's parent for a symlink builds"
exists "$host/b" "an empty host directory behind the swapped parent is not removed"
exists "$host/d/f.txt" "an empty host file behind the swapped parent is not removed"

# A base image whose /etc is an absolute symlink to a host directory: the sandbox
# makes its /etc/hosts, /etc/hostname and /etc/resolv.conf stubs inside the root
# (ROOT$host2/...), and must remove them there, not in the host's $host2.
host2=$WORK/host-etc
mkdir -p "$host2" && : >"$host2/hosts" && : >"$host2/hostname" && : >"$host2/resolv.conf"
c=$(ctx etclink <<'EOF'
FROM scratch AS base
COPY rootfs/ /
FROM base
RUN echo second step
EOF
)
cp -a "$FIXTURES/busybox/rootfs" "$c/rootfs" && rm -rf "$c/rootfs/etc" &&
	mkdir -p "$c/rootfs$host2" && ln -s "$host2" "$c/rootfs/etc"
build "$c"
rc=$?; is "$rc" 0 "a base image whose /etc is an absolute symlink to a host directory builds"; [ $rc = 0 ] || diag "$(tail -n 8 "$WORK/build.log")"
for f in hosts hostname resolv.conf; do
	exists "$host2/$f" "the host's empty $host2/$f is not removed through the image's /etc symlink"
done

# ---- 2. The context's Dockerfile and Dockerfile.dockerignore are read inside the
#      context: a symlink to a host file resolves inside it (BuildKit), so the host
#      file is never read nor echoed in an error. A -f path the user names stays allowed.
secret=$WORK/host-shadow
printf 'root:SECRET-CANARY-%s:19000:0:99999:7:::\n' $$ >"$secret"
c=$WORK/ctx/dflink; rm -rf "$c"; mkdir -p "$c"; ln -s "$secret" "$c/Dockerfile"
build "$c"
rc=$?
isnt_zero() { if [ "$1" != 0 ]; then ok "$2"; else not_ok "$2"; fi; }
isnt_zero "$rc" "a context whose Dockerfile is a symlink to a host file does not build"
unlike "$(cat "$WORK/build.log" "$WORK/build.out")" "SECRET-CANARY" "the host file's text is not echoed"
like "$(cat "$WORK/build.log")" "reading the Dockerfile: open 'Dockerfile': No such file" \
	"the error says the Dockerfile is not in the context"
mkdir -p "$c/sub"; printf 'FROM busybox\nRUN true\n' >"$c/sub/real"; ln -sfn sub/real "$c/Dockerfile"
build "$c"
is "$?" 0 "a Dockerfile symlink that stays inside the context still works"
mkdir -p "$WORK/elsewhere"; printf 'FROM busybox\nRUN true\n' >"$WORK/elsewhere/Dockerfile.x"
build "$c" -f "$WORK/elsewhere/Dockerfile.x"
is "$?" 0 "-f with a Dockerfile outside the context is still allowed"

# The ignore file beside the Dockerfile: a symlink to a host file holding 'keep.txt'
# would drop keep.txt from the context if it were read.
printf 'keep.txt\n' >"$WORK/host-ignore"
c=$(ctx ignlink <<'EOF'
FROM busybox
COPY keep.txt /
EOF
)
echo kept >"$c/keep.txt"; ln -s "$WORK/host-ignore" "$c/Dockerfile.dockerignore"
build "$c"
is "$?" 0 "a Dockerfile.dockerignore symlink to a host file is not read (keep.txt stays in the context)"
rm "$c/Dockerfile.dockerignore"; mkdir -p "$c/in"; printf 'keep.txt\n' >"$c/in/ign"
ln -s in/ign "$c/Dockerfile.dockerignore"
build "$c"
isnt_zero "$?" "a Dockerfile.dockerignore symlink inside the context is still read"

# ---- 3. No external decompressor: libarchive runs `lzop -d` / `lrzip -d` from PATH
#      for formats it has no code for. A fake lzop and lrzip first in PATH leave a
#      canary if they ever run.
mkdir -p "$WORK/fakebin"
for p in lzop lrzip; do
	printf '#!/bin/sh\ntouch %s/ran-%s\ncat >/dev/null\nexit 1\n' "$WORK" $p >"$WORK/fakebin/$p"
	chmod +x "$WORK/fakebin/$p"
done
lzo_magic='\211LZO\000\r\n\032\n\020\060\040\240\011\100'
printf 'hello\n' >"$WORK/hello.txt"
tar -C "$WORK" -cf "$WORK/hello.tar" hello.txt
{ printf "$lzo_magic"; cat "$WORK/hello.tar"; } >"$WORK/save.tar.lzo"
{ printf 'LRZI\000\006'; cat "$WORK/hello.tar"; } >"$WORK/save.tar.lrz"
PATH=$WORK/fakebin:$PATH molt_fails 1 "compressed with lzop: molt reads gzip, bzip2, xz and zstd only" \
	"molt load of an lzop-compressed tar is refused, naming the format" "$MOLT" load -i "$WORK/save.tar.lzo"
PATH=$WORK/fakebin:$PATH molt_fails 1 "compressed with lrzip" \
	"molt load of an lrzip-compressed tar is refused, naming the format" "$MOLT" load -i "$WORK/save.tar.lrz"
c=$(ctx addlzo <<'EOF'
FROM busybox
ADD app.tar.lzo /dst/
RUN test -f /dst/app.tar.lzo && ! test -e /dst/hello.txt
EOF
)
cp "$WORK/save.tar.lzo" "$c/app.tar.lzo"
PATH=$WORK/fakebin:$PATH build "$c"
rc=$?; is "$rc" 0 "ADD of an lzop-compressed tar copies the file as it is (docker build does)"
[ $rc = 0 ] || diag "$(tail -n 5 "$WORK/build.log")"
# A base image whose layer blob is lzop data: it loads (a plain blob whose digest is
# its diff ID), and the diff-ID check before its first unpack must refuse it by name.
lay=$WORK/lzo-layout; mkdir -p "$lay/blobs/sha256"
sha() { sha256sum "$1" | cut -d' ' -f1; }
blob=$(sha "$WORK/save.tar.lzo"); cp "$WORK/save.tar.lzo" "$lay/blobs/sha256/$blob"
printf '{"architecture":"amd64","config":{},"os":"linux","rootfs":{"diff_ids":["sha256:%s"],"type":"layers"}}' \
	"$blob" >"$WORK/cfg.json"
cfg=$(sha "$WORK/cfg.json"); cp "$WORK/cfg.json" "$lay/blobs/sha256/$cfg"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
	"$cfg" "$(stat -c %s "$WORK/cfg.json")" "$blob" "$(stat -c %s "$WORK/save.tar.lzo")" >"$WORK/man.json"
man=$(sha "$WORK/man.json"); cp "$WORK/man.json" "$lay/blobs/sha256/$man"
printf '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"lzobase","org.opencontainers.image.ref.name":"latest"}}]}' \
	"$man" "$(stat -c %s "$WORK/man.json")" >"$lay/index.json"
if PATH=$WORK/fakebin:$PATH "$MOLT" load -i "$lay" >/dev/null 2>"$WORK/load.log"; then
	c=$(ctx lzobase <<'EOF'
FROM lzobase
RUN true
EOF
)
	PATH=$WORK/fakebin:$PATH build "$c"
	rc=$?; is "$rc" 1 "a base image with an lzop layer does not build"
	like "$(cat "$WORK/build.log")" "compressed with lzop: molt reads gzip, bzip2, xz and zstd only" \
		"the error names the format"
else
	not_ok "load the lzop-layer layout"; diag "$(cat "$WORK/load.log")"
fi
for p in lzop lrzip; do
	[ ! -e "$WORK/ran-$p" ] && ok "the fake $p in PATH never ran" || not_ok "the fake $p in PATH never ran"
done

# ---- 4. -o type=local writes the caller's own files: no set-uid / set-gid bits
#      (a set-uid program owned by the caller is one the image chose to hand out).
c=$(ctx setid <<'EOF'
FROM busybox
RUN touch /suid /sgid /both && chmod u+s /suid && chmod g+s /sgid && chmod 6755 /both && \
	mkdir /gdir && chmod 2775 /gdir && ls -l /suid /both | grep -q rws
EOF
)
rm -rf "$WORK/local-out"
build "$c" -o "type=local,dest=$WORK/local-out"
rc=$?; is "$rc" 0 "a RUN chmod u+s,g+s build exports to a local directory"
[ $rc = 0 ] || diag "$(tail -n 5 "$WORK/build.log")"
is "$(find "$WORK/local-out" -perm /6000 | wc -l)" 0 "no exported file or directory keeps a set-uid or set-gid bit"
is "$(stat -c %a "$WORK/local-out/both")" 755 "the other mode bits stay (6755 -> 755)"
is "$(stat -c %u "$WORK/local-out/both")" "$(id -u)" "the files are the caller's"
like "$("$MOLT" build --help 2>&1)" "without set-uid and" "molt build --help says so"

# ---- 5. Terminal control sequences from a step's output are shown escaped: OSC 52
#      would write the caller's clipboard, CSI 2J clear the screen.
c=$(ctx osc52 <<'EOF'
FROM busybox
RUN printf '\033]52;c;aGk=\a\033[2J\233Hmark\n'; exit 3
EOF
)
build "$c"
is "$?" 1 "a failing RUN that prints OSC 52 and CSI fails"
is "$(tr -d -c '\033\007\200-\237' <"$WORK/build.log" | wc -c)" 0 \
	"no raw ESC, BEL or C1 byte in molt's stderr (plain progress and the final error)"
like "$(grep -c '\^\[\]52;c;aGk=\^G\^\[\[2J\\x9bHmark' "$WORK/build.log")" "^3$" \
	"the sequence is shown escaped: in the progress, its failed-step block and the error's last lines"

# ---- 6. A step's /proc/self/mountinfo names no host path: overlayfs shows the strings
#      its directories were given, and those were the store's paths (the caller's home
#      directory and user name), which a RUN could write into its layer.
c=$(ctx mountinfo <<'EOF'
FROM busybox
RUN cat /proc/self/mountinfo >/mountinfo
EOF
)
rm -rf "$WORK/mi-out"
build "$c" --no-cache -o "type=local,dest=$WORK/mi-out"
is "$?" 0 "a RUN that copies its mountinfo builds"
like "$(grep ' / / ' "$WORK/mi-out/mountinfo")" "overlay" "the step's root is the overlay"
is "$(grep -c -e "$HOME" -e "$(id -un)" "$WORK/mi-out/mountinfo")" 0 \
	"the step's mountinfo holds neither the home directory nor the user name"

done_testing
