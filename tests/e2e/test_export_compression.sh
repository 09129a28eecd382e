#!/usr/bin/env bash
# Compression off the build's critical path (issue 13): build steps commit uncompressed
# layers (blob digest == diff ID); the compression that leaves the machine is chosen at
# export and push time (-o type=oci,compression=…, molt save --compression, molt push
# --compression), gzip by default, converted once (layers/convert.c) and remembered in
# the store; image IDs do not change; exports are byte-reproducible and do not depend
# on the number of compression threads; gc keeps a conversion with its layer.
. "$(dirname "$0")/lib.sh"

if ! command -v jq >/dev/null; then
	skip "jq is not installed (scripts/install-deps.sh installs it)"
	done_testing
	exit
fi
export SOURCE_DATE_EPOCH=1700000000
blob() { printf '%s/blobs/sha256/%s' "$1" "${2#sha256:}"; }
# manifest_of LAYOUT: the manifest JSON of the first image of an OCI layout directory.
manifest_of() { cat "$(blob "$1" "$(jq -r '.manifests[0].digest' "$1/index.json")")"; }
# store_manifest NAME: the manifest JSON the store holds for NAME.
store_manifest() {
	local d
	d=$(jq -r --arg n "docker.io/library/$1" '.manifests[] | select(.annotations["io.containerd.image.name"] == $n) | .digest' "$MOLT_ROOT/index.json")
	cat "$(blob "$MOLT_ROOT" "$d")"
}

# ---- image IDs: the same as molt before this change (FROM scratch, so no base image
# of this machine is in them; the constants are those of the base main's build, x86_64)
mkdir -p "$WORK/id/a/dir/sub" "$WORK/id/b" "$WORK/id/c"
printf 'hello\n' >"$WORK/id/a/a.txt"; printf 'x\n' >"$WORK/id/a/dir/sub/y"
printf 'FROM scratch\nCOPY a.txt /a.txt\nENV X=1\nCOPY dir /dir\nLABEL k=v\n' >"$WORK/id/a/Dockerfile"
printf 'b\n' >"$WORK/id/b/a.txt"
printf 'FROM scratch AS b\nCOPY a.txt /x\nFROM scratch\nCOPY --from=b /x /y\nWORKDIR /w\nCMD ["/y"]\n' >"$WORK/id/b/Dockerfile"
seq 1 300000 >"$WORK/id/c/big.txt"
printf 'FROM scratch\nCOPY big.txt /big.txt\n' >"$WORK/id/c/Dockerfile"
chmod 0644 "$WORK"/id/a/a.txt "$WORK"/id/a/dir/sub/y "$WORK"/id/b/a.txt "$WORK"/id/c/big.txt
chmod 0755 "$WORK"/id/a/dir "$WORK"/id/a/dir/sub
declare -A want_id=(
	[a]=sha256:14de48f9e447a8f8944268fd22711c9f5c548ec2acc1c68359bd05c31d544df8
	[b]=sha256:afb89e1ea8328e486f2707e0bcd5ce2222b468435a142b940622d708b61b781e
	[c]=sha256:ed595e591415267f323f22f33ed01ef2fa1035d96002c931e08c33019c886ea0
)
for c in a b c; do
	got=$("$MOLT" build --progress quiet -t "id-$c" "$WORK/id/$c" 2>"$WORK/err")
	if [ "$(uname -m)" = x86_64 ]; then
		is "$got" "${want_id[$c]}" "image ID of case $c is the one molt gave before (diff IDs unchanged)"
	else
		skip "image ID constants are those of x86_64"
	fi
done
m=$(store_manifest id-c:latest)
is "$(jq -r '[.layers[].mediaType] | unique | join(",")' <<<"$m")" "application/vnd.oci.image.layer.v1.tar" \
	"a built layer is stored uncompressed (application/vnd.oci.image.layer.v1.tar)"
is "$(jq -r '.layers[0].digest' <<<"$m")" "$("$MOLT" inspect id-c | jq -r '.[0].RootFS.Layers[0]')" \
	"its blob digest is its diff ID"
[ -d "$MOLT_ROOT/convert" ] && not_ok "a build that exports nothing converts nothing" ||
	ok "a build that exports nothing converts nothing (no convert/ in the store)"

# ---- the default export is gzip; a second export is a cache hit with the same bytes
"$MOLT" --debug save --format oci -o "$WORK/c1/" id-c 2>"$WORK/log1"
"$MOLT" --debug save --format oci -o "$WORK/c2/" id-c 2>"$WORK/log2"
is "$(manifest_of "$WORK/c1" | jq -r '.layers[0].mediaType')" "application/vnd.oci.image.layer.v1.tar+gzip" \
	"save --format oci exports gzip layers by default"
