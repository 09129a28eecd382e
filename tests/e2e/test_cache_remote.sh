#!/usr/bin/env bash
# The shared build cache (--cache-to / --cache-from, issue #11) on a local registry with
# TLS and a password: a store exports, an empty store elsewhere (another MOLT_ROOT, HOME
# and context path) imports and runs no step; mode=min against max; an OCI layout
# directory; inline cache in a pushed image; only the layers of hits are fetched; a
# corrupted cache manifest and a missing layer blob are misses with one warning; two
# exports to one ref at once leave a cache whose blobs are all there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry_lib.sh"
reg_require
command -v jq >/dev/null || { skip "jq is not installed"; done_testing; exit; }
unset SOURCE_DATE_EPOCH

if ! reg_start --tls --htpasswd; then
	not_ok "the registry starts"; done_testing; exit
fi
reg_molt_env
reg_auth_file "$REG_USER" "$REG_PASS"
R=$REG_HOST

# in_store NAME CMD...: CMD with store, HOME and scratch of their own (another machine).
in_store() {
	local n=$1; shift
	mkdir -p "$WORK/home-$n"
	MOLT_ROOT=$WORK/store-$n HOME=$WORK/home-$n "$@"
}
# mb NAME CTX ARGS...: molt build in store NAME; stdout+stderr in $WORK/NAME.log.
mb() {
	local n=$1 c=$2; shift 2
	in_store "$n" "$MOLT" build --progress plain "$@" "$c" >"$WORK/$n.log" 2>&1
}
# mb_ok WHAT NAME CTX ARGS...: mb that must succeed, as the TAP line WHAT.
mb_ok() {
	local what=$1; shift
	if mb "$@"; then
		ok "$what"
	else
		not_ok "$what"; diag "$(tail -n 20 "$WORK/$1.log")"
	fi
}
fresh() { in_store "$1" "$MOLT" load -i "$FIXTURES/busybox/oci" >/dev/null 2>&1; }
# status NAME TEXT / statuses NAME TEXT...: how steps ended in store NAME's last build.
status() { step_status "$WORK/$1.log" "$2"; }
statuses() { local n=$1; shift; step_statuses "$WORK/$n.log" "$@"; }
rcurl() { curl -s --cacert "$REG_CA" -u "$REG_USER:$REG_PASS" "$@"; }
# layers REPO TAG: the layer digests a cache index names.
index_layers() {
	rcurl -H 'Accept: application/vnd.oci.image.index.v1+json' "$REG_URL/v2/$1/manifests/$2" |
		jq -r '.manifests[] | select(.mediaType != "application/vnd.molt.cache.config.v1+json") | .digest'
}
in_blobs() { [ -f "$WORK/store-$1/blobs/sha256/${2#sha256:}" ]; }
n_warnings() { grep -c '^molt: warning' "$WORK/$1.log"; }

# A two-stage build; every RUN writes a random marker, so a step that ran again shows.
mkctx() {
	local d=$1
	mkdir -p "$d"
	cat >"$d/Dockerfile" <<-'EOF'
	FROM busybox AS builder
	RUN head -c16 /dev/urandom | od -An -tx1 > /builder-marker
	COPY app.txt /app.txt
	RUN cat /builder-marker /app.txt > /out && head -c16 /dev/urandom | od -An -tx1 >> /out
	FROM busybox
	RUN head -c16 /dev/urandom | od -An -tx1 > /final-marker
	COPY --from=builder /out /out
	EOF
	echo "app ${2:-1}" >"$d/app.txt"
}
mkctx "$WORK/a/ctx"
mkctx "$WORK/elsewhere/deep/b-context"

# 1. Store A exports mode=max; an empty store B with another HOME, MOLT_ROOT and
#    context path imports it and runs nothing.
fresh A
mb_ok "store A builds and exports the cache (mode=max)" \
	A "$WORK/a/ctx" --iidfile "$WORK/iid-A" -o "type=local,dest=$WORK/out-A" \
	--cache-to "type=registry,ref=$R/cache/app:max,mode=max"
like "$(grep 'exporting the build cache' "$WORK/A.log")" "5 steps, mode=max" "mode=max exports both stages' 5 layer steps"
fresh B
mb_ok "store B builds with --cache-from" \
	B "$WORK/elsewhere/deep/b-context" --iidfile "$WORK/iid-B" -o "type=local,dest=$WORK/out-B" \
	--cache-from "type=registry,ref=$R/cache/app:max"
