#!/usr/bin/env bash
# molt's store and archives against real tools: skopeo reads and copies the store,
# molt loads what skopeo writes, podman loads what molt saves, umoci unpacks from the
# store the same tree as the fixture.
. "$(dirname "$0")/lib.sh"

BB=$FIXTURES/busybox
FULL=docker.io/library/busybox:latest
"$MOLT" load -i "$BB/oci" >/dev/null || { not_ok "load the fixture"; done_testing; exit 1; }
manifest=$(jq -r '.manifests[0].digest' "$MOLT_ROOT/index.json")
id=$("$MOLT" inspect busybox | jq -r '.[0].Id')

# ---- skopeo reads the store directly (oci:DIR:REF matches org.opencontainers.image.ref.name)
if command -v skopeo >/dev/null; then
	out=$(skopeo inspect "oci:$MOLT_ROOT:$FULL" 2>&1)
	is "$(jq -r .Digest <<<"$out" 2>/dev/null)" "$manifest" "skopeo inspect oci:\$MOLT_ROOT:$FULL"
	cfg=$(skopeo inspect --config "oci:$MOLT_ROOT:$FULL" 2>&1 | jq -c .config.Cmd 2>/dev/null)
	is "$cfg" '["sh"]' "skopeo reads the image config from the store"
	check "skopeo copy from the store to an OCI layout" \
		skopeo copy -q "oci:$MOLT_ROOT:$FULL" "oci:$WORK/copy:latest"
	is "$(jq -r '.manifests[0].digest' "$WORK/copy/index.json")" "$manifest" "the copy keeps the manifest digest"
	"$MOLT" tag busybox localhost:5000/t/x:9
	check "skopeo finds a second tag with a registry port" skopeo inspect "oci:$MOLT_ROOT:localhost:5000/t/x:9"

	# ---- molt loads what skopeo writes
	check "skopeo copy to oci-archive" skopeo copy -q "oci:$BB/oci:latest" "oci-archive:$WORK/sk-oci.tar:foo/bar:v1"
	check "skopeo copy to docker-archive" skopeo copy -q "oci:$BB/oci:latest" "docker-archive:$WORK/sk-docker.tar:dock/img:2"
	out=$("$MOLT" load -i "$WORK/sk-oci.tar" 2>&1)
	is "$out" "Loaded image: docker.io/foo/bar:v1" "molt loads skopeo's oci-archive (name from ref.name)"
	is "$("$MOLT" inspect foo/bar:v1 | jq -r '.[0].Id')" "$id" "the oci-archive image has the same ID"
	out=$("$MOLT" load -i "$WORK/sk-docker.tar" 2>&1)
	is "$out" "Loaded image: docker.io/dock/img:2" "molt loads skopeo's docker-archive (name from RepoTags)"
	is "$("$MOLT" inspect dock/img:2 | jq -r '.[0].Id')" "$id" "the docker-archive image has the same ID"

	# ---- what molt saves, skopeo reads
	"$MOLT" save -o "$WORK/m-oci.tar" --format oci busybox
	is "$(skopeo inspect "oci-archive:$WORK/m-oci.tar" 2>&1 | jq -r .Digest 2>/dev/null)" "$manifest" \
		"skopeo inspects molt save --format oci"
	"$MOLT" save -o "$WORK/m-docker.tar" --format docker busybox
	is "$(skopeo inspect --config "docker-archive:$WORK/m-docker.tar" 2>&1 | jq -r '.rootfs.diff_ids[0]' 2>/dev/null)" \
		"$("$MOLT" inspect busybox | jq -r '.[0].RootFS.Layers[0]')" "skopeo inspects molt save --format docker"
	is "$(tar -xOf "$WORK/m-oci.tar" index.json | jq -r '.manifests[0].annotations["io.containerd.image.name"]')" \
		"$FULL" "molt's OCI archive names the image like BuildKit (io.containerd.image.name)"
	"$MOLT" save --format oci -o "$WORK/layout/" busybox
	is "$(skopeo inspect "oci:$WORK/layout:latest" 2>&1 | jq -r .Digest 2>/dev/null)" "$manifest" \
		"skopeo reads the OCI layout directory molt save writes for -o DIR/"
else
	skip "skopeo is not installed (scripts/install-deps.sh installs it)"
fi

# ---- an OCI layout directory out and back in
[ -d "$WORK/layout" ] || "$MOLT" save --format oci -o "$WORK/layout/" busybox
is "$("$MOLT" --root "$WORK/s2" load -i "$WORK/layout" 2>&1)" "Loaded image: $FULL" "molt loads the layout it saved"
"$MOLT" --root "$WORK/s2" prune --all >/dev/null
molt_fails 1 "'.*layout' exists and is not an empty directory" "save into a non-empty directory is refused" \
	"$MOLT" save --format oci -o "$WORK/layout/" busybox
is "$(ls -d "$WORK"/layout.tmp-* 2>/dev/null | wc -l)" 0 "a refused save leaves no temporary directory"

# ---- same input, same bytes: save twice, from two directories
mkdir -p "$WORK/d1" "$WORK/d2"
(cd "$WORK/d1" && "$MOLT" save -o out.tar busybox) && (cd "$WORK/d2" && "$MOLT" save -o out.tar busybox)
check "molt save twice gives identical tars" cmp "$WORK/d1/out.tar" "$WORK/d2/out.tar"
(cd "$WORK/d1" && "$MOLT" save --format oci -o o.tar busybox) && (cd "$WORK/d2" && "$MOLT" save --format oci -o o.tar busybox)
check "molt save --format oci twice gives identical tars" cmp "$WORK/d1/o.tar" "$WORK/d2/o.tar"

