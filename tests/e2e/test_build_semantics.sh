#!/usr/bin/env bash
# molt build: Dockerfile semantics where BuildKit's behaviour is the reference —
# expansion with the base image's config, heredoc bodies, tag names, and the rest of
# issue 5's list not covered by test_build.sh. Each case builds as the unprivileged
# test user on the busybox base and checks the config or the files of the result.
. "$(dirname "$0")/lib.sh"

export SOURCE_DATE_EPOCH=1700000000
load_busybox

failed_build() { not_ok "$1"; diag "$(tail -n 15 "$WORK/build.log")"; }

# 1. Expansion starts from the base image's config (as BuildKit): a first build gives
#    the busybox image an Env and a WorkingDir; a second one builds FROM it.
c=$(ctx envbase <<'EOF'
FROM busybox
ENV PATH=/opt/tools/bin:/usr/bin:/bin BASEVAR=from-base-env
WORKDIR /srv
ONBUILD ENV TRIGGERED=$BASEVAR
ONBUILD COPY a.txt /srv/$BASEVAR-onbuild.txt
EOF
)
build "$c" -t envbase || failed_build "the base image with an Env builds"
c=$(ctx envchild <<'EOF'
FROM envbase AS child
ARG BASEVAR=from-arg
ARG DECLARED
ENV PATH=/x:$PATH
ENV SEEN=$BASEVAR DECL=${DECLARED:-unset} UNDECL=${UNDECLARED:-unset}
WORKDIR sub
COPY a.txt ${BASEVAR}.txt
RUN echo "$PATH" > /run-path && pwd > /run-pwd

FROM child AS grandchild
ENV AGAIN=$SEEN:$PATH
EOF
)
echo A >"$c/a.txt"
if build "$c" -t envchild --build-arg DECLARED=given --build-arg UNDECLARED=nope -o "type=local,dest=$WORK/envchild"; then
	cfg=$(config envchild)
	env_of() { jq -r --arg k "$1" '.config.Env[] | select(startswith($k + "=")) | sub("^[^=]*="; "")' <<<"$cfg"; }
	is "$(env_of PATH)" "/x:/opt/tools/bin:/usr/bin:/bin" \
		"ENV PATH=/x:\$PATH expands \$PATH from the base image's Env (as BuildKit)"
	is "$(env_of SEEN)" "from-base-env" \
		"an Env inherited from the base image beats an ARG of the same name (as BuildKit: ENV overrides ARG)"
	is "$(env_of DECL)" "given" "--build-arg reaches a declared ARG"
	is "$(env_of UNDECL)" "unset" "--build-arg of an undeclared ARG is not visible to expansion (as BuildKit)"
	is "$(env_of AGAIN)" "from-base-env:/x:/opt/tools/bin:/usr/bin:/bin" \
		"a stage FROM an earlier stage expands with that stage's Env, base image's included"
	is "$(jq -r '.config.WorkingDir' <<<"$cfg")" "/srv/sub" \
		"a relative WORKDIR is resolved against the base image's WorkingDir (as BuildKit)"
	is "$(cat "$WORK/envchild/srv/sub/from-base-env.txt" 2>/dev/null)" "A" \
		"COPY's destination expands with the base image's Env"
	is "$(cat "$WORK/envchild/run-path")" "/x:/opt/tools/bin:/usr/bin:/bin" "RUN sees the expanded PATH"
	is "$(cat "$WORK/envchild/run-pwd")" "/srv/sub" "RUN runs in the resolved WORKDIR"
	is "$(env_of TRIGGERED)" "from-base-env" "an ONBUILD trigger expands with the base image's Env"
	is "$(cat "$WORK/envchild/srv/from-base-env-onbuild.txt" 2>/dev/null)" "A" \
		"an ONBUILD COPY expands its destination with the base image's Env"
else
	failed_build "a stage FROM an image with Env and WorkingDir builds"
fi

# A base image's SHELL applies to shell-form RUN in the child (as BuildKit).
c=$(ctx shellbase <<'EOF'
FROM busybox
SHELL ["/bin/sh", "-c", "echo shell-of-base > /which-shell; exec \"$@\"", "sh"]
EOF
)
build "$c" -t shellbase || failed_build "an image with a SHELL builds"
c=$(ctx shellchild <<'EOF'
FROM shellbase
RUN true
EOF
)
if build "$c" -o "type=local,dest=$WORK/shellchild"; then
	is "$(cat "$WORK/shellchild/which-shell" 2>/dev/null)" "shell-of-base" \
		"shell-form RUN uses the SHELL inherited from the base image (as BuildKit)"
else
	failed_build "a child of an image with a SHELL builds"
fi

