#!/usr/bin/env bash
# Build progress as BuildKit prints it (issue #12): plain blocks with per-line times,
# step counts that include FROM and leave metadata instructions out, CACHED on a
# rebuild, the failing RUN's Dockerfile excerpt and final ERROR line, rawjson, the
# tty view under a pseudo-terminal, TERM=dumb, and -q (the image ID alone).
. "$(dirname "$0")/lib.sh"
load_busybox

# like_ml GOT REGEX NAME: like, with a Python regex over the whole text (grep -E would
# take each line of a multi-line pattern as a pattern of its own). ^ and $ are lines'.
like_ml() {
	if printf '%s' "$1" | python3 -c 'import re, sys; sys.exit(not re.search(sys.argv[1], sys.stdin.read(), re.M))' "$2"; then
		ok "$3"
	else
		not_ok "$3"; diag "got: '$1'" "want match: '$2'"
	fi
}

c=$(ctx steps <<'EOF2'
FROM busybox
ENV GREETING=hello
LABEL stage=one
RUN echo "$GREETING tick 1"; sleep 1; echo tick 2
WORKDIR /work
COPY a.txt .
EOF2
)
echo A >"$c/a.txt"

# 1. plain: the block format, the step count with FROM, no metadata steps.
if build "$c" -t progress:1; then
	log=$(cat "$WORK/build.log")
	like_ml "$log" $'^#1 \\[internal\\] load build definition from Dockerfile\n#1 transferring dockerfile: [0-9]+B done\n#1 DONE [0-9]+\\.[0-9]s' \
		"plain: '[internal] load build definition' with its transfer status and DONE"
	like "$log" '#[0-9]+ \[internal\] load metadata for docker.io/library/busybox:latest' \
		"plain: '[internal] load metadata for' the base image"
	like "$log" '#[0-9]+ \[internal\] load \.dockerignore' "plain: '[internal] load .dockerignore'"
	like "$log" '#[0-9]+ \[internal\] load build context' "plain: '[internal] load build context'"
	like "$log" '#[0-9]+ \[1/4\] FROM docker.io/library/busybox:latest@sha256:[0-9a-f]{64}' \
		"plain: FROM is step 1 of 4, with the resolved digest"
	like "$log" '#[0-9]+ \[2/4\] RUN echo "\$GREETING tick 1"; sleep 1; echo tick 2' \
		"plain: RUN is step 2 (ENV and LABEL are no steps)"
	like "$log" '#[0-9]+ \[3/4\] WORKDIR /work' "plain: WORKDIR is a step (3/4)"
	like "$log" '#[0-9]+ \[4/4\] COPY a.txt \.' "plain: COPY is step 4/4"
	unlike "$log" '\] (ENV|LABEL) ' "plain: ENV and LABEL are not listed as steps"
	like_ml "$log" '^#[0-9]+ [0-9]\.[0-9]{3} hello tick 1$' \
		"plain: an output line is '#N <seconds, 3 decimals> <text>'"
	run_n=$(grep -E '^#[0-9]+ \[2/4\] RUN' "$WORK/build.log" | head -n 1 | cut -d' ' -f1)
	t1=$(grep -E "^$run_n [0-9.]+ hello tick 1\$" "$WORK/build.log" | cut -d' ' -f2)
	t2=$(grep -E "^$run_n [0-9.]+ tick 2\$" "$WORK/build.log" | cut -d' ' -f2)
	check "plain: the times are the seconds since the step started ($t1 < $t2, 1s apart)" \
		awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b - a >= 0.15 && a < 5) }'
	like_ml "$log" "^$run_n DONE [0-9]+\\.[0-9]s\$" "plain: a run step ends with '#N DONE 0.3s'"
	like_ml "$log" $'#[0-9]+ exporting to image\n#[0-9]+ exporting layers done\n#[0-9]+ writing image sha256:[0-9a-f]{64} done\n#[0-9]+ naming to docker.io/library/progress:1 done\n#[0-9]+ DONE' \
		"plain: the export step: exporting layers, writing image, naming to"
	like_ml "$log" $'DONE [0-9.]+s\n\n#[0-9]+ ' "plain: a blank line between the steps' blocks"
