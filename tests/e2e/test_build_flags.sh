#!/usr/bin/env bash
# docker build / buildx build flags CI scripts pass (issue 12): each does its job, or
# fails with a message that says why and what to do instead.
. "$(dirname "$0")/lib.sh"

load_busybox

c=$(ctx flags <<'EOF2'
FROM busybox AS other
RUN echo other >/other
FROM busybox AS base
RUN echo base >/base
FROM base
COPY --from=other /other /other
LABEL from.dockerfile=1 over=dockerfile
RUN echo final >/final
EOF2
)

# --label: on the image config, over a Dockerfile LABEL of the same name
build "$c" -t labelled --label org.example.team=ci --label over=cli
is "$?" 0 "build with --label"
cfg=$(config labelled)
is "$(printf '%s' "$cfg" | jq -r '.config.Labels["org.example.team"]')" ci "--label is in the config"
is "$(printf '%s' "$cfg" | jq -r '.config.Labels.over')" cli "--label wins over the Dockerfile's LABEL"
is "$(printf '%s' "$cfg" | jq -r '.config.Labels["from.dockerfile"]')" 1 "the Dockerfile's other LABEL stays"
molt_fails 2 "--label 'novalue' is not KEY=VALUE" "--label without = is refused" \
	"$MOLT" build --label novalue "$c"

# --annotation: on the manifest (manifest: prefix accepted), index: refused
build "$c" -t annotated --annotation org.opencontainers.image.source=https://example.test/r \
	--annotation manifest:a.b=c
is "$?" 0 "build with --annotation"
rm -rf "$WORK/ann" && mkdir -p "$WORK/ann"
"$MOLT" save --format oci -o "$WORK/ann.tar" annotated && tar -xf "$WORK/ann.tar" -C "$WORK/ann"
m=$(jq -r '.manifests[0].digest' "$WORK/ann/index.json" | sed 's/sha256://')
is "$(jq -r '.annotations["org.opencontainers.image.source"]' "$WORK/ann/blobs/sha256/$m")" \
	https://example.test/r "--annotation is on the manifest"
is "$(jq -r '.annotations["a.b"]' "$WORK/ann/blobs/sha256/$m")" c "manifest: prefix is accepted"
molt_fails 2 "only manifest annotations are supported" "--annotation index:k=v is refused" \
	"$MOLT" build --annotation index:k=v "$c"
molt_fails 2 "is not KEY=VALUE" "--annotation without = is refused" \
	"$MOLT" build --annotation justakey "$c"

# --metadata-file: buildx's keys
build "$c" -t meta:1 --metadata-file "$WORK/meta.json" --iidfile "$WORK/iid"
is "$?" 0 "build with --metadata-file"
is "$(jq -r '."containerimage.config.digest"' "$WORK/meta.json")" "$(cat "$WORK/iid")" \
	"containerimage.config.digest is the image ID"
like "$(jq -r '."containerimage.digest"' "$WORK/meta.json")" '^sha256:[0-9a-f]{64}$' \
	"containerimage.digest is a digest"
is "$(jq -r '."containerimage.descriptor".digest' "$WORK/meta.json")" \
	"$(jq -r '."containerimage.digest"' "$WORK/meta.json")" "the descriptor names the manifest"
is "$(jq -r '."image.name"' "$WORK/meta.json")" docker.io/library/meta:1 "image.name is the full name"
# (not pushed: the store's manifest, whose layers are uncompressed)
"$MOLT" save --format oci --compression uncompressed -o "$WORK/meta.tar" meta:1 &&
	rm -rf "$WORK/meta" && mkdir "$WORK/meta" &&
	tar -xf "$WORK/meta.tar" -C "$WORK/meta"
is "$(jq -r '.manifests[0].digest' "$WORK/meta/index.json")" \
	"$(jq -r '."containerimage.digest"' "$WORK/meta.json")" "containerimage.digest is the saved manifest"

# --no-cache-filter: the named stage runs again, the others come from the cache
build "$c" --no-cache-filter base
is "$?" 0 "build with --no-cache-filter"
base_lines=$(grep -A1 'RUN echo base' "$WORK/build.log" | grep -c CACHED)
is "$base_lines" 0 "--no-cache-filter base: the base stage's RUN is not taken from the cache"
like "$(grep -A1 'RUN echo other' "$WORK/build.log")" CACHED "--no-cache-filter base: another stage is still cached"
build "$c"
like "$(grep -A1 'RUN echo base' "$WORK/build.log")" CACHED "without the filter the base stage is cached"

# --provenance / --sbom: false is a no-op; true is refused with the reason
build "$c" --provenance=false --sbom 0 --load --isolation default
is "$?" 0 "--provenance=false --sbom 0 --load --isolation default are accepted"
molt_fails 1 "does not generate provenance attestations; pass --provenance=false" \
	"--provenance=true is refused" "$MOLT" build --provenance=true "$c"
molt_fails 1 "--sbom=mode=max: molt does not generate SBOM attestations" "--sbom=mode=max is refused" \
	"$MOLT" build --sbom=mode=max "$c"
