#!/usr/bin/env bash
# molt run --rootfs: the step sandbox seen from inside (SPEC.md §2, §5), as the
# unprivileged test user, on the busybox base. Each case names the rule it checks.
. "$(dirname "$0")/lib.sh"

ROOT=$WORK/rootfs
cp -a "$FIXTURES/busybox/rootfs" "$ROOT"
r() { "$MOLT" run --rootfs "$ROOT" "$@"; }
printf 'staff:x:50:nobody\nwheel:x:10:nobody,root\n' >>"$ROOT/etc/group"

# inside MODE: issue 4's list, shown from inside the sandbox, for one id-map mode:
# "subuid" (the user's /etc/subuid range), "single" (the one-id fallback) or "root"
# (molt run by real root: tests/e2e/root_sandbox.sh runs this script as root).
inside() {
	local m=$1 st out me
	me=$(id -u)
	# The mode is what it claims: the step's own uid_map says so.
	out=$(r cat /proc/self/uid_map | awk '{print $1, $2, $3}' | tr '\n' ' ')
	case $m in
	subuid) like "$out" "^0 $me 1 1 [0-9]+ [0-9]+ $" "[$m] uid_map: 0 is the caller, 1..N the subuid range" ;;
	single) is "$out" "0 $me 1 " "[$m] uid_map: only 0, the caller" ;;
	root) is "$out" "0 0 4294967295 " "[$m] uid_map: every id maps to itself" ;;
	esac

	# capabilities, no_new_privs, seccomp (Docker's defaults)
	st=$(r cat /proc/self/status)
	like "$st" "CapEff:[[:space:]]+00000000a80425fb" "[$m] root step: CapEff is Docker's 14 capabilities"
	like "$st" "CapPrm:[[:space:]]+00000000a80425fb" "[$m] root step: CapPrm is Docker's 14 capabilities"
	like "$st" "CapBnd:[[:space:]]+00000000a80425fb" "[$m] root step: CapBnd holds only Docker's 14"
	like "$st" "CapInh:[[:space:]]+0000000000000000" "[$m] no inheritable capabilities (moby, CVE-2022-24769)"
	like "$st" "CapAmb:[[:space:]]+0000000000000000" "[$m] no ambient capabilities"
	like "$st" "NoNewPrivs:[[:space:]]+1" "[$m] no_new_privs is set"
	like "$st" "Seccomp:[[:space:]]+2" "[$m] a seccomp filter is loaded"
	if [ $m != single ]; then
		st=$(r -u nobody cat /proc/self/status)
		like "$st" "CapEff:[[:space:]]+0000000000000000" "[$m] non-root USER: no effective capabilities (as docker run --user)"
		like "$st" "CapBnd:[[:space:]]+00000000a80425fb" "[$m] non-root USER: bounding set still Docker's 14"
		like "$st" "NoNewPrivs:[[:space:]]+1" "[$m] non-root USER: no_new_privs"
		like "$st" "Seccomp:[[:space:]]+2" "[$m] non-root USER: seccomp"
	fi

	# file descriptors
	out=$(r ls /proc/self/fd 3>/dev/null 4</etc/hostname 7>/dev/null | tr '\n' ' ')
	is "$out" "0 1 2 3 " "[$m] only 0, 1, 2 inside (3 is ls's own directory fd), even when molt got fds 3, 4, 7"

	# id
	case $m in
	single)
		is "$(r id -u):$(r id -g)" "0:0" "[$m] id: the step runs as uid 0, gid 0"
		molt_fails 1 "switch to .*one-id map" "[$m] a non-root USER fails with a clear reason" \
			"$MOLT" run --rootfs "$ROOT" -u nobody true ;;
	*)
		is "$(r id)" "uid=0(root) gid=0(root) groups=0(root),10(wheel)" "[$m] id: root, with its primary group and /etc/group memberships"
		is "$(r -u nobody id)" "uid=65534(nobody) gid=65534(nobody) groups=10(wheel),50(staff),65534(nobody)" "[$m] id: USER nobody with supplementary groups from the rootfs" ;;
	esac

	# network none: only lo, up
	is "$(r --network none ls /sys/class/net)" "lo" "[$m] --network none: only lo"
	like "$(r --network none cat /proc/net/dev)" "^ *lo:" "[$m] --network none: /proc/net/dev lists lo"
	is "$(r --network none cat /proc/net/dev | grep -c :)" "1" "[$m] --network none: and nothing else"
	like "$(r --network none ip link show lo)" "UP" "[$m] --network none: lo is up (rtnetlink)"

	# masked and read-only paths (Docker's lists)
	local mi p
	mi=$(r cat /proc/self/mountinfo)
	like "$mi" " /proc rw,nosuid,nodev,noexec" "[$m] /proc is a fresh proc, nosuid,nodev,noexec"
	for p in /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus /proc/fs; do
		if r test -e "$p"; then like "$mi" " $p ro," "[$m] $p is read-only"; else ok "[$m] $p absent in this kernel"; fi
	done
	for p in /proc/keys /proc/timer_list /proc/kcore /proc/sched_debug /proc/latency_stats /proc/interrupts; do
		is "$(r sh -c "cat $p 2>/dev/null | wc -c")" "0" "[$m] $p is masked"
	done
	is "$(r sh -c 'ls /proc/acpi /sys/firmware 2>/dev/null | grep -v : | grep -c .')" "0" "[$m] /proc/acpi and /sys/firmware are masked by empty directories"
	out=$(r sh -c 'echo x > /proc/sys/kernel/hostname && echo written; echo 1 > /proc/sysrq-trigger && echo written' 2>&1)
	unlike "$out" "written" "[$m] /proc/sys and /proc/sysrq-trigger cannot be written"
	out=$(r sh -c 'touch /sys/molt && echo written' 2>&1)
	unlike "$out" "written" "[$m] /sys is read-only"
	is "$(r sh -c 'echo $$')" "2" "[$m] the command is pid 2: pid 1 is molt's reaper in a new pid namespace"
	out=$(r sh -c 'cd /proc && echo [0-9]*' 2>&1)
	is "$out" "1 2" "[$m] only the sandbox's own processes are visible (pid 1 the reaper, pid 2 the shell)"

	# limits (sandbox/rlimits.c): no memory rlimit unless asked for (sanitizer builds
	# map terabytes of shadow that RLIMIT_DATA counts), oom_score_adj as the backstop
	local hd; hd=$(ulimit -Hd); [ "$hd" = unlimited ] || hd=$((hd * 1024))
	out=$(r cat /proc/self/limits)
	like "$out" "Max data size +$hd +$hd" "[$m] memory: no RLIMIT_DATA by default (the caller's hard limit stays)"
	like "$out" "Max address space +unlimited +unlimited" "[$m] memory: no RLIMIT_AS by default (JIT runtimes reserve GBs of it)"
	local np; np=$(ulimit -Hu); [ "$np" = unlimited ] || [ "$np" -gt 1024 ] && np=1024
	like "$out" "Max processes +$np +$np" "[$m] RLIMIT_NPROC is 1024 by default (or the caller's hard limit)"
	like "$(r -m 64m cat /proc/self/limits)" "Max data size +67108864 +67108864" "[$m] -m 64m sets RLIMIT_DATA"
	is "$(r sh -c 'cat /proc/self/oom_score_adj')" "1000" "[$m] oom_score_adj is 1000: the OOM killer picks a step's process first"

	# processes: nothing survives the step (ids unique to this run: others run in parallel)
	local s1=$((7000000 + $$ * 3)) s2=$((7000001 + $$ * 3)) s3=$((7000002 + $$ * 3)) t0 t1
	t0=$(date +%s)
	r sh -c "sleep $s1 & setsid sleep $s2 & (trap '' HUP; sleep $s3) >/dev/null 2>&1 & echo started" >/dev/null
	t1=$(date +%s)
	check "[$m] molt run returns when the command exits, not when its daemons do" test $((t1 - t0)) -lt 30
	sleep 0.3
	check "[$m] no process of the step is left running (daemons died with pid 1)" sh -c "! pgrep -f 'slee[p] ($s1|$s2|$s3)'"
	is "$(r sh -c '(sleep 0.2 &); sleep 1; grep -l "^[0-9]* ([^)]*) Z" /proc/[0-9]*/stat 2>/dev/null | wc -l')" "0" "[$m] orphans are reaped by pid 1 (no zombies)"
}

