#!/usr/bin/env bash
# The walk-differ fallback of the build executor (SPEC §6): where overlayfs cannot be
# mounted, a step runs over a copy of the stage's tree and the walk differ finds its
# change. MOLT_DIFFER=walk forces that path; both paths must give the same layers,
# so the same Dockerfile under SOURCE_DATE_EPOCH gives the same image digest.
# Not compared: writing to a file that has a hardlink in a lower layer. overlayfs
# (without index=on, as in Docker) copies the one name up and breaks the link; a
# plain directory changes both names, so the two changes really differ.
. "$(dirname "$0")/lib.sh"

export SOURCE_DATE_EPOCH=1700000000

# store NAME: a fresh store of its own with the busybox base loaded, so that no
# unpacked tree of one path is reused by the other.
store() {
	local s=$WORK/store-$1
	MOLT_ROOT=$s "$MOLT" load -i "$FIXTURES/busybox/oci" >/dev/null 2>&1 || return 1
	printf '%s' "$s"
}

c=$WORK/ctx
mkdir -p "$c/tree/sub"
echo one >"$c/tree/one.txt"; echo deep >"$c/tree/sub/deep.txt"
ln "$c/tree/one.txt" "$c/tree/one-link.txt"
cat >"$c/Dockerfile" <<'EOF'
FROM busybox AS build
RUN mkdir -p /app/data /app/gone /app/replaced && echo v1 > /app/data/file \
 && echo keep > /app/replaced/old && echo x > /app/gone/x && echo mode > /app/mode \
 && echo linked > /app/data/linked && ln /app/data/linked /app/hardlink
RUN echo v2 >> /app/data/file && rm -r /app/gone && rm /bin/vi \
 && rm -rf /app/replaced && mkdir /app/replaced && echo new > /app/replaced/new \
 && chmod 0700 /app/mode && chmod 0750 /app/data && ln /bin/busybox /app/bb \
 && ln -s ../data/file /app/replaced/link && mkfifo /app/fifo
COPY tree /copied/
COPY --link tree/sub /linked/
WORKDIR /app/work
RUN touch nothing-else && rm nothing-else

FROM scratch
COPY --from=build /app /app
COPY --from=build /copied /copied
EOF

sa=$(store overlay) && sb=$(store walk) || { not_ok "load the busybox base into two stores"; done_testing; exit 1; }
MOLT_ROOT=$sa "$MOLT" build --progress plain --target build --iidfile "$WORK/iid.overlay" \
	-o "type=tar,dest=$WORK/overlay.tar" "$c" >/dev/null 2>"$WORK/overlay.log" \
	|| { not_ok "the overlay build"; diag "$(tail -n 15 "$WORK/overlay.log")"; }
MOLT_DIFFER=walk MOLT_ROOT=$sb "$MOLT" build --progress plain --target build --iidfile "$WORK/iid.walk" \
	-o "type=tar,dest=$WORK/walk.tar" "$c" >/dev/null 2>"$WORK/walk.log" \
	|| { not_ok "the MOLT_DIFFER=walk build"; diag "$(tail -n 15 "$WORK/walk.log")"; }
like "$(cat "$WORK/iid.walk" 2>/dev/null)" "^sha256:" "MOLT_DIFFER=walk builds (RUN adds, modifies, deletes, chmods, hardlinks)"
is "$(cat "$WORK/iid.walk" 2>/dev/null)" "$(cat "$WORK/iid.overlay" 2>/dev/null)" \
	"the walk differ and the overlay differ give the same image digest (SPEC §6)"
# When they differ, show which layer does.
if [ "$(cat "$WORK/iid.walk" 2>/dev/null)" != "$(cat "$WORK/iid.overlay" 2>/dev/null)" ]; then
	for s in "$sa" "$sb"; do
		diag "$s: $(MOLT_ROOT=$s "$MOLT" inspect "$(cat "$WORK/iid.overlay" 2>/dev/null)" 2>/dev/null | jq -c '.[0].RootFS.Layers // .' 2>/dev/null | head -c 600)"
	done
fi
listing() { tar -tvf "$1" --numeric-owner 2>/dev/null | awk '{print $1, $2, $6, $7, $8}' | LC_ALL=C sort; }
is "$(listing "$WORK/walk.tar" | md5sum)" "$(listing "$WORK/overlay.tar" | md5sum)" \
	"-o type=tar from copies (walk mode) lists the same entries as from overlays"

