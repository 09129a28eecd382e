#!/usr/bin/env bash
# molt build: Dockerfile semantics where BuildKit's behaviour is the reference —
# expansion with the base image's config, heredoc bodies, tag names, and the rest of
# issue 5's list not covered by test_build.sh. Each case builds as the unprivileged
# test user on the busybox base and checks the config or the files of the result.
. "$(dirname "$0")/lib.sh"

export SOURCE_DATE_EPOCH=1700000000
"$MOLT" load -i "$FIXTURES/busybox/oci" >/dev/null 2>&1 || { not_ok "load the busybox base"; done_testing; exit 1; }

# ctx NAME: a fresh build context; the Dockerfile comes on stdin.
ctx() {
	local d=$WORK/ctx/$1
	rm -rf "$d"; mkdir -p "$d"
	cat >"$d/Dockerfile"
	printf '%s' "$d"
}

# build CTX ARGS...: molt build with plain progress, output in $WORK/build.log.
build() {
	local c=$1; shift
	"$MOLT" build --progress plain "$@" "$c" >"$WORK/build.out" 2>"$WORK/build.log"
}

# config IMAGE: the image's OCI config JSON, read from `molt save --format oci`.
config() {
	local t=$WORK/save.tar d=$WORK/save
	rm -rf "$t" "$d"; mkdir -p "$d"
	"$MOLT" save --format oci -o "$t" "$1" >/dev/null 2>&1 || return 1
	tar -xf "$t" -C "$d" || return 1
	local m c
	m=$(jq -r '.manifests[0].digest' "$d/index.json" | sed 's/sha256://')
	c=$(jq -r '.config.digest' "$d/blobs/sha256/$m" | sed 's/sha256://')
	cat "$d/blobs/sha256/$c"
}

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

done_testing