if [ "${MOLT_E2E_MODE:-}" = root ]; then
	[ "$(id -u)" = 0 ] || { not_ok "MOLT_E2E_MODE=root needs root"; done_testing; exit; }
	inside root
else
	if have_subuid; then inside subuid; else not_ok "the test user '$(id -un)' has a subuid range (run-tests.sh gives it one)"; fi
	export MOLT_IDMAP=single; inside single; unset MOLT_IDMAP
fi

# ---- exit codes (SPEC.md §2)
r true; is $? 0 "true exits 0"
r sh -c 'exit 42'; is $? 42 "the command's own status is molt run's exit code"
molt_fails 127 "run 'nosuchcmd': executable file not found in \\\$PATH" \
	"a command not in PATH exits 127 with one clear line" r nosuchcmd
molt_fails 127 "run '/no/such': no such file" "a missing absolute path exits 127" r /no/such
molt_fails 126 "run '/etc/passwd': Permission denied" "a non-executable file exits 126" r /etc/passwd
r sh -c 'kill -9 $$'; is $? 137 "killed by SIGKILL exits 128+9"
r sh -c 'kill -TERM $$'; is $? 143 "killed by SIGTERM exits 128+15"
out=$(r 2>&1 </dev/null; echo "rc=$?"); like "$out" "rc=0" "no CMD runs /bin/sh (stdin at EOF)"

