#!/usr/bin/env bash
# molt build --explain-cache: one line under each step that missed the cache naming the
# input that changed (runner/executor/cache_explain.c), nothing for a hit, never the
# value of a build arg or ENV.
. "$(dirname "$0")/lib.sh"

unset SOURCE_DATE_EPOCH
load_busybox

# xbuild CTX ARGS...: a build with --explain-cache (plain progress in $WORK/build.log).
xbuild() { local c=$1; shift; build "$c" --explain-cache "$@"; }

# why TEXT: the explanation printed under the step whose title contains TEXT.
why() {
	awk -v t="$1" '
		index($0, t) && $2 ~ /^\[/ { id = $1 }
		id != "" && $1 == id && $2 == "cache" && $3 == "miss:" { sub(/^#[0-9]+ cache miss: /, ""); print; exit }
	' "$WORK/build.log"
}
n_misses() { grep -c '^#[0-9]* cache miss: ' "$WORK/build.log"; }
fail_diag() { diag "$(tail -n 20 "$WORK/build.log")"; }

# 1. A first build, then an identical one.
c=$(ctx files <<'EOF'
FROM busybox
COPY src/ /app/
RUN cat /app/main.c > /out
EOF
)
mkdir -p "$c/src"; echo 'int main(){}' >"$c/src/main.c"; echo '#define X' >"$c/src/util.h"
chmod 644 "$c/src/main.c" "$c/src/util.h"
if xbuild "$c"; then
	is "$(why 'COPY src/')" "COPY src/ /app/: no previous build of this step" \
		"a first build: 'no previous build of this step'"
	is "$(why 'RUN cat')" "RUN cat /app/main.c > /out: no previous build of this step" \
		"a first build: every layer step says so"
else not_ok "a first build"; fail_diag; fi
xbuild "$c" && is "$(n_misses)" 0 "a build whose every step hits prints no explanation" ||
	{ not_ok "a cached rebuild"; fail_diag; }
build "$c" >/dev/null; echo 'int main(){return 1;}' >"$c/src/main.c"
build "$c" && is "$(n_misses)" 0 "without --explain-cache nothing is explained" ||
	{ not_ok "a build without --explain-cache"; fail_diag; }

echo 'int main(){return 3;}' >"$c/src/main.c"
err=$("$MOLT" build --progress quiet --explain-cache "$c" 2>&1 >/dev/null)
like "$err" "^cache miss: COPY src/ /app/: file 'src/main.c' changed \(content\)" \
	"--progress quiet still prints what --explain-cache asked for (without step numbers)"

# 2. Context files: changed content, added, removed, changed mode; and the step after.
echo 'int main(){return 2;}' >"$c/src/main.c"
if xbuild "$c"; then
	is "$(why 'COPY src/')" "COPY src/ /app/: file 'src/main.c' changed (content)" \
		"a changed file is named, with what changed (content)"
	is "$(why 'RUN cat')" "RUN cat /app/main.c > /out: the step before ('COPY src/ /app/') made a new layer" \
		"the step after it: its parent layer changed"
else not_ok "a build after a content change"; fail_diag; fi
echo new >"$c/src/new.h"
xbuild "$c" && is "$(why 'COPY src/')" "COPY src/ /app/: file 'src/new.h' added" \
	"an added file is named" || { not_ok "a build after adding a file"; fail_diag; }
rm "$c/src/util.h"
xbuild "$c" && is "$(why 'COPY src/')" "COPY src/ /app/: file 'src/util.h' removed" \
	"a removed file is named" || { not_ok "a build after removing a file"; fail_diag; }
chmod 755 "$c/src/main.c"
xbuild "$c" && is "$(why 'COPY src/')" "COPY src/ /app/: file 'src/main.c' changed (mode 644 → 755)" \
	"a changed mode is named with both modes" || { not_ok "a build after chmod"; fail_diag; }
for i in 1 2 3 4 5; do echo "$i" >"$c/src/more$i"; done
xbuild "$c" && like "$(why 'COPY src/')" "file 'src/more1' added; file 'src/more2' added; file 'src/more3' added; and 2 more files$" \
	"many changed files: the first three, then a count" || { not_ok "a build after adding five files"; fail_diag; }

# 3. Build args and ENV: named, their values never printed (a token).
c=$(ctx args <<'EOF'
FROM busybox
ARG TOKEN
ARG VERSION=1
ENV MODE=a
RUN echo built > /x
EOF
)
xbuild "$c" --build-arg TOKEN=hunter2-first-secret || { not_ok "build with a token"; fail_diag; }
if xbuild "$c" --build-arg TOKEN=hunter2-second-secret; then
	is "$(why 'RUN echo built')" "RUN echo built > /x: build arg 'TOKEN' changed" \
		"a changed build arg is named"
	unlike "$(cat "$WORK/build.log")" "hunter2" "neither the old nor the new value of a build arg is printed"
else not_ok "a build with another token"; fail_diag; fi
xbuild "$c" --build-arg TOKEN=hunter2-second-secret --build-arg VERSION=2 &&
	is "$(why 'RUN echo built')" "RUN echo built > /x: build arg 'VERSION' changed" \
		"only the build arg that changed is named" || { not_ok "a build with VERSION=2"; fail_diag; }
xbuild "$c" --build-arg VERSION=2 &&
	is "$(why 'RUN echo built')" "RUN echo built > /x: build arg 'TOKEN' removed" \
		"a build arg no longer given: removed" || { not_ok "a build without TOKEN"; fail_diag; }
sed -i 's/ENV MODE=a/ENV MODE=b/' "$c/Dockerfile"
xbuild "$c" --build-arg VERSION=2 &&
	is "$(why 'RUN echo built')" "RUN echo built > /x: ENV 'MODE' changed" \
		"a changed ENV value is named (not printed)" || { not_ok "a build with MODE=b"; fail_diag; }
grep -rq hunter2 "$MOLT_ROOT/cache" && not_ok "no build arg value is stored in the cache's records" ||
	ok "no build arg value is stored in the cache's records"

# 4. The instruction's text, and flags whose values come from build args.
c=$(ctx flags <<'EOF'
FROM busybox
ARG MODE=600
ARG OWNER=1:1
ARG CDIR=/c1
COPY --chmod=$MODE --chown=$OWNER a.txt /a.txt
RUN --mount=type=cache,target=$CDIR true
EOF
)
echo a >"$c/a.txt"
xbuild "$c" || { not_ok "build with flags"; fail_diag; }
xbuild "$c" --build-arg MODE=640 &&
	is "$(why 'COPY --chmod')" 'COPY --chmod=$MODE --chown=$OWNER a.txt /a.txt: --chmod changed' \
		"a flag whose expanded value changed is named (--chmod)" || { not_ok "a build with MODE=640"; fail_diag; }
xbuild "$c" --build-arg MODE=640 --build-arg OWNER=2:2 &&
	is "$(why 'COPY --chmod')" 'COPY --chmod=$MODE --chown=$OWNER a.txt /a.txt: --chown changed' \
		"--chown" || { not_ok "a build with OWNER=2:2"; fail_diag; }
if xbuild "$c" --build-arg MODE=640 --build-arg OWNER=2:2 --build-arg CDIR=/c2; then
	is "$(why 'RUN --mount')" 'RUN --mount=type=cache,target=$CDIR true: --mount changed; build arg '"'CDIR'"' changed' \
		"mount options (and the build arg RUN sees)"
	is "$(why 'COPY --chmod')" "" "a step that hit prints nothing"
else not_ok "a build with CDIR=/c2"; fail_diag; fi
sed -i 's/^COPY --chmod=$MODE --chown=$OWNER/COPY --link --chmod=$MODE --chown=$OWNER/' "$c/Dockerfile"
xbuild "$c" --build-arg MODE=640 --build-arg OWNER=2:2 --build-arg CDIR=/c2 &&
	is "$(why 'COPY --link')" 'COPY --link --chmod=$MODE --chown=$OWNER a.txt /a.txt: instruction changed: '"'"'COPY --chmod=$MODE --chown=$OWNER a.txt /a.txt'"'"' → '"'"'COPY --link --chmod=$MODE --chown=$OWNER a.txt /a.txt'"'" \
		"a changed instruction shows the old and the new text (--link)" || { not_ok "a build with --link"; fail_diag; }

# 5. The base image's digest, old → new; a base stage; --from.
"$MOLT" tag busybox base-x >/dev/null 2>&1 || not_ok "tag busybox base-x"
c=$(ctx base <<'EOF'
FROM base-x AS one
COPY f /f
FROM busybox
COPY --from=one /f /g
EOF
)
echo f >"$c/f"
xbuild "$c" || { not_ok "build on base-x"; fail_diag; }
o=$(ctx other <<'EOF'
FROM busybox
RUN echo other > /o
EOF
)
build "$o" -t base-x || { not_ok "make another base-x"; fail_diag; }
if xbuild "$c"; then
	like "$(why 'COPY f /f')" "^COPY f /f: base image 'base-x' changed: sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}$" \
		"a new base image: its digest, old → new"
	like "$(why 'COPY --from=one')" "^COPY --from=one /f /g: --from stage 'one' changed$" \
		"COPY --from a stage that changed"
else not_ok "a build on the new base-x"; fail_diag; fi

# 6. The platform (FROM scratch: its state is the platform).
c=$(ctx plat <<'EOF'
FROM scratch
COPY p /p
EOF
)
echo p >"$c/p"
xbuild "$c" --platform linux/amd64 || { not_ok "a scratch build for linux/amd64"; fail_diag; }
xbuild "$c" --platform linux/arm64 &&
	is "$(why 'COPY p')" "COPY p /p: platform changed: linux/amd64 → linux/arm64" \
		"another platform" || { not_ok "a scratch build for linux/arm64"; fail_diag; }

# 7. Settings in effect (their values are in the image config, so they are shown).
u=$(ctx user <<'EOF2'
FROM busybox
USER 1000
RUN id -u > /tmp/id
EOF2
)
xbuild "$u" || { not_ok "a build as USER 1000"; fail_diag; }
sed -i 's/^USER 1000/USER 1001/' "$u/Dockerfile"
xbuild "$u" && is "$(why 'RUN id')" "RUN id -u > /tmp/id: USER changed: '1000' → '1001'" \
	"USER: old → new" || { not_ok "a build as USER 1001"; fail_diag; }

# 8. --no-cache says so; a lost layer says so.
xbuild "$c" --platform linux/arm64 --no-cache &&
	is "$(why 'COPY p')" "COPY p /p: --no-cache" "--no-cache is the reason" ||
	{ not_ok "a --no-cache build"; fail_diag; }
key=$(jq -r 'select(.instruction == "COPY p /p" and .platform == "linux/arm64") | .key' \
	"$MOLT_ROOT"/cache/inputs/* | head -n 1)
blob=$(jq -r '.layer.digest' "$MOLT_ROOT/cache/sha256/${key#sha256:}")
rm -f "$MOLT_ROOT/blobs/sha256/${blob#sha256:}"
xbuild "$c" --platform linux/arm64 && like "$(cat "$WORK/build.log")" "cache miss: .*its cache entry was dropped" \
	"an entry whose blob went missing: 'its cache entry was dropped'" || { not_ok "a build after losing a blob"; fail_diag; }

done_testing
