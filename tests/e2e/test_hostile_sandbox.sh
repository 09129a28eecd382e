#!/usr/bin/env bash
# The hostile suite: every sandbox class of SECURITY.md attacked for real with the
# static probes of tests/helpers/, through `molt run`, and the host checked afterwards
# (a sentinel process, molt's binary hash, a host TCP listener and abstract unix
# socket, host environment canaries). Run with the subuid map and the one-id map, and
# as real root by root_sandbox.sh.
. "$(dirname "$0")/lib.sh"

ROOT=$WORK/rootfs
cp -a "$FIXTURES/busybox/rootfs" "$ROOT"
P=$STAGE/helpers
if [ ! -x "$P/probe_syscalls" ]; then
	not_ok "the probes were built (tests/helpers → $P)"; done_testing; exit
fi
export MOLT_SECRET_CANARY=canary-$$-secret
# p [molt run options...] -- PROBE ARGS: runs a probe from the read-only probe mount.
p() {
	local opts=()
	while [ "$1" != "--" ]; do opts+=("$1"); shift; done; shift
	"$MOLT" run "${opts[@]}" -v "$P:/probes:ro" --rootfs "$ROOT" "/probes/$@"
}

# ---- the host side: a sentinel, molt's hash, a TCP listener and an abstract socket
sleep 3600 & sentinel=$!
hash_before=$(sha256sum "$MOLT" | cut -d' ' -f1)
port=$((20000 + $$ % 20000)); sock=molt-hostile-$$; marker=$WORK/reached
"$P/probe_net" listen $port $sock "$marker" >"$WORK/listener.out" 2>&1 & listener=$!
for _ in $(seq 50); do grep -q listening "$WORK/listener.out" 2>/dev/null && break; sleep 0.1; done
# Positive controls: the listener is reachable from the host, so "unreached" below means something.
"$P/probe_net" connect $port >/dev/null; "$P/probe_net" abstract $sock >/dev/null
sleep 0.2
is "$(sort "$marker" 2>/dev/null | tr '\n' ' ')" "tcp connection unix connection " "control: the host listeners answer a host client"
rm -f "$marker"
trap 'kill $sentinel $listener 2>/dev/null; cleanup_work' EXIT

all_syscalls="keyctl add_key request_key bpf perf_event_open userfaultfd io_uring_setup kexec_load
	init_module finit_module delete_module open_by_handle_at mount remount_proc umount_masked
	umount_proc_sys move_mount fsopen open_tree unshare_user unshare_mount setns pivot_root
	clone_newuser clone_newns clone3 personality unknown_syscall vsock alg vsock_highbits
	x32_keyctl x32_unshare i386_keyctl i386_unshare i386_socket_vsock i386_socketcall_vsock"

# The id-map modes: the test user's subuid range and the one-id fallback; real root
# (every id mapped to itself) when tests/e2e/root_sandbox.sh runs this script as root.
maps="subuid single"
if [ "${MOLT_E2E_MODE:-}" = root ]; then
	[ "$(id -u)" = 0 ] || { not_ok "MOLT_E2E_MODE=root needs root"; done_testing; exit; }
	maps=root