is "$(statuses B 'builder-marker' 'COPY app.txt' 'cat /builder-marker' 'final-marker' 'COPY --from')" \
	"CACHED CACHED CACHED CACHED CACHED" "store B: every step of both stages comes from the shared cache"
is "$(cat "$WORK/out-B/final-marker")" "$(cat "$WORK/out-A/final-marker")" "store B ran no RUN (same random marker as A's)"
is "$(cat "$WORK/out-B/out")" "$(cat "$WORK/out-A/out")" "the builder stage's output is A's"
is "$(cat "$WORK/iid-B")" "$(cat "$WORK/iid-A")" "store B's image ID is store A's"
is "$(n_warnings B)" 0 "an import that hits says no warning"
# Hits are lazy: the builder's layers were never needed (the final stage's COPY --from
# hit too), so B fetched only the final image's layers...
is "$(for d in $(index_layers cache/app max); do in_blobs B "$d" && echo y; done | wc -l)" 2 \
	"only the final image's 2 layer blobs were fetched, none of the builder's"
# ...and those are in B's local cache afterwards: without the registry, the builder
# runs again but the final stage's RUN still hits.
mb B "$WORK/elsewhere/deep/b-context"
is "$(statuses B 'builder-marker' 'final-marker')" "DONE CACHED" "fetched entries are in B's local cache afterwards"

# A store that imported lazily exports the whole cache elsewhere: the blobs it never
# fetched come from the source then (here mounted across repositories), and a third
# empty store hits every step from the copy.
fresh B2
mb B2 "$WORK/elsewhere/deep/b-context" --cache-from "type=registry,ref=$R/cache/app:max" \
	--cache-to "type=registry,ref=$R/cache/copy:1,mode=max"
like "$(grep 'exporting the build cache' "$WORK/B2.log")" "5 steps, mode=max" \
	"a store with lazy hits exports all 5 steps"
fresh B3
mb B3 "$WORK/a/ctx" --iidfile "$WORK/iid-B3" --cache-from "type=registry,ref=$R/cache/copy:1"
is "$(statuses B3 'builder-marker' 'cat /builder-marker' 'final-marker' 'COPY --from')/$(cat "$WORK/iid-B3")" \
	"CACHED CACHED CACHED CACHED/$(cat "$WORK/iid-A")" "and the copy serves a third store (A's image ID)"

# 2. Only the layers of steps that hit are fetched: with another app.txt, the builder's
#    COPY and what follows it miss, and their layers stay in the registry.
mkctx "$WORK/c/ctx" 2
fresh C
mb C "$WORK/c/ctx" --cache-from "type=registry,ref=$R/cache/app:max"
is "$(statuses C 'builder-marker' 'COPY app.txt' 'cat /builder-marker' 'final-marker')" \
	"CACHED DONE DONE CACHED" "a changed context file: the hits before it and in the other stage remain"
fetched=0 total=0
for d in $(index_layers cache/app max); do
	total=$((total + 1)); in_blobs C "$d" && fetched=$((fetched + 1))
done
is "$fetched/$total" "2/4" "only the 2 layers of the steps that hit were fetched (of 4 blobs: COPY --from made the same blob as the RUN it copies)"

# 3. mode=min exports the final stage's steps only: the builder runs again.
mb A "$WORK/a/ctx" --cache-to "type=registry,ref=$R/cache/app:min"
like "$(grep 'exporting the build cache' "$WORK/A.log")" "2 steps, mode=min" "mode=min exports the final stage's 2 steps"
fresh D
mb D "$WORK/elsewhere/deep/b-context" -o "type=local,dest=$WORK/out-D" \
	--cache-from "type=registry,ref=$R/cache/app:min"
is "$(statuses D 'builder-marker' 'cat /builder-marker' 'final-marker')" "DONE DONE CACHED" \
	"mode=min: the builder stage's steps miss, the final stage's RUN hits"
is "$(cat "$WORK/out-D/final-marker")" "$(cat "$WORK/out-A/final-marker")" "mode=min: the final RUN's marker is A's"

# 4. An OCI layout directory (a CI system's cached directory).
mb A "$WORK/a/ctx" --cache-to "type=local,dest=$WORK/cachedir,mode=max"
[ -f "$WORK/cachedir/index.json" ] && [ -f "$WORK/cachedir/oci-layout" ] &&
	ok "type=local writes an OCI layout" || not_ok "type=local writes an OCI layout"