like "$(cat "$WORK/log1")" "convert: sha256:[0-9a-f]+ as gzip-6: converted" "the first export converts the layer"
like "$(cat "$WORK/log2")" "convert: sha256:[0-9a-f]+ as gzip-6: cached" "the second export is a cache hit"
unlike "$(cat "$WORK/log2")" "converted" "the second export converts nothing"
check "two exports are byte-identical" diff -r "$WORK/c1" "$WORK/c2"
layer=$(manifest_of "$WORK/c1" | jq -r '.layers[0].digest')
is "$(gzip -dc "$(blob "$WORK/c1" "$layer")" | sha256sum | cut -d' ' -f1)" \
	"$("$MOLT" inspect id-c | jq -r '.[0].RootFS.Layers[0]' | sed 's/sha256://')" \
	"the exported gzip layer decompresses to the diff ID"
n=$(LC_ALL=C grep -a -o -P '\x1f\x8b\x08\x00\x00\x00\x00\x00' "$(blob "$WORK/c1" "$layer")" | wc -l)
[ "$n" -ge 2 ] && ok "the 2 MB layer was converted in parallel blocks ($n gzip members)" ||
	not_ok "the 2 MB layer was converted in parallel blocks ($n gzip members)"
is "$(manifest_of "$WORK/c1" | jq -r .config.digest)" "${want_id[c]}" "the export keeps the image ID"
# Go's compress/gzip (docker, containerd, skopeo) reads every member: skopeo decompresses
# the multi-member layer to recompress it as zstd, which then holds the whole tar.
if command -v skopeo >/dev/null && command -v zstd >/dev/null; then
	skopeo copy -q --dest-compress-format zstd --dest-compress "oci:$WORK/c1" "dir:$WORK/sk" 2>&1
	sk=$(for f in "$WORK"/sk/*; do zstd -t -q "$f" 2>/dev/null && zstd -dc "$f" | sha256sum | cut -d' ' -f1; done)
	is "$sk" "$("$MOLT" inspect id-c | jq -r '.[0].RootFS.Layers[0]' | sed 's/sha256://')" \
		"skopeo (Go's gzip) reads all members: its zstd copy of the layer is the whole tar"
else
	skip "skopeo or zstd is not installed"
fi

# ---- a conversion remembered by a molt before libdeflate (convert/<diff>/gzip-6, zlib's
# bytes) is not reused: the export converts again, to the bytes a new store gets
diff_hex=$("$MOLT" inspect id-c | jq -r '.[0].RootFS.Layers[0]' | sed 's/sha256://')
echo "$layer $(stat -c %s "$(blob "$WORK/c1" "$layer")")" >"$MOLT_ROOT/convert/$diff_hex/gzip-6"
rm -f "$MOLT_ROOT/convert/$diff_hex/gzip-6-libdeflate"
"$MOLT" --debug save --format oci -o "$WORK/c3/" id-c 2>"$WORK/log3"
like "$(cat "$WORK/log3")" "as gzip-6: converted" "an entry of the zlib encoder (gzip-6) is not reused"
is "$(manifest_of "$WORK/c3" | jq -r '.layers[0].digest')" "$layer" \
	"the conversion again gives the same blob"

# ---- bytes do not depend on the number of threads (a fresh conversion each time)
for t in 1 4; do
	rm -rf "$MOLT_ROOT/convert"
	MOLT_COMPRESS_THREADS=$t "$MOLT" save --format oci -o "$WORK/t$t/" id-c 2>&1
done
check "MOLT_COMPRESS_THREADS=1 and =4 give the same export" diff -r "$WORK/t1" "$WORK/t4"
check "and the same as the cached one" diff -r "$WORK/c1" "$WORK/t1"

# ---- zstd, levels, uncompressed
"$MOLT" save --format oci --compression zstd -o "$WORK/z/" id-c
zl=$(manifest_of "$WORK/z" | jq -r '.layers[0] | .mediaType + " " + .digest')
is "${zl%% *}" "application/vnd.oci.image.layer.v1.tar+zstd" "--compression zstd gives tar+zstd layers"
if command -v zstd >/dev/null; then
	is "$(zstd -dc "$(blob "$WORK/z" "${zl#* }")" | sha256sum | cut -d' ' -f1)" \
		"$(jq -r '.layers[0].digest' <<<"$m" | sed 's/sha256://')" "the zstd layer decompresses to the diff ID"
else
	skip "zstd is not installed"
fi
"$MOLT" save --format oci --compression gzip --compression-level 1 -o "$WORK/g1/" id-c
g1=$(manifest_of "$WORK/g1" | jq -r '.layers[0].digest')
[ "$g1" != "$layer" ] && ok "--compression-level 1 gives another blob than level 6" ||
	not_ok "--compression-level 1 gives another blob than level 6"
"$MOLT" save --format oci --compression uncompressed -o "$WORK/u/" id-c
is "$(manifest_of "$WORK/u" | jq -r '.layers[0].digest')" "$(jq -r '.layers[0].digest' <<<"$m")" \
	"--compression uncompressed exports the stored layer as it is"
molt_fails 2 "compression 'lz4': not gzip, zstd or uncompressed" "save --compression lz4 is refused" \
	"$MOLT" save --format oci --compression lz4 -o "$WORK/x.tar" id-c
molt_fails 2 "compression level '30' for zstd: not a number from 1 to 19" "a zstd level out of range is refused" \
	"$MOLT" save --format oci --compression zstd --compression-level 30 -o "$WORK/x.tar" id-c
[ -e "$WORK/x.tar" ] && not_ok "a refused save writes nothing" || ok "a refused save writes nothing"

# ---- docker tars: uncompressed "<diff ID>.tar" layers by default, the stored layer as
# it is; with --compression, the blobs (blobs/sha256/<hex>, as docker 25 names them)
"$MOLT" save -o "$WORK/d.tar" id-c
is "$(tar -xOf "$WORK/d.tar" manifest.json | jq -r '.[0].Layers[0]')" \
	"$(jq -r '.layers[0].digest' <<<"$m" | sed 's/sha256://').tar" "a docker save tar has <diff ID>.tar layers"
"$MOLT" save --compression zstd -o "$WORK/dz.tar" id-c
dl=$(tar -xOf "$WORK/dz.tar" manifest.json | jq -r '.[0].Layers[0]')
is "$dl" "blobs/sha256/$(manifest_of "$WORK/z" | jq -r '.layers[0].digest' | sed 's/sha256://')" \
	"save --compression zstd (docker format) names the zstd blob"
is "$("$MOLT" --root "$WORK/sd" load -i "$WORK/dz.tar" 2>&1)" "Loaded image: docker.io/library/id-c:latest" \
	"molt loads a docker tar with zstd layers"
is "$("$MOLT" --root "$WORK/sd" inspect id-c | jq -r '.[0].Id')" "${want_id[c]}" "with the same image ID"
"$MOLT" --root "$WORK/sd" prune --all >/dev/null 2>&1
"$MOLT" build --progress quiet -o "type=docker,dest=$WORK/bd.tar,compression=gzip" "$WORK/id/c" >/dev/null 2>&1
is "$(tar -xOf "$WORK/bd.tar" manifest.json | jq -r '.[0].Layers[0]')" "blobs/sha256/${layer#sha256:}" \
	"-o type=docker,compression=gzip writes the gzip blob"
if command -v skopeo >/dev/null; then
	check "skopeo copies the gzip docker tar (checking diff IDs)" \
		skopeo copy -q "docker-archive:$WORK/bd.tar" "oci:$WORK/bdcopy:x"
fi

# ---- build -o: compression fields (BuildKit's names)
"$MOLT" build --progress quiet -o "type=oci,dest=$WORK/bz,compression=zstd,compression-level=5" "$WORK/id/c" >/dev/null 2>&1
is "$(manifest_of "$WORK/bz" | jq -r '.layers[0].mediaType')" "application/vnd.oci.image.layer.v1.tar+zstd" \
	"-o type=oci,compression=zstd,compression-level=5"
"$MOLT" build --progress quiet -o "type=oci,dest=$WORK/bg.tar" "$WORK/id/c" >/dev/null 2>&1
mkdir -p "$WORK/bg" && tar -xf "$WORK/bg.tar" -C "$WORK/bg"
check "-o type=oci (an archive) gives the bytes of molt save --format oci" diff -r "$WORK/bg/blobs" "$WORK/c1/blobs"
molt_fails 2 "compression applies to type=oci" "-o type=local,compression=gzip is refused" \
	"$MOLT" build -o "type=local,dest=$WORK/l,compression=gzip" "$WORK/id/c"
molt_fails 2 "force-compression takes true or false" "force-compression=maybe is refused" \
	"$MOLT" build -o "type=oci,dest=$WORK/l,force-compression=maybe" "$WORK/id/c"
molt_fails 2 "compression 'brotli'" "-o compression=brotli is refused" \
	"$MOLT" build -o "type=image,name=x:1,compression=brotli" "$WORK/id/c"
molt_fails 2 "compression 'lz4'" "push --compression lz4 is refused" "$MOLT" push --compression lz4 id-c localhost:1/x:1

# ---- a base layer already gzip stays as it is; force-compression=true recompresses it
load_busybox
printf 'FROM busybox\nRUN seq 1 200000 >/n\n' | ctx bb >/dev/null
base_layer=$("$MOLT" inspect busybox | jq -r '.[0].Manifest.layers[0] | .mediaType + " " + .digest')
"$MOLT" build --progress quiet -t bb:1 -o "type=oci,dest=$WORK/bb1" "$WORK/ctx/bb" >/dev/null 2>"$WORK/err" ||
	diag "$(tail -n 5 "$WORK/err")"
is "$(manifest_of "$WORK/bb1" | jq -r '.layers[0] | .mediaType + " " + .digest')" "$base_layer" \
	"the base layer is exported as it was pulled (no force-compression)"
is "$(manifest_of "$WORK/bb1" | jq -r '.layers[1].mediaType')" "application/vnd.oci.image.layer.v1.tar+gzip" \
	"the RUN's layer is exported gzip"
"$MOLT" build --progress quiet -o "type=oci,dest=$WORK/bb2,compression=gzip,compression-level=9,force-compression=true" \
	"$WORK/ctx/bb" >/dev/null 2>&1
bl2=$(manifest_of "$WORK/bb2" | jq -r '.layers[0].digest')
[ -n "$bl2" ] && [ "$bl2" != "${base_layer#* }" ] && ok "force-compression=true recompresses the base layer" ||
	not_ok "force-compression=true recompresses the base layer"
is "$(gzip -dc "$(blob "$WORK/bb2" "$bl2")" | sha256sum | cut -d' ' -f1)" \
	"$("$MOLT" inspect busybox | jq -r '.[0].RootFS.Layers[0]' | sed 's/sha256://')" \
	"the recompressed base layer has the base's diff ID"

# ---- a stage that is never exported is never compressed
printf 'FROM busybox AS builder\nRUN seq 1 1000 >/built\nFROM busybox\nCOPY --from=builder /built /built\n' | ctx ms >/dev/null
"$MOLT" build --progress quiet -t ms:1 -o "type=oci,dest=$WORK/ms" "$WORK/ctx/ms" >/dev/null 2>&1
final=$("$MOLT" inspect ms:1 | jq -r '.[0].RootFS.Layers[-1]')
bad=0
for d in "$MOLT_ROOT"/convert/*/; do
	h=$(basename "$d")
	case " $("$MOLT" inspect id-c bb:1 ms:1 | jq -r '[.[].RootFS.Layers[]] | join(" ")') " in
	*"sha256:$h "*) ;;
	*) bad=1; diag "converted: sha256:$h (not a layer of an exported image)" ;;
	esac
