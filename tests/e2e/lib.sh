# tests/e2e/lib.sh — sourced by every end-to-end script. Prints TAP.
# Environment from tests/run-tests.sh: MOLT (the binary), STAGE, FIXTURES, HOME, TMPDIR.
set -u
_n=0
_failed=0

ok() { _n=$((_n + 1)); echo "ok $_n - $*"; }
not_ok() { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $*"; }
skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# check NAME CMD...: a case that passes when CMD succeeds.
check() {
	local name=$1; shift
	local out
	if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name"; diag "$out" | tail -n 20; fi
}

# is GOT WANT NAME
is() {
	if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3"; diag "got:  '$1'" "want: '$2'"; fi
}

# like GOT REGEX NAME (grep -E)
like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok "$3"; else not_ok "$3"; diag "got: '$1'" "want match: '$2'"; fi
}

# unlike GOT REGEX NAME
unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then not_ok "$3"; diag "got: '$1'" "must not match: '$2'"; else ok "$3"; fi
}

# molt_fails WANT_RC REGEX NAME CMD...: CMD exits WANT_RC and stderr matches REGEX.
molt_fails() {
	local want=$1 re=$2 name=$3; shift 3
	local err rc
	err=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq "$want" ] && printf '%s' "$err" | grep -Eq -- "$re"; then
		ok "$name"
	else
		not_ok "$name"; diag "exit $rc (want $want)" "stderr: $err"
	fi
}

# A fresh store and work directory per script.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/e2e.XXXXXX")
export MOLT_ROOT=$WORK/store
cleanup_work() { "$MOLT" prune --all >/dev/null 2>&1; rm -rf "$WORK" 2>/dev/null; true; }
trap cleanup_work EXIT

# need_userns: skip the rest of a script when user namespaces are unavailable.
have_subuid() { grep -q "^$(id -un):" /etc/subuid 2>/dev/null; }

done_testing() { echo "1..$_n"; [ $_failed -eq 0 ]; }

# two_users: for the root_*.sh scripts that build as two unprivileged users; sets $first
# and $other (tests/run-tests.sh made both for this run's slot, with their own subuid
# ranges), or skips and ends the script when not root or a user is missing.
two_users() {
	if [ "$(id -u)" != 0 ]; then
		skip "needs root to run builds as two different users (make check as root does this)"
		done_testing; exit 0
	fi
	first=${MOLT_TEST_USER:-molt-test} other=${MOLT_TEST_USER2:-molt-test-b}
	if ! id "$first" >/dev/null 2>&1 || ! id "$other" >/dev/null 2>&1; then
		skip "test users '$first'/'$other' do not exist (tests/run-tests.sh makes them)"
		done_testing; exit 0
	fi
}

# ---- helpers of the build scripts (test_build*.sh, test_cache.sh, test_escapes.sh …)

# load_busybox: the fixture base image into $MOLT_ROOT, or the script ends here.
load_busybox() {
	"$MOLT" load -i "$FIXTURES/busybox/oci" >/dev/null 2>&1 && return 0
	not_ok "load the busybox base"; done_testing; exit 1
}

# ctx NAME: a fresh build context; the Dockerfile comes on stdin.
ctx() {
	local d=$WORK/ctx/$1
	rm -rf "$d"; mkdir -p "$d"
	cat >"$d/Dockerfile"
	printf '%s' "$d"
}

# build CTX ARGS...: molt build with plain progress, output in $WORK/build.log.
build() {
	local c=$1; shift
	"$MOLT" build --progress plain "$@" "$c" >"$WORK/build.out" 2>"$WORK/build.log"
}
# build_failed NAME [N]: NAME fails, with the last N (20) lines of $WORK/build.log.
build_failed() { not_ok "$1"; diag "$(tail -n "${2:-20}" "$WORK/build.log")"; }

# build_fails CTX STATUS NAME RE RE_NAME: a build that must exit STATUS (TAP line NAME)
# with its log matching RE (TAP line RE_NAME).
build_fails() {
	build "$1"
	is "$?" "$2" "$3"
	like "$(cat "$WORK/build.log")" "$4" "$5"
}

# step_status LOG TEXT: how the step whose title contains TEXT ended in the plain progress
# in LOG ("CACHED", "DONE" or "" when it did not run).
step_status() {
	awk -v t="$2" '
		index($0, t) && $2 ~ /^\[/ { id = $1 }
		id != "" && $1 == id && ($2 == "CACHED" || $2 == "DONE") { print $2; exit }
	' "$1"
}

# step_statuses LOG TEXT...: the statuses of several steps, space-separated.
step_statuses() {
	local log=$1 out="" t; shift
	for t in "$@"; do out="$out${out:+ }$(step_status "$log" "$t")"; done
	printf '%s' "$out"
}

# config IMAGE: the image's OCI config JSON, read from `molt save --format oci`.
config() {
	local t=$WORK/save.tar d=$WORK/save
	rm -rf "$t" "$d"; mkdir -p "$d"
	"$MOLT" save --format oci -o "$t" "$1" >/dev/null 2>&1 || return 1
	tar -xf "$t" -C "$d" || return 1
	local m c
	m=$(jq -r '.manifests[0].digest' "$d/index.json" | sed 's/sha256://')
	c=$(jq -r '.config.digest' "$d/blobs/sha256/$m" | sed 's/sha256://')
	cat "$d/blobs/sha256/$c"
}

# corpus_setup DIR: reads the "# args:", "# file:", "# exit:" and "# stderr:" lines of
# DIR/expect (tests/corpus/README.md) into corpus_args (an array), corpus_file,
# corpus_exit and corpus_stderr.
corpus_setup() {
	local line argline=
	corpus_file=Dockerfile corpus_exit=0 corpus_stderr=
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		"# args: "*) argline=${line#"# args: "} ;;
		"# file: "*) corpus_file=${line#"# file: "} ;;
		"# exit: "*) corpus_exit=${line#"# exit: "} ;;
		"# stderr: "*) corpus_stderr=${line#"# stderr: "} ;;
		esac
	done <"$1/expect"
	# xargs splits the argument line the way a shell would, quotes included, without eval
	corpus_args=()
	if [ -n "$argline" ]; then
		mapfile -t corpus_args < <(printf '%s' "$argline" | xargs -n1 printf '%s\n')
	fi
}

# serve_dir DIR: a busybox httpd serving DIR on a loopback port; sets hport and hpid
# (stop it with stop_served).
serve_dir() {
	hport=$((20000 + RANDOM % 20000))
	busybox httpd -f -p "127.0.0.1:$hport" -h "$1" &
	hpid=$!
	sleep 0.3
}
stop_served() { kill "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null; }

# layer_steps_done_cached LOG: "DONE/CACHED" counts of the layer steps (RUN, COPY, ADD,
# WORKDIR) in plain progress, leaving out FROM, the [internal] steps and the export.
layer_steps_done_cached() {
	local steps
	steps=$(grep -oE '^#[0-9]+ \[[^]]*[0-9]+/[0-9]+\] (RUN|COPY|ADD|WORKDIR)' "$1" |
		cut -d' ' -f1 | sort -u | paste -sd'|')
	[ -n "$steps" ] || { echo "0/0"; return; }
	echo "$(grep -cE "^($steps) DONE" "$1")/$(grep -cE "^($steps) CACHED$" "$1")"
}
