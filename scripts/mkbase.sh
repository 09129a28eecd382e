#!/usr/bin/env bash
# scripts/mkbase.sh busybox DEST — the test and demo base image, from Debian's
# busybox-static: DEST/rootfs/ (the tree), DEST/rootfs.tar (it as one tar) and DEST/oci/
# (an OCI image layout, tag "latest", named docker.io/library/busybox:latest).
# The same bytes every run on the same machine: sorted entries, fixed owners and
# mtimes, gzip without a name or time stamp. Needs no root.
#
# scripts/mkbase.sh debian DEST — a minimal Debian 12 rootfs with debootstrap (root
# only; used by the slow examples), as DEST/rootfs.tar and DEST/oci/.
set -euo pipefail
umask 022
kind=${1:-}; dest=${2:-}
if [ -z "$kind" ] || [ -z "$dest" ]; then
	echo "usage: scripts/mkbase.sh busybox|debian DEST" >&2; exit 2
fi
case $dest in /*) ;; *) dest=$PWD/$dest ;; esac
epoch=${SOURCE_DATE_EPOCH:-0}
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)

make_busybox_tree() {
	local root=$1 bb
	bb=$(command -v busybox || true)
	[ -x /bin/busybox ] && bb=/bin/busybox
	if [ -z "$bb" ] || ! file -L "$bb" 2>/dev/null | grep -q 'statically linked'; then
		echo "mkbase: a static busybox is needed (apt-get install busybox-static)" >&2
		exit 1
	fi
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,var/www,dev,proc,sys,run}
	cp "$bb" "$root/bin/busybox"
	chmod 0755 "$root/bin/busybox"
	local applet
	"$root/bin/busybox" --list-full | sort | while read -r applet; do
		[ "$applet" = bin/busybox ] && continue
		mkdir -p "$root/$(dirname "$applet")"
		ln -sf /bin/busybox "$root/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
}

# deterministic_tar DIR OUT: entries without "./", sorted, numeric 0:0, fixed mtime.
deterministic_tar() {
	local dir=$1 out=$2
	(cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
		tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
			--format=pax --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
			-cf "$out" -T -)
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# oci_layout TAR NAME CMD_JSON: DEST/oci from a one-layer rootfs tar.
oci_layout() {
	local tar=$1 name=$2 cmd=$3 oci=$dest/oci
	rm -rf "$oci"; mkdir -p "$oci/blobs/sha256"
	local diff layer cfg man created
	diff=$(sha "$tar")
	gzip -9 -n -c "$tar" >"$oci/layer.tmp"
	layer=$(sha "$oci/layer.tmp")
	mv "$oci/layer.tmp" "$oci/blobs/sha256/$layer"
	created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
	printf '{"architecture":"%s","config":{"Cmd":%s,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"created":"%s","history":[{"created":"%s","created_by":"scripts/mkbase.sh %s"}],"os":"linux","rootfs":{"diff_ids":["sha256:%s"],"type":"layers"}}' \
		"$arch" "$cmd" "$created" "$created" "$kind" "$diff" >"$oci/config.tmp"
	cfg=$(sha "$oci/config.tmp")
	local cfg_size; cfg_size=$(size "$oci/config.tmp")
	mv "$oci/config.tmp" "$oci/blobs/sha256/$cfg"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
		"$cfg" "$cfg_size" "$layer" "$(size "$oci/blobs/sha256/$layer")" >"$oci/manifest.tmp"
	man=$(sha "$oci/manifest.tmp")
	local man_size; man_size=$(size "$oci/manifest.tmp")
	mv "$oci/manifest.tmp" "$oci/blobs/sha256/$man"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"latest"}}]}' \
		"$man" "$man_size" "$name" >"$oci/index.json"
}

mkdir -p "$dest"
case $kind in
busybox)
	rm -rf "$dest/rootfs"
	make_busybox_tree "$dest/rootfs"
	deterministic_tar "$dest/rootfs" "$dest/rootfs.tar"
	oci_layout "$dest/rootfs.tar" docker.io/library/busybox:latest '["sh"]'
	;;
debian)
	if [ "$(id -u)" != 0 ]; then
		echo "mkbase: debootstrap needs root; run 'sudo scripts/mkbase.sh debian $dest'" >&2
		exit 1
	fi
	rm -rf "$dest/rootfs"
	debootstrap --variant=minbase bookworm "$dest/rootfs" >"$dest/debootstrap.log" 2>&1 || {
		echo "mkbase: debootstrap failed (see $dest/debootstrap.log)" >&2; exit 1; }
	rm -rf "$dest/rootfs"/var/cache/apt/archives/*.deb "$dest/rootfs"/var/lib/apt/lists/*
	deterministic_tar "$dest/rootfs" "$dest/rootfs.tar"
	oci_layout "$dest/rootfs.tar" docker.io/library/debian:bookworm '["bash"]'
	;;
*)
	echo "mkbase: unknown base '$kind' (busybox or debian)" >&2; exit 2 ;;
esac
echo "mkbase: $kind base in $dest"