done
is "$bad" 0 "only layers of exported images were converted (the builder stage's RUN never was)"
[ -d "$MOLT_ROOT/convert/${final#sha256:}" ] && ok "the final stage's layer was" || not_ok "the final stage's layer was"

# ---- gc: a conversion lives with its layer; no entry names a missing blob
mkdir -p "$WORK/gc" && seq 1 5000 >"$WORK/gc/g.txt" && printf 'FROM scratch\nCOPY g.txt /g\n' >"$WORK/gc/Dockerfile"
"$MOLT" build --progress quiet -t gc:1 "$WORK/gc" >/dev/null 2>&1
"$MOLT" save --format oci -o "$WORK/gc1/" gc:1
conv=$(manifest_of "$WORK/gc1" | jq -r '.layers[0].digest')
gcdiff=$("$MOLT" inspect gc:1 | jq -r '.[0].RootFS.Layers[0]')
"$MOLT" prune >/dev/null 2>&1
[ -f "$(blob "$MOLT_ROOT" "$conv")" ] && ok "prune keeps the converted blob of a live image" ||
	not_ok "prune keeps the converted blob of a live image"
"$MOLT" --debug save --format oci -o "$WORK/gc2/" gc:1 2>"$WORK/log3"
like "$(cat "$WORK/log3")" "as gzip-6: cached" "after prune the export is still a cache hit"
# the build cache keeps the layer alive too (layers/cache_index.c): drop it as a
# `prune --all` would, keeping the rest of the store
"$MOLT" rmi gc:1 >/dev/null && rm -rf "$MOLT_ROOT/cache" && "$MOLT" prune >/dev/null 2>&1
[ -e "$(blob "$MOLT_ROOT" "$conv")" ] && not_ok "once the layer is gone, prune removes the converted blob" ||
	ok "once the layer is gone, prune removes the converted blob"
