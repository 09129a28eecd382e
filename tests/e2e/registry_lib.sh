# tests/e2e/registry_lib.sh — real registries on 127.0.0.1 for the e2e tests. Source it
# after lib.sh; it runs as the unprivileged test user and needs no root.
#
#   reg_require                      skip the script unless docker-registry, skopeo,
#                                    openssl, curl, htpasswd and python3 are installed
#   reg_start [--tls] [--htpasswd] [--token] [--anonymous-pull]
#                                    Debian's `docker-registry serve` on a free port,
#                                    storage under $TMPDIR; sets the "current" registry:
#     REG_HOST (127.0.0.1:PORT)  REG_URL (http[s]://REG_HOST)  REG_INST (its directory)
#     REG_CA (the test CA, --tls)  REG_CERTS_D (a certs.d root holding REG_HOST/ca.crt,
#       for MOLT_CERTS_DIR)  REG_USER REG_PASS (--htpasswd, --token)
#     REG_LIMITED_USER REG_LIMITED_PASS (--token: may only use repositories under
#       allowed/)  REG_TOKEN_URL REG_TOKEN_LOG (--token)
#     REG_SKOPEO_SRC REG_SKOPEO_DEST (arrays: skopeo's TLS and credential options)
#   reg_front FAULT...               fault_front.py (tests/e2e/registry/) in front of the
#                                    current plain-HTTP registry: FRONT_HOST, FRONT_LOG
#   reg_skopeo ARGS...               skopeo with a test policy, no registries.conf and its
#                                    own auth file (never the user's)
#   reg_push_busybox REF             the fixture busybox OCI layout to docker://REF
#   reg_push_multiarch REF           an index of two images (the fixture's architecture
#                                    and the other of amd64/arm64) to docker://REF; sets
#                                    REG_MA_INDEX, REG_MA_AMD64, REG_MA_ARM64 (digests)
#   reg_stop                         stops the current registry (and its token server)
#   reg_molt_env [HOST]              exports, for molt to reach the current registry (or
#                                    HOST, e.g. a front) as podman would:
#                                    CONTAINERS_REGISTRIES_CONF (HOST insecure when the
#                                    registry is plain HTTP), MOLT_CERTS_DIR (--tls) and
#                                    REGISTRY_AUTH_FILE (empty: anonymous until written)
#   reg_auth_file USER PASS [HOST]   writes REGISTRY_AUTH_FILE as `podman login` would
#
# Every process started here is recorded and killed on EXIT (and only those); each also
# stops by itself after REG_LIFETIME seconds (default 600), so a killed test leaves
# nothing running for long.

REG_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/registry
REG_LIFETIME=${REG_LIFETIME:-600}
REG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/registry.XXXXXX")
_reg_all_pids=()
_reg_cur_pids=()
_reg_n=0

reg_cleanup() {
	local pid
	for pid in "${_reg_all_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${_reg_all_pids[@]}"; do wait "$pid" 2>/dev/null; done
	rm -rf "$REG_DIR"
}
if declare -F cleanup_work >/dev/null; then
	trap 'reg_cleanup; cleanup_work' EXIT
else
	trap reg_cleanup EXIT
fi

reg_require() {
	local t missing=
	for t in docker-registry skopeo openssl curl htpasswd python3; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		skip "registry tests need:$missing (scripts/install-deps.sh installs them)"
		done_testing
		exit
	fi
}

# _reg_spawn PIDVAR CMD...: runs CMD in the background under `timeout`, recorded.
_reg_spawn() {
	local var=$1; shift
	timeout --kill-after=5 "$REG_LIFETIME" "$@" &
	printf -v "$var" '%s' $!
	_reg_all_pids+=("$!")
	_reg_cur_pids+=("$!")
}

