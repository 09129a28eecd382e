#!/usr/bin/env bash
# The Dockerfile frontend through the real binary: bad Dockerfiles exit 2 with
# "molt: NAME:LINE: message", the offending line echoed and a caret where the column is
# known; molt build's own options are validated; --print-plan prints JSON.
. "$(dirname "$0")/lib.sh"

ctx=$WORK/ctx
mkdir -p "$ctx"

# bad NAME LINE MSG_REGEX ECHO DOCKERFILE_TEXT: builds with --print-plan and checks all.
bad() {
	local name=$1 line=$2 re=$3 echo=$4 text=$5 err rc
	printf '%b' "$text" >"$ctx/Dockerfile"
	err=$("$MOLT" build --print-plan "$ctx" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 2 ] && printf '%s\n' "$err" | head -n 1 | grep -Eq -- "^molt: Dockerfile:$line: $re" &&
		{ [ -z "$echo" ] || printf '%s\n' "$err" | sed -n 2p | grep -Fqx -- "$echo"; }; then
		ok "$name"
	else
		not_ok "$name"; diag "exit $rc (want 2)" "stderr: $err"
	fi
}

bad "unknown instruction with suggestion" 2 'unknown instruction "RUNN" \(did you mean "RUN"\?\)' \
	"RUNN echo hi" 'FROM busybox\nRUNN echo hi\n'
bad "unknown flag" 2 "COPY: unknown flag '--form'" "COPY --form=x a b" 'FROM busybox\nCOPY --form=x a b\n'
bad "instruction before FROM" 1 "RUN before the first FROM" "RUN true" 'RUN true\nFROM busybox\n'
bad "unterminated heredoc" 2 "unterminated heredoc 'EOF'" "RUN <<EOF" 'FROM busybox\nRUN <<EOF\necho\n'
bad "bad escape directive" 1 "invalid escape character 'x'" "# escape=x" '# escape=x\nFROM busybox\n'
bad "duplicate directive" 2 "only one 'escape' parser directive" "# escape=\`" '# escape=`\n# escape=`\nFROM busybox\n'
bad "--from naming a later stage" 2 "COPY: --from 'b' refers to stage 1, which comes later" \
	"COPY --from=b /x /y" 'FROM busybox AS a\nCOPY --from=b /x /y\nFROM busybox AS b\n'
bad "--from with a stage index past the last stage" 2 \
	"COPY: --from '2': invalid stage index \\(the Dockerfile has 2 stages" \
	"COPY --from=2 /x /y" 'FROM busybox AS a\nCOPY --from=2 /x /y\nFROM busybox AS b\n'
bad "COPY of a URL tells to use ADD" 2 "COPY: source 'https://127.0.0.1:1/x' is a URL: COPY takes no URLs \\(use ADD" \
	"COPY https://127.0.0.1:1/x /x" 'FROM busybox\nCOPY https://127.0.0.1:1/x /x\n'
bad "duplicate stage name" 2 "FROM: duplicate stage name 'a'" "FROM busybox AS a" \
	'FROM busybox AS a\nFROM busybox AS a\n'
bad "several sources without trailing slash" 2 "COPY: with several sources" "COPY a b /dst" \
	'FROM busybox\nCOPY a b /dst\n'
bad "ONBUILD FROM" 2 "ONBUILD: FROM is not allowed" "ONBUILD FROM x" 'FROM busybox\nONBUILD FROM x\n'
bad "malformed HEALTHCHECK duration" 2 "HEALTHCHECK: malformed duration '10'" \
	"HEALTHCHECK --interval=10 CMD true" 'FROM busybox\nHEALTHCHECK --interval=10 CMD true\n'
bad "invalid ARG name" 2 "ARG: invalid name '9x'" "ARG 9x" 'FROM busybox\nARG 9x\n'
bad "WORKDIR without argument" 2 "WORKDIR requires at least one argument" "WORKDIR" 'FROM busybox\nWORKDIR\n'
bad "ENV without value" 2 "ENV: 'FOO' has no value" "ENV FOO" 'FROM busybox\nENV FOO\n'
bad "SHELL not in JSON form" 2 "SHELL requires the arguments in JSON form" "SHELL /bin/sh -c" \
	'FROM busybox\nSHELL /bin/sh -c\n'
bad "bad EXPOSE port" 2 "EXPOSE: invalid port 'http'" "EXPOSE http" 'FROM busybox\nEXPOSE http\n'
bad "error inside a continued instruction names its first line" 3 'unknown instruction "RUNX"' \
	"RUNX a \\\\" 'FROM busybox\n# c\nRUNX a \\\\\n  b\n'

