#!/usr/bin/env bash
# tests/run-tests.sh — molt's one test driver (called by `make check`).
#
# 1. runs every C unit test in $B/tests/ (TAP), then tests/docs/test_*.sh (TAP, from
#    the source tree: make install, the man pages, the completion, the README's tables);
# 2. makes the busybox base image fixture;
# 3. runs every end-to-end script tests/e2e/test_*.sh (TAP) with the real molt binary
#    as an unprivileged user: started as root, it takes a free test slot (a lock held for
#    the run) and creates its user `molt-test[N]` (with a subuid/subgid range), so that
#    concurrent runs never share a user, and copies what the tests need to a directory that user can
#    read, since a checkout under /root is not readable to it.
# The last line is "N passed, N failed" (", N skipped" when any). MOLT_MUST_WORK=1
# turns every skip into a failure. MOLT_SLOW=1 also runs the slow tests
# (tests/e2e/slow_*.sh). MOLT_TESTS=glob limits which e2e scripts run; MOLT_E2E_ONLY=1
# skips the unit tests and fuzzers.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
MOLT=${MOLT:-$B/molt}
must_work=${MOLT_MUST_WORK:-0}
pass=0 fail=0 skip=0
log_dir=$B/test-logs
mkdir -p "$log_dir"

# Reads TAP on stdin, echoes it, and counts into the globals.
count_tap() {
	local name=$1 line
	while IFS= read -r line; do
		case $line in
		"not ok"*)
			fail=$((fail + 1)); printf '%s: %s\n' "$name" "$line" ;;
		"ok "*"# SKIP"* | "ok "*"# skip"*)
			if [ "$must_work" = 1 ]; then
				fail=$((fail + 1)); printf '%s: %s (MOLT_MUST_WORK=1: a skip is a failure)\n' "$name" "$line"
			else
				skip=$((skip + 1)); printf '%s: %s\n' "$name" "$line"
			fi ;;
		"ok "*)
			pass=$((pass + 1)); [ -n "${VERBOSE:-}" ] && printf '%s: %s\n' "$name" "$line" ;;
		"Bail out!"*)
			fail=$((fail + 1)); printf '%s: %s\n' "$name" "$line" ;;
		"#"*) [ -n "${VERBOSE:-}" ] && printf '%s: %s\n' "$name" "$line" ;;
		esac
	done
}

# Runs one TAP producer; a crash or non-zero exit with no "not ok" counts as a failure.
run_tap() {
	local name=$1; shift
	local out=$log_dir/${name//\//_}.log rc
	timeout --kill-after=10 "${TEST_TIMEOUT:-600}" "$@" >"$out" 2>&1
	rc=$?
	local before=$fail
	count_tap "$name" <"$out"
	if [ $rc -ne 0 ] && [ $fail -eq $before ]; then
		fail=$((fail + 1))
		printf '%s: exited with status %d without a failing case (see %s)\n' "$name" $rc "$out"
		tail -n 20 "$out" | sed 's/^/    /'
	elif [ $fail -ne $before ]; then
		printf '    (full output: %s)\n' "$out"
	fi
}

# MOLT_E2E_ONLY=1 skips the unit tests and the fuzzers (a developer re-running a few e2e
# scripts with MOLT_TESTS); `make check` and CI never set it.
if [ "${MOLT_E2E_ONLY:-0}" != 1 ]; then
echo "== unit tests"
for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	case $t in *.d) continue ;; esac
	run_tap "unit/$(basename "$t")" "$t"
done

echo "== docs (man pages, completion, README; from the source tree)"
for t in "$top"/tests/docs/test_*.sh; do
	[ -f "$t" ] || continue
	run_tap "docs/$(basename "$t" .sh)" env B="$B" MOLT="$MOLT" TOP="$top" bash "$t"
done

echo "== fuzzers (short runs)"
if [ -z "$(ls "$top"/tests/fuzz/fuzz_*.c 2>/dev/null)" ]; then
	echo "fuzz: no fuzz targets yet"
elif command -v clang >/dev/null; then
	run_tap "fuzz/short" env B="$B" FUZZ_TIME="${FUZZ_SHORT_TIME:-15}" FUZZ_TAP=1 "$top/tests/fuzz/run-fuzz.sh"
else
	count_tap fuzz <<<"ok 1 # SKIP clang is not installed (scripts/install-deps.sh installs it)"
fi
fi

echo "== end-to-end tests"
# The e2e suite runs from a staging directory the test user can read.
stage=$(mktemp -d /tmp/molt-e2e.XXXXXX)
trap 'rm -rf "$stage" 2>/dev/null || "$MOLT" --root "$stage/home/store" prune --all >/dev/null 2>&1; rm -rf "$stage"' EXIT
chmod 0755 "$stage"
mkdir -p "$stage/bin" "$stage/home"
cp "$MOLT" "$stage/bin/molt"
[ -d "$B/helpers" ] && cp -r "$B/helpers" "$stage/helpers"
cp -r "$top/tests/e2e" "$top/scripts" "$stage/"
[ -d "$top/examples" ] && cp -r "$top/examples" "$stage/"
[ -d "$top/tests/corpus" ] && cp -r "$top/tests/corpus" "$stage/"

