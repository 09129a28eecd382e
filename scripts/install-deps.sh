#!/usr/bin/env bash
# scripts/install-deps.sh — every Debian 12 package molt needs to build, test, fuzz
# and benchmark. Idempotent; run as root (or it uses sudo).
set -euo pipefail
pkgs=(
	# build
	build-essential pkg-config git
	libseccomp-dev libcap-dev libmnl-dev libarchive-dev libjansson-dev libssl-dev
	libcurl4-openssl-dev zlib1g-dev libzstd-dev
	# gzip members of exported layers (layers/compress_blocks.c)
	libdeflate-dev
	# fuzzing and sanitizers
	clang libclang-rt-14-dev
	# runtime: newuidmap/newgidmap for the subuid map
	uidmap
	# runtime: git contexts (`molt build https://….git#ref`; git is also a build package)
	git
	# tests: the base image, interop peers, archive tools
	busybox-static file jq attr acl zstd xz-utils bzip2 gzip tar util-linux iproute2
	skopeo umoci podman buildah
	# registry tests: a real registry, its TLS and auth, the token server and fault front
	docker-registry apache2-utils openssl curl python3
	# docs tests: man -l renders the generated pages, bash -n checks the completion
	man-db groff-base bash-completion
	# examples and benchmarks
	debootstrap hyperfine time pigz strace
	# --ssh KEYFILE (molt starts ssh-agent) and its tests (ssh-keygen, ssh-add)
	openssh-client
)
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${pkgs[@]}"