fi
for map in $maps; do
	if [ $map = single ]; then export MOLT_IDMAP=single; else unset MOLT_IDMAP; fi
	# shellcheck disable=SC2086
	out=$(p -- probe_syscalls getpid $all_syscalls 2>&1); rc=$?
	is "$rc" 0 "[$map] kernel attack surface: every probe denied (SECURITY.md list)"
	[ $rc -ne 0 ] && diag "$out"
	like "$out" "getpid ALLOWED" "[$map] control: an ordinary syscall works under the filter"
	like "$out" "unknown_syscall denied 38" "[$map] an unknown syscall number answers ENOSYS, not EPERM"
	like "$out" "clone3 denied 38" "[$map] clone3 answers ENOSYS (libc falls back to clone, whose flags are checked)"
	like "$out" "keyctl denied 1 " "[$map] keyctl answers EPERM"
	like "$out" "x32_keyctl denied (1|38) " "[$map] keyctl through the x32 ABI is denied"
	like "$out" "i386_keyctl denied (1|38) " "[$map] keyctl through int 0x80 (i386 ABI) is denied"
	like "$out" "vsock_highbits denied 1 " "[$map] AF_VSOCK with high bits set in the argument is denied"
	for m in fds fdwalk pid1 exe ptrace_parent proc_write masked; do
		out=$(p -- probe_escape $m 2>&1) && ok "[$map] escape '$m' stopped" || { not_ok "[$map] escape '$m' stopped"; diag "$out"; }
	done
	# pid 1 is not dumpable: its /proc entries belong to the host's root, so only a
	# step of real root may even list /proc/1/fd (and still reaches no target).
	out=$(p -- probe_escape pid1 2>&1)
	if [ $map = root ]; then
		like "$out" "listed /proc/1/fd: 4 entries" "[$map] real root may list pid 1's fd numbers (its stdio on /dev/null and its report pipe), no more"
	else
		unlike "$out" "listed /proc/1/fd" "[$map] /proc/1/fd of molt's pid 1 cannot even be listed"
	fi
	out=$(p -- probe_escape signal $sentinel 2>&1) && ok "[$map] a host pid is not signalable from inside" || { not_ok "[$map] a host pid is not signalable from inside"; diag "$out"; }
	out=$(p -- probe_escape kill_all 2>&1); rc=$?
	is "$rc" 0 "[$map] kill -9 -1 inside kills nothing outside (the probe itself survives)"
	out=$(p --network none -- probe_net connect $port 2>&1) && ok "[$map] --network none: the host's 127.0.0.1:$port is unreachable" || { not_ok "[$map] --network none: host TCP listener unreachable"; diag "$out"; }
	out=$(p --network none -- probe_net abstract $sock 2>&1) && ok "[$map] --network none: the host's abstract unix socket is unreachable" || { not_ok "[$map] --network none: host abstract socket unreachable"; diag "$out"; }
	# Bounds hold in every mode (the full fork bomb and memory cases follow below).
	out=$(p --pids-limit 100 -- probe_forkbomb 5000 0 bomb-$$-$map 2>&1); rc=$?
	n=$(printf '%s\n' "$out" | sed -n 's/^forked \([0-9]*\),.*/\1/p')
	check "[$map] a fork bomb stops at --pids-limit 100 (forked ${n:-none}, rc $rc)" test "$rc" = 0 -a "${n:-0}" -ge 90 -a "${n:-0}" -lt 100
	like "$(p -m 32m -- probe_memhog 4096 2>&1)" "stopped by: Cannot allocate memory" "[$map] a memory hog gets ENOMEM under --memory 32m"
	out=$("$MOLT" run --rootfs "$ROOT" sh -c 'env; cat /proc/1/environ 2>&1; hostname' 2>&1)
	like "$out" "HOSTNAME=molt" "[$map] control: the step printed its environment"
	unlike "$out" "$MOLT_SECRET_CANARY" "[$map] no host environment variable reaches the step (env, /proc/1/environ)"
	unlike "$out" "$(hostname)" "[$map] the host's hostname does not appear inside"
	unlike "$out" "$HOME" "[$map] the caller's home path does not appear inside"
	# (root is also the image's own user name: only a user other than root can tell)
	[ "$(id -un)" != root ] && unlike "$out" "$(id -un)" "[$map] the host's user name does not appear in the environment"
done
unset MOLT_IDMAP

# Control for the network cases: with the host's network the same probe does reach.
out=$(p --network host -- probe_net abstract $sock 2>&1)
like "$out" "reached" "control: with --network host the probe reaches the host's abstract socket"
sleep 0.2; rm -f "$marker"

# ---- terminal injection (CVE-2017-5226, CVE-2019-10063): a real terminal on stdin
if command -v script >/dev/null; then
	out=$(script -qec "'$MOLT' run -v '$P:/probes:ro' --rootfs '$ROOT' /probes/probe_tty; echo rc=\$?" /dev/null 2>&1 </dev/null)
	like "$out" "stdin is a terminal" "tty: the command gets a terminal when molt's stdin is one (a new pty)"
	like "$out" "TIOCSTI: Operation not permitted" "tty: TIOCSTI is denied"
	like "$out" "TIOCSTI high bits: Operation not permitted" "tty: TIOCSTI with high bits set is denied"
	like "$out" "TIOCLINUX: Operation not permitted" "tty: TIOCLINUX is denied"
	like "$out" "rc=0" "tty: no injection succeeded"
	unlike "$out" "^INJECTED" "tty: nothing was typed into the caller's terminal"
else
	skip "script(1) is not installed (bsdutils)"
fi

