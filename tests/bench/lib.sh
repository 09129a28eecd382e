# tests/bench/lib.sh — what the bench scripts share, sourced by them (not a bench itself:
# run.sh runs only bench_*.sh): where the tree and the molt binary are, a scratch
# directory under /var/tmp, and emptying the buildah storage kept in it.
# shellcheck shell=bash
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
molt=${MOLT:-$top/build/molt}

# bench_mkdir NAME: a fresh scratch directory in $dir, readable by all because builds
# running as another user read the contexts and bases kept there.
bench_mkdir() {
	dir=$(mktemp -d "/var/tmp/molt-bench-$1.XXXXXX") || exit 1
	chmod 0755 "$dir"
}

# bench_buildah_clean: remove the containers and images of the storage "${bah[@]}" names,
# then the overlay mounts buildah may still hold under $dir (deepest first, lazily, so a
# busy one cannot stop the rm -rf that follows).
bench_buildah_clean() {
	"${bah[@]}" rm -a >/dev/null 2>&1
	"${bah[@]}" rmi -a -f >/dev/null 2>&1
	awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
		xargs -r umount -l >/dev/null 2>&1
}