mkdir -p "$WORK/out"
if tar -xf "$WORK/walk.tar" -C "$WORK/out" 2>/dev/null; then
	is "$(cat "$WORK/out/app/data/file")" "$(printf 'v1\nv2')" "walk mode: a modified file has its new content"
	[ ! -e "$WORK/out/app/gone" ] && [ ! -e "$WORK/out/bin/vi" ] && ok "walk mode: deleted files and dirs are gone" \
		|| not_ok "walk mode: deleted files and dirs are gone"
	is "$(ls "$WORK/out/app/replaced" | tr '\n' ' ')" "link new " "walk mode: a replaced directory holds only its new entries"
	is "$(stat -c %a "$WORK/out/app/mode")" "700" "walk mode: chmod reaches the layer"
	is "$(stat -c %i "$WORK/out/app/bb")" "$(stat -c %i "$WORK/out/bin/busybox")" \
		"walk mode: a hardlink to a base file stays a hardlink"
	is "$(stat -c %i "$WORK/out/app/hardlink")" "$(stat -c %i "$WORK/out/app/data/linked")" \
		"walk mode: a hardlink made in a step stays a hardlink"
	[ -p "$WORK/out/app/fifo" ] && ok "walk mode: a fifo is kept" || not_ok "walk mode: a fifo is kept"
	is "$(cat "$WORK/out/copied/sub/deep.txt")" "deep" "walk mode: COPY writes into the copy"
	[ ! -e "$WORK/out/app/work/nothing-else" ] && ok "walk mode: a file created and removed in one step leaves nothing" \
		|| not_ok "walk mode: a file created and removed in one step leaves nothing"
else
	not_ok "the walk-mode rootfs tar unpacks"
fi

# The final multi-stage image (COPY --from reads a copy of the earlier stage in walk mode).
MOLT_ROOT=$sa "$MOLT" build --progress quiet --iidfile "$WORK/final.overlay" "$c" >/dev/null 2>"$WORK/overlay.log"
MOLT_DIFFER=walk MOLT_ROOT=$sb "$MOLT" build --progress quiet --iidfile "$WORK/final.walk" \
	-o "type=local,dest=$WORK/final" "$c" >/dev/null 2>"$WORK/walk.log"
is "$(cat "$WORK/final.walk" 2>/dev/null)" "$(cat "$WORK/final.overlay" 2>/dev/null)" \
	"COPY --from in walk mode gives the same final image as with overlays"
is "$(cd "$WORK/final" 2>/dev/null && find . -mindepth 1 -maxdepth 1 | LC_ALL=C sort | tr '\n' ' ')" "./app ./copied " \
	"-o type=local in walk mode holds only the copied paths"

# The step really ran on a plain directory: the root mount of a RUN is not an overlay.
c2=$WORK/ctx2; mkdir -p "$c2"
cat >"$c2/Dockerfile" <<'EOF'
FROM busybox
RUN awk '$5 == "/" { for (i = 7; i < NF; i++) if ($i == "-") { print $(i + 1); exit } }' /proc/self/mountinfo > /rootfs-type
EOF
MOLT_DIFFER=walk MOLT_ROOT=$sb "$MOLT" build --progress quiet -o "type=local,dest=$WORK/fstype-walk" "$c2" >/dev/null 2>"$WORK/walk.log"
MOLT_ROOT=$sa "$MOLT" build --progress quiet -o "type=local,dest=$WORK/fstype-overlay" "$c2" >/dev/null 2>"$WORK/overlay.log"
is "$(cat "$WORK/fstype-overlay/rootfs-type" 2>/dev/null)" "overlay" "by default a RUN works on an overlay"
t=$(cat "$WORK/fstype-walk/rootfs-type" 2>/dev/null)
if [ -n "$t" ] && [ "$t" != overlay ]; then ok "with MOLT_DIFFER=walk a RUN works on a copy ($t)"; else not_ok "with MOLT_DIFFER=walk a RUN works on a copy"; diag "root fs type: '$t'" "$(tail -n 5 "$WORK/walk.log")"; fi

# The step's overlay is volatile (issue 13): a step's fsyncs are not synchronous
# writes; the commit syncs the tree once. The super options of the root mount say so.
c3=$WORK/ctx3; mkdir -p "$c3"
cat >"$c3/Dockerfile" <<'EOF'
FROM busybox
RUN awk '$5 == "/" { print $NF }' /proc/self/mountinfo > /root-opts \
 && dd if=/dev/zero of=/synced bs=1k count=4 conv=fsync 2>/dev/null
EOF
MOLT_ROOT=$sa "$MOLT" build --progress quiet -o "type=local,dest=$WORK/volatile" "$c3" >/dev/null 2>"$WORK/overlay.log"
like "$(cat "$WORK/volatile/root-opts" 2>/dev/null)" "(^|,)(fsync=)?volatile(,|$)" "a RUN's overlay is mounted volatile"
is "$(stat -c %s "$WORK/volatile/synced" 2>/dev/null)" "4096" "a file a step fsyncs on the volatile overlay is in its layer"

for s in "$sa" "$sb"; do MOLT_ROOT=$s "$MOLT" prune --all >/dev/null 2>&1; done
done_testing