# ---- USER forms (resolved from the rootfs's /etc/passwd and /etc/group; root and
# name forms are in inside() above)
is "$(r -u 1000 id)" "uid=1000 gid=0(root) groups=0(root)" "USER uid without a passwd entry: gid 0 (runc)"
is "$(r -u 1000:65534 id)" "uid=1000 gid=65534(nobody) groups=65534(nobody)" "USER uid:gid"
is "$(r -u nobody:root id)" "uid=65534(nobody) gid=0(root) groups=0(root)" "USER name:group (an explicit group replaces the memberships, runc)"
is "$(r -u 65534 sh -c 'echo $HOME')" "/nonexistent" "USER uid with an entry gets its HOME"
molt_fails 1 "user 'nosuch': no such user in the image's /etc/passwd" "unknown USER name fails with one line" r -u nosuch true
molt_fails 1 "group 'nogroup': no such group" "unknown group fails with one line" r -u root:nogroup true
# The passwd file must be read inside the root: a symlink to the host's must not be followed out.
cp -a "$ROOT" "$WORK/root-link"
mv "$WORK/root-link/etc/passwd" "$WORK/root-link/etc/real-passwd"
echo 'inroot:x:4242:0::/home/inroot:/bin/sh' >>"$WORK/root-link/etc/real-passwd"
ln -s /../../../../../../etc/real-passwd "$WORK/root-link/etc/passwd"
# A name the host's /etc/passwd has and the image's has not (root is in both).
hostuser=$(id -un); [ "$hostuser" = root ] && hostuser=${MOLT_TEST_USER:-molt-test}
molt_fails 1 "user '$hostuser': no such user" "USER lookup never reads the host's /etc/passwd through a symlink" \
	"$MOLT" run --rootfs "$WORK/root-link" -u "$hostuser" true
is "$("$MOLT" run --rootfs "$WORK/root-link" -u inroot id -u)" "4242" "an absolute /etc/passwd symlink resolves inside the rootfs"

# ---- working directory
is "$(r -w /a/b/c pwd)" "/a/b/c" "a missing working directory is created"
is "$(r -u nobody -w /srv/x sh -c 'pwd; stat -c %u /srv/x')" "$(printf '/srv/x\n0')" "the working directory is created as root before USER applies (Docker)"
molt_fails 1 "working directory '/proc/self/fd/" "WORKDIR /proc/self/fd/N is refused (CVE-2024-21626)" r -w /proc/self/fd/3 pwd
check "the rootfs is not modified by molt run (overlay over a tmpfs)" test ! -e "$ROOT/a"

# ---- environment from scratch
export MOLT_HOST_CANARY=canary-$$
out=$(r env | sort | tr '\n' ' ')
is "$out" "HOME=/root HOSTNAME=molt PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin " "the environment is PATH, HOSTNAME and HOME only: nothing of the caller's"
out=$(r -e FOO=bar -e 'SP=a b' -e PATH=/bin:/usr/bin env)
like "$out" "^FOO=bar$" "-e K=V is set"
like "$out" "^SP=a b$" "-e keeps spaces in the value"
like "$out" "^PATH=/bin:/usr/bin$" "-e PATH replaces the default PATH"
out=$(r -e MOLT_HOST_CANARY env)
like "$out" "MOLT_HOST_CANARY=canary-$$" "-e K without a value passes the caller's K (docker run -e K)"
unset MOLT_HOST_CANARY

# ---- hostname and generated /etc files
is "$(r hostname)" "molt" "the hostname is molt's, not the host's"
like "$(r cat /etc/hosts)" "127.0.0.1[[:space:]]+localhost molt" "/etc/hosts is generated"
is "$(r cat /etc/hostname)" "molt" "/etc/hostname is generated"
check "generated /etc files are never left in the rootfs" test ! -e "$ROOT/etc/hosts" -a ! -e "$ROOT/etc/hostname" -a ! -e "$ROOT/etc/resolv.conf"

# ---- /dev
out=$(r ls /dev | tr '\n' ' ')
is "$out" "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero " "/dev holds exactly the minimal set"
is "$(r stat -c '%F %t:%T' /dev/null)" "character special file 1:3" "/dev/null is the real device"
is "$(r sh -c 'head -c 16 /dev/urandom | wc -c')" "16" "/dev/urandom works"
like "$(r cat /proc/self/mountinfo)" " /dev/pts .*devpts.*ptmxmode=666" "/dev/pts is a private devpts instance"
like "$(r cat /proc/self/mountinfo)" " /dev/shm .*tmpfs" "/dev/shm is a tmpfs"

