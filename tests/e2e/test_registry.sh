#!/usr/bin/env bash
# The registry client against a real registry (Debian's docker-registry) on 127.0.0.1
# over plain http, as the unprivileged user: pull and push, skopeo reading what molt
# pushed and molt reading what skopeo pushed, FROM pulling what the store lacks, indexes
# and --platform, Docker schema 2 and OCI manifests, gzip and zstd layers, a corrupted
# blob and manifests that lie.
. "$(dirname "$0")/lib.sh"

BB=$FIXTURES/busybox
export REGISTRY_AUTH_FILE=$WORK/auth.json
for tool in docker-registry skopeo curl jq zstd; do
	if ! command -v $tool >/dev/null; then
		skip "$tool is not installed (scripts/install-deps.sh installs it)"
		done_testing; exit
	fi
done

# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry DIR: a plain http docker-registry storing in DIR; sets REG and REG_LOG.
REG_PIDS=()
start_registry() {
	local dir=$1 port
	port=$(free_port)
	mkdir -p "$dir/data"
	cat >"$dir/config.yml" <<-EOF
	version: 0.1
	log:
	  level: info
	  accesslog:
	    disabled: false
	storage:
	  filesystem:
	    rootdirectory: $dir/data
	  delete:
	    enabled: true
	http:
	  addr: 127.0.0.1:$port
	EOF
	# docker-registry reads REGISTRY_* variables as configuration (REGISTRY_AUTH_FILE
	# would be its auth section): it gets none of ours.
	env -u REGISTRY_AUTH_FILE docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	REG_PIDS+=($!)
	REG=127.0.0.1:$port REG_LOG=$dir/log
	for _ in $(seq 100); do
		curl -sf "http://$REG/v2/" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
cleanup() {
	for p in "${REG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	cleanup_work
}
trap cleanup EXIT

# put_blob REPO FILE: a monolithic upload by hand (for images molt must not make itself).
put_blob() {
	local d loc
	d=sha256:$(sha256sum "$2" | cut -d' ' -f1)
	loc=$(curl -sfi -X POST "http://$REG/v2/$1/blobs/uploads/" | tr -d '\r' |
		sed -n 's/^[Ll]ocation: //p')
	curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$2" \
		"$loc&digest=$d" >/dev/null && echo "$d"
}
# put_manifest REPO REF FILE MEDIATYPE
put_manifest() {
	curl -sf -X PUT -H "Content-Type: $4" --data-binary @"$3" "http://$REG/v2/$1/manifests/$2" >/dev/null
}
sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
size() { stat -c %s "$1"; }
uploads() { grep -c '"PUT /v2/[^"]*/blobs/uploads/' "$REG_LOG"; }

if ! start_registry "$WORK/reg"; then
	not_ok "docker-registry starts on 127.0.0.1"; diag "$(head -5 "$WORK/reg/log")" "$(cat "$WORK/reg/config.yml")"
	done_testing; exit
fi
fixture_manifest=$(jq -r '.manifests[0].digest' "$BB/oci/index.json")
skopeo copy -q --dest-tls-verify=false "oci:$BB/oci:latest" "docker://$REG/busybox:latest" ||
	not_ok "skopeo pushes the fixture"
skopeo copy -q --dest-tls-verify=false --format v2s2 "oci:$BB/oci:latest" "docker://$REG/docker/bb:v2s2" ||
	not_ok "skopeo pushes the fixture as Docker schema 2"

# ---- pull what skopeo pushed (plain http on loopback, as docker allows)
out=$("$MOLT" pull "$REG/busybox:latest" 2>"$WORK/err"); rc=$?
is "$rc" 0 "molt pulls from a plain-http registry on 127.0.0.1"
is "$out" "$REG/busybox:latest" "pull prints the pulled name"
like "$(cat "$WORK/err")" "^Copying blob sha256:[0-9a-f]{12} done" "pull shows one line per layer"
is "$("$MOLT" images --json | jq -r '.[0].Id')" "$(jq -r .config.digest "$BB/oci/blobs/sha256/${fixture_manifest#sha256:}")" \
	"the pulled image has the fixture's ID"
is "$(jq -r --arg n "$REG/busybox:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$MOLT_ROOT/index.json")" \
	"$fixture_manifest" "the store names the manifest skopeo pushed (same digest)"
diffid=$(jq -r '.rootfs.diff_ids[0]' "$BB/oci/blobs/sha256/$(jq -r .config.digest "$BB/oci/blobs/sha256/${fixture_manifest#sha256:}" | cut -c8-)")
check "the pull unpacked the layer while downloading (ready to run)" test -d "$MOLT_ROOT/layers/sha256/${diffid#sha256:}"
is "$("$MOLT" run "$REG/busybox" echo pulled-ok 2>&1)" "pulled-ok" "the pulled image runs"
err=$("$MOLT" -q pull "$REG/busybox:latest" 2>&1 >/dev/null)
is "$err" "" "-q pulls without progress"
out=$("$MOLT" pull --quiet --tls-verify=false "$REG/busybox@$fixture_manifest" 2>&1); rc=$?
is "$rc" 0 "pull by digest (with --tls-verify=false)"
out=$("$MOLT" pull "$REG/docker/bb:v2s2" 2>&1); rc=$?
is "$rc" 0 "pull a Docker schema 2 image"
v2s2=$(skopeo inspect --tls-verify=false "docker://$REG/docker/bb:v2s2" | jq -r .Digest)
is "$(jq -r .mediaType "$MOLT_ROOT/blobs/sha256/${v2s2#sha256:}" 2>&1)" \
	"application/vnd.docker.distribution.manifest.v2+json" "the schema 2 manifest is stored as it came"
molt_fails 1 "registry '$REG': manifest 'nope': 404 MANIFEST_UNKNOWN" "a missing tag is one clear error" \
	"$MOLT" pull "$REG/busybox:nope"
molt_fails 1 "'127.0.0.1:1'.*(Connection refused|connect)" "an unreachable registry is one clear error" \
	"$MOLT" pull "127.0.0.1:1/busybox:latest"
molt_fails 2 "unexpected argument" "pull takes one reference" "$MOLT" pull a b
molt_fails 2 "tls-verify takes true or false" "--tls-verify=maybe is a usage error" \
	"$MOLT" pull --tls-verify=maybe "$REG/busybox"

# ---- mirrors from registries.conf: tried first, and skipped when down
REG1=$REG REG1_LOG=$REG_LOG
start_registry "$WORK/reg2" || not_ok "a second registry starts"
REG2=$REG REG2_LOG=$REG_LOG REG=$REG1 REG_LOG=$REG1_LOG
printf '[[registry]]\nlocation = "%s"\n[[registry.mirror]]\nlocation = "%s"\ninsecure = true\n' \
	"$REG2" "$REG1" >"$WORK/mirror.conf"
out=$(CONTAINERS_REGISTRIES_CONF=$WORK/mirror.conf "$MOLT" --root "$WORK/sm" pull -q "$REG2/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "a pull is served by the registries.conf mirror"; [ $rc = 0 ] || diag "$out"
is "$(grep -c 'GET /v2/busybox/manifests' "$REG2_LOG")" 0 "… the registry itself was not asked"
is "$("$MOLT" --root "$WORK/sm" inspect "$REG2/busybox:latest" | jq -r '.[0].RepoTags[0]')" "$REG2/busybox:latest" \
	"… and the image is named as the reference said"
printf '[[registry]]\nlocation = "%s"\n[[registry.mirror]]\nlocation = "127.0.0.1:1"\n' "$REG1" >"$WORK/mirror2.conf"
out=$(CONTAINERS_REGISTRIES_CONF=$WORK/mirror2.conf "$MOLT" --root "$WORK/sm" pull -q "$REG1/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "a mirror that is down is skipped for the registry"
printf '[[registry]]\nlocation = "%s"\nblocked = true\n' "$REG1" >"$WORK/blocked.conf"
molt_fails 1 "registry '$REG1' is blocked in registries.conf" "a blocked registry is refused" \
	env CONTAINERS_REGISTRIES_CONF="$WORK/blocked.conf" "$MOLT" --root "$WORK/sm" pull "$REG1/busybox:latest"
# prune drops the registry's records of blobs no longer stored, and the partial
# download of a pull that was killed.
mkdir -p "$WORK/sm/registry/partial" && printf 'half' >"$WORK/sm/registry/partial/0123abcd"
n_src=$(ls "$WORK/sm/registry/sources" 2>/dev/null | wc -l)
check "a pull records where its blobs came from ($n_src)" test "$n_src" -gt 0
"$MOLT" --root "$WORK/sm" rmi "$REG2/busybox:latest" "$REG1/busybox:latest" >/dev/null 2>&1
"$MOLT" --root "$WORK/sm" prune >/dev/null 2>&1
is "$(ls "$WORK/sm/registry/sources" "$WORK/sm/registry/partial" 2>/dev/null | grep -c '^[0-9a-f]')" 0 \
	"prune removes the sources of pruned blobs and a killed pull's partial file"
"$MOLT" --root "$WORK/sm" prune --all >/dev/null 2>&1

# ---- push, and skopeo reads it
"$MOLT" tag "$REG/busybox:latest" mine/app:1
before=$(uploads)
out=$("$MOLT" push mine/app:1 "$REG/team/app:1" 2>"$WORK/err"); rc=$?
is "$rc" 0 "molt pushes to another repository"
is "$out" "$fixture_manifest" "push prints the manifest digest"
like "$(cat "$WORK/err")" "mounted from (busybox|docker/bb)" "the layer pulled from busybox is mounted, not sent"
is "$(skopeo inspect --tls-verify=false "docker://$REG/team/app:1" | jq -r .Digest)" "$fixture_manifest" \
	"skopeo inspects what molt pushed (same digest)"
check "skopeo copies what molt pushed" skopeo copy -q --src-tls-verify=false "docker://$REG/team/app:1" "oci:$WORK/sk:latest"
is "$(jq -r '.manifests[0].digest' "$WORK/sk/index.json")" "$fixture_manifest" "skopeo's copy has the same manifest"
mid=$(uploads)
out=$("$MOLT" push mine/app:1 "$REG/team/app:1" 2>"$WORK/err"); rc=$?
is "$rc" 0 "push again"
is "$(uploads)" "$mid" "pushing an unchanged image again sends no blob"
is "$(grep -c 'already exists' "$WORK/err")" 2 "both blobs are reported as already there"
is "$((mid - before))" 1 "the first push uploaded only the config (the layer was mounted)"

# a fresh image (a build) pushed with --push; then pulled into another store
mkdir -p "$WORK/ctx"
printf 'FROM %s/busybox:latest\nRUN echo built-by-molt > /hello\n' "$REG" >"$WORK/ctx/Dockerfile"
"$MOLT" build --progress quiet -t "$REG/team/built:1" --push "$WORK/ctx" >/dev/null 2>"$WORK/err"; rc=$?
is "$rc" 0 "build --push"
"$MOLT" --root "$WORK/s2" pull -q "$REG/team/built:1" >/dev/null
is "$("$MOLT" --root "$WORK/s2" run "$REG/team/built:1" cat /hello 2>&1)" "built-by-molt" \
	"what build --push sent pulls and runs in another store"
"$MOLT" build --progress quiet -o "type=image,name=$REG/team/out:2,push=true" "$WORK/ctx" >/dev/null 2>&1
is "$(skopeo inspect --tls-verify=false "docker://$REG/team/out:2" 2>/dev/null | jq -r '.Layers | length')" 2 \
	"-o type=image,name=REF,push=true pushes the result"
"$MOLT" --root "$WORK/s2" prune --all >/dev/null 2>&1
molt_fails 2 "needs a name" "--push without -t is a usage error" "$MOLT" build --push "$WORK/ctx"
molt_fails 1 "image 'nothere' not found" "push of a missing image" "$MOLT" push nothere "$REG/x:1"

# ---- FROM pulls what the store lacks, before any stage, once
cat >"$WORK/ctx/Dockerfile" <<EOF
FROM $REG/busybox:latest AS a
RUN echo a > /a
FROM $REG/team/app:1
COPY --from=a /a /a
COPY --from=$REG/docker/bb:v2s2 /bin/busybox /bb2
RUN cat /a
EOF
"$MOLT" --root "$WORK/s3" build --progress plain -t fromtest "$WORK/ctx" >"$WORK/out" 2>&1; rc=$?
is "$rc" 0 "FROM and COPY --from images are pulled into an empty store"
is "$(grep -c '^pulling ' "$WORK/out")" 3 "each image is pulled once"
is "$(grep -nE '^pulling |^#[0-9]+ \[[a-z0-9-]+ +[0-9]+/' "$WORK/out" | head -1 | grep -c pulling)" 1 \
	"the pulls come before any stage's step"
"$MOLT" --root "$WORK/s3" build --progress plain -t fromtest "$WORK/ctx" >"$WORK/out" 2>&1
is "$(grep -c '^pulling ' "$WORK/out")" 0 "a second build pulls nothing"
"$MOLT" --root "$WORK/s3" build --pull --progress plain -t fromtest "$WORK/ctx" >"$WORK/out" 2>&1
is "$(grep -c '^pulling ' "$WORK/out")" 3 "--pull checks every image again"
is "$(grep -c 'already exists' "$WORK/out")" 3 "… and fetches no blob it has"
printf 'FROM %s/busybox:gone\n' "$REG" >"$WORK/ctx/Dockerfile"
molt_fails 1 "base image '$REG/busybox:gone' is not in the store and could not be pulled: registry '$REG': manifest 'gone': 404" \
	"a FROM image the registry lacks is one clear error" "$MOLT" --root "$WORK/s3" build "$WORK/ctx"
"$MOLT" --root "$WORK/s3" prune --all >/dev/null 2>&1

# ---- an index: the host's entry by default, --platform for another
host_arch=$(jq -r .architecture "$BB/oci/blobs/sha256/$(jq -r .config.digest "$BB/oci/blobs/sha256/${fixture_manifest#sha256:}" | cut -c8-)")
other_arch=arm64; [ "$host_arch" = arm64 ] && other_arch=amd64
bbm=$BB/oci/blobs/sha256/${fixture_manifest#sha256:}
cfg=$BB/oci/blobs/sha256/$(jq -r .config.digest "$bbm" | cut -c8-)
jq -c --arg a "$other_arch" '.architecture = $a' "$cfg" >"$WORK/cfg-other.json"
put_blob multi "$cfg" >/dev/null
put_blob multi "$BB/oci/blobs/sha256/$(jq -r '.layers[0].digest' "$bbm" | cut -c8-)" >/dev/null
cfg_other=$(put_blob multi "$WORK/cfg-other.json")
jq -c --arg d "$cfg_other" --argjson s "$(size "$WORK/cfg-other.json")" '.config.digest = $d | .config.size = $s' \
	"$bbm" >"$WORK/m-other.json"
put_manifest multi other "$WORK/m-other.json" application/vnd.oci.image.manifest.v1+json
put_manifest multi host "$bbm" application/vnd.oci.image.manifest.v1+json
jq -nc --arg hd "$fixture_manifest" --argjson hs "$(size "$bbm")" --arg ha "$host_arch" \
	--arg od "$(sha "$WORK/m-other.json")" --argjson os "$(size "$WORK/m-other.json")" --arg oa "$other_arch" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
	  {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $od, size: $os, platform: {os: "linux", architecture: $oa}},
	  {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $hd, size: $hs, platform: {os: "linux", architecture: $ha}}]}' \
	>"$WORK/index.json"
put_manifest multi latest "$WORK/index.json" application/vnd.oci.image.index.v1+json
"$MOLT" pull -q "$REG/multi" >/dev/null 2>&1
is "$("$MOLT" inspect "$REG/multi" | jq -r '.[0].Architecture')" "$host_arch" "an index resolves to the host's architecture"
err=$("$MOLT" pull -q --platform "linux/$other_arch" "$REG/multi" 2>&1 >/dev/null); rc=$?
is "$rc" 0 "--platform picks another entry"
is "$("$MOLT" inspect "$REG/multi" | jq -r '.[0].Architecture')" "$other_arch" "… and the tag now names it"
like "$err" "is for linux/$other_arch: running it .* needs emulation, which molt does not have" \
	"a foreign architecture is said to need emulation"
molt_fails 1 "the image has no linux/s390x entry \(it has: linux/$other_arch, linux/$host_arch\)" \
	"a platform the index lacks lists what it has" "$MOLT" pull --platform linux/s390x "$REG/multi"
molt_fails 1 "the image is for linux/$host_arch, not the linux/$other_arch asked for" \
	"--platform on a single-platform image of another architecture is refused" \
	"$MOLT" pull --platform "linux/$other_arch" "$REG/multi:host"
printf 'FROM %s/multi\nARG TARGETARCH\nLABEL arch=$TARGETARCH\n' "$REG" >"$WORK/ctx/Dockerfile"
"$MOLT" --root "$WORK/s6" build --progress quiet --platform "linux/$other_arch" -t plat "$WORK/ctx" >/dev/null 2>"$WORK/err"; rc=$?
is "$rc" 0 "build --platform pulls the index's entry for that platform"
is "$("$MOLT" --root "$WORK/s6" inspect plat | jq -r '.[0].Architecture + " " + .[0].Config.Labels.arch')" \
	"$other_arch $other_arch" "… the image and TARGETARCH are of that platform"
"$MOLT" --root "$WORK/s6" prune --all >/dev/null 2>&1
molt_fails 2 "not os/arch" "a malformed --platform" "$MOLT" pull --platform linux "$REG/multi"

# ---- a zstd layer
layer_tar=$WORK/layer.tar
gzip -dc "$BB/oci/blobs/sha256/$(jq -r '.layers[0].digest' "$bbm" | cut -c8-)" >"$layer_tar"
zstd -q -3 "$layer_tar" -o "$WORK/layer.tar.zst"
zd=$(put_blob zst "$WORK/layer.tar.zst")
put_blob zst "$cfg" >/dev/null
jq -c --arg d "$zd" --argjson s "$(size "$WORK/layer.tar.zst")" \
	'.layers[0].digest = $d | .layers[0].size = $s | .layers[0].mediaType = "application/vnd.oci.image.layer.v1.tar+zstd"' \
	"$bbm" >"$WORK/m-zst.json"
put_manifest zst 1 "$WORK/m-zst.json" application/vnd.oci.image.manifest.v1+json
"$MOLT" pull -q "$REG/zst:1" >/dev/null 2>&1
is "$("$MOLT" run "$REG/zst:1" echo zstd-ok 2>&1)" "zstd-ok" "an image with a zstd layer pulls and runs"

# ---- a corrupted blob in the registry: refused, named, nothing stored
"$MOLT" --root "$WORK/s4" pull -q "$REG/busybox@$fixture_manifest" >/dev/null 2>&1
printf 'X' | dd of="$layer_tar" bs=1 seek=600 conv=notrunc status=none
gzip -n -c "$layer_tar" >"$WORK/bad.tar.gz"
bd=$(put_blob bad "$WORK/bad.tar.gz")
put_blob bad "$cfg" >/dev/null
jq -c --arg d "$bd" --argjson s "$(size "$WORK/bad.tar.gz")" '.layers[0].digest = $d | .layers[0].size = $s' \
	"$bbm" >"$WORK/m-bad.json"
put_manifest bad 1 "$WORK/m-bad.json" application/vnd.oci.image.manifest.v1+json
blobfile=$(find "$WORK/reg/data" -path "*/blobs/sha256/*/${bd#sha256:}/data")
python3 - "$blobfile" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
EOF
index=$(cat "$WORK/s4/index.json")
molt_fails 1 "blob ${bd}.*(digest|sha256)" "a corrupted blob is refused with its digest named" \
	"$MOLT" --root "$WORK/s4" pull "$REG/bad:1"
check "… no blob with the bad digest exists" test ! -e "$WORK/s4/blobs/sha256/${bd#sha256:}"
is "$(cat "$WORK/s4/index.json")" "$index" "… and the index is unchanged"
is "$(find "$WORK/s4/tmp" -type f 2>/dev/null | wc -l)" 0 "… and no scratch file is left"

# ---- a layer whose tar climbs out of its root: refused by the unpacker, nothing tagged
python3 - "$WORK/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    data = b"owned\n"
    i = tarfile.TarInfo("../../evil"); i.size = len(data)
    t.addfile(i, io.BytesIO(data))
EOF
gzip -n -c "$WORK/evil.tar" >"$WORK/evil.tar.gz"
ed=$(put_blob evil "$WORK/evil.tar.gz")
jq -c --arg d "$(sha "$WORK/evil.tar")" '.rootfs.diff_ids = [$d]' "$cfg" >"$WORK/cfg-evil.json"
ec=$(put_blob evil "$WORK/cfg-evil.json")
jq -c --arg d "$ed" --argjson s "$(size "$WORK/evil.tar.gz")" --arg c "$ec" --argjson cs "$(size "$WORK/cfg-evil.json")" \
	'.layers[0].digest = $d | .layers[0].size = $s | .config.digest = $c | .config.size = $cs' "$bbm" >"$WORK/m-evil.json"
put_manifest evil 1 "$WORK/m-evil.json" application/vnd.oci.image.manifest.v1+json
molt_fails 1 "layer $ed.*\.\." "a layer with '..' entries is refused at pull, naming the layer" \
	"$MOLT" --root "$WORK/s4" pull "$REG/evil:1"
molt_fails 1 "not found" "… and the image is not tagged" "$MOLT" --root "$WORK/s4" inspect "$REG/evil:1"
check "… nothing was written outside the store" test ! -e "$WORK/evil"

# ---- a config whose diff ID is not its layer's content: refused, no tree published
jq -c '.rootfs.diff_ids = ["sha256:'"$(printf '0%.0s' $(seq 64))"'"]' "$cfg" >"$WORK/cfg-lie.json"
lc=$(put_blob lie "$WORK/cfg-lie.json")
put_blob lie "$BB/oci/blobs/sha256/$(jq -r '.layers[0].digest' "$bbm" | cut -c8-)" >/dev/null
jq -c --arg c "$lc" --argjson cs "$(size "$WORK/cfg-lie.json")" '.config.digest = $c | .config.size = $cs' \
	"$bbm" >"$WORK/m-lie.json"
put_manifest lie 1 "$WORK/m-lie.json" application/vnd.oci.image.manifest.v1+json
molt_fails 1 "its content is sha256:[0-9a-f]{64}, not the diff ID sha256:0{64} its image config claims" \
	"a config lying about its layer's diff ID is refused" "$MOLT" --root "$WORK/s7" pull "$REG/lie:1"
check "… and no tree is published under the claimed diff ID" test ! -e "$WORK/s7/layers/sha256/$(printf '0%.0s' $(seq 64))"
is "$(ls "$WORK/s7/tmp"/*/ 2>/dev/null | wc -l)" 0 "… nor left in scratch"
# a stored layer blob corrupted on disk is hashed again before a run unpacks it
"$MOLT" --root "$WORK/s7" pull -q "$REG/busybox:latest" >/dev/null 2>&1
rm -rf "$WORK/s7/layers"
lblob=$WORK/s7/blobs/sha256/$(jq -r '.layers[0].digest' "$bbm" | cut -c8-)
chmod u+w "$lblob" 2>/dev/null
printf 'X' | dd of="$lblob" bs=1 seek=100 conv=notrunc status=none
molt_fails 1 "digest mismatch|corrupt" "a corrupted stored layer is refused before it is unpacked" \
	"$MOLT" --root "$WORK/s7" run "$REG/busybox:latest" true
"$MOLT" --root "$WORK/s7" prune --all >/dev/null 2>&1

# ---- manifests that lie
jq -c '.layers[0].size = 1000' "$bbm" >"$WORK/m-short.json"
put_manifest busybox short "$WORK/m-short.json" application/vnd.oci.image.manifest.v1+json &&
	molt_fails 1 "blob sha256:[0-9a-f]+ is larger than the 1000 bytes its descriptor says" \
		"a layer larger than its descriptor is cut off" "$MOLT" --root "$WORK/s5" pull "$REG/busybox:short"
molt_fails 1 "the manifest says blob sha256:[0-9a-f]+ has 1000 bytes, but it has" \
	"a manifest that lies about a stored blob's size is refused" "$MOLT" --root "$WORK/s4" pull "$REG/busybox:short"
jq -c '.layers = [range(1001) as $i | .layers[0]]' "$bbm" >"$WORK/m-many.json"
if put_manifest busybox many "$WORK/m-many.json" application/vnd.oci.image.manifest.v1+json; then
	molt_fails 1 "lists 1001 layers \(at most 1000" "a manifest with too many layers is refused" \
		"$MOLT" --root "$WORK/s4" pull "$REG/busybox:many"
else
	not_ok "the registry takes a manifest of 1001 layers"
fi
"$MOLT" --root "$WORK/s4" prune --all >/dev/null 2>&1

done_testing
