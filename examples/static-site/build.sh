#!/bin/sh
# build.sh TITLE SRC OUT — wraps every SRC/*.txt page in HTML and writes an index.
set -eu
title=$1 src=$2 out=$3
mkdir -p "$out"
{
	printf '<!doctype html>\n<title>%s</title>\n<h1>%s</h1>\n<ul>\n' "$title" "$title"
	for page in "$src"/*.txt; do
		name=$(basename "$page" .txt)
		printf '<li><a href="%s.html">%s</a></li>\n' "$name" "$(head -n 1 "$page")"
		{
			printf '<!doctype html>\n<title>%s</title>\n<pre>\n' "$name"
			sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' "$page"
			printf '</pre>\n'
		} >"$out/$name.html"
	done
	printf '</ul>\n<p>built by molt</p>\n'
} >"$out/index.html"
