#!/usr/bin/env bash
# Run by tests/run-tests.sh as root: two different unprivileged users (other uids, other
# subuid ranges, other HOMEs, stores and context paths) share one build cache through a
# local registry (TLS, password): the second runs no step and gets the first's image ID.
# No SOURCE_DATE_EPOCH: the cache alone makes the image the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry_lib.sh"

two_users
reg_require
unset SOURCE_DATE_EPOCH
if ! reg_start --tls --htpasswd; then
	not_ok "the registry starts"; done_testing; exit
fi
reg_molt_env
reg_auth_file "$REG_USER" "$REG_PASS"
# The users read the registry's CA and registries.conf (not its keys).
chmod 755 "$REG_DIR" "$REG_INST"
chmod 644 "$CONTAINERS_REGISTRIES_CONF"
chmod -R a+rX "$REG_CERTS_D"

# build_as USER DIR CTXNAME ARGS...: loads the base and builds the context as USER.
build_as() {
	local u=$1 d=$2 c=$3; shift 3
	mkdir -p "$d/$c"
	cat >"$d/$c/Dockerfile" <<-'EOF'
	FROM busybox AS builder
	RUN head -c16 /dev/urandom | od -An -tx1 > /builder-marker
	RUN cp /builder-marker /out
	FROM busybox
	RUN head -c16 /dev/urandom | od -An -tx1 > /final-marker
	COPY --from=builder /out /out
	EOF
	cp "$REGISTRY_AUTH_FILE" "$d/auth.json"
	chown -R "$u:" "$d"; chmod 755 "$d"
	setpriv --reuid="$u" --regid="$u" --init-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME="$d" MOLT_ROOT="$d/store" REGISTRY_AUTH_FILE="$d/auth.json" \
		CONTAINERS_REGISTRIES_CONF="$CONTAINERS_REGISTRIES_CONF" MOLT_CERTS_DIR="$REG_CERTS_D" \
		sh -c 'm=$0 f=$1 d=$2; shift 2; "$m" load -i "$f" >/dev/null && cd / &&
			exec "$m" build --progress plain --iidfile "$d/iid" -o "type=local,dest=$d/out" "$@"' \
		"$MOLT" "$FIXTURES/busybox/oci" "$d" "$@" "$d/$c" >"$d/log" 2>&1
}

d1=$(mktemp -d /tmp/molt-cache1.XXXXXX); d2=$(mktemp -d /var/tmp/molt-cache2.XXXXXX)
chmod 755 "$d1" "$d2"
if build_as "$first" "$d1" project --cache-to "type=registry,ref=$REG_HOST/ci/cache:main,mode=max"; then
	ok "$first builds and exports the cache"
else
	not_ok "$first builds and exports the cache"; diag "$(tail -n 20 "$d1/log")"
fi
if build_as "$other" "$d2" checkout/elsewhere --cache-from "type=registry,ref=$REG_HOST/ci/cache:main"; then
	ok "$other builds with the cache from $first"
else
	not_ok "$other builds with the cache from $first"; diag "$(tail -n 20 "$d2/log")"
fi
is "$(layer_steps_done_cached "$d2/log")" "0/4" \
	"$other ran no step: all 4 layer steps hit $first's entries"
is "m:$(cat "$d2/out/final-marker" 2>/dev/null)" "m:$(cat "$d1/out/final-marker" 2>/dev/null || echo none)" \
	"the random marker is $first's"
is "$(cat "$d2/iid" 2>/dev/null)" "$(cat "$d1/iid" 2>/dev/null || echo none)" \
	"another user in another directory gets the same image ID"
rm -rf "$d1" "$d2"
done_testing