# 2. Heredoc bodies: COPY/ADD expand unless the delimiter is quoted; quotes in the
#    body stay; RUN heredocs go to the shell as written (Dockerfile reference:
#    Here-Documents; BuildKit expands COPY bodies with SkipProcessQuotes).
c=$(ctx heredoc <<'DF'
FROM busybox
ARG NAME=world
ENV GREETING=hello
COPY <<EOF /unquoted.txt
$GREETING "${NAME}" 'single' \$escaped
EOF
COPY <<"EOF" /double-quoted.txt
$GREETING ${NAME}
EOF
COPY <<'EOF' /single-quoted.txt
$GREETING ${NAME}
EOF
ADD <<EOF /added.txt
added by ${NAME:-nobody}
EOF
RUN <<EOF
GREETING=shell-value
echo "$GREETING" > /run-heredoc.txt
EOF
DF
)
if build "$c" -o "type=local,dest=$WORK/heredoc"; then
	is "$(cat "$WORK/heredoc/unquoted.txt")" "hello \"world\" 'single' \$escaped" \
		"COPY <<EOF expands variables and keeps quotes (as BuildKit)"
	is "$(cat "$WORK/heredoc/double-quoted.txt")" "\$GREETING \${NAME}" "COPY <<\"EOF\" is not expanded (as BuildKit)"
	is "$(cat "$WORK/heredoc/single-quoted.txt")" "\$GREETING \${NAME}" "COPY <<'EOF' is not expanded (as BuildKit)"
	is "$(cat "$WORK/heredoc/added.txt")" "added by world" "ADD <<EOF expands variables (as BuildKit)"
	is "$(cat "$WORK/heredoc/run-heredoc.txt")" "shell-value" \
		"RUN <<EOF is passed to the shell unexpanded (the shell expands it, as BuildKit)"
else
	failed_build "heredoc Dockerfile builds"
fi

