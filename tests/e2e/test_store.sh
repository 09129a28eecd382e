#!/usr/bin/env bash
# The store and the image commands as an unprivileged user: load, import, images,
# inspect, tag, rmi, prune; bad input leaves the store untouched; determinism;
# concurrent writers; garbage of killed processes.
. "$(dirname "$0")/lib.sh"

BB=$FIXTURES/busybox
FULL=docker.io/library/busybox:latest
fixture_manifest=$(jq -r '.manifests[0].digest' "$BB/oci/index.json")
fixture_config=$(jq -r '.config.digest' "$BB/oci/blobs/sha256/${fixture_manifest#sha256:}")
nblobs() { find "$MOLT_ROOT/blobs/sha256" -type f | wc -l; }

# ---- load an OCI layout directory
out=$("$MOLT" load -i "$BB/oci" 2>&1); rc=$?
is "$rc" 0 "load the busybox OCI layout"
is "$out" "Loaded image: $FULL" "load names the image from io.containerd.image.name"
check "the store is an OCI layout" test -f "$MOLT_ROOT/oci-layout" -a -f "$MOLT_ROOT/index.json"
is "$(jq -r '.manifests[0].digest' "$MOLT_ROOT/index.json")" "$fixture_manifest" \
	"the stored manifest digest is the input's (blobs are stored as they are)"
is "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$MOLT_ROOT/index.json")" \
	"$FULL" "ref.name annotation is the full normalised name"
out=$("$MOLT" images)
like "$out" "^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE" "images prints docker's header"
like "$out" "docker.io/library/busybox +latest +${fixture_config:7:12} " "images lists repository, tag and the 12-digit ID"
id=$("$MOLT" images --json | jq -r '.[0].Id')
is "$id" "$fixture_config" "images --json gives the image ID (config digest)"

# ---- inspect
j=$("$MOLT" inspect busybox)
is "$(jq -r '.[0].Id' <<<"$j")" "$fixture_config" "inspect: Id is the config digest"
is "$(jq -r '.[0].RepoTags[0]' <<<"$j")" "$FULL" "inspect: RepoTags"
is "$(jq -c '.[0].Config.Cmd' <<<"$j")" '["sh"]' "inspect: Config.Cmd from the image config"
is "$(jq -r '.[0].ManifestDigest' <<<"$j")" "$fixture_manifest" "inspect: manifest digest"
is "$(jq -r '.[0].RootFS.Layers[0]' <<<"$j")" "sha256:$(sha256sum <"$BB/rootfs.tar" | cut -d' ' -f1)" \
	"inspect: RootFS.Layers are the diff IDs"
is "$("$MOLT" inspect "${fixture_config:7:12}" | jq -r '.[0].Id')" "$fixture_config" "inspect by ID prefix"
is "$("$MOLT" inspect "$fixture_manifest" | jq -r '.[0].Id')" "$fixture_config" "inspect by manifest digest"
molt_fails 1 "image 'nosuch' not found" "inspect of a missing image fails clearly" "$MOLT" inspect nosuch

# ---- import
diff_id=sha256:$(sha256sum <"$BB/rootfs.tar" | cut -d' ' -f1)
iid=$(SOURCE_DATE_EPOCH=0 "$MOLT" import "$BB/rootfs.tar" imp:1 2>&1)
like "$iid" "^sha256:[0-9a-f]{64}$" "import prints the image ID"
j=$("$MOLT" inspect imp:1)
is "$(jq -r '.[0].RootFS.Layers | join(",")' <<<"$j")" "$diff_id" "import: the diff ID is the tar's sha256"
is "$(jq -r '.[0].History[0].created_by' <<<"$j")" "molt import" "import: history says molt import"
is "$(jq -r '.[0].Manifest.layers[0].mediaType' <<<"$j")" "application/vnd.oci.image.layer.v1.tar+gzip" \
	"import: the layer is gzip-compressed"
layer=$(jq -r '.[0].Manifest.layers[0].digest' <<<"$j")
check "import: the layer blob decompresses to the input tar" \
	bash -c "gzip -dc '$MOLT_ROOT/blobs/sha256/${layer#sha256:}' | cmp - '$BB/rootfs.tar'"
