#!/usr/bin/env bash
# Run by tests/run-tests.sh as root: a user to whom a pids cgroup is delegated (root
# makes one and chowns it, as systemd's Delegate=yes does) gets the step's process
# bound from pids.max — forks fail at the limit, counted by the kernel across every
# uid the step switches to — instead of pid 1's count, which would end the step.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	skip "needs root to delegate a cgroup (make check as root runs this)"
	done_testing; exit 0
fi
user=${MOLT_TEST_USER:-molt-test}
if ! id "$user" >/dev/null 2>&1 || ! grep -q "^$user:" /etc/subuid; then
	skip "test user '$user' with a subuid range does not exist (tests/run-tests.sh makes it)"
	done_testing; exit 0
fi
# v1 (a pids hierarchy, as on hybrid hosts): the user's own cgroup. v2: a delegated
# parent with pids on for its children, and a leaf below it for the user's processes.
if [ -e /sys/fs/cgroup/pids/cgroup.procs ]; then
	base=/sys/fs/cgroup/pids/molt-deleg-$$; mkdir "$base" && leaf=$base
elif grep -qw pids /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
	base=/sys/fs/cgroup/molt-deleg-$$
	echo +pids >/sys/fs/cgroup/cgroup.subtree_control && mkdir "$base" &&
		echo +pids >"$base/cgroup.subtree_control" && mkdir "$base/leaf" && leaf=$base/leaf
else
	skip "no pids cgroup controller on this host"; done_testing; exit 0
fi
[ -n "${leaf:-}" ] || { not_ok "make the delegated cgroup"; done_testing; exit 1; }
chown -R "$user" "$base"
trap 'rmdir "$base"/*/ "$base" 2>/dev/null; cleanup_work' EXIT

d=$WORK/deleg
mkdir -p "$d"; cp -a "$FIXTURES/busybox/rootfs" "$d/rootfs"; chown -R "$user:" "$d"; chmod 755 "$WORK" "$d"
# as_user CMD...: CMD as the test user, started inside the delegated cgroup.
as_user() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$leaf" \
		setpriv --reuid="$user" --regid="$user" --init-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME="$d" MOLT_ROOT="$d/store" "$@"
}
out=$(as_user "$MOLT" run --pids-limit 40 -v "$STAGE/helpers:/probes:ro" --rootfs "$d/rootfs" \
	/probes/probe_pidsuids 8 20 1 2>&1); rc=$?
like "$out" "stopped by: Resource temporarily unavailable after" \
	"delegated cgroup: a step spread over 8 uids cannot fork past pids.max (forks fail at the limit)"
n=$(printf '%s\n' "$out" | sed -n 's/.*after \([0-9]*\)$/\1/p')
check "delegated cgroup: it got fewer than 40 processes in all (${n:-none})" test "${n:-99}" -lt 40
is "$rc" 0 "delegated cgroup: the step ran to its end (no watcher had to end it)"
unlike "$out" "exceeded the process limit" "delegated cgroup: pid 1 did not need to count"
is "$(ls -d "$base"/molt-* 2>/dev/null | wc -l)" 0 "delegated cgroup: the step's cgroup is removed afterwards"
done_testing