as_user=()
if [ "$(id -u)" = 0 ]; then
	# Each run takes a free slot of its own, held (flock on fd 8) until it exits, so two
	# `make check` runs on one machine never share a test user: RLIMIT_NPROC, /proc of
	# the user's processes and the user's files would otherwise leak from one into the
	# other. Slot 0 is the historical `molt-test`; every slot has a second user
	# (`…-b`) for the scripts that compare two users (root_*.sh).
	slot=
	for i in 0 1 2 3 4 5 6 7; do
		exec 8>"/run/molt-test-slot-$i.lock"
		if flock -n 8; then slot=$i; break; fi
		exec 8>&-
	done
	if [ -z "$slot" ]; then
		echo "run-tests: all 8 test-user slots are taken by other test runs on this machine; waiting for slot 0"
		exec 8>/run/molt-test-slot-0.lock; flock 8; slot=0
	fi
	if [ "$slot" = 0 ]; then user=molt-test; else user=molt-test$slot; fi
	user2=$user-b
	# Several test runs on one machine may race to create users.
	(
		flock 9
		for u in "$user" "$user2"; do
			id "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$u" >/dev/null 2>&1 || true
		done
		# useradd gives each new user a range; give one by hand where it did not (an
		# old user, a useradd without SUB_UID_COUNT), disjoint per slot and user.
		base=$((1000000 + slot * 131072))
		grep -q "^$user:" /etc/subuid 2>/dev/null ||
			usermod --add-subuids $base-$((base + 65535)) --add-subgids $base-$((base + 65535)) "$user"
		grep -q "^$user2:" /etc/subuid 2>/dev/null ||
			usermod --add-subuids $((base + 65536))-$((base + 131071)) \
				--add-subgids $((base + 65536))-$((base + 131071)) "$user2"
	) 9>/run/molt-test-user.lock
	# A run before this one that was killed may have left the slot's users processes.
	pkill -KILL -u "$user" 2>/dev/null; pkill -KILL -u "$user2" 2>/dev/null
	chown -R "$user:" "$stage/home"
	as_user=(setpriv --reuid="$user" --regid="$user" --init-groups)
	echo "running end-to-end tests as user '$user' ($(id -u $user)), test slot $slot"
fi

# The base image fixture, made once per run as the test user.
fixtures=$stage/home/fixtures
if ! "${as_user[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$stage/home" \
	bash "$stage/scripts/mkbase.sh" busybox "$fixtures/busybox" >"$log_dir/mkbase.log" 2>&1; then
	echo "mkbase: failed (see $log_dir/mkbase.log)"; tail -n 5 "$log_dir/mkbase.log"
fi

# The Debian base for the slow tests: debootstrap needs root and minutes, so it is made
# once into a cache (remade when scripts/mkbase.sh changes) and copied to the fixtures.
if [ "${MOLT_SLOW:-0}" = 1 ]; then
	deb_cache=${MOLT_DEBIAN_CACHE:-/var/cache/molt/debian-bookworm}
	stamp=$(sha256sum "$top/scripts/mkbase.sh" | cut -d' ' -f1)
	mkdir -p "$fixtures/debian"
	if [ "$(id -u)" = 0 ]; then
		(
			flock 9
			if [ "$(cat "$deb_cache/stamp" 2>/dev/null)" != "$stamp" ]; then
				rm -f "$deb_cache/stamp"
				bash "$top/scripts/mkbase.sh" debian "$deb_cache" && echo "$stamp" >"$deb_cache/stamp"
			fi
		) 9>/run/molt-debian-base.lock >"$fixtures/debian/mkbase.log" 2>&1
	else
		echo "not root: the Debian base must already be in $deb_cache" >"$fixtures/debian/mkbase.log"
	fi
	if [ -f "$deb_cache/stamp" ]; then
		cp -r "$deb_cache/oci" "$fixtures/debian/oci"
	else
		echo "mkbase debian: no Debian base (see $fixtures/debian/mkbase.log)"
	fi
	cp "$fixtures/debian/mkbase.log" "$log_dir/mkbase-debian.log" 2>/dev/null
	chown -R --reference="$stage/home" "$fixtures/debian"
fi

pattern=${MOLT_TESTS:-test_*.sh}
scripts=("$stage"/e2e/$pattern)
if [ "${MOLT_SLOW:-0}" = 1 ]; then
	scripts+=("$stage"/e2e/slow_*.sh)
fi
for s in "${scripts[@]}"; do
	[ -f "$s" ] || continue
	name=e2e/$(basename "$s" .sh)
	# Slow scripts install packages over the network in several builds.
	limit=${TEST_TIMEOUT:-600}
	case $s in */slow_*) limit=${TEST_TIMEOUT_SLOW:-2400} ;; esac
	TEST_TIMEOUT=$limit run_tap "$name" "${as_user[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME="$stage/home" USER="${user:-$(id -un)}" LANG=C.UTF-8 \
		MOLT="$stage/bin/molt" STAGE="$stage" FIXTURES="$fixtures" \
		MOLT_MUST_WORK="$must_work" TMPDIR="$stage/home" \
		bash "$s"
done

# Scripts that must start as root (they switch between several test users themselves).
if [ -z "${MOLT_TESTS:-}" ]; then
	for s in "$stage"/e2e/root_*.sh; do
		[ -f "$s" ] || continue
		run_tap "e2e/$(basename "$s" .sh)" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME="$stage/home" LANG=C.UTF-8 MOLT="$stage/bin/molt" STAGE="$stage" \
			MOLT_TEST_USER="${user:-}" MOLT_TEST_USER2="${user2:-}" MOLT_TOP="$top" \
			FIXTURES="$fixtures" MOLT_MUST_WORK="$must_work" TMPDIR="$stage/home" bash "$s"
	done
fi

line="$pass passed, $fail failed"
[ $skip -gt 0 ] && line="$line, $skip skipped"
echo "$line"
[ $fail -eq 0 ]
