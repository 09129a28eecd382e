#!/usr/bin/env bash
# scripts/mkbase.sh busybox DEST — the test and demo base image, from Debian's
# busybox-static: DEST/rootfs/ (the tree), DEST/rootfs.tar (it as one tar) and DEST/oci/
# (an OCI image layout, tag "latest", named docker.io/library/busybox:latest).
# The same bytes every run on the same machine: sorted entries, fixed owners and
# mtimes, gzip without a name or time stamp. Needs no root.
#
# scripts/mkbase.sh debian DEST — a minimal Debian 12 (bookworm, --variant=minbase) with
# debootstrap, root only, for the slow examples: the same three outputs, named
# docker.io/library/debian:bookworm. The mirror is MOLT_DEBIAN_MIRROR, else the host's
# own apt configuration (read at run time, never written into this repository); the
# image's apt sources point at the same http mirror so apt-get works in RUN steps.
# Owners are kept (apt's _apt owns its partial dirs), device nodes, caches, logs and
# the machine id are dropped, mtimes are clamped to SOURCE_DATE_EPOCH (default 0).
# Not bit-for-bit across days: the mirror moves; on one mirror state it is.
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

# host_mirror SUITE: the first http(s) URI of the host's apt sources that serves SUITE
# (deb822 .sources files and one-line sources.list entries).
host_mirror() {
	local suite=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$suite" '
			function flush() { if (deb && uri != "" && (" " suites " ") ~ (" " suite " ")) { print uri; found = 1; exit } }
			/^[ \t]*$/ { flush(); deb = 0; uri = ""; suites = ""; next }
			/^Types:/ { deb = ($0 ~ /[ \t]deb([ \t]|$)/) }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { suites = $0; sub(/^Suites:[ \t]*/, "", suites) }
			END { if (!found) flush() }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v suite="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++; if ($(i + 1) == suite) print $i }'
}

debian_mirror() {
	local m=${MOLT_DEBIAN_MIRROR:-}
	[ -n "$m" ] || m=$(host_mirror bookworm | grep -m1 '^http' || true)
	if [ -z "$m" ]; then
		echo "mkbase: no Debian mirror: set MOLT_DEBIAN_MIRROR or add a bookworm source to /etc/apt" >&2
		exit 1
	fi
	echo "${m%/}"
}

# debian_clean ROOT: what a container base must not carry — state of this machine and of
# the debootstrap run, which would also make two runs differ.
debian_clean() {
	local r=$1
	if grep -q " $r/" /proc/self/mounts; then
		echo "mkbase: something is still mounted under $r; not cleaning it" >&2
		exit 1
	fi
	# debootstrap made real device nodes; the sandbox gives each step its own /dev, and
	# molt's unpacker refuses device nodes in layers anyway.
	find "$r/dev" -mindepth 1 -delete
	find "$r/proc" "$r/sys" "$r/run" -mindepth 1 -delete 2>/dev/null || true
	rm -rf "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* \
		"$r"/var/cache/ldconfig/aux-cache "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
		"$r"/tmp/* "$r"/var/tmp/* "$r"/root/.bash_history
	mkdir -p "$r/var/lib/apt/lists/partial"
	chown 0:0 "$r/var/lib/apt/lists"
	local apt_uid
	apt_uid=$(awk -F: '$1 == "_apt" { print $3 }' "$r/etc/passwd")
	[ -n "$apt_uid" ] && chown "$apt_uid:0" "$r/var/lib/apt/lists/partial"
	chmod 0700 "$r/var/lib/apt/lists/partial"
	find "$r/var/log" -type f -exec truncate -s 0 {} +
	# systemd's convention for images: an empty machine-id means "first boot, make one";
	# a shared id would make every container of the image look like one machine.
	: >"$r/etc/machine-id"
	rm -f "$r/var/lib/dbus/machine-id"
	# The sandbox bind-mounts its own; the host's must not reach the image.
	: >"$r/etc/resolv.conf"
	echo localhost >"$r/etc/hostname"
}

# debian_configure ROOT MIRROR SECURITY_MIRROR: apt and dpkg set up for builds in a
# container, as Docker's official debian image does.
debian_configure() {
	local r=$1 m=$2 sec=$3
	rm -f "$r/etc/apt/sources.list"
	{
		printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$m"
		[ -n "$sec" ] && printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$sec"
	} >"$r/etc/apt/sources.list.d/debian.sources"
	# No service may start inside a build step (there is no init to own it).
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 0755 "$r/usr/sbin/policy-rc.d"
	# Downloaded .debs and package lists would land in the step's layer.
	cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
APT
	printf 'Acquire::Languages "none";\n' >"$r/etc/apt/apt.conf.d/docker-no-languages"
	printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
	# fsync per file buys nothing in a layer that is only kept when the step succeeds.
	printf 'force-unsafe-io\n' >"$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
}

# debian_tar DIR OUT: like deterministic_tar, but with the tree's own numeric owners.
debian_tar() {
	local dir=$1 out=$2
	(cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
		tar --sort=name --mtime="@$epoch" --clamp-mtime --numeric-owner --xattrs \
			--xattrs-include=security.capability \
			--format=pax --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
			-cf "$out" -T -)
}

make_debian() {
	if [ "$(id -u)" != 0 ]; then
		echo "mkbase: debootstrap needs root (it creates files owned by other users and device nodes); run 'sudo scripts/mkbase.sh debian $dest'" >&2
		exit 1
	fi
	if ! command -v debootstrap >/dev/null; then
		echo "mkbase: debootstrap is not installed (scripts/install-deps.sh installs it)" >&2
		exit 1
	fi
	local mirror sec
	mirror=$(debian_mirror)
	sec=${MOLT_DEBIAN_SECURITY_MIRROR:-$(host_mirror bookworm-security | grep -m1 '^http' || true)}
	sec=${sec%/}
	rm -rf "$dest/rootfs" "$dest/rootfs.tar"
	echo "mkbase: debootstrap bookworm (minbase), this takes a few minutes"
	if ! debootstrap --variant=minbase --arch="$arch" bookworm "$dest/rootfs" "$mirror" \
		>"$dest/debootstrap.log" 2>&1; then
		echo "mkbase: debootstrap failed (see $dest/debootstrap.log)" >&2
		tail -n 5 "$dest/debootstrap.log" >&2
		exit 1
	fi
	debian_configure "$dest/rootfs" "$mirror" "$sec"
	debian_clean "$dest/rootfs"
	debian_tar "$dest/rootfs" "$dest/rootfs.tar"
	oci_layout "$dest/rootfs.tar" docker.io/library/debian:bookworm '["bash"]'
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
	make_debian
	;;
*)
	echo "mkbase: unknown base '$kind' (busybox or debian)" >&2; exit 2 ;;
esac
echo "mkbase: $kind base in $dest"