# _reg_wait_port_file FILE PID: the port a python server wrote, once it is listening.
_reg_wait_port_file() {
	local i
	for i in $(seq 100); do
		[ -s "$1" ] && { cat "$1"; return 0; }
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

_reg_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The test CA and a server certificate for 127.0.0.1 and localhost, made once.
_reg_make_tls() {
	local d=$REG_DIR/tls
	[ -f "$d/server.crt" ] && return 0
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
		-subj "/CN=molt test CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" \
		-subj "/CN=localhost" 2>/dev/null &&
	printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
		'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
		>"$d/server.ext" &&
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -out "$d/server.crt" -days 2 -extfile "$d/server.ext" 2>/dev/null
}

# The key that signs tokens and the certificate docker-registry trusts it by.
_reg_make_token_key() {
	local d=$REG_DIR/token
	[ -f "$d/token.crt" ] && return 0
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/token.key" -out "$d/token.crt" \
		-days 2 -subj "/CN=molt test token signer" 2>/dev/null
}

_reg_policy() {
	[ -f "$REG_DIR/policy.json" ] && return
	printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' >"$REG_DIR/policy.json"
	: >"$REG_DIR/registries.conf"
}

reg_skopeo() {
	_reg_policy
	CONTAINERS_REGISTRIES_CONF=$REG_DIR/registries.conf \
		REGISTRY_AUTH_FILE=$REG_DIR/skopeo-auth.json \
		skopeo --policy "$REG_DIR/policy.json" "$@"
}

# _reg_config FILE PORT: docker-registry's configuration for the options in _reg_opt_*.
_reg_config() {
	local inst=$REG_INST
	{
		printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n'
		printf 'storage:\n  filesystem:\n    rootdirectory: %s/storage\n' "$inst"
		printf '  delete:\n    enabled: true\n'
		printf '  maintenance:\n    uploadpurging:\n      enabled: false\n'
		printf 'http:\n  addr: 127.0.0.1:%s\n  secret: %s\n' "$2" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
		if [ "$_reg_opt_tls" = 1 ]; then
			printf '  tls:\n    certificate: %s\n    key: %s\n' \
				"$REG_DIR/tls/server.crt" "$REG_DIR/tls/server.key"
		fi
		if [ "$_reg_opt_htpasswd" = 1 ]; then
			printf 'auth:\n  htpasswd:\n    realm: molt-test\n    path: %s/htpasswd\n' "$inst"
		elif [ "$_reg_opt_token" = 1 ]; then
			printf 'auth:\n  token:\n    realm: %s\n    service: molt-test-registry\n' "$REG_TOKEN_URL"
			printf '    issuer: molt-test-issuer\n    rootcertbundle: %s\n' "$REG_DIR/token/token.crt"
		fi
	} >"$1"
}

_reg_start_token_server() {
	_reg_make_token_key || return 1
	local args=(--key "$REG_DIR/token/token.key" --cert "$REG_DIR/token/token.crt"
		--issuer molt-test-issuer --service molt-test-registry
		--port-file "$REG_INST/token.port" --log "$REG_TOKEN_LOG" --lifetime "$REG_LIFETIME"
		--user "$REG_USER:$REG_PASS" --user "$REG_LIMITED_USER:$REG_LIMITED_PASS:allowed/")
	[ "$_reg_opt_anon" = 1 ] && args+=(--anonymous-pull)
	local pid port
	_reg_spawn pid python3 "$REG_LIB/token_server.py" "${args[@]}"
	port=$(_reg_wait_port_file "$REG_INST/token.port" "$pid") || return 1
	REG_TOKEN_URL=http://127.0.0.1:$port/token
}

# _reg_ready URL PID: waits for the registry to answer /v2/ (200 or 401).
_reg_ready() {
	local i code
	for i in $(seq 100); do
		kill -0 "$2" 2>/dev/null || return 1
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 ${REG_CA:+--cacert "$REG_CA"} "$1/v2/")
		case $code in 200 | 401) return 0 ;; esac
		sleep 0.1
	done
	return 1
}

