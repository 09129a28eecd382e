#!/usr/bin/env bash
# Run by tests/run-tests.sh as root: the same context with the same SOURCE_DATE_EPOCH
# builds to the same image ID for two different unprivileged users (different uids,
# different subuid ranges, different stores and directories).
. "$(dirname "$0")/lib.sh"

two_users

# build_as USER DIR: loads the base and builds examples/static-site as USER.
build_as() {
	local u=$1 d=$2
	mkdir -p "$d"; cp -r "$STAGE/examples/static-site" "$d/ctx"; chown -R "$u:" "$d"; chmod 755 "$d"
	setpriv --reuid="$u" --regid="$u" --init-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME="$d" MOLT_ROOT="$d/store" SOURCE_DATE_EPOCH=1700000000 sh -c '
		"$0" load -i "$1" >/dev/null && "$0" build --progress quiet --iidfile "$2/iid" "$2/ctx" >/dev/null' \
		"$MOLT" "$FIXTURES/busybox/oci" "$d" 2>&1
}

d1=$(mktemp -d /tmp/molt-repro1.XXXXXX); d2=$(mktemp -d /var/tmp/molt-repro2.XXXXXX)
chmod 755 "$d1" "$d2"
out1=$(build_as "$first" "$d1") || diag "$out1"
out2=$(build_as "$other" "$d2") || diag "$out2"
id1=$(cat "$d1/iid" 2>/dev/null); id2=$(cat "$d2/iid" 2>/dev/null)
like "$id1" "^sha256:" "the example builds as $first"
is "$id2" "$id1" "SOURCE_DATE_EPOCH: another user in another directory gets the same image ID"
rm -rf "$d1" "$d2"
done_testing