else
	not_ok "a build with plain progress"; diag "$(tail -n 20 "$WORK/build.log")"
fi

# 2. the rebuild: every step CACHED.
if build "$c" -t progress:1; then
	for s in '\[2/4\] RUN' '\[3/4\] WORKDIR' '\[4/4\] COPY'; do
		n=$(grep -E "^#[0-9]+ $s" "$WORK/build.log" | head -n 1 | cut -d' ' -f1)
		like "$(grep -E "^$n (CACHED|DONE)" "$WORK/build.log")" "^$n CACHED\$" \
			"rebuild: '$s' is '#N CACHED'"
	done
else
	not_ok "the rebuild"; diag "$(tail -n 20 "$WORK/build.log")"
fi

# 3. a failing RUN: its output, the >>> excerpt of the Dockerfile (BuildKit's: two lines
#    of context around a range, four around a single line), the final ERROR line.
f=$(ctx fail <<'EOF2'
FROM busybox
ENV A=1
RUN echo one
RUN echo before-failing && \
    exit 3
LABEL after=yes
CMD ["sh"]
EOF2
)
if build "$f"; then
	not_ok "a failing RUN fails the build"
else
	log=$(cat "$WORK/build.log")
	like_ml "$log" $'#[0-9]+ \\[3/3\\] RUN echo before-failing &&     exit 3\n#[0-9]+ [0-9.]+ before-failing\n#[0-9]+ ERROR: process "/bin/sh -c echo before-failing &&     exit 3" did not complete successfully: exit code: 3' \
		"failure: the step's block ends with '#N ERROR: process … exit code: 3'"
	like_ml "$log" $'------\n > \\[3/3\\] RUN echo before-failing &&     exit 3:\nbefore-failing\n------' \
		"failure: the step's last lines between '------' (as BuildKit)"
	want=$'Dockerfile:4\n--------------------\n   3 \\|     RUN echo one\n   4 \\| >>> RUN echo before-failing && \\\\\n   5 \\| >>>     exit 3\n   6 \\|     LABEL after=yes\n--------------------\nERROR: failed to solve: process "/bin/sh -c echo before-failing &&     exit 3" did not complete successfully: exit code: 3'
	like_ml "$log" "$want" "failure: the Dockerfile excerpt with >>> at the step's lines, then 'ERROR: failed to solve: …'"
fi
one=$(ctx fail1 <<'EOF2'
FROM busybox
RUN false
EOF2
)
build "$one"
like_ml "$(cat "$WORK/build.log")" $'Dockerfile:2\n--------------------\n   1 \\|     FROM busybox\n   2 \\| >>> RUN false\n   3 \\|     \n--------------------\nERROR: failed to solve: process "/bin/sh -c false" did not complete successfully: exit code: 1' \
	"failure: one line gets up to four lines around it, BuildKit's trailing empty line included"

# 4. rawjson: one JSON object per line, BuildKit's SolveStatus, with the log bytes.
if "$MOLT" build --progress rawjson --no-cache "$c" >/dev/null 2>"$WORK/raw.log"; then
	check "rawjson: every line is a JSON object with vertexes, statuses or logs" \
		python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert isinstance(o, dict) and set(o) <= {"vertexes", "statuses", "logs"} and o, line
    n += 1
assert n > 10, n' "$WORK/raw.log"
	check "rawjson: the logs carry RUN's output (base64) on a vertex named for the step" \
		python3 -c '
import base64, json, sys
names, data = {}, b""
for line in open(sys.argv[1]):
    o = json.loads(line)
    for v in o.get("vertexes", []):
        names[v["digest"]] = v["name"]
        assert v["digest"].startswith("sha256:") and v["started"].endswith("Z")
    for l in o.get("logs", []):
        if "RUN" in names[l["vertex"]]:
            data += base64.b64decode(l["data"])
