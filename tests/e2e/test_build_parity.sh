#!/usr/bin/env bash
# molt build where issue 9 found results that differ from BuildKit's or depend on the
# caller: the umask, --chown without a group, WORKDIR after USER, one layer twice in an
# image, tags of a build whose export failed, ADD --chown of an archive, COPY onto a
# symlink, FROM scratch's config. Each case builds as the unprivileged test user on the
# busybox base and checks the files (numeric owners through -o type=tar) or the config.
. "$(dirname "$0")/lib.sh"

export SOURCE_DATE_EPOCH=1700000000
load_busybox

# owner TAR PATH: "uid:gid mode" of PATH in a rootfs tar (-o type=tar).
owner() {
	python3 - "$1" "$2" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        if m.name.strip("./").rstrip("/") == sys.argv[2].strip("/"):
            print("%d:%d %o" % (m.uid, m.gid, m.mode)); break
    else:
        print("missing")
EOF
}

# app_ctx NAME: ctx NAME whose Dockerfile starts FROM busybox with a user app (uid 1000,
# primary group grp, gid 2000) added; the rest of the Dockerfile comes on stdin.
app_ctx() {
	{
		printf 'FROM busybox\n'
		echo "RUN echo 'app:x:1000:2000::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:2000:' >> /etc/group"
		cat
	} | ctx "$1"
}
failed_build() { not_ok "$1"; diag "$(tail -n 15 "$WORK/build.log")"; }

# 1. The caller's umask never reaches the image: steps run with 0022 and COPY's
#    parents are 0755, so umask 077 and 022 give one image ID (as docker build).
c=$(ctx umask <<'EOF'
FROM busybox
COPY f.txt /deep/nested/f.txt
RUN mkdir /made && echo x > /made/file
WORKDIR /wd/sub
EOF
)
echo F >"$c/f.txt"
chmod 644 "$c/f.txt"
if (umask 077 && build "$c" --no-cache --iidfile "$WORK/iid077" -o "type=tar,dest=$WORK/umask077.tar") &&
	(umask 022 && build "$c" --no-cache --iidfile "$WORK/iid022"); then
	is "$(cat "$WORK/iid077")" "$(cat "$WORK/iid022")" \
		"the same build under umask 077 and 022 gives the same image ID"
	is "$(owner "$WORK/umask077.tar" deep) $(owner "$WORK/umask077.tar" deep/nested)" "0:0 755 0:0 755" \
		"under umask 077 the parents COPY creates are 0755"
	is "$(owner "$WORK/umask077.tar" made) $(owner "$WORK/umask077.tar" made/file)" "0:0 755 0:0 644" \
		"under umask 077 a RUN step creates 0755 directories and 0644 files (umask 0022)"
	is "$(owner "$WORK/umask077.tar" wd/sub)" "0:0 755" "under umask 077 WORKDIR creates 0755"
else
	failed_build "the umask build runs under umask 077 and 022"
fi

# 2. --chown=NAME takes NAME's primary group from the stage's /etc/passwd (BuildKit's
#    readUser, buildah); --chown=UID takes UID as the gid too.
c=$(app_ctx chown <<'EOF'
COPY --chown=app f.txt /byname.txt
COPY --chown=1234 f.txt /byid.txt
COPY --chown=app:root f.txt /both.txt
EOF
)
echo F >"$c/f.txt"
if build "$c" -o "type=tar,dest=$WORK/chown.tar"; then
	is "$(owner "$WORK/chown.tar" byname.txt | cut -d' ' -f1)" "1000:2000" \
		"COPY --chown=NAME: gid is NAME's primary group from /etc/passwd (as BuildKit)"
	is "$(owner "$WORK/chown.tar" byid.txt | cut -d' ' -f1)" "1234:1234" \
		"COPY --chown=UID: gid is the uid (as BuildKit)"
	is "$(owner "$WORK/chown.tar" both.txt | cut -d' ' -f1)" "1000:0" "COPY --chown=NAME:GROUP takes the group given"
else
	failed_build "the --chown build runs"
fi

# 3. WORKDIR creates a missing directory (and its parents) owned by the current USER,
#    so the user can write there (BuildKit).
c=$(app_ctx workdir <<'EOF'
USER app
WORKDIR /srv/app
RUN touch made-by-app
USER 0
WORKDIR /rootdir
EOF
)
if build "$c" -o "type=tar,dest=$WORK/workdir.tar"; then
	ok "USER app + WORKDIR /srv/app + RUN touch x works"
	is "$(owner "$WORK/workdir.tar" srv | cut -d' ' -f1) $(owner "$WORK/workdir.tar" srv/app | cut -d' ' -f1)" \
		"1000:2000 1000:2000" "WORKDIR after USER app creates its directories owned by app's uid and primary gid"
	is "$(owner "$WORK/workdir.tar" srv/app/made-by-app | cut -d' ' -f1)" "1000:2000" "the RUN step wrote there as app"
	is "$(owner "$WORK/workdir.tar" rootdir | cut -d' ' -f1)" "0:0" "WORKDIR as root stays root's"
else
	failed_build "USER app + WORKDIR /srv/app + RUN touch x works"
fi

