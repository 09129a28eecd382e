#!/usr/bin/env bash
# The hostile suite: every sandbox class of SECURITY.md attacked for real with the
# static probes of tests/helpers/, through `molt run`, and the host checked afterwards
# (a sentinel process, molt's binary hash, a host TCP listener and abstract unix
# socket, host environment canaries). Run with the subuid map and the one-id map.
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

for map in subuid single; do
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
	out=$(p -- probe_escape signal $sentinel 2>&1) && ok "[$map] a host pid is not signalable from inside" || { not_ok "[$map] a host pid is not signalable from inside"; diag "$out"; }
	out=$(p -- probe_escape kill_all 2>&1); rc=$?
	is "$rc" 0 "[$map] kill -9 -1 inside kills nothing outside (the probe itself survives)"
	out=$(p --network none -- probe_net connect $port 2>&1) && ok "[$map] --network none: the host's 127.0.0.1:$port is unreachable" || { not_ok "[$map] --network none: host TCP listener unreachable"; diag "$out"; }
	out=$(p --network none -- probe_net abstract $sock 2>&1) && ok "[$map] --network none: the host's abstract unix socket is unreachable" || { not_ok "[$map] --network none: host abstract socket unreachable"; diag "$out"; }
	out=$(p -- sh -c 'env; cat /proc/1/environ 2>&1; hostname' 2>&1)
	unlike "$out" "$MOLT_SECRET_CANARY" "[$map] no host environment variable reaches the step (env, /proc/1/environ)"
	unlike "$out" "$(hostname)" "[$map] the host's hostname does not appear inside"
	unlike "$out" "$(id -un)" "[$map] the host's user name does not appear in the environment"
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
( ulimit -u 300; p -- probe_forkbomb 5000 4 >"$WORK/bomb.out" 2>&1; echo "rc=$?" >>"$WORK/bomb.out" ) &
bomb=$!
for _ in $(seq 100); do grep -q forked "$WORK/bomb.out" 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s%N)
"$MOLT" run --rootfs "$ROOT" true; rc=$?
t1=$(date +%s%N)
is "$rc" 0 "molt stays responsive while a fork bomb holds its limit"
diag "a step during the bomb took $(( (t1 - t0) / 1000000 )) ms"
wait $bomb
like "$(cat "$WORK/bomb.out")" "stopped by: Resource temporarily unavailable" "the fork bomb is bounded by RLIMIT_NPROC"
like "$(cat "$WORK/bomb.out")" "rc=0" "the bomb's step ended normally"
sleep 0.3
check "nothing of the bomb is left running" sh -c '! pgrep -f "probe_forkbom[b]"'

# ---- the host afterwards
check "the host's sentinel process is alive" kill -0 $sentinel
is "$(sha256sum "$MOLT" | cut -d' ' -f1)" "$hash_before" "molt's binary is unchanged (CVE-2019-5736)"
check "the host's listeners were never reached from --network none" test ! -e "$marker"
done_testing