# ---- podman loads molt save --format docker
if command -v podman >/dev/null; then
	mkdir -p "$WORK/run" && chmod 700 "$WORK/run"
	pm() { XDG_RUNTIME_DIR=$WORK/run XDG_CONFIG_HOME=$WORK/pmconf podman --root "$WORK/pm/root" \
		--runroot "$WORK/run/pm" --storage-driver vfs --cgroup-manager cgroupfs --events-backend file "$@"; }
	out=$(pm load -i "$WORK/m-docker.tar" 2>&1); rc=$?
	if [ $rc -eq 0 ]; then
		ok "podman load accepts molt save --format docker"
		is "$(pm image inspect "$FULL" --format '{{.Id}}' 2>&1)" "${id#sha256:}" \
			"podman sees the same image ID under the full name"
	else
		not_ok "podman load accepts molt save --format docker"; diag "$out"
	fi
	pm unshare rm -rf "$WORK/pm" >/dev/null 2>&1
else
	skip "podman is not installed (scripts/install-deps.sh installs it)"
fi

# ---- umoci unpacks from the store the fixture's tree
if command -v umoci >/dev/null; then
	out=$(cd "$WORK" && umoci unpack --rootless --image "$MOLT_ROOT:$FULL" "$WORK/bundle" 2>&1); rc=$?
	is "$rc" 0 "umoci unpack --rootless from molt's store"; [ $rc -eq 0 ] || diag "$out"
	tree() { (cd "$1" && find . -mindepth 1 -printf '%P %y %m %s %l\n' | LC_ALL=C sort); }
	tree "$BB/rootfs" >"$WORK/want.list"; tree "$WORK/bundle/rootfs" >"$WORK/got.list"
	if cmp -s "$WORK/want.list" "$WORK/got.list"; then
		ok "umoci's tree has the fixture's files, types, modes, sizes and link targets"
	else
		not_ok "umoci's tree equals the fixture rootfs"; diag "$(diff "$WORK/want.list" "$WORK/got.list" | head -20)"
	fi
	check "umoci left the store a valid layout molt still reads" "$MOLT" inspect busybox
else
	skip "umoci is not installed (scripts/install-deps.sh installs it)"
fi
# ---- a layer of several compression blocks (layers/compress_blocks.c: one gzip member
# per MiB of tar): every peer reads all members, not just the first. Build steps store
# their layers uncompressed; the gzip members are made when the image is exported.
mkdir -p "$WORK/bigctx"
printf 'FROM busybox\nRUN seq 1 600000 > /numbers\n' >"$WORK/bigctx/Dockerfile"
if "$MOLT" build --progress quiet -t multi:1 "$WORK/bigctx" >/dev/null 2>"$WORK/big.log"; then
	want=$(seq 1 600000 | sha256sum | cut -d' ' -f1)
	"$MOLT" save --format oci -o "$WORK/multi-oci/" multi:1
	blob=$(jq -r '.manifests[0].digest' "$WORK/multi-oci/index.json")
	layer=$(jq -r '.layers[-1].digest' "$WORK/multi-oci/blobs/sha256/${blob#sha256:}" 2>/dev/null)
	n=$(LC_ALL=C grep -a -o -P '\x1f\x8b\x08\x00\x00\x00\x00\x00' "$WORK/multi-oci/blobs/sha256/${layer#sha256:}" 2>/dev/null | wc -l)
	[ "${n:-0}" -ge 2 ] && ok "the RUN's 3.9 MB layer is exported as several gzip members ($n headers seen)" \
		|| not_ok "the RUN's 3.9 MB layer is exported as several gzip members"
	is "$(gzip -dc "$WORK/multi-oci/blobs/sha256/${layer#sha256:}" | tar -xOf - numbers 2>/dev/null | sha256sum | cut -d' ' -f1)" \
		"$want" "gzip -dc | tar reads the whole multi-member layer"
	if command -v umoci >/dev/null; then
		(cd "$WORK" && umoci unpack --rootless --image "$WORK/multi-oci:1" "$WORK/bigbundle" >/dev/null 2>&1)
		is "$(sha256sum <"$WORK/bigbundle/rootfs/numbers" 2>/dev/null | cut -d' ' -f1)" "$want" \
			"umoci (Go's gzip) unpacks the whole multi-member layer"
	else
		skip "umoci is not installed (scripts/install-deps.sh installs it)"
	fi
	if command -v podman >/dev/null; then
		"$MOLT" save -o "$WORK/multi.tar" multi:1
		out=$(pm load -i "$WORK/multi.tar" 2>&1); rc=$?
		is "$rc" 0 "podman load verifies the multi-member layer's diff ID" || diag "$out"
		is "$(pm image inspect docker.io/library/multi:1 --format '{{.Id}}' 2>&1)" \
			"$("$MOLT" inspect multi:1 | jq -r '.[0].Id' | sed 's/^sha256://')" "podman sees the same image ID"
		pm unshare rm -rf "$WORK/pm" >/dev/null 2>&1
	else
		skip "podman is not installed (scripts/install-deps.sh installs it)"
	fi
else
	not_ok "build an image with a multi-block layer"; diag "$(tail -n 5 "$WORK/big.log")"
fi
done_testing