# 3. "naming to" prints the name exactly as the store keeps it (as BuildKit).
c=$(ctx naming <<'EOF'
FROM busybox
EOF
)
if build "$c" -t shortname -t example.org:5000/team/app:1.2; then
	like "$(cat "$WORK/build.log")" "naming to docker.io/library/shortname:latest" \
		"naming to prints the normalised name (as BuildKit)"
	like "$(cat "$WORK/build.log")" "naming to example.org:5000/team/app:1.2" \
		"naming to keeps a registry name with a port"
	stored=$(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty' "$MOLT_ROOT/index.json")
	like "$stored" "^docker.io/library/shortname:latest$" "the printed name is the name in the store's index"
else
	failed_build "a build with two tags"
fi
molt_fails 2 "invalid tag 'UPPER:case'" "an invalid -t name is a usage error before the build" \
	"$MOLT" build -t UPPER:case "$c"

# 4. FROM by digest: name@sha256:<manifest digest> picks that image; a digest the
#    store does not hold fails and names the reference.
mdigest=$(jq -r '.manifests[] | select((.annotations["org.opencontainers.image.ref.name"] // "") | test("busybox")) | .digest' "$MOLT_ROOT/index.json" | head -n 1)
c=$(ctx bydigest <<EOF
FROM busybox@$mdigest
RUN echo pinned > /pinned
EOF
)
if build "$c" -o "type=local,dest=$WORK/bydigest"; then
	is "$(cat "$WORK/bydigest/pinned")" "pinned" "FROM name@sha256:digest builds on that image"
else
	failed_build "FROM name@sha256:digest builds"
fi
c=$(ctx baddigest <<EOF
FROM busybox@sha256:$(printf '1%.0s' $(seq 64))
EOF
)
build_fails "$c" 1 "FROM with a digest the store does not hold fails" \
	"sha256:1111" "the error names the missing digest"

# 5. SHELL changes how later shell-form RUN, CMD and ENTRYPOINT run.
c=$(ctx shell <<'EOF'
FROM busybox
SHELL ["/bin/sh", "-c", "echo \"via custom shell: $0\" > /shell-used; exec /bin/sh -c \"$0\""]
RUN echo hi > /ran
CMD echo cmd
EOF
)
if build "$c" -t shelltest -o "type=local,dest=$WORK/shell"; then
	is "$(cat "$WORK/shell/shell-used")" "via custom shell: echo hi > /ran" "SHELL is used by a later shell-form RUN"
	is "$(cat "$WORK/shell/ran")" "hi" "the command still runs through the custom SHELL"
	is "$(config shelltest | jq -c '.config.Cmd[0:2]')" '["/bin/sh","-c"]' "shell-form CMD is stored with the SHELL prefix"
else
	failed_build "SHELL Dockerfile builds"
fi

# 6. Hardlinks survive COPY from the context and COPY --from; COPY --link gives a
#    layer with only the copied paths (as BuildKit).
c=$(ctx links <<'EOF'
FROM busybox AS src
RUN mkdir /made && echo x > /made/a && ln /made/a /made/b

FROM busybox
COPY tree /tree/
COPY --from=src /made /made/
COPY --link tree/one.txt /linked/
EOF
)
mkdir -p "$c/tree"; echo one >"$c/tree/one.txt"; ln "$c/tree/one.txt" "$c/tree/two.txt"
if build "$c" -t links -o "type=tar,dest=$WORK/links.tar"; then
	tv=$(tar -tvf "$WORK/links.tar" 2>/dev/null)
	like "$tv" "tree/two.txt link to \.?/?tree/one.txt" "COPY from the context keeps a hardlink as a hardlink"
	like "$tv" "made/b link to \.?/?made/a" "COPY --from keeps a hardlink as a hardlink"
	cfg=$(config links)
	last=$(jq -r '.rootfs.diff_ids[-1]' <<<"$cfg")
	d=$WORK/links-oci; rm -rf "$d"; mkdir -p "$d"; tar -xf "$WORK/save.tar" -C "$d"
	m=$(jq -r '.manifests[0].digest' "$d/index.json" | sed 's/sha256://')
	blob=$(jq -r '.layers[-1].digest' "$d/blobs/sha256/$m" | sed 's/sha256://')
	is "$(tar -tzf "$d/blobs/sha256/$blob" 2>/dev/null | sed 's|^\./||; s|/$||' | LC_ALL=C sort | tr '\n' ' ')" "linked linked/one.txt " \
		"COPY --link makes a layer of only the copied paths"
	like "$last" "^sha256:" "the --link layer is in the config"
else
	failed_build "hardlink Dockerfile builds"
fi

# COPY --link never reads the stage: a destination below a symlink of the stage
# becomes real directories (as BuildKit: "a path containing only directories"),
# where COPY without --link follows the symlink. --chown names still resolve.
c=$(ctx linksym <<'EOF'
FROM busybox
RUN mkdir /srv && ln -s /srv /app && ln -s /srv /app2
COPY --link one.txt /app/one.txt
COPY one.txt /app2/two.txt
COPY --link --chown=nobody:nobody one.txt /owned/
EOF
)
echo one >"$c/one.txt"
if build "$c" -o "type=tar,dest=$WORK/linksym.tar"; then
	tv=$(tar -tvf "$WORK/linksym.tar" --numeric-owner 2>/dev/null)
	like "$tv" "^d.* \.?/?app/?$" "COPY --link makes the destination's parent a directory, not the stage's symlink (as BuildKit)"
	like "$tv" " \.?/?app/one.txt$" "COPY --link puts the file under the new directory"
	like "$tv" "^l.* \.?/?app2 -> /srv$" "COPY without --link keeps the stage's symlink"
	like "$tv" " \.?/?srv/two.txt$" "COPY without --link follows the symlink"
	unlike "$tv" " \.?/?srv/one.txt$" "COPY --link writes nothing through the symlink"
	like "$tv" "65534/65534 .* \.?/?owned/one.txt$" "COPY --link --chown=name:group uses the stage's /etc/passwd"
else
	failed_build "COPY --link over a symlink builds"
fi

# 7. ADD extracts local tar.gz, tar.bz2, tar.xz and tar.zst archives; a file that
#    only looks like an archive by name is copied as it is.
mkdir -p "$WORK/pkg/pkg"; echo inside >"$WORK/pkg/pkg/file"
c=$(ctx addz <<'EOF'
FROM busybox
ADD a.tar.gz /gz/
ADD a.tar.bz2 /bz2/
ADD a.tar.xz /xz/
ADD a.tar.zst /zst/
ADD fake.tar.gz /fake/
EOF
)
tar -czf "$c/a.tar.gz" -C "$WORK/pkg" pkg
tar -cjf "$c/a.tar.bz2" -C "$WORK/pkg" pkg
tar -cJf "$c/a.tar.xz" -C "$WORK/pkg" pkg
tar -cf - -C "$WORK/pkg" pkg | zstd -q -o "$c/a.tar.zst"
echo "not an archive" >"$c/fake.tar.gz"
if build "$c" -o "type=local,dest=$WORK/addz"; then
	for z in gz bz2 xz zst; do
		is "$(cat "$WORK/addz/$z/pkg/file" 2>/dev/null)" "inside" "ADD extracts a local .tar.$z"
	done
	is "$(cat "$WORK/addz/fake/fake.tar.gz" 2>/dev/null)" "not an archive" "ADD copies a non-archive named .tar.gz as a file"
else
	failed_build "ADD archives Dockerfile builds"
fi

# 8. Sources outside the context are refused: a context symlink that points out is
#    followed inside the context only, and `COPY ../x` cannot leave it.
mkdir -p "$WORK/outside"; echo "host secret" >"$WORK/outside/secret.txt"
c=$(ctx escape1 <<'EOF'
FROM busybox
COPY out/secret.txt /leaked.txt
EOF
)
ln -s "$WORK/outside" "$c/out"
build "$c" -o "type=local,dest=$WORK/escape1"
is "$?" 1 "COPY through a context symlink pointing outside the context fails"
[ ! -e "$WORK/escape1/leaked.txt" ] && ok "nothing from outside the context is copied" || not_ok "nothing from outside the context is copied"
c=$(ctx escape2 <<'EOF'
FROM busybox
COPY ../../outside/secret.txt /leaked.txt
EOF
)
build "$c" -o "type=local,dest=$WORK/escape2"
is "$?" 1 "COPY ../x cannot reach outside the context"
unlike "$(cat "$WORK/escape2/leaked.txt" 2>/dev/null)" "host secret" "COPY ../x copies nothing from outside"
c=$(ctx escape3 <<'EOF'
FROM busybox
COPY . /ctx/
EOF
)
ln -s "$WORK/outside/secret.txt" "$c/link-out"
if build "$c" -o "type=local,dest=$WORK/escape3"; then
	is "$(readlink "$WORK/escape3/ctx/link-out")" "$WORK/outside/secret.txt" "COPY . keeps a symlink pointing out as a symlink"
	[ -L "$WORK/escape3/ctx/link-out" ] && ok "the symlink's target is not copied in its place" \
		|| not_ok "the symlink's target is not copied in its place"
else
	failed_build "COPY . with a symlink pointing out builds"
fi

# 9. Outputs: -o DIR alone is type=local; type=oci with a .tar dest is an OCI archive.
c=$(ctx outs <<'EOF'
FROM busybox
RUN echo out > /out
EOF
)
if build "$c" -o "$WORK/plain-dir" -o "type=oci,dest=$WORK/oci.tar"; then
	is "$(cat "$WORK/plain-dir/out" 2>/dev/null)" "out" "-o DIR writes the rootfs into DIR (type=local)"
	like "$(tar -tf "$WORK/oci.tar" 2>/dev/null | tr '\n' ' ')" "oci-layout.*index.json|index.json.*oci-layout" \
		"type=oci,dest=X.tar writes an OCI layout as a tar"
	check "skopeo reads the OCI archive" skopeo inspect "oci-archive:$WORK/oci.tar"
else
	failed_build "outputs build"
fi

# 10. --progress: tty draws with escape sequences even into a file; auto into a file
#     is plain; quiet prints only the image ID on stdout.
if "$MOLT" build --progress tty "$c" >"$WORK/tty.out" 2>"$WORK/tty.log"; then
	grep -q $'\033\\[' "$WORK/tty.log" && ok "--progress tty draws with terminal escape sequences" \
		|| not_ok "--progress tty draws with terminal escape sequences"
	"$MOLT" build --progress auto "$c" >/dev/null 2>"$WORK/auto.log"
	grep -q $'\033' "$WORK/auto.log" && not_ok "--progress auto into a file is plain text" \
		|| ok "--progress auto into a file is plain text"
	like "$(cat "$WORK/auto.log")" "^#[0-9]+ " "--progress auto into a file uses the plain step lines"
	out=$("$MOLT" build --progress quiet "$c" 2>"$WORK/quiet.log")
	like "$out" "^sha256:[0-9a-f]{64}$" "--progress quiet prints the image ID on stdout"
	is "$(grep -c '^#' "$WORK/quiet.log")" 0 "--progress quiet prints no step lines"
else
	failed_build "--progress tty build"
fi

# 11. A failing RUN names the step, the command, the exit status and shows the last
#     20 lines of the output (not more).
c=$(ctx failing <<'EOF'
FROM busybox
RUN echo fine
RUN i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo out-line-$i; done; exit 7
EOF
)
build "$c"
is "$?" 1 "a failing RUN exits 1"
log=$(cat "$WORK/build.log")
like "$log" "Dockerfile:3: RUN" "the failure names the Dockerfile line and instruction"
like "$log" "while \[ \\\$i -lt 40 \]" "the failure shows the command"
like "$log" "exit code: 7" "the failure gives the exit status"
tail_part=$(sed -n '/last lines/,$p' "$WORK/build.log")
like "$tail_part" "out-line-40" "the failure repeats the last line of output"
like "$tail_part" "out-line-21" "the failure repeats 20 lines"
unlike "$tail_part" "out-line-20$" "the failure does not repeat a 21st line"

done_testing