reg_start() {
	_reg_opt_tls=0 _reg_opt_htpasswd=0 _reg_opt_token=0 _reg_opt_anon=0
	while [ $# -gt 0 ]; do
		case $1 in
		--tls) _reg_opt_tls=1 ;;
		--htpasswd) _reg_opt_htpasswd=1 ;;
		--token) _reg_opt_token=1 ;;
		--anonymous-pull) _reg_opt_anon=1 ;;
		*) echo "reg_start: unknown option '$1'" >&2; return 2 ;;
		esac
		shift
	done
	_reg_n=$((_reg_n + 1))
	_reg_cur_pids=()
	REG_INST=$REG_DIR/r$_reg_n
	mkdir -p "$REG_INST/storage"
	REG_CA= REG_CERTS_D= REG_USER= REG_PASS= REG_TOKEN_URL= REG_TOKEN_LOG=
	REG_LIMITED_USER= REG_LIMITED_PASS=
	local scheme=http
	if [ "$_reg_opt_tls" = 1 ]; then
		_reg_make_tls || { echo "reg_start: openssl failed" >&2; return 1; }
		scheme=https REG_CA=$REG_DIR/tls/ca.crt
	fi
	if [ "$_reg_opt_htpasswd" = 1 ] || [ "$_reg_opt_token" = 1 ]; then
		REG_USER=molt REG_PASS=pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
		REG_LIMITED_USER=limited REG_LIMITED_PASS=lim-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	fi
	[ "$_reg_opt_htpasswd" = 1 ] && htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$REG_INST/htpasswd"
	if [ "$_reg_opt_token" = 1 ]; then
		REG_TOKEN_LOG=$REG_INST/token.log
		_reg_start_token_server || { echo "reg_start: the token server did not start" >&2; return 1; }
	fi
	local try pid port
	for try in 1 2 3 4 5; do
		port=$(_reg_free_port)
		_reg_config "$REG_INST/config.yml" "$port"
		# Its log (every 404 of a blob check is an "error") goes to a file.
		_reg_spawn pid docker-registry serve "$REG_INST/config.yml" 2>>"$REG_INST/registry.log"
		if _reg_ready "$scheme://127.0.0.1:$port" "$pid" 2>"$REG_INST/ready.err"; then
			REG_HOST=127.0.0.1:$port REG_URL=$scheme://127.0.0.1:$port
			break
		fi
		kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		port=
	done
	[ -n "$port" ] || { echo "reg_start: docker-registry did not start" >&2; return 1; }
	if [ -n "$REG_CA" ]; then
		REG_CERTS_D=$REG_INST/certs.d
		mkdir -p "$REG_CERTS_D/$REG_HOST"
		cp "$REG_CA" "$REG_CERTS_D/$REG_HOST/ca.crt"
	fi
	REG_SKOPEO_SRC=() REG_SKOPEO_DEST=()
	if [ -n "$REG_CA" ]; then
		REG_SKOPEO_SRC+=(--src-cert-dir "$REG_CERTS_D/$REG_HOST")
		REG_SKOPEO_DEST+=(--dest-cert-dir "$REG_CERTS_D/$REG_HOST")
	else
		REG_SKOPEO_SRC+=(--src-tls-verify=false)
		REG_SKOPEO_DEST+=(--dest-tls-verify=false)
	fi
	if [ -n "$REG_USER" ]; then
		REG_SKOPEO_SRC+=(--src-creds "$REG_USER:$REG_PASS")
		REG_SKOPEO_DEST+=(--dest-creds "$REG_USER:$REG_PASS")
	fi
	return 0
}

reg_stop() {
	local pid
	for pid in "${_reg_cur_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${_reg_cur_pids[@]}"; do wait "$pid" 2>/dev/null; done
	_reg_cur_pids=()
}

reg_front() {
	case $REG_URL in
	http://*) ;;
	*) echo "reg_front: needs a plain-HTTP registry behind it" >&2; return 2 ;;
	esac
	local args=() f pid port
	for f in "$@"; do args+=(--fault "$f"); done
	_reg_front_n=$((${_reg_front_n:-0} + 1))
	local pf=$REG_INST/front$_reg_front_n.port
	FRONT_LOG=$REG_INST/front$_reg_front_n.log
	: >"$FRONT_LOG"
	_reg_spawn pid python3 "$REG_LIB/fault_front.py" --backend "$REG_URL" --port-file "$pf" \
		--log "$FRONT_LOG" --lifetime "$REG_LIFETIME" "${args[@]}"
	port=$(_reg_wait_port_file "$pf" "$pid") || { echo "reg_front: did not start" >&2; return 1; }
	FRONT_HOST=127.0.0.1:$port
	FRONT_PID=$pid
}