# ---- a fork bomb is bounded and molt stays responsive
# RLIMIT_NPROC is counted per user id of each user namespace and checked up the chain:
# a step's processes count against the sandbox's own limit (uid 0 of this molt's build
# namespace, which nothing else uses) and against the host user's total, which every
# run of this user on the machine shares. The old `ulimit -u 300` set that shared
# level, so parallel runs as the same user used it up (the flake); --pids-limit sets
# the namespace's own level, and its bound is computed here, not assumed.
bomb_count() { sed -n 's/^forked \([0-9]*\),.*/\1/p' "$1"; }
tag=bomb-$$
( p --pids-limit 200 -- probe_forkbomb 5000 4 $tag >"$WORK/bomb.out" 2>&1; echo "rc=$?" >>"$WORK/bomb.out" ) &
bomb=$!
for _ in $(seq 100); do grep -q forked "$WORK/bomb.out" 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s%N)
"$MOLT" run --rootfs "$ROOT" true; rc=$?
t1=$(date +%s%N)
is "$rc" 0 "molt stays responsive while a fork bomb holds its limit"
diag "a step during the bomb took $(( (t1 - t0) / 1000000 )) ms"
check "the host's sentinel process is alive while the bomb holds its limit" kill -0 $sentinel
wait $bomb
like "$(cat "$WORK/bomb.out")" "stopped by: Resource temporarily unavailable" "the fork bomb is bounded by RLIMIT_NPROC (--pids-limit 200)"
like "$(cat "$WORK/bomb.out")" "rc=0" "the bomb's step ended normally"
n=$(bomb_count "$WORK/bomb.out")
# molt and the sandbox's pid 1 are uid 0 of the same namespace: they count too.
check "the bomb got its own limit, less molt's own processes, whatever else this user runs (190 <= ${n:-none} < 200)" \
	test "${n:-0}" -ge 190 -a "${n:-0}" -lt 200
sleep 0.3
check "nothing of the bomb is left running" sh -c "! pgrep -f 'probe_forkbom[b] 5000 4 $tag'"
# The default bound, without --pids-limit (the bomb exits at once: no hold).
p -- probe_forkbomb 5000 0 $tag-default >"$WORK/bomb2.out" 2>&1; rc=$?
n=$(bomb_count "$WORK/bomb2.out")
check "default: a fork bomb stops at RLIMIT_NPROC 1024 (forked ${n:-none}, rc $rc)" \
	test "$rc" = 0 -a "${n:-0}" -ge 1014 -a "${n:-0}" -lt 1024

# ---- the bound is the step's, not each user id's: RLIMIT_NPROC counts per uid, and the
# sandbox's root can setuid() across the subuid range. 8 uids x 21 processes stay far
# below 40 each; the step's pid 1 counts the whole namespace (every 20 ms, so the probe
# may get its 168 before the first count) and ends it instead of letting it hold 30 s.
if have_subuid; then
	t0=$(date +%s%N)
	out=$(p --pids-limit 40 -- probe_pidsuids 8 20 30 2>&1); rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	like "$out" "step exceeded the process limit of 40 \(--pids-limit\)" \
		"a step spread over 8 uids is ended over --pids-limit 40 in all, with a clear error"
	check "molt run fails (rc $rc)" test "$rc" -ne 0
	check "it was ended at once, not after the probe's 30 s hold (${ms} ms)" test "$ms" -lt 5000
	sleep 0.3
	check "nothing of it is left running" sh -c "! pgrep -f 'probe_pidsuid[s] 8 20 30'"
	is "$("$MOLT" run --rootfs "$ROOT" echo alive 2>&1)" "alive" "molt responds afterwards"
	out=$(p --pids-limit 400 -- probe_pidsuids 8 20 0 2>&1); rc=$?
	like "$out" "spawned 168" "control: under --pids-limit 400 the same probe gets its 168 processes (rc $rc)"
elif [ "$(id -u)" = 0 ]; then
	# Real root maps every id to itself and puts the step in a pids cgroup of its own:
	# the kernel fails the forks at the limit, whichever uid makes them.
	out=$(p --pids-limit 40 -- probe_pidsuids 8 20 1 2>&1); rc=$?
	n=$(printf '%s\n' "$out" | sed -n 's/.*after \([0-9]*\)$/\1/p')
	if printf '%s' "$out" | grep -q "exceeded the process limit of 40"; then
		ok "as real root a step spread over 8 uids is ended over --pids-limit 40"
	else
		check "as real root a step spread over 8 uids gets fewer than 40 processes in all (${n:-none})" \
			test "${n:-99}" -lt 40
	fi
	sleep 0.3
	check "nothing of it is left running" sh -c "! pgrep -f 'probe_pidsuid[s] 8 20 1'"
