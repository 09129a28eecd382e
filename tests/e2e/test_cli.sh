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

# molt build's option table drives both parsing and --help: every option --help lists
# parses (its value, if any, is a valid one), and nothing else does.
ctxd=$WORK/cli-ctx; mkdir -p "$ctxd"; printf 'FROM scratch\n' >"$ctxd/Dockerfile"
declare -A sample=([file]="$ctxd/Dockerfile" [tag]=x [target]=0 [build-arg]=A=1 [output]="$WORK/out"
	[network]=none [memory]=64m [progress]=plain [iidfile]="$WORK/iid" [jobs]=2
	[max-unpack]=1g [platform]=linux/amd64 [tls-verify]=true)
help=$("$MOLT" build --help)
nopts=0
opt_re='^  (-., |    )--([a-z-]+)(\[=[A-Z]+\]| [^ ]+)? '
while IFS= read -r line; do
	[[ $line =~ $opt_re ]] || continue
	name=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
	nopts=$((nopts + 1))
	if [ -n "$value" ]; then
		args=("--$name=${sample[$name]:-?}")
	else
		args=("--$name")
	fi
	[ "$name" = push ] && args+=(-t x)
	err=$("$MOLT" build --print-plan "${args[@]}" "$ctxd" 2>&1 >/dev/null)
	unlike "$err" "unknown option|needs a value|takes no value|has no handler" \
		"molt build --help's --$name parses (${args[*]})"
done <<<"$help"
[ "$nopts" -ge 17 ] && ok "molt build --help lists $nopts options" || not_ok "molt build --help lists only $nopts options"
molt_fails 2 "unknown option '--jobz'" "build: an unknown long option is an error" \
	"$MOLT" build --print-plan --jobz 2 "$ctxd"
molt_fails 2 "unknown option '-j'" "build: an unknown short option is an error" \
	"$MOLT" build --print-plan -j 2 "$ctxd"
molt_fails 2 "--no-cache takes no value" "build: a flag given a value is an error" \
	"$MOLT" build --print-plan --no-cache=yes "$ctxd"
molt_fails 2 "--jobs needs a value" "build: a missing value is an error" "$MOLT" build --jobs
# pull, push and login parse with their option tables too (nothing here reaches a
# registry: 127.0.0.1:1 refuses at once).
err=$("$MOLT" pull -q --tls-verify=false --platform=linux/amd64 127.0.0.1:1/x 2>&1)
unlike "$err" "unknown option|needs a value|takes no value" "pull: its listed options parse"
molt_fails 2 "--tls-verify takes true or false" "pull: a bad --tls-verify value is refused" \
	"$MOLT" pull --tls-verify=maybe 127.0.0.1:1/x
molt_fails 2 "unknown option '--platform'" "push: --platform is not one of its options" \
	"$MOLT" push --platform linux/amd64 nothere
molt_fails 2 "visible to every user" "login: --password=X is refused" \
	"$MOLT" login --password=x 127.0.0.1:1
out=$("$MOLT" build --print-plan -m64m -f"$ctxd/Dockerfile" -- "$ctxd" 2>&1)
like "$out" '"version": 1' "build: -xVALUE and -- are parsed"
# Every command parses with its option table (runner/cli/cli.c): the same errors, the
# same --name=V / -xV forms, and --help lists what the table holds.
molt_fails 2 "run: unknown option '--bogus'" "run: an unknown option" "$MOLT" run --bogus x
molt_fails 2 "run: --network needs a value" "run: a missing value" "$MOLT" run --network
molt_fails 2 "images: unknown option '-x'" "images: an unknown option" "$MOLT" images -x
molt_fails 2 "prune: --all takes no value" "prune: a flag given a value" "$MOLT" prune --all=yes
molt_fails 2 "load: unknown option '--bogus'" "load: an unknown option" "$MOLT" load --bogus
molt_fails 2 "save: unknown format 'tar'" "save: --format=V parses (and is checked)" \
	"$MOLT" save --format=tar -o "$WORK/x.tar" busybox
molt_fails 2 "tag: unknown option '-x'" "tag: an option-less command refuses options" "$MOLT" tag -x a b
molt_fails 2 "rmi: unknown option '--force'" "rmi: likewise" "$MOLT" rmi --force x
molt_fails 2 "invalid image name '-x'" "inspect: after --, an operand may start with '-' (and reaches the command)" "$MOLT" inspect -- -x
out=$("$MOLT" run --help)
like "$out" "--pids-limit N" "run --help lists its table's options"
is "$(printf '%s\n' "$out" | grep -cE '^ +(-[a-z], )?--[a-z]')" 9 "run --help lists each of its 9 options once"
out=$("$MOLT" --help)
like "$out" "--version +print molt's version" "molt --help lists the global options from their table"
done_testing