reg_push_busybox() {
	reg_skopeo copy --quiet "${REG_SKOPEO_DEST[@]}" "oci:$FIXTURES/busybox/oci:latest" "docker://$1"
}

# An OCI layout whose index.json names one image index of two images: the fixture as it
# is, and a copy whose config says the other architecture (same layer).
_reg_make_multiarch() {
	local out=$1
	rm -rf "$out"
	cp -r "$FIXTURES/busybox/oci" "$out"
	PYTHONPATH="$REG_LIB/.." python3 - "$out" <<'EOF'
import json, os, sys
from oci_blobs import Blobs
out = sys.argv[1]
read, write = Blobs(out).read, Blobs(out).write
idx = json.load(open(os.path.join(out, "index.json")))
desc = idx["manifests"][0]
manifest = json.loads(read(desc["digest"]))
config = json.loads(read(manifest["config"]["digest"]))
arch = config["architecture"]
other = "arm64" if arch != "arm64" else "amd64"
config2 = dict(config, architecture=other)
if other == "arm64":
    config2["variant"] = "v8"
c2 = json.dumps(config2, separators=(",", ":")).encode()
manifest2 = dict(manifest, config=dict(manifest["config"], digest=write(c2), size=len(c2)))
m2 = json.dumps(manifest2, separators=(",", ":")).encode()
entries = [
    {"mediaType": desc["mediaType"], "digest": desc["digest"], "size": desc["size"],
     "platform": {"architecture": arch, "os": "linux"}},
    {"mediaType": desc["mediaType"], "digest": write(m2), "size": len(m2),
     "platform": dict({"architecture": other, "os": "linux"},
                      **({"variant": "v8"} if other == "arm64" else {}))},
]
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": entries}
ib = json.dumps(index, separators=(",", ":")).encode()
top = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
       "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                      "digest": write(ib), "size": len(ib),
                      "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
json.dump(top, open(os.path.join(out, "index.json"), "w"))
by_arch = {e["platform"]["architecture"]: e["digest"] for e in entries}
print(top["manifests"][0]["digest"], by_arch["amd64"], by_arch["arm64"])
EOF
}

reg_push_multiarch() {
	local dir=$REG_DIR/multiarch digests
	digests=$(_reg_make_multiarch "$dir") || return 1
	read -r REG_MA_INDEX REG_MA_AMD64 REG_MA_ARM64 <<<"$digests"
	reg_skopeo copy --quiet --all "${REG_SKOPEO_DEST[@]}" "oci:$dir:latest" "docker://$1"
}

reg_molt_env() {
	local host=${1:-$REG_HOST} insecure=false
	case $REG_URL in http://*) insecure=true ;; esac
	[ "$host" != "$REG_HOST" ] && insecure=true # a fault front speaks plain HTTP
	printf '[[registry]]\nlocation = "%s"\ninsecure = %s\n' "$host" "$insecure" \
		>"$REG_INST/registries.conf"
	export CONTAINERS_REGISTRIES_CONF=$REG_INST/registries.conf
	export REGISTRY_AUTH_FILE=$REG_INST/auth.json
	if [ -n "$REG_CERTS_D" ]; then export MOLT_CERTS_DIR=$REG_CERTS_D; else unset MOLT_CERTS_DIR; fi
}

reg_auth_file() {
	local host=${3:-$REG_HOST}
	mkdir -p "$(dirname "${REGISTRY_AUTH_FILE:?reg_molt_env first}")"
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$host" "$(printf '%s:%s' "$1" "$2" | base64 -w0)" \
		>"$REGISTRY_AUTH_FILE"
	chmod 0600 "$REGISTRY_AUTH_FILE"
}