# no FROM at all: no line number
printf 'ARG A=1\n' >"$ctx/Dockerfile"
molt_fails 2 "^molt: Dockerfile: no FROM instruction" "no FROM at all exits 2" "$MOLT" build --print-plan "$ctx"

# the caret line sits under the keyword
printf 'FROM busybox\n  RUNN x\n' >"$ctx/Dockerfile"
err=$("$MOLT" build --print-plan "$ctx" 2>&1 >/dev/null)
is "$(printf '%s\n' "$err" | sed -n 3p)" "  ^" "a caret line points at the unknown keyword"

# -f FILE: messages use its base name; -f - reads stdin
printf 'FROM busybox\nFROB x\n' >"$WORK/Dockerfile.prod"
molt_fails 2 "^molt: Dockerfile.prod:2: unknown instruction \"FROB\"" "-f FILE names the file in errors" \
	"$MOLT" build --print-plan -f "$WORK/Dockerfile.prod" "$ctx"
out=$(printf 'FROM busybox AS x\nRUN true\n' | "$MOLT" build --print-plan -f - "$ctx"); rc=$?
is "$rc/$(printf '%s' "$out" | jq -c '[.target, .stages[0].instructions[0].command]')" '0/["x",["true"]]' \
	"-f - reads the Dockerfile from stdin"

# --target naming no stage
printf 'FROM busybox AS a\n' >"$ctx/Dockerfile"
molt_fails 2 "--target: no stage named 'zzz'" "--target naming no stage exits 2" \
	"$MOLT" build --print-plan --target zzz "$ctx"

# --print-plan happy path with --build-arg and --target
printf 'ARG TAG=1\nFROM busybox:$TAG AS base\nARG V=d\nENV X=$V\nFROM base AS final\nFROM busybox AS other\n' >"$ctx/Dockerfile"
out=$("$MOLT" build --print-plan --target final --build-arg TAG=2 --build-arg V=9 "$ctx"); rc=$?
is "$rc/$(printf '%s' "$out" | jq -c '[.target, [.stages[].index], .stages[0].from, .stages[0].instructions[1].pairs, .groups]')" \
	'0/["final",[0,1],"busybox:2",[["X","9"]],[[0],[1]]]' "--print-plan with --target and --build-arg"
export MOLT_E2E_ARG=from-env
out=$("$MOLT" build --print-plan --target base --build-arg V --build-arg MOLT_E2E_ARG "$ctx")
is "$(printf '%s' "$out" | jq -c '.stages[0].instructions[0].pairs')" '[["V","d"]]' \
	"--build-arg K with K unset in the environment is ignored (the default stays)"
V=env-v out=$(V=env-v "$MOLT" build --print-plan --target base --build-arg V "$ctx")
is "$(printf '%s' "$out" | jq -c '.stages[0].instructions[0].pairs')" '[["V","env-v"]]' \
	"--build-arg K takes K from the environment"

printf 'FROM busybox\nARG USED\n' >"$ctx/Dockerfile"
err=$("$MOLT" build --print-plan --build-arg USED=1 --build-arg NOTUSED=2 "$ctx" 2>&1 >/dev/null)
like "$err" "warning: build-args not consumed by any ARG: NOTUSED$" "an unused --build-arg is warned about"

# molt build's options
molt_fails 2 "missing the build CONTEXT" "CONTEXT is required" "$MOLT" build --print-plan
molt_fails 2 "unknown option '--bogus'" "unknown build option" "$MOLT" build --bogus "$ctx"
molt_fails 2 "--output: unknown type 'zip'" "--output with an unknown type" "$MOLT" build -o type=zip,dest=x "$ctx"
molt_fails 2 "needs both type= and dest=" "--output without dest" "$MOLT" build -o type=oci "$ctx"
molt_fails 2 "--network must be host or none" "--network bridge is refused" "$MOLT" build --network bridge "$ctx"
molt_fails 2 "--progress must be" "--progress fancy is refused" "$MOLT" build --progress fancy "$ctx"
molt_fails 2 "--jobs must be a number" "--jobs 0 is refused" "$MOLT" build --jobs 0 "$ctx"
molt_fails 2 "--tag needs a value|--tag needs a name|-t needs a value" "-t without a value" "$MOLT" build "$ctx" -t
molt_fails 2 "unexpected argument" "two contexts are refused" "$MOLT" build "$ctx" "$ctx"
molt_fails 1 "not a directory|No such file" "a missing context fails" "$MOLT" build --print-plan "$WORK/nope"
molt_fails 1 "Dockerfile" "a missing Dockerfile fails" "$MOLT" build --print-plan -f "$WORK/none" "$ctx"

done_testing
