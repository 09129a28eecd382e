#!/usr/bin/env bash
# scripts/demo.sh (`make demo`): builds molt, makes the busybox base image, builds
# examples/static-site with molt and serves it on http://127.0.0.1:8080/.
# Run `sudo scripts/install-deps.sh` once before (the README's first command does).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s
molt=$PWD/build/molt
base=${MOLT_DEMO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molt-demo}
scripts/mkbase.sh busybox "$base/busybox"
"$molt" load -i "$base/busybox/oci"
"$molt" build --progress plain -t static-site:latest examples/static-site
echo
echo "serving examples/static-site on http://127.0.0.1:8080/ (Ctrl-C stops it)"
exec "$molt" run --network host static-site:latest
