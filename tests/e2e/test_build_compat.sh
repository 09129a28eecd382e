#!/usr/bin/env bash
# docker build's flags that have no work to do in molt are accepted (their honest
# meaning here), the ones molt cannot honour are refused with why and what to do
# (runner/cli/build_compat.c) — never "unknown option" (issue #12).
. "$(dirname "$0")/lib.sh"
load_busybox

c=$(ctx compat <<'EOF2'
FROM busybox
RUN echo compat > /compat
EOF2
)
if build "$c" --builder default --compress --force-rm --rm --rm=false --disable-content-trust \
	--disable-content-trust=false --allow network.host --attest type=sbom,disabled=true \
	--attest type=provenance,disabled=true --call build --isolation default \
	-o "type=local,dest=$WORK/out"; then
	is "$(cat "$WORK/out/compat")" compat "the flags without work in molt are accepted and the build runs"
else
	not_ok "the flags without work in molt are accepted and the build runs"; diag "$(tail -n 5 "$WORK/build.log")"
fi

# refused FLAG... REASON: exit 2, "--NAME … is not supported: REASON", nothing built.
refused() {
	local reason=${*: -1}
	molt_fails 2 "build: --[a-z-]+ .*is not supported: .*$reason" "refused with the reason: $*" \
		"$MOLT" build --progress plain "${@:1:$#-1}" "$c"
}
refused --check "no Dockerfile linter"
refused --call check "only builds"
refused --call targets "only builds"
refused --cpu-period 100 "no CPU limits"
refused --cpu-quota 100 "no CPU limits"
refused -c 2 "no CPU limits"
refused --cpuset-cpus 0 "pins no CPUs"
refused --cpuset-mems 0 "pins no memory nodes"
refused --memory-swap 1g "memory with -m only"
refused --security-opt seccomp=unconfined "seccomp and capabilities are molt's own"
refused --squash "one layer per step"
refused --detach "no build server"
refused --allow security.insecure "no privilege"
refused --attest type=sbom "no attestations"

done_testing