fresh E
mb E "$WORK/elsewhere/deep/b-context" --iidfile "$WORK/iid-E" -o "type=tar,dest=$WORK/E.tar" \
	--cache-from "type=local,src=$WORK/cachedir"
like "$(tar -tf "$WORK/E.tar" 2>&1 | grep -cE '^(\./)?(final-marker|out|bin/busybox)$')" "^3$" \
	"-o type=tar after lazy hits has the base's and the cached layers' files"
is "$(cat "$WORK/iid-E")" "$(cat "$WORK/iid-A")" "a local-directory round trip gives A's image ID"
is "$(statuses E 'builder-marker' 'final-marker' 'COPY --from')" "CACHED CACHED CACHED" "and runs no step"

# 5. Inline cache: the records ride in the pushed image's manifest.
mkdir -p "$WORK/inl"
printf 'FROM busybox\nRUN head -c16 /dev/urandom | od -An -tx1 > /m\nCOPY app.txt /app.txt\n' \
	>"$WORK/inl/Dockerfile"
echo inline >"$WORK/inl/app.txt"
cp -r "$WORK/inl" "$WORK/elsewhere/inl2"
mb_ok "a push with --cache-to type=inline" \
	A "$WORK/inl" --iidfile "$WORK/iid-I" --push -t "$R/app/inline:1" --cache-to type=inline
ann=$(rcurl -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$REG_URL/v2/app/inline/manifests/1" |
	jq -r '.annotations["dev.molt.cache.inline.v1"]' | jq -r '.records | length')
is "$ann" 2 "the pushed manifest carries the 2 steps' records"
fresh F
mb F "$WORK/elsewhere/inl2" --iidfile "$WORK/iid-F" --cache-from "$R/app/inline:1"
is "$(statuses F 'urandom' 'COPY app.txt')" "CACHED CACHED" "an image with inline cache is a cache source"
is "$(cat "$WORK/iid-F")" "$(cat "$WORK/iid-I")" "the inline round trip gives the same image ID"
molt_fails 2 "type=inline goes into a pushed image" "type=inline without --push is a usage error" \
	"$MOLT" build --cache-to type=inline "$WORK/inl"
molt_fails 2 "mode is min or max" "a bad mode is a usage error" \
	"$MOLT" build --cache-to "type=registry,ref=$R/x:y,mode=all" "$WORK/inl"

