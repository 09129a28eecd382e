#!/usr/bin/env bash
# Run by tests/run-tests.sh as root: two test runs on one machine at once take two
# different test users (issue 9: runs sharing `molt-test` failed each other through
# the user's shared process count and files). Two nested runs of the driver, each
# with one short e2e script, start together while this run holds its own slot.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || [ -z "${MOLT_TOP:-}" ]; then
	skip "needs root and MOLT_TOP (make check as root passes both)"
	done_testing; exit 0
fi
d=$(mktemp -d /tmp/molt-slots.XXXXXX)
run() {
	mkdir -p "$d/$1"
	B="$d/$1" MOLT="$MOLT" MOLT_E2E_ONLY=1 MOLT_TESTS=test_cli.sh MOLT_MUST_WORK=1 \
		bash "$MOLT_TOP/tests/run-tests.sh" >"$d/$1.out" 2>&1
}
run a & pa=$!
run b & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
ua=$(sed -n "s/^running end-to-end tests as user '\([^']*\)'.*/\1/p" "$d/a.out")
ub=$(sed -n "s/^running end-to-end tests as user '\([^']*\)'.*/\1/p" "$d/b.out")
is "$ra:$rb" "0:0" "two concurrent test runs both pass" || diag "$(tail -n 5 "$d/a.out" "$d/b.out")"
like "$ua" "^molt-test" "the first run has a test user ('$ua')"
like "$ub" "^molt-test" "the second run has a test user ('$ub')"
if [ -n "$ua" ] && [ "$ua" != "$ub" ] && [ "$ua" != "${MOLT_TEST_USER:-}" ] && [ "$ub" != "${MOLT_TEST_USER:-}" ]; then
	ok "each concurrent run has a test user of its own, not this run's"
else
	not_ok "each concurrent run has a test user of its own, not this run's"
	diag "this run: ${MOLT_TEST_USER:-}, a: $ua, b: $ub"
fi
rm -rf "$d"
done_testing
