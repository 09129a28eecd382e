#!/usr/bin/env bash
# `make install` (DESTDIR and PREFIX honoured) puts molt, its man pages and its bash
# completion in place; the pages render and list every option the tables hold; the
# completion is valid bash and completes commands and each command's options.
# Environment from tests/run-tests.sh: TOP (the source tree), B (the build directory).
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${B:-$TOP/build}
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name"; fi; }

dest=$(mktemp -d "${TMPDIR:-/tmp}/molt-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
if make -s -C "$TOP" B="$B" DESTDIR="$dest" PREFIX=/opt/molt install >"$dest.log" 2>&1; then
	ok "make install DESTDIR=… PREFIX=/opt/molt"
else
	not_ok "make install DESTDIR=… PREFIX=/opt/molt"; sed 's/^/# /' "$dest.log"
fi
rm -f "$dest.log"
root=$dest/opt/molt
molt=$root/bin/molt
check "the binary is in PREFIX/bin and runs" "$molt" version
man1=$root/share/man/man1
cmds=$("$molt" --help | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
[ -n "$cmds" ] && ok "molt --help lists the commands" || not_ok "molt --help lists the commands"
missing=
for c in $cmds; do [ -f "$man1/molt-$c.1" ] || missing="$missing $c"; done
[ -f "$man1/molt.1" ] && [ -z "$missing" ] && ok "molt(1) and one page per command are installed" \
	|| not_ok "molt(1) and one page per command are installed (missing:$missing)"

# man -l renders them without a groff warning, and each lists every option of the
# command's --help (which comes from the same table).
bad=
for c in "" $cmds; do
	page=$man1/molt${c:+-$c}.1
	text=$(MANWIDTH=100 man -l "$page" 2>"$dest/warn" | col -b)
	[ -s "$dest/warn" ] && bad="$bad ${c:-molt}(warns)"
	printf '%s' "$text" | grep -q "^NAME" || bad="$bad ${c:-molt}(no NAME)"
	if [ -n "$c" ]; then
		help=$("$molt" "$c" --help)
	else
		help=$("$molt" --help | sed -n '/^global options:/,$p')
	fi
	for opt in $(printf '%s\n' "$help" | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+$'); do
		printf '%s' "$text" | grep -qF -- "$opt" || bad="$bad ${c:-molt}:$opt"
	done
done
[ -z "$bad" ] && ok "man -l renders every page, each with every option of its --help" \
	|| not_ok "man -l renders every page, each with every option of its --help:$bad"
# --help prints the table then prose: an option line in the prose (hand-written, a
# duplicate or one the parser does not know) would make it differ from the page.
bad=
for c in $cmds; do
	h=$("$molt" "$c" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+$')
	m=$(MANWIDTH=100 man -l "$man1/molt-$c.1" 2>/dev/null | col -b | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+$')
	[ "$h" = "$m" ] || bad="$bad $c(help:$(echo $h) page:$(echo $m))"
	[ -z "$(printf '%s\n' "$h" | sort | uniq -d)" ] || bad="$bad $c(twice: $(printf '%s\n' "$h" | sort | uniq -d))"
done
[ -z "$bad" ] && ok "every command's --help lists exactly its page's options, each once" \
	|| not_ok "every command's --help lists exactly its page's options, each once:$bad"
[ "$("$molt" build --help | grep -cE '^ +(-[a-zA-Z], )?--[a-z]')" -gt 15 ] \
	&& ok "molt build --help lists its options" || not_ok "molt build --help lists its options"

comp=$root/share/bash-completion/completions/molt
check "the completion is installed and bash -n accepts it" bash -n "$comp"
# complete WORDS...: what the completion offers for the last word.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _molt; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$comp" "$@"
}
[ "$(complete_words molt bu)" = build ] && ok "completion: commands" || not_ok "completion: commands"
[ "$(complete_words molt --root /tmp bu)" = build ] && ok "completion: the command after a global option's value" \
	|| not_ok "completion: the command after a global option's value"
got=$(complete_words molt build --progr)
[ "$got" = --progress ] && ok "completion: a build option" || not_ok "completion: a build option (got '$got')"
got=$(complete_words molt run --pid)
[ "$got" = --pids-limit ] && ok "completion: a run option" || not_ok "completion: a run option (got '$got')"
all=$(complete_words molt build - | sort | tr '\n' ' ')
want=$( ("$molt" build --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z0-9-]+' | grep -oE -- '-[a-zA-Z]|--[a-z0-9-]+'; echo --help) | sort | tr '\n' ' ')
[ "$all" = "$want" ] && ok "completion: every option of molt build, from its table" \
	|| { not_ok "completion: every option of molt build, from its table"; echo "# got:  $all"; echo "# want: $want"; }

echo "1..$n"
[ $failed -eq 0 ]
