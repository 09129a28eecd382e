#!/usr/bin/env bash
# The --print-plan corpus (format: tests/corpus/README.md): for every corpus folder run
# `molt build --print-plan ARGS -f FILE DIR`, check the exit status and stderr, then
# every fact with `jq -c`, one TAP case per fact.
. "$(dirname "$0")/lib.sh"

if ! command -v jq >/dev/null; then
	skip "jq is not installed (scripts/install-deps.sh installs it)"
	done_testing
	exit
fi

ncases=0
for dir in "$STAGE"/corpus/*/; do
	dir=${dir%/}
	name=$(basename "$dir")
	expect=$dir/expect
	if [ ! -f "$expect" ]; then
		not_ok "corpus $name: has an expect file"
		continue
	fi
	ncases=$((ncases + 1))
	corpus_setup "$dir"
	args=("${corpus_args[@]}") file=$corpus_file want_exit=$corpus_exit want_stderr=$corpus_stderr
	out=$("$MOLT" build --print-plan "${args[@]}" -f "$dir/$file" "$dir" 2>"$WORK/stderr")
	rc=$?
	err=$(cat "$WORK/stderr")
	if [ "$rc" -eq "$want_exit" ]; then
		ok "corpus $name: exit status $want_exit"
	else
		not_ok "corpus $name: exit status $want_exit"
		diag "exit $rc" "stderr: $err"
	fi
	if [ -n "$want_stderr" ]; then
		like "$err" "$want_stderr" "corpus $name: stderr matches '$want_stderr'"
	fi

	while IFS= read -r line || [ -n "$line" ]; do
		case $line in '' | '#'*) continue ;; esac
		filter=${line%%$'\t'*}
		want=${line#*$'\t'}
		if [ "$filter" = "$line" ]; then
			not_ok "corpus $name: fact line has a tab: $line"
			continue
		fi
		got=$(printf '%s' "$out" | jq -c "$filter" 2>&1)
		is "$got" "$want" "corpus $name: $filter"
	done <"$expect"
done
[ "$ncases" -ge 1 ] && ok "corpus: $ncases cases found" || not_ok "corpus: no cases found under $STAGE/corpus"
done_testing
