#!/usr/bin/env bash
# The command line: help for every command, usage errors exit 2 with one clear line.
. "$(dirname "$0")/lib.sh"

out=$("$MOLT" --help); like "$out" "^usage: molt" "molt --help prints usage"
for c in build run images inspect tag rmi prune load save import pull push version; do
	out=$("$MOLT" "$c" --help 2>&1); rc=$?
	[ $rc -eq 0 ] && printf '%s' "$out" | grep -q "^usage: molt $c" && ok "molt $c --help" || not_ok "molt $c --help (rc $rc)"
done
molt_fails 2 "unknown command 'bogus'" "unknown command exits 2" "$MOLT" bogus
molt_fails 2 "unknown option '--bogus'" "unknown global option exits 2" "$MOLT" --bogus version
out=$("$MOLT" version); like "$out" "^molt " "molt version"
done_testing