assert data == b"hello tick 1\ntick 2\n", data' "$WORK/raw.log"
	check "rawjson: steps complete, and the export has its statuses" \
		python3 -c '
import json, sys
done, ids = set(), []
for line in open(sys.argv[1]):
    o = json.loads(line)
    for v in o.get("vertexes", []):
        if v.get("completed"): done.add(v["name"])
    ids += [s["id"] for s in o.get("statuses", [])]
assert "[2/4] RUN echo \"$GREETING tick 1\"; sleep 1; echo tick 2" in done, done
assert any(i.startswith("writing image sha256:") for i in ids), ids' "$WORK/raw.log"
else
	not_ok "a build with --progress rawjson"; diag "$(tail -n 20 "$WORK/raw.log")"
fi
"$MOLT" build --progress rawjson "$one" >/dev/null 2>"$WORK/raw.log"
check "rawjson: a failed step is a vertex with its error" python3 -c '
import json, sys
errs = [v["error"] for line in open(sys.argv[1]) if line.startswith("{")
        for v in json.loads(line).get("vertexes", []) if v.get("error")]
assert errs == ["process \"/bin/sh -c false\" did not complete successfully: exit code: 1"], errs' \
	"$WORK/raw.log"

# 5. tty under a pseudo-terminal; TERM=dumb and a non-tty give plain.
script -qefc "TERM=xterm $MOLT build --no-cache -t progress:tty $c" /dev/null >"$WORK/tty.log" 2>&1
tty=$(tr -d '\r' <"$WORK/tty.log")
like "$tty" '\[\+\] Building [0-9]+\.[0-9]s \([0-9]+/[0-9]+\) FINISHED' "tty: '[+] Building 1.2s (n/n) FINISHED' at the end"
like "$tty" ' => \[2/4\] RUN echo "\$GREETING tick 1".* [0-9]+\.[0-9]s' "tty: each step with its time"
like "$tty" ' => => # hello tick 1' "tty: a running step's last output lines under it"
like_ml "$tty" ' => exporting to image +[0-9.]+s.*\n.* => => exporting layers done +[0-9.]+s.*\n.* => => writing image sha256:[0-9a-f]+.*\n.* => => naming to docker.io/library/progress:tty done' "tty: the export step and its statuses"
like_ml "$tty" $'\033\\[[0-9]+A' "tty: the view is redrawn in place (cursor up)"
script -qefc "TERM=dumb $MOLT build -t progress:dumb $c" /dev/null >"$WORK/dumb.log" 2>&1
dumb=$(tr -d '\r' <"$WORK/dumb.log")
unlike "$dumb" $'\033' "TERM=dumb on a terminal: no escape sequences"
like "$dumb" '#[0-9]+ \[2/4\] RUN' "TERM=dumb on a terminal: the plain format"
"$MOLT" build -t progress:pipe "$c" 2>&1 >/dev/null | cat >"$WORK/pipe.log"
like "$(cat "$WORK/pipe.log")" '^#1 \[internal\] load build definition' "a non-tty stderr: plain"

# 6. -q and the global -q: the image ID alone on stdout, nothing on stderr.
id=$("$MOLT" build -q "$c" 2>"$WORK/q.err")
like "$id" '^sha256:[0-9a-f]{64}$' "build -q prints only the image ID"
is "$(cat "$WORK/q.err")" "" "build -q prints no progress"
gid=$("$MOLT" -q build "$c" 2>"$WORK/q.err")
is "$gid" "$id" "molt -q build prints only the image ID"
is "$(cat "$WORK/q.err")" "" "molt -q build prints no progress"
molt_fails 2 "unknown option|must be auto, plain, tty, quiet or rawjson" "--progress fancy is refused" \
	"$MOLT" build --progress fancy "$c"

done_testing