# ---- network (only lo under none: in inside() above)
like "$(r --network none ping -c1 -W2 127.0.0.1 2>&1)" "1 packets received|1 received" "--network none: loopback works"
is "$(r cat /proc/net/dev | wc -l)" "$(wc -l </proc/net/dev)" "--network host (default): the host's interfaces"

# ---- signals are forwarded
out_f=$WORK/sig.out
"$MOLT" run --rootfs "$ROOT" sh -c 'trap "echo got-TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done' >"$out_f" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q ready "$out_f" 2>/dev/null && break; sleep 0.1; done
kill -TERM $pid; wait $pid; rc=$?
is "$rc" 7 "SIGTERM to molt is forwarded to the command (its trap ran)"
like "$(cat "$out_f")" "got-TERM" "the command saw the forwarded SIGTERM"

out=$(trap '' PIPE; r grep SigIgn /proc/self/status)
like "$out" "SigIgn:[[:space:]]+0000000000000000" "signals the caller ignored are not ignored in the step"

# ---- volumes
mkdir -p "$WORK/vol"; echo host >"$WORK/vol/in"
is "$(r -v "$WORK/vol:/data" sh -c 'cat /data/in; echo made > /data/out')" "host" "-v binds a host directory"
is "$(cat "$WORK/vol/out")" "made" "-v writes reach the host directory"
r -v "$WORK/vol:/data:ro" sh -c 'echo x > /data/ro' 2>/dev/null && not_ok "-v :ro is read-only" || ok "-v :ro is read-only"
check "volume mount points are not left in the rootfs" test ! -e "$ROOT/data"

# ---- hostile rootfs layouts (CVE-2025-31133)
for what in proc dev; do
	cp -a "$ROOT" "$WORK/bad-$what"; rm -rf "$WORK/bad-$what/$what"; ln -s /tmp "$WORK/bad-$what/$what"
	molt_fails 1 "'/$what' is a symlink" "a rootfs whose /$what is a symlink is refused" "$MOLT" run --rootfs "$WORK/bad-$what" true
done
cp -a "$ROOT" "$WORK/bad-null"; ln -s /etc/passwd "$WORK/bad-null/dev/null"
molt_fails 1 "'/dev/null' is a symlink" "a rootfs whose /dev/null is a symlink is refused" "$MOLT" run --rootfs "$WORK/bad-null" true

# ---- IMAGE: an overlay of the image's unpacked layers, changes discarded
if "$MOLT" import "$FIXTURES/busybox/rootfs.tar" runbox:1 >/dev/null 2>&1; then
	is "$("$MOLT" run runbox:1 sh -c 'cat /etc/hostname; touch /scratch; id -u')" "$(printf 'molt\n0')" "molt run IMAGE runs over the image's layers"
	"$MOLT" run runbox:1 test -e /scratch; is $? 1 "molt run IMAGE: a second run starts from the image again"
	is "$("$MOLT" run --network none -u nobody runbox:1 id -u)" "65534" "molt run IMAGE takes the usual options"
	molt_fails 1 "image 'nosuch:1' not found" "molt run with an unknown image fails with one line" "$MOLT" run nosuch:1 true
	check "molt run IMAGE leaves no scratch directory in the store" sh -c "! ls '$MOLT_ROOT/tmp/'*/run >/dev/null 2>&1"
else
	not_ok "molt import of the busybox fixture (needed for the IMAGE cases)"
fi

# ---- usage
molt_fails 2 "an IMAGE or --rootfs DIR is required" "molt run without IMAGE or --rootfs is a usage error" "$MOLT" run
molt_fails 2 "memory size '64q' is not a number" "--memory with an unknown unit is a usage error" "$MOLT" run -m 64q --rootfs "$ROOT" true
molt_fails 2 "below the minimum of 6m" "--memory below Docker's minimum (6m) is a usage error" "$MOLT" run --memory 1m --rootfs "$ROOT" true
molt_fails 2 "pids limit 'x' is not a number" "--pids-limit must be a number" "$MOLT" run --pids-limit x --rootfs "$ROOT" true
like "$(r --pids-limit 64 cat /proc/self/limits)" "Max processes +64 +64" "--pids-limit 64 sets RLIMIT_NPROC"
molt_fails 2 "unknown network 'bogus'" "an unknown --network is a usage error" "$MOLT" run --network bogus --rootfs "$ROOT" true
done_testing