molt_fails 1 "molt runs RUN steps in its own sandbox" "--cgroup-parent is refused with the reason" \
	"$MOLT" build --cgroup-parent /ci "$c"
molt_fails 2 "only 'default' exists on Linux" "--isolation hyperv is refused" \
	"$MOLT" build --isolation hyperv "$c"

# --platform: the host's is accepted, a foreign one is refused (no emulation)
case $(uname -m) in
x86_64) host=linux/amd64 foreign=linux/arm64 ;;
aarch64) host=linux/arm64 foreign=linux/amd64 ;;
*) host= ;;
esac
if [ -n "$host" ]; then
	p=$(ctx plat <<'EOF2'
FROM busybox
ARG TARGETPLATFORM
ARG BUILDPLATFORM
RUN echo "$TARGETPLATFORM $BUILDPLATFORM" >/plat
EOF2
)
	build "$p" --platform "$host" -o "type=tar,dest=$WORK/plat.tar"
	is "$?" 0 "--platform $host (the host's) is accepted"
	is "$(tar -xOf "$WORK/plat.tar" plat 2>/dev/null || tar -xOf "$WORK/plat.tar" ./plat)" \
		"$host $host" "TARGETPLATFORM and BUILDPLATFORM are the host's"
	molt_fails 1 "molt runs steps natively; building for $foreign on $host needs binfmt emulation, which molt does not do" \
		"--platform $foreign is refused" "$MOLT" build --platform "$foreign" "$p"
	"$MOLT" build --print-plan --platform "$foreign" "$p" >"$WORK/plan.json" 2>&1
	is "$?/$(jq -r '.stages | length' "$WORK/plan.json" 2>/dev/null)" 0/1 \
		"--print-plan shows a foreign platform's plan (nothing runs)"
	f=$(ctx fromplat <<EOF2
FROM --platform=$foreign busybox
RUN true
EOF2
)
	molt_fails 1 "FROM --platform=$foreign: molt runs steps natively" \
		"FROM --platform=$foreign is refused, not built for $host" "$MOLT" build "$f"
	f2=$(ctx fromplat2 <<'EOF2'
FROM --platform=$BUILDPLATFORM busybox
RUN true
EOF2
)
	build "$f2"
	is "$?" 0 "FROM --platform=\$BUILDPLATFORM builds"
	# BuildKit's cross-compiling pattern: nothing runs on the target platform
	x=$(ctx cross <<'EOF2'
FROM --platform=$BUILDPLATFORM busybox AS build
ARG TARGETARCH
RUN echo "built for $TARGETARCH" >/out
FROM scratch
COPY --from=build /out /out
EOF2
)
	build "$x" --platform "$foreign" -t cross
	is "$?" 0 "--platform $foreign builds when only a \$BUILDPLATFORM stage runs"
	is "$(config cross | jq -r .architecture)" "${foreign#linux/}" "the image is labelled ${foreign#linux/}"
	fl=$(ctx fromplat-final <<EOF2
FROM --platform=$foreign busybox
COPY --from=busybox /bin/busybox /b
EOF2
)
	molt_fails 1 "FROM --platform=$foreign on line 1: the final stage's platform differs from the target $host.*build with --platform $foreign" \
		"a final FROM --platform other than the target is refused, not mislabelled" "$MOLT" build "$fl"
else
	skip "--platform cases: unknown machine $(uname -m)"
fi

# --pull over an image only the local store has: said so
"$MOLT" tag busybox 127.0.0.1:1/local/busybox:1 >/dev/null 2>&1
l=$(ctx pull-local <<'EOF2'
FROM 127.0.0.1:1/local/busybox:1
RUN true
EOF2
)
build "$l"
is "$?" 0 "a local-only base image builds without --pull"
molt_fails 1 "--pull: base image '127.0.0.1:1/local/busybox:1' could not be re-resolved from its registry \(it is only in the local store" \
	"--pull with a local-only base says it is only local" "$MOLT" build --pull --tls-verify=false "$l"

# -o type=registry,name=REF: BuildKit's push output
. "$(dirname "$0")/registry_lib.sh"
reg_require
reg_start || { not_ok "start a registry"; done_testing; exit 1; }
reg_molt_env
build "$c" -o "type=registry,name=$REG_HOST/flags/app:1" --metadata-file "$WORK/reg-meta.json"
is "$?" 0 "build with -o type=registry,name=REF"
digest=$(reg_skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG_HOST/flags/app:1" 2>&1)
is "$digest" "$(jq -r '."containerimage.digest"' "$WORK/reg-meta.json")" \
	"type=registry pushed the built manifest"
is "$(jq -r '."image.name"' "$WORK/reg-meta.json")" "$REG_HOST/flags/app:1" "image.name is the pushed name"
molt_fails 2 "type=image needs name=REF" "-o type=registry without a name is refused" \
	"$MOLT" build -o type=registry "$c"

done_testing