else
	skip "the process bound across uids needs a subuid range for $(id -un)"
fi

# ---- a memory hog is bounded, the failure is reported, molt and the host respond
for how in mmap brk; do
	out=$(p -m 64m -- probe_memhog 4096 $how 2>&1); rc=$?
	like "$out" "stopped by: Cannot allocate memory" "memory hog ($how): allocation fails with ENOMEM under --memory 64m"
	n=$(printf '%s\n' "$out" | sed -n 's/^allocated \([0-9]*\) MiB.*/\1/p')
	check "memory hog ($how): it got less than 64 MiB (${n:-none})" test "${n:-999}" -lt 64 -a "${n:-0}" -ge 32
	is "$rc" 0 "memory hog ($how): the probe saw the failure and its status is molt run's"
done
( p -m 48m -- probe_memhog 4096 mmap 4 >"$WORK/hog.out" 2>&1; echo "rc=$?" >>"$WORK/hog.out" ) &
hog=$!
for _ in $(seq 100); do grep -q stopped "$WORK/hog.out" 2>/dev/null && break; sleep 0.1; done
like "$(cat "$WORK/hog.out")" "stopped by: Cannot allocate memory" "a hog holding all it could get (--memory 48m)"
is "$("$MOLT" run --rootfs "$ROOT" echo alive)" "alive" "meanwhile a second molt run works"
check "meanwhile the host's sentinel process is alive" kill -0 $sentinel
wait $hog
like "$(cat "$WORK/hog.out")" "rc=0" "the hog's step ended normally"
# Files in molt run's overlay tmpfs are memory no rlimit counts: --memory caps them.
out=$("$MOLT" run -m 16m --rootfs "$ROOT" sh -c 'dd if=/dev/zero of=/big bs=1M count=64 2>&1; echo rc=$?')
like "$out" "No space left on device" "--memory 16m: writing 64 MiB into the rootfs's tmpfs overlay fails"
unlike "$out" "rc=0" "--memory 16m: the tmpfs hog's dd failed"
out=$("$MOLT" run --rootfs "$ROOT" sh -c 'cat /proc/self/oom_score_adj; echo -1 >/proc/self/oom_score_adj && echo lowered' 2>&1)
like "$out" "^1000" "the OOM killer prefers the step's processes (oom_score_adj 1000)"
unlike "$out" "lowered" "a step cannot make itself less killable than the host's processes (oom_score_adj -1 refused)"

# ---- RUN steps get the same bounds (molt build -m / --memory)
if "$MOLT" load -i "$FIXTURES/busybox/oci" >/dev/null 2>&1; then
	mkdir -p "$WORK/bctx"; cp "$P/probe_memhog" "$WORK/bctx/"
	cat >"$WORK/bctx/Dockerfile" <<'EOF'
FROM busybox
COPY probe_memhog /
RUN /probe_memhog 4096 mmap >/hog.txt; grep -E "^Max (data size|processes)" /proc/self/limits >/limits.txt; cat /proc/self/oom_score_adj >/oom.txt
EOF
	"$MOLT" build --progress plain -m 48m -o "$WORK/bout" "$WORK/bctx" >"$WORK/b.log" 2>&1 || diag "$(tail -n 20 "$WORK/b.log")"
	like "$(cat "$WORK/bout/hog.txt" 2>&1)" "stopped by: Cannot allocate memory" "molt build -m 48m: a RUN step's memory hog gets ENOMEM"
	like "$(cat "$WORK/bout/limits.txt" 2>&1)" "Max data size +50331648 +50331648" "molt build -m 48m: the RUN step's RLIMIT_DATA is 48 MiB"
	like "$(cat "$WORK/bout/limits.txt" 2>&1)" "Max processes +1024 +1024" "a RUN step gets RLIMIT_NPROC 1024"
	is "$(cat "$WORK/bout/oom.txt" 2>&1)" "1000" "a RUN step's processes have oom_score_adj 1000"
	molt_fails 2 "--memory must be a size" "molt build --memory with a bad size is a usage error" \
		"$MOLT" build --memory 1x "$WORK/bctx"
else
	not_ok "load the busybox base (needed for the build cases)"
fi

# ---- the host afterwards
check "the host's sentinel process is alive" kill -0 $sentinel
is "$(sha256sum "$MOLT" | cut -d' ' -f1)" "$hash_before" "molt's binary is unchanged (CVE-2019-5736)"
check "the host's listeners were never reached from --network none" test ! -e "$marker"
done_testing
