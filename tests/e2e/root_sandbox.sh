#!/usr/bin/env bash
# Run by tests/run-tests.sh as root: the sandbox in its third id-map mode. Started by
# real root, molt maps every id to itself (no subuid range, no one-id map), so a
# step's uid 0 is the host's uid 0 in a child user namespace: everything the
# unprivileged runs show must hold just the same. This runs the from-inside list of
# test_run.sh (and the rest of it) and the whole hostile suite as root.
here=$(dirname "$0")
if [ "$(id -u)" != 0 ]; then
	echo "ok 1 # SKIP needs root (make check as root runs this)"; echo "1..1"; exit 0
fi
rc=0
for s in test_run.sh test_hostile_sandbox.sh; do
	echo "# $s as real root (MOLT_E2E_MODE=root)"
	# Each script prints its own TAP; the driver counts the ok / not ok lines.
	MOLT_E2E_MODE=root bash "$here/$s" | sed "s/^\(\(not \)\{0,1\}ok [0-9]* -\) /\1 [as root: $s] /"
	[ "${PIPESTATUS[0]}" = 0 ] || rc=1
done
exit $rc