# 6. A corrupted cache manifest (the registry serves other bytes than its digest): a
#    miss with one warning, never a failed build.
idx=$(rcurl -sI -H 'Accept: application/vnd.oci.image.index.v1+json' "$REG_URL/v2/cache/app/manifests/max" |
	tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
data=$(find "$REG_INST/storage" -path "*/blobs/sha256/*/${idx#sha256:}/data")
if [ -n "$idx" ] && [ -f "$data" ]; then
	cp "$data" "$WORK/index.saved"
	sed 's/"schemaVersion"/"schemaVersioN"/' "$WORK/index.saved" >"$data"
	fresh G
	mb_ok "a corrupted cache manifest does not fail the build" \
		G "$WORK/elsewhere/deep/b-context" --cache-from "type=registry,ref=$R/cache/app:max"
	is "$(statuses G 'builder-marker' 'final-marker')" "DONE DONE" "a corrupted cache manifest is a miss"
	is "$(n_warnings G)" 1 "with one warning"
	diag "$(grep warning "$WORK/G.log")"
	like "$(grep warning "$WORK/G.log")" "cache/app:max.*digest" "the warning names the cache and the digest"
	cp "$WORK/index.saved" "$data"
else
	not_ok "found the cache index in the registry's storage"
fi
# The same in a local layout: index.json pointing at garbage.
cp -r "$WORK/cachedir" "$WORK/badcache"
ih=$(jq -r '.manifests[0].digest' "$WORK/badcache/index.json"); ih=${ih#sha256:}
echo '{"schemaVersion":2}' >"$WORK/badcache/blobs/sha256/$ih"
fresh H
mb H "$WORK/elsewhere/deep/b-context" --cache-from "type=local,src=$WORK/badcache"
is "$(statuses H 'builder-marker')/$(n_warnings H)" "DONE/1" "a corrupted local cache index: a miss with one warning"

# 7. A missing layer blob: that step runs, with one warning; the others still hit.
cp -r "$WORK/cachedir" "$WORK/holey"
idxd=$(jq -r '.manifests[0].digest' "$WORK/holey/index.json")
recd=$(jq -r '.manifests[-1].digest' "$WORK/holey/blobs/sha256/${idxd#sha256:}")
final_layer=$(jq -r '.records[] | select(.history.created_by | test("final-marker")) | .layer.digest' \
	"$WORK/holey/blobs/sha256/${recd#sha256:}")
rm -f "$WORK/holey/blobs/sha256/${final_layer#sha256:}"
fresh J
mb_ok "a missing layer blob does not fail the build" \
	J "$WORK/elsewhere/deep/b-context" -o "type=local,dest=$WORK/out-J" \
	--cache-from "type=local,src=$WORK/holey"
is "$(statuses J 'builder-marker' 'final-marker')" "CACHED DONE" "the step whose blob is missing runs; others hit"
is "$(n_warnings J)" 1 "one warning for the missing blob"
diag "$(grep warning "$WORK/J.log")"
unlike "$(cat "$WORK/out-J/final-marker")" "^$(cat "$WORK/out-A/final-marker")\$" "the rerun step made its own layer"
# A blob whose bytes are not its digest is found when the layer is fetched (lazily,
# after its step was taken as a hit): the build fails with the blob named, never uses it.
cp -r "$WORK/cachedir" "$WORK/rotten"
head -c "$(stat -c %s "$WORK/rotten/blobs/sha256/${final_layer#sha256:}")" /dev/zero \
	>"$WORK/rotten/blobs/sha256/${final_layer#sha256:}"
fresh L
molt_fails 1 "build cache .*rotten.*layer sha256:${final_layer:7:12}" \
	"a layer blob with other bytes fails the build, naming the cache and the blob" \
	in_store L "$MOLT" build --progress plain -t rotten --cache-from "type=local,src=$WORK/rotten" \
	"$WORK/elsewhere/deep/b-context"
molt_fails 1 "not found|unknown|no such" "and names nothing in the store" in_store L "$MOLT" inspect rotten
# And in the registry: the blob deleted there.
rcurl -X DELETE -o /dev/null "$REG_URL/v2/cache/app/blobs/$final_layer"
fresh K
mb K "$WORK/elsewhere/deep/b-context" --cache-from "type=registry,ref=$R/cache/app:max"
is "$(statuses K 'builder-marker' 'final-marker')/$(n_warnings K)" "CACHED DONE/1" \
	"a layer blob missing from the registry: a miss with one warning"
diag "$(grep warning "$WORK/K.log" "$WORK/H.log")"

# 8. Two exports to one ref at once: whichever index wins names only blobs that exist.
mkctx "$WORK/x/ctx" x; mkctx "$WORK/y/ctx" y
fresh X; fresh Y
mb X "$WORK/x/ctx" --cache-to "type=registry,ref=$R/cache/race:1,mode=max" &
px=$!
mb Y "$WORK/y/ctx" --cache-to "type=registry,ref=$R/cache/race:1,mode=max" &
py=$!
wait $px; rx=$?; wait $py; ry=$?
is "$rx/$ry" "0/0" "two builds export to the same ref at once"
missing=0 n=0
for d in $(index_layers cache/race 1); do
	n=$((n + 1))
	code=$(rcurl -o /dev/null -w '%{http_code}' -I "$REG_URL/v2/cache/race/blobs/$d")
	[ "$code" = 200 ] || missing=$((missing + 1))
done
is "$n/$missing" "4/0" "the index that won names its 4 layer blobs, none missing"
fresh Z
mb Z "$WORK/x/ctx" --cache-from "type=registry,ref=$R/cache/race:1"
hx=$(statuses Z 'COPY app.txt' 'cat /builder-marker')
mb Z "$WORK/y/ctx" --cache-from "type=registry,ref=$R/cache/race:1"
hy=$(statuses Z 'COPY app.txt' 'cat /builder-marker')
like "$hx/$hy" "^(CACHED CACHED/DONE DONE|DONE DONE/CACHED CACHED)$" "the cache left is one whole export: the winner's steps hit"

# 9. Layers are shared with what the registry has: a cache exported after the image was
#    pushed mounts the image's layers (no upload); a second export uploads nothing.
fresh M
mb M "$WORK/a/ctx" --push -t "$R/app/img:1" --cache-to "type=registry,ref=$R/cache/shared:1,mode=max"
is "$(grep -c 'mounted from app/img' "$WORK/M.log")" 2 \
	"the cache export mounts the 2 layers the pushed image has from its repository"
mb M "$WORK/a/ctx" --cache-to "type=registry,ref=$R/cache/shared:1,mode=max"
is "$(grep -c 'skipped: already exists' "$WORK/M.log")/$(grep -c 'Copying blob .* done' "$WORK/M.log")" "5/0" \
	"exporting again sends none of its 5 blobs (4 layers, the records): the registry has them"

# 10. Keys hold no proxy (nor its password): runners behind other proxies share entries,
#     and nothing exported carries the proxy's credentials.
mkdir -p "$WORK/px" "$WORK/elsewhere/px2"
printf 'FROM busybox\nARG HTTP_PROXY\nRUN head -c16 /dev/urandom | od -An -tx1 > /m\n' >"$WORK/px/Dockerfile"
cp "$WORK/px/Dockerfile" "$WORK/elsewhere/px2/"
mb A "$WORK/px" --build-arg HTTP_PROXY=http://alice:s3cret@proxy-a.invalid:3128 \
	--cache-to "type=local,dest=$WORK/pxcache"
fresh P
mb P "$WORK/elsewhere/px2" --build-arg HTTP_PROXY=http://bob:hunter2@proxy-b.invalid:8080 \
	--cache-from "type=local,src=$WORK/pxcache"
is "$(statuses P 'urandom')" CACHED "a RUN hits across runners with other HTTP_PROXY values"
if grep -rq s3cret "$WORK/pxcache"; then not_ok "the exported cache holds no proxy password"
else ok "the exported cache holds no proxy password"; fi

# 11. The GitLab CI example as it is, run as two jobs on two "runners" (other users'
#     homes, checkouts and stores): the second job runs no step and pushes.
if python3 -c 'import yaml' 2>/dev/null; then
	mkdir -p "$WORK/bin"; ln -sf "$MOLT" "$WORK/bin/molt"
	python3 - "$STAGE/examples/ci/gitlab-ci.yml" >"$WORK/gitlab-job.sh" <<-'EOF'
	import sys, yaml
	d = yaml.safe_load(open(sys.argv[1]))
	for k, v in d["variables"].items():
	    print('export %s="%s"' % (k, v))
	# The runner's image already has the base image (no network here).
	print('molt load -i "$FIXTURES/busybox/oci" >/dev/null')
	print("set -e")
	for line in d["build"]["script"]:
	    print(line)
	EOF
	run_job() {
		local n=$1 dir=$WORK/runner$1
		mkctx "$dir/checkout/project"
		mkdir -p "$dir/home"
		(cd "$dir/checkout/project" && PATH=$WORK/bin:$PATH HOME=$dir/home \
			REGISTRY_AUTH_FILE=$dir/auth.json CI_REGISTRY=$R CI_REGISTRY_USER=$REG_USER \
			CI_REGISTRY_PASSWORD=$REG_PASS CI_REGISTRY_IMAGE=$R/group/project \
			CI_COMMIT_SHORT_SHA=c0ffee$n CI_COMMIT_REF_SLUG=feature-x CI_DEFAULT_BRANCH=main \
			CI_JOB_ID=$$$n CI_PROJECT_DIR=$dir/checkout/project \
			bash "$WORK/gitlab-job.sh") >"$WORK/job$n.log" 2>&1
		local rc=$?
		MOLT_ROOT=/tmp/molt-store-$$$n "$MOLT" prune --all >/dev/null 2>&1
		return $rc
	}
	run_job 1 && ok "the GitLab job runs (first runner: no cache yet)" ||
		{ not_ok "the GitLab job runs (first runner: no cache yet)"; diag "$(tail "$WORK/job1.log")"; }
	run_job 2 && ok "the GitLab job runs on a second runner" ||
		{ not_ok "the GitLab job runs on a second runner"; diag "$(tail "$WORK/job2.log")"; }
	is "$(layer_steps_done_cached "$WORK/job2.log")" "0/5" \
		"the second runner's job runs no step"
	is "$(rcurl -o /dev/null -w '%{http_code}' -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"$REG_URL/v2/group/project/manifests/c0ffee2")" 200 "and pushes the image"
else
	skip "python3-yaml is not installed: the GitLab example is not run"
fi

done_testing
