#!/usr/bin/env bash
# tests/bench/bench_sandbox.sh — the cost of one step sandbox: `molt run --rootfs DIR
# true` (build namespace, overlay, mounts, /dev, /proc, seccomp, pid 1) against the
# bare minimum `unshare -Urmpf --mount-proc true`, and `podman run` where it works.
# Prints hyperfine's table, the median ratio and molt's peak RSS. Nothing is asserted.
set -u
MOLT=${MOLT:-$(dirname "$0")/../../build/molt}
work=$(mktemp -d "${TMPDIR:-/tmp}/molt-bench-sandbox.XXXXXX")
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
bash "$(dirname "$0")/../../scripts/mkbase.sh" busybox "$work/bb" >/dev/null || exit 1
root=$work/bb/rootfs

if ! command -v hyperfine >/dev/null; then
	echo "hyperfine is not installed (scripts/install-deps.sh installs it)"; exit 0
fi
"$MOLT" run --rootfs "$root" true || { echo "molt run does not work here"; exit 1; }
# Who runs it decides the id map: root maps itself (no helper), a user with a subuid
# range runs the setuid newuidmap and newgidmap, which unshare -Ur never does.
user=$(id -un)
if [ "$(id -u)" = 0 ]; then idmap="identity (root)"
elif grep -q "^\($user\|$(id -u)\):" /etc/subuid 2>/dev/null; then idmap="subuid range via newuidmap/newgidmap"
else idmap="one id (no subuid range)"; fi
echo "as user $user; build namespace id map: $idmap"
cmds=(-n "molt run --rootfs true" "'$MOLT' run --rootfs '$root' true"
	-n "molt run --network none true" "'$MOLT' run --network none --rootfs '$root' true"
	-n "unshare -Urmpf --mount-proc true" "unshare -Urmpf --mount-proc true"
	-n "molt --version (process start)" "'$MOLT' --version")
hyperfine -N --warmup 3 --runs "${BENCH_RUNS:-30}" --export-json "$work/h.json" "${cmds[@]}"

if command -v jq >/dev/null; then
	molt=$(jq '.results[0].median' "$work/h.json")
	bare=$(jq '.results[2].median' "$work/h.json")
	printf '\n%-36s %10s\n' "median" "ms"
	printf '%-36s %10.2f\n' "molt run --rootfs true" "$(jq -n "$molt * 1000")"
	printf '%-36s %10.2f\n' "unshare -Urmpf --mount-proc true" "$(jq -n "$bare * 1000")"
	printf '%-36s %10.2f\n' "molt --version" "$(jq '.results[3].median * 1000' "$work/h.json")"
	printf '%-36s %10.2fx\n' "ratio molt / unshare" "$(jq -n "$molt / $bare")"
fi
if [ -x /usr/bin/time ]; then
	rss=$(/usr/bin/time -f %M "$MOLT" run --rootfs "$root" true 2>&1 >/dev/null | tail -n1)
	printf '%-36s %10s KiB\n' "molt run peak RSS" "$rss"
fi