# 4. One layer twice in an image: the same COPY in a base stage and in its child, with
#    a step between that deletes the file. The child must mount (RUN, -o, molt run)
#    and show the file again.
c=$(ctx duplayer <<'EOF'
FROM busybox AS base
COPY a.txt /a.txt
COPY b.txt /b.txt

FROM base
RUN rm /a.txt && echo changed > /b.txt
COPY a.txt /a.txt
COPY b.txt /b.txt
RUN cat /a.txt /b.txt > /seen.txt
EOF
)
echo A >"$c/a.txt"
echo B >"$c/b.txt"
if build "$c" -t duplayer -o "type=local,dest=$WORK/duplayer" -o "type=tar,dest=$WORK/duplayer.tar"; then
	ok "an image holding the same layer twice builds (RUN and outputs mount it)"
	cfg=$(config duplayer)
	ids=$(jq -r '.rootfs.diff_ids[]' <<<"$cfg")
	is "$(sort <<<"$ids" | uniq -d | wc -l)" "2" "the image does hold two layers twice (the test is real)"
	is "$(cat "$WORK/duplayer/seen.txt" 2>/dev/null | tr '\n' ' ')" "A B " \
		"RUN sees the file deleted in between re-added and the changed one restored"
	is "$(cat "$WORK/duplayer/a.txt" "$WORK/duplayer/b.txt" 2>/dev/null | tr '\n' ' ')" "A B " "-o type=local has the right tree"
	is "$(owner "$WORK/duplayer.tar" a.txt | cut -d' ' -f1)" "0:0" "-o type=tar has the re-added file"
	is "$("$MOLT" run duplayer cat /a.txt /b.txt 2>&1 | tr '\n' ' ')" "A B " "molt run mounts it"
else
	failed_build "an image holding the same layer twice builds (RUN and outputs mount it)"
fi

# 5. A build whose export fails leaves no tag behind (tags move after the outputs).
c=$(ctx exportfail <<'EOF'
FROM busybox
RUN echo new > /new.txt
EOF
)
: >"$WORK/not-a-dir"
if build "$c" -t exportfail -o "type=local,dest=$WORK/not-a-dir/sub"; then
	not_ok "a build whose -o type=local cannot be written fails"
else
	ok "a build whose -o type=local cannot be written fails"
fi
molt_fails 1 "not found" "a build whose export failed did not tag its image" "$MOLT" inspect exportfail
if build "$c" -t exportfail && "$MOLT" inspect exportfail >/dev/null 2>&1; then
	ok "the same build without the bad output is tagged"
else
	failed_build "the same build without the bad output is tagged"
fi

# 6. ADD --chown=U:G of a local archive: the directories ADD creates and every entry
#    extracted get the owner (BuildKit).
c=$(ctx addchown <<'EOF'
FROM busybox
ADD --chown=1234:5678 t.tar /x/y/
EOF
)
mkdir -p "$c/src/d"
echo T >"$c/src/d/f.txt"
ln -s f.txt "$c/src/d/link"
tar -C "$c/src" --owner=7 --group=8 --numeric-owner -cf "$c/t.tar" d
rm -rf "$c/src"
if build "$c" -o "type=tar,dest=$WORK/addchown.tar"; then
	got=""
	for p in x x/y x/y/d x/y/d/f.txt x/y/d/link; do got="$got $(owner "$WORK/addchown.tar" $p | cut -d' ' -f1)"; done
	is "$got" " 1234:5678 1234:5678 1234:5678 1234:5678 1234:5678" \
		"ADD --chown: the created directories and every extracted entry (symlinks too) get the owner"
else
	failed_build "the ADD --chown build runs"
fi

# 7. COPY onto an existing symlink writes through it to its target, inside the rootfs
#    (BuildKit resolves the destination with RootPath, the last component too).
c=$(ctx copylink <<'EOF'
FROM busybox
RUN mkdir -p /data /outside && echo old > /data/target.txt && ln -s /data/target.txt /filelink && \
    ln -s data /dirlink && ln -s /data/new.txt /dangling && ln -s ../../data/rel.txt /data/rel-link
COPY a.txt /filelink
COPY a.txt /dirlink
COPY a.txt /dangling
COPY a.txt /data/rel-link
EOF
)
echo A >"$c/a.txt"
if build "$c" -o "type=tar,dest=$WORK/copylink.tar" -o "type=local,dest=$WORK/copylink"; then
	is "$(cat "$WORK/copylink/data/target.txt")" "A" "COPY onto a symlink to a file writes the target"
	ok_link=$(python3 -c 'import sys,tarfile; t=tarfile.open(sys.argv[1]); print(" ".join(t.getmember(n).linkname for n in ("filelink","dangling","data/rel-link")))' "$WORK/copylink.tar" 2>&1)
	is "$ok_link" "/data/target.txt /data/new.txt ../../data/rel.txt" "the symlinks stay symlinks"
	is "$(cat "$WORK/copylink/data/a.txt")" "A" "COPY onto a symlink to a directory copies into it"
	is "$(cat "$WORK/copylink/data/new.txt")" "A" "COPY onto a dangling symlink creates its target"
	is "$(cat "$WORK/copylink/data/rel.txt")" "A" "a relative link's '..' stays inside the rootfs"
else
	failed_build "the COPY onto symlinks build runs"
fi

# 8. FROM scratch: BuildKit's empty image has a default PATH and WorkingDir "/".
c=$(ctx scratch <<'EOF'
FROM scratch
COPY a.txt /
ENV SEEN=$PATH
EOF
)
echo A >"$c/a.txt"
if build "$c" -t scratchimg; then
	cfg=$(config scratchimg)
	is "$(jq -c '.config.Env' <<<"$cfg")" \
		'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","SEEN=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]' \
		"FROM scratch: Env has BuildKit's default PATH, and expansion sees it"
	is "$(jq -r '.config.WorkingDir' <<<"$cfg")" "/" "FROM scratch: WorkingDir is /"
else
	failed_build "the FROM scratch build runs"
fi

cleanup_work
done_testing
