#!/usr/bin/env bash
# The whole --print-plan JSON of every corpus folder (tests/corpus/*/), byte for byte,
# against the golden tests/corpus/NAME/plan.golden: the plan must not change when the
# code under it moves. A golden file holds stdout, a line "exit N", then stderr's lines prefixed "stderr: ".
# Regenerate them on purpose only: MOLT=build/molt tests/e2e/test_plan_json.sh --update
# (from the repository root, with STAGE=.).
. "$(dirname "$0")/lib.sh"

update=0
[ "${1:-}" = --update ] && update=1

ncases=0
for dir in "$STAGE"/corpus/*/; do
	dir=${dir%/}
	name=$(basename "$dir")
	[ -f "$dir/expect" ] || continue
	ncases=$((ncases + 1))
	corpus_setup "$dir"
	args=("${corpus_args[@]}") file=$corpus_file
	# relative paths: the plan must not depend on where the tree was copied to
	got=$(cd "$dir" && "$MOLT" build --print-plan "${args[@]}" -f "$file" . 2>"$WORK/stderr"
		echo "exit $?"; sed 's/^/stderr: /' "$WORK/stderr")
	if [ "$update" = 1 ]; then
		printf '%s\n' "$got" >"$dir/plan.golden"
		ok "corpus $name: golden written"
		continue
	fi
	if [ ! -f "$dir/plan.golden" ]; then
		not_ok "corpus $name: has a plan.golden"
		continue
	fi
	want=$(cat "$dir/plan.golden")
	if [ "$got" = "$want" ]; then
		ok "corpus $name: the plan JSON is unchanged"
	else
		not_ok "corpus $name: the plan JSON is unchanged"
		diag "$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -n 20)"
	fi
done
[ "$ncases" -ge 40 ] && ok "plan corpus: $ncases cases found" ||
	not_ok "plan corpus: only $ncases cases under $STAGE/corpus"
done_testing