# Same input → same digests, twice and from two other directories.
mkdir -p "$WORK/a" "$WORK/b"; cp "$BB/rootfs.tar" "$WORK/a/r.tar"; cp "$BB/rootfs.tar" "$WORK/b/r.tar"
i1=$(cd "$WORK/a" && SOURCE_DATE_EPOCH=0 "$MOLT" --root "$WORK/s1" import r.tar imp:1)
i2=$(cd "$WORK/b" && SOURCE_DATE_EPOCH=0 "$MOLT" --root "$WORK/s2" import r.tar imp:1)
is "$i1" "$iid" "import twice gives the same image ID"
is "$i2" "$iid" "import from another directory into another store gives the same ID"
is "$(jq -c .manifests "$WORK/s1/index.json")" "$(jq -c .manifests "$WORK/s2/index.json")" \
	"the two stores have byte-identical index entries (same manifest digest)"
"$MOLT" --root "$WORK/s3" load -i "$BB/oci" >/dev/null
is "$(jq -r '.manifests[0].digest' "$WORK/s3/index.json")" "$fixture_manifest" "load into a second store: same digest"
"$MOLT" --root "$WORK/s1" prune --all >/dev/null; "$MOLT" --root "$WORK/s2" prune --all >/dev/null
"$MOLT" --root "$WORK/s3" prune --all >/dev/null

# ---- tag
check "tag busybox another name" "$MOLT" tag busybox localhost:5000/mine:2
like "$("$MOLT" images)" "localhost:5000/mine +2 +${fixture_config:7:12}" "the new tag is listed with the same ID"
molt_fails 2 "invalid image name 'Bad:Name'.*lowercase" "tag to an invalid name exits 2 with the reason" \
	"$MOLT" tag busybox Bad:Name
molt_fails 1 "image 'nosuch' not found" "tag of a missing image fails" "$MOLT" tag nosuch x
molt_fails 2 "invalid image name" "import with an invalid name exits 2" "$MOLT" import "$BB/rootfs.tar" "a b"

# ---- bad input leaves the store untouched
cp "$MOLT_ROOT/index.json" "$WORK/index.before"
before_blobs=$(nblobs)
untouched() { cmp -s "$WORK/index.before" "$MOLT_ROOT/index.json" && [ "$(nblobs)" = "$before_blobs" ]; }
"$MOLT" save -o "$WORK/good.tar" busybox
head -c 600000 "$WORK/good.tar" >"$WORK/trunc.tar"
"$MOLT" rmi busybox localhost:5000/mine:2 >/dev/null; cp "$MOLT_ROOT/index.json" "$WORK/index.before"; before_blobs=$(nblobs)
molt_fails 1 "load: '.*trunc.tar' is not a readable tar archive: .*(runcated|EOF)" "a truncated tar is refused" \
	"$MOLT" load -i "$WORK/trunc.tar"
check "a truncated tar leaves the store untouched" untouched
cp -r "$BB/oci" "$WORK/bad1"; chmod -R u+w "$WORK/bad1"
lay=$(jq -r '.layers[0].digest' "$WORK/bad1/blobs/sha256/${fixture_manifest#sha256:}")
printf 'x' >>"$WORK/bad1/blobs/sha256/${lay#sha256:}"
molt_fails 1 "blob $lay does not match its digest" "a blob whose digest does not match is refused" \
	"$MOLT" load -i "$WORK/bad1"
check "a digest mismatch leaves the store untouched" untouched
cp -r "$BB/oci" "$WORK/bad2"; chmod -R u+w "$WORK/bad2"
rm "$WORK/bad2/blobs/sha256/${fixture_config#sha256:}"
molt_fails 1 "blob $fixture_config is missing" "a missing blob is refused" "$MOLT" load -i "$WORK/bad2"
check "a missing blob leaves the store untouched" untouched
cp -r "$BB/oci" "$WORK/bad3"; chmod -R u+w "$WORK/bad3"
jq -c '.manifests[0].annotations["io.containerd.image.name"] = "Not Valid!"' "$BB/oci/index.json" >"$WORK/bad3/index.json"
molt_fails 2 "invalid image name 'Not Valid!'" "an invalid image name in the input is refused" "$MOLT" load -i "$WORK/bad3"
check "an invalid name leaves the store untouched" untouched
molt_fails 1 "neither a docker save tar nor an OCI layout" "a directory that is no image is refused" \
	"$MOLT" load -i "$WORK/a"