[ -e "$MOLT_ROOT/convert/${gcdiff#sha256:}" ] && not_ok "and its entry" || ok "and its entry"
dangling=0
for e in "$MOLT_ROOT"/convert/*/*; do
	[ -f "$e" ] || continue
	[ -f "$(blob "$MOLT_ROOT" "$(cut -d' ' -f1 "$e")")" ] || { dangling=1; diag "dangling: $e"; }
done
is "$dangling" 0 "no conversion entry names a missing blob"

# ---- the store stays an OCI layout other tools read (uncompressed layers)
if command -v skopeo >/dev/null; then
	check "skopeo copies an image with uncompressed layers from the store" \
		skopeo copy -q "oci:$MOLT_ROOT:docker.io/library/bb:1" "oci:$WORK/skcopy:latest"
else
	skip "skopeo is not installed (scripts/install-deps.sh installs it)"
fi
if command -v umoci >/dev/null; then
	out=$(cd "$WORK" && umoci unpack --rootless --image "$MOLT_ROOT:docker.io/library/bb:1" "$WORK/ub" 2>&1)
	is "$(sha256sum <"$WORK/ub/rootfs/n" 2>/dev/null | cut -d' ' -f1)" "$(seq 1 200000 | sha256sum | cut -d' ' -f1)" \
		"umoci unpacks the uncompressed layer from the store"
else
	skip "umoci is not installed (scripts/install-deps.sh installs it)"
fi
# ---- push: gzip by default (the manifest of a gzip export), --compression zstd, and a
# second push converts nothing
. "$(dirname "$0")/registry_lib.sh"
reg_require
if ! reg_start; then
	not_ok "docker-registry starts on 127.0.0.1"; done_testing; exit 1
fi
reg_molt_env
out=$("$MOLT" --debug push -q bb:1 "$REG_HOST/t/bb:1" 2>"$WORK/push1"); rc=$?
is "$rc" 0 "molt push of a built image (uncompressed layers in the store)"
is "$out" "$(jq -r '.manifests[0].digest' "$WORK/bb1/index.json")" \
	"push sends the manifest of the gzip export (default gzip)"
is "$(reg_skopeo inspect --raw --tls-verify=false "docker://$REG_HOST/t/bb:1" | jq -r '.layers[1].mediaType')" \
	"application/vnd.oci.image.layer.v1.tar+gzip" "the registry holds a gzip layer"
like "$(cat "$WORK/push1")" "as gzip-6: cached" "the layer -o type=oci converted before is not converted again"
out=$("$MOLT" --debug push -q --compression zstd --compression-level 2 bb:1 "$REG_HOST/t/bbz:1" 2>"$WORK/push2"); rc=$?
is "$rc" 0 "molt push --compression zstd --compression-level 2"
is "$(reg_skopeo inspect --raw --tls-verify=false "docker://$REG_HOST/t/bbz:1" | jq -r '[.layers[].mediaType] | join(" ")')" \
	"${base_layer%% *} application/vnd.oci.image.layer.v1.tar+zstd" \
	"zstd for the built layer, the gzip base layer as it was pulled (no force-compression)"
like "$(cat "$WORK/push2")" "as zstd-2: converted" "the first zstd push converts"
"$MOLT" --debug push -q --compression zstd --compression-level 2 bb:1 "$REG_HOST/t/bbz:2" 2>"$WORK/push3"
like "$(cat "$WORK/push3")" "as zstd-2: cached" "a second push is a cache hit"
unlike "$(cat "$WORK/push3")" "converted" "and converts nothing"
"$MOLT" --root "$WORK/s2" pull -q "$REG_HOST/t/bbz:1" >/dev/null 2>&1
is "$("$MOLT" --root "$WORK/s2" inspect "$REG_HOST/t/bbz:1" | jq -r '.[0].Id')" "$("$MOLT" inspect bb:1 | jq -r '.[0].Id')" \
	"the zstd image pulls back with the same image ID"
"$MOLT" build --progress quiet -o "type=registry,name=$REG_HOST/t/reg:1,compression=zstd" "$WORK/ctx/bb" >/dev/null 2>&1
is "$(reg_skopeo inspect --raw --tls-verify=false "docker://$REG_HOST/t/reg:1" | jq -r '.layers[1].mediaType')" \
	"application/vnd.oci.image.layer.v1.tar+zstd" "-o type=registry,name=REF,compression=zstd pushes zstd"
"$MOLT" --root "$WORK/s2" prune --all >/dev/null 2>&1
done_testing
