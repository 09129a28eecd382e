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
# The same helpers for unshare (util-linux >= 2.38 maps the subuid range with
# newuidmap/newgidmap under --map-auto): the like-for-like floor for a subuid map.
auto=0
if [ "$idmap" = "subuid range via newuidmap/newgidmap" ] &&
	unshare --map-auto --map-root-user -mpf --mount-proc true 2>/dev/null; then
	auto=1
	cmds+=(-n "unshare --map-auto -rmpf --mount-proc true"
		"unshare --map-auto --map-root-user -mpf --mount-proc true")
fi
hyperfine -N --warmup 3 --runs "${BENCH_RUNS:-30}" --export-json "$work/h.json" "${cmds[@]}"

if command -v jq >/dev/null; then
	molt=$(jq '.results[0].median' "$work/h.json")
	bare=$(jq '.results[2].median' "$work/h.json")
	printf '\n%-36s %10s\n' "median" "ms"
	printf '%-36s %10.2f\n' "molt run --rootfs true" "$(jq -n "$molt * 1000")"
	printf '%-36s %10.2f\n' "unshare -Urmpf --mount-proc true" "$(jq -n "$bare * 1000")"
	printf '%-36s %10.2f\n' "molt --version" "$(jq '.results[3].median * 1000' "$work/h.json")"
	printf '%-36s %10.2fx\n' "ratio molt / unshare" "$(jq -n "$molt / $bare")"
	if [ "$auto" = 1 ]; then
		mapped=$(jq '.results[4].median' "$work/h.json")
		printf '%-36s %10.2f\n' "unshare --map-auto (newuidmap)" "$(jq -n "$mapped * 1000")"
		printf '%-36s %10.2fx\n' "ratio molt / unshare --map-auto" "$(jq -n "$molt / $mapped")"
	fi
fi
if [ -x /usr/bin/time ]; then
	rss=$(/usr/bin/time -f %M "$MOLT" run --rootfs "$root" true 2>&1 >/dev/null | tail -n1)
	printf '%-36s %10s KiB\n' "molt run peak RSS" "$rss"
fi

# The process-count watcher (sandbox/pidwatch.c): the CPU the step's pid 1 spends in a
# 2 s step with 1 and with 200 processes, read from /proc/1/stat at the step's end.
# As real root a pids cgroup bounds the step instead and pid 1 does not count.
pid1_cpu_ms() {
	local stat
	stat=$("$MOLT" run --rootfs "$root" sh -c "i=0; while [ \$i -lt $1 ]; do sleep 30 & i=\$((i+1)); done; sleep 2; cat /proc/1/stat") || return 1
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%d", ($12 + $13) * 1000 / hz }' <<<"$stat"
}
[ "$(id -u)" = 0 ] && echo "(as root: a pids cgroup, no watcher — run as a user to measure it)"
for n in 1 200; do
	printf '%-36s %10s ms CPU of pid 1\n' "2 s step, $n processes" "$(pid1_cpu_ms $n || echo '?')"
done