molt_fails 1 "not a readable tar archive" "a file that is no tar is refused" "$MOLT" load -i "$BB/oci/oci-layout"
molt_fails 1 "No such file" "a missing input file is refused" "$MOLT" load -i "$WORK/nothere.tar"
molt_fails 1 "import: '.*trunc.tar': Truncated" "import of a truncated tar is refused" "$MOLT" import "$WORK/trunc.tar" t:1
check "everything refused left the store untouched" untouched
molt_fails 2 "nothing to load: stdin is empty" "load without -i and with an empty stdin is a usage error" \
	"$MOLT" load </dev/null

# ---- load a docker save tar made by molt: names come from RepoTags
out=$("$MOLT" load -i "$WORK/good.tar")
is "$out" "Loaded image: $FULL" "load of a docker save tar names it from RepoTags"
is "$("$MOLT" inspect busybox | jq -r '.[0].Id')" "$fixture_config" "the docker tar keeps the image ID"

# ---- docker tars with gzip layers (newer docker) and with a layer that lies
mkdir -p "$WORK/dz" && tar -C "$WORK/dz" -xf "$WORK/good.tar"
lt=$(jq -r '.[0].Layers[0]' "$WORK/dz/manifest.json")
gzip -n "$WORK/dz/$lt"
jq -c --arg l "$lt.gz" '.[0].Layers[0] = $l | .[0].RepoTags = ["gz:1"]' "$WORK/dz/manifest.json" >"$WORK/dz/m" && mv "$WORK/dz/m" "$WORK/dz/manifest.json"
(cd "$WORK/dz" && tar -cf "$WORK/dz.tar" ./*)
is "$("$MOLT" load -i "$WORK/dz.tar" 2>&1)" "Loaded image: docker.io/library/gz:1" "a docker tar with a gzip layer loads (diff ID checked after decompression)"
is "$("$MOLT" inspect gz:1 | jq -r '.[0].Manifest.layers[0].mediaType')" "application/vnd.oci.image.layer.v1.tar+gzip" \
	"a gzip docker layer is stored as tar+gzip"
"$MOLT" rmi gz:1 >/dev/null
gzip -d "$WORK/dz/$lt.gz"; printf 'tail' >>"$WORK/dz/$lt"
jq -c --arg l "$lt" '.[0].Layers[0] = $l' "$WORK/dz/manifest.json" >"$WORK/dz/m" && mv "$WORK/dz/m" "$WORK/dz/manifest.json"
rm -f "$WORK/dz.tar"; (cd "$WORK/dz" && tar -cf "$WORK/dz.tar" ./*)
cp "$MOLT_ROOT/index.json" "$WORK/index.before2"
molt_fails 1 "layer '.*' does not match diff ID" "a docker tar layer that does not match its diff ID is refused" \
	"$MOLT" load -i "$WORK/dz.tar"
check "the refused docker tar left the index untouched" cmp "$WORK/index.before2" "$MOLT_ROOT/index.json"

# ---- an unnamed image is listed by ID and can be named with tag
cp -r "$BB/oci" "$WORK/unnamed"; chmod -R u+w "$WORK/unnamed"
jq -c 'del(.manifests[0].annotations)' "$BB/oci/index.json" >"$WORK/unnamed/index.json"
"$MOLT" rmi busybox >/dev/null
out=$("$MOLT" load -i "$WORK/unnamed")
is "$out" "Loaded image ID: $fixture_config" "an image without a name loads by ID"
like "$("$MOLT" images)" "<none> +<none> +${fixture_config:7:12}" "an unnamed image is listed as <none> with its ID"
check "an unnamed image can be named with tag" "$MOLT" tag "${fixture_config:7:12}" named:1
unlike "$("$MOLT" images)" "<none>" "once named it is no longer <none>"

# ---- rmi and prune
"$MOLT" load -i "$BB/oci" >/dev/null
out=$("$MOLT" rmi named:1)
is "$out" "Untagged: docker.io/library/named:1" "rmi of one of two names only untags"
check "the image is still there under its other name" "$MOLT" inspect busybox
n_before=$(nblobs)
out=$("$MOLT" rmi "${iid:7:12}")
like "$out" "Deleted: $iid" "rmi by ID prefix deletes the image"
molt_fails 1 "image 'imp:1' not found" "the removed image is gone" "$MOLT" inspect imp:1
[ "$(nblobs)" -lt "$n_before" ] && ok "rmi removes blobs nothing uses any more" || not_ok "rmi removes unused blobs"
check "the other image's blobs are intact" test -f "$MOLT_ROOT/blobs/sha256/${fixture_config#sha256:}"
printf 'junk' >"$MOLT_ROOT/blobs/sha256/$(printf junk | sha256sum | cut -d' ' -f1)"
mkdir -p "$MOLT_ROOT/layers/sha256/0000000000000000000000000000000000000000000000000000000000000000/d"
out=$("$MOLT" prune)
like "$out" "removed 2 unused" "prune removes an unreferenced blob and unpacked layer"
check "prune keeps what images use" "$MOLT" inspect busybox
molt_fails 1 "image 'nosuch' not found" "rmi of a missing image fails" "$MOLT" rmi nosuch

# ---- a killed process's scratch directory is removed by the next molt
sleep 0 & dead=$!; wait $dead
mkdir -p "$MOLT_ROOT/tmp/$dead.deadbeef/sub"; echo half >"$MOLT_ROOT/tmp/$dead.deadbeef/sub/blob"
"$MOLT" images >/dev/null
check "scratch left by a dead process is cleaned up" test ! -e "$MOLT_ROOT/tmp/$dead.deadbeef"

# ---- concurrent writers
for i in 1 2 3 4; do
	SOURCE_DATE_EPOCH=$i "$MOLT" import "$BB/rootfs.tar" "conc:$i" >"$WORK/conc.$i" 2>&1 &
done
"$MOLT" load -i "$WORK/good.tar" >"$WORK/conc.load" 2>&1 &
wait
n=0; for i in 1 2 3 4; do "$MOLT" inspect "conc:$i" >/dev/null 2>&1 && n=$((n + 1)); done
is "$n" 4 "four imports and a load at once: every image is there"
names=$(jq -r '[.manifests[] | .annotations["io.containerd.image.name"] // "untagged"] | sort | join(" ")' "$MOLT_ROOT/index.json")
is "$names" "docker.io/library/busybox:latest docker.io/library/conc:1 docker.io/library/conc:2 docker.io/library/conc:3 docker.io/library/conc:4" \
	"index.json has all five names, none lost"

# ---- a multi-platform index: this machine's manifest is picked
arch=$(jq -r .architecture "$BB/oci/blobs/sha256/${fixture_config#sha256:}")
cp -r "$BB/oci" "$WORK/multi"; chmod -R u+w "$WORK/multi"
msize=$(stat -c %s "$BB/oci/blobs/sha256/${fixture_manifest#sha256:}")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%064d","size":1,"platform":{"architecture":"otherarch","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"%s","os":"linux"}}]}' \
	0 "$fixture_manifest" "$msize" "$arch" >"$WORK/multi/nested.json"
nested=sha256:$(sha256sum <"$WORK/multi/nested.json" | cut -d' ' -f1)
mv "$WORK/multi/nested.json" "$WORK/multi/blobs/sha256/${nested#sha256:}"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":%s,"annotations":{"io.containerd.image.name":"multi:1"}}]}' \
	"$nested" "$(stat -c %s "$WORK/multi/blobs/sha256/${nested#sha256:}")" >"$WORK/multi/index.json"
out=$("$MOLT" load -i "$WORK/multi" 2>&1)
is "$out" "Loaded image: docker.io/library/multi:1" "a multi-platform index loads (the other platform's blobs are not needed)"
is "$("$MOLT" inspect multi:1 | jq -r '.[0].ManifestDigest')" "$fixture_manifest" "the manifest for $arch was picked"
"$MOLT" rmi multi:1 >/dev/null

# ---- SIGKILL in the middle of a load: the store stays consistent
mkdir -p "$WORK/bigroot"; cp -a "$BB/rootfs/." "$WORK/bigroot/"
head -c $((24 << 20)) /dev/urandom >"$WORK/bigroot/blob"
tar -C "$WORK/bigroot" -cf "$WORK/big.tar" .
"$MOLT" --root "$WORK/s4" import "$WORK/big.tar" big:1 >/dev/null && "$MOLT" --root "$WORK/s4" save -o "$WORK/bigsave.tar" big:1
"$MOLT" --root "$WORK/s4" prune --all >/dev/null
for delay in 0.05 0.2 0.5; do
	"$MOLT" load -i "$WORK/bigsave.tar" >/dev/null 2>&1 & pid=$!
	sleep $delay; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
done
check "after SIGKILLs mid-load index.json is intact" jq -e .manifests "$MOLT_ROOT/index.json"
check "after SIGKILLs every listed image is complete" bash -c \
	"for m in \$(jq -r '.manifests[].digest' '$MOLT_ROOT/index.json'); do '$MOLT' inspect \$m >/dev/null || exit 1; done"
"$MOLT" prune >/dev/null
left=$(find "$MOLT_ROOT/tmp" -mindepth 1 | wc -l)
is "$left" 0 "the killed loads' scratch files are gone after the next molt"
check "a load after the kills works" "$MOLT" load -i "$WORK/bigsave.tar"
"$MOLT" rmi big:1 >/dev/null

# ---- a blob corrupted on disk is never used
cfg=$("$MOLT" inspect conc:1 | jq -r '.[0].Id')
chmod u+w "$MOLT_ROOT/blobs/sha256/${cfg#sha256:}"; printf ' ' >>"$MOLT_ROOT/blobs/sha256/${cfg#sha256:}"
molt_fails 1 "blob $cfg is corrupt" "a corrupted config blob is detected" "$MOLT" inspect conc:1

out=$("$MOLT" prune 2>&1)
like "$out" "removed 0 unused" "prune still works with a damaged image and keeps its blobs"
check "the damaged image's layer blob is kept" test -n "$(ls "$MOLT_ROOT/blobs/sha256")"
check "a damaged image can be removed by name" "$MOLT" rmi conc:1

# ---- layer trees are published unsynced (layers/store_fresh.c): after the machine
# restarts, the trees the ended boot wrote are removed and unpacked again from their
# blobs. A restart is simulated by renaming this boot's marker directory; the truncated
# file stands for data a crash lost.
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
if [ -z "$boot" ]; then
	for _ in 1 2 3 4 5 6; do skip "no readable boot ID"; done
else
	mkdir -p "$WORK/fresh"
	printf 'FROM busybox\nRUN echo kept >/f && mkdir /d && echo deep >/d/g\nRUN echo top >/t\n' \
		>"$WORK/fresh/Dockerfile"
	"$MOLT" build -q -t fresh:1 "$WORK/fresh" >/dev/null
	run1=$("$MOLT" inspect fresh:1 | jq -r '.[0].RootFS.Layers[1]')
	tree=$MOLT_ROOT/layers/sha256/${run1#sha256:}
	check "a step's tree has a marker naming this boot" \
		test -f "$MOLT_ROOT/layers/fresh/$boot/${run1#sha256:}"
	chmod u+w "$tree/f"; : >"$tree/f"
	mv "$MOLT_ROOT/layers/fresh/$boot" "$MOLT_ROOT/layers/fresh/00000000-0000-4000-8000-000000000000"
	out=$("$MOLT" --debug run --network none fresh:1 cat /f /d/g /t 2>&1)
	like "$out" "store: [0-9]+ layer trees written before the machine last started" \
		"the next molt removes the ended boot's trees"
	like "$out" "store: unpacked layer $run1" "the step's tree is unpacked again from its blob"
	is "$(grep -v '^molt: ' <<<"$out" | tr '\n' ' ')" "kept deep top " \
		"and has the content the build wrote"
	check "the ended boot's markers are gone" \
		test ! -e "$MOLT_ROOT/layers/fresh/00000000-0000-4000-8000-000000000000"
	"$MOLT" rmi fresh:1 >/dev/null
fi

# ---- prune --all empties everything
out=$("$MOLT" prune --all)
check "prune --all removes the store" test ! -e "$MOLT_ROOT"
done_testing
