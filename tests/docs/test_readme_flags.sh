#!/usr/bin/env bash
# README.md's "docker build flags in molt" table: every flag it names is in molt build's
# option table (molt build --help prints it), and no row says "unknown option".
# Environment from tests/run-tests.sh: TOP (the source tree), MOLT (the binary).
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
MOLT=${MOLT:-$TOP/build/molt}
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

table=$(sed -n '/^## `docker build` flags in molt/,/^## /p' "$TOP/README.md" | grep '^| `')
rows=$(printf '%s\n' "$table" | grep -vc '^$')
[ "$rows" -ge 40 ] && ok "README has the docker build flag table ($rows rows)" \
	|| not_ok "README has the docker build flag table ($rows rows)"
help=$("$MOLT" build --help)
flags=$(printf '%s\n' "$table" | awk -F' [|] ' '{ print $1 }' | grep -oE -- '(^|[ `])--?[a-zA-Z][a-z0-9-]*' | tr -d ' `' | sort -u)
missing=
for f in $flags; do
	case $f in
	--*) printf '%s\n' "$help" | grep -qE -- "^ +(-[a-zA-Z], )?$f( |\\[|\$)" || missing="$missing $f" ;;
	*) printf '%s\n' "$help" | grep -qE -- "^  $f, --" || missing="$missing $f" ;;
	esac
done
[ -n "$flags" ] && [ -z "$missing" ] && ok "every flag of the table is in molt build's option table ($(echo $flags | wc -w))" \
	|| not_ok "every flag of the table is in molt build's option table; missing:$missing"
printf '%s\n' "$table" | grep -qi 'unknown option' && not_ok "no row says 'unknown option'" \
	|| ok "no row says 'unknown option'"
# The table covers docker buildx build's flags (its reference, as of buildx 0.17).
buildx="--add-host --allow --annotation --attest --build-arg --build-context --builder --cache-from
--cache-to --call --cgroup-parent --check --detach --file --iidfile --label --load --metadata-file
--network --no-cache --no-cache-filter --output --platform --progress --provenance --pull --push
--quiet --sbom --secret --shm-size --ssh --tag --target --ulimit"
legacy="--compress --cpu-period --cpu-quota --cpu-shares --cpuset-cpus --cpuset-mems
--disable-content-trust --force-rm --isolation --memory --memory-swap --rm --security-opt --squash"
absent=
for f in $buildx $legacy; do printf '%s\n' "$flags" | grep -qx -- "$f" || absent="$absent $f"; done
[ -z "$absent" ] && ok "the table has a row for every docker build and buildx build flag" \
	|| not_ok "the table has a row for every docker build and buildx build flag; absent:$absent"

echo "1..$n"
[ $failed -eq 0 ]
