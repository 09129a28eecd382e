#!/usr/bin/env bash
# The registry test harness itself (tests/e2e/registry_lib.sh), proved with skopeo only,
# so a failing molt registry test points at molt, not at the harness: each registry mode
# serves a push and a pull, the token server refuses a wrong password and a wrong scope,
# and each fault of the fault front does what it says.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry_lib.sh"
reg_require

OCI=$FIXTURES/busybox/oci
want_digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$OCI/index.json")
layer=$(python3 -c '
import json, sys
oci = sys.argv[1]
m = json.load(open(oci + "/index.json"))["manifests"][0]["digest"].split(":")[1]
print(json.load(open(oci + "/blobs/sha256/" + m))["layers"][0]["digest"])' "$OCI")
layer_size=$(stat -c %s "$OCI/blobs/sha256/${layer#sha256:}")

# round_trip NAME: push the fixture to the current registry, read it back, same digest.
round_trip() {
	local name=$1 out
	check "$name: skopeo pushes the busybox fixture" reg_push_busybox "$REG_HOST/busybox:latest"
	out=$(reg_skopeo inspect "${REG_SKOPEO_SRC[@]/--src-/--}" "docker://$REG_HOST/busybox:latest" 2>&1)
	like "$out" "\"Digest\": \"$want_digest\"" "$name: skopeo reads it back with the same digest"
	rm -rf "$WORK/pulled"
	check "$name: skopeo pulls it into an OCI layout" \
		reg_skopeo copy --quiet "${REG_SKOPEO_SRC[@]}" "docker://$REG_HOST/busybox:latest" "oci:$WORK/pulled:x"
	if [ -f "$WORK/pulled/blobs/sha256/${layer#sha256:}" ]; then
		ok "$name: the pulled layer is the fixture's"
	else
		not_ok "$name: the pulled layer is the fixture's"
	fi
}

# ---------------------------------------------------------------- plain HTTP
reg_start || { not_ok "plain registry starts"; done_testing; exit; }
like "$REG_URL" '^http://127\.0\.0\.1:[0-9]+$' "plain: listens on 127.0.0.1 only"
round_trip plain
# Not through `check`: its subshell would lose the REG_MA_* digests.
if reg_push_multiarch "$REG_HOST/multi:latest" >"$WORK/ma.log" 2>&1; then
	ok "multi-arch: skopeo pushes an index of two images"
else
	not_ok "multi-arch: skopeo pushes an index of two images"; diag "$(tail -5 "$WORK/ma.log")"
fi
raw=$(reg_skopeo inspect --raw --tls-verify=false "docker://$REG_HOST/multi:latest")
is "$(printf '%s' "$raw" | python3 -c '
import json, sys
ms = sorted(json.load(sys.stdin)["manifests"], key=lambda m: m["platform"]["architecture"])
print(" ".join("%s/%s=%s" % (m["platform"]["os"], m["platform"]["architecture"], m["digest"]) for m in ms))')" \
	"linux/amd64=$REG_MA_AMD64 linux/arm64=$REG_MA_ARM64" \
	"multi-arch: the index lists linux/amd64 and linux/arm64 with the recorded digests"
is "sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)" "$REG_MA_INDEX" \
	"multi-arch: the index is served unchanged (REG_MA_INDEX)"
for arch in amd64 arm64; do
	out=$(reg_skopeo --override-arch "$arch" inspect --tls-verify=false "docker://$REG_HOST/multi:latest" 2>&1)
	like "$out" "\"Architecture\": \"$arch\"" "multi-arch: skopeo picks the $arch entry"
done

# ---------------------------------------------------------------- faults (before plain)
curl_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
manifest_url=http://FRONT/v2/busybox/manifests/latest
accept='Accept: application/vnd.oci.image.manifest.v1+json'

reg_front 429=2
m=${manifest_url/FRONT/$FRONT_HOST}
codes="$(curl_code -H "$accept" "$m") $(curl_code -H "$accept" "$m") $(curl_code -H "$accept" "$m")"
is "$codes" "429 429 200" "fault 429=2: two 429s, then the manifest"
hdr=$(curl -s -D - -o /dev/null -H "$accept" "$m")
like "$hdr" '^HTTP/1.1 200' "fault 429=2: spent, requests pass through"
reg_front 429=1
like "$(curl -s -D - -o /dev/null "${manifest_url/FRONT/$FRONT_HOST}")" $'Retry-After: 1\r' \
	"fault 429: Retry-After is sent"

reg_front cut-blob
blob=http://$FRONT_HOST/v2/busybox/blobs/$layer
curl -s --max-time 10 -o "$WORK/part" "$blob"; rc=$?
part=$(stat -c %s "$WORK/part")
is "$rc $part" "18 $((layer_size / 2))" "fault cut-blob: half the body, then the connection closes"
curl -s --max-time 10 -H "Range: bytes=$part-" -o "$WORK/rest" -w '%{http_code}' "$blob" >"$WORK/code"
cat "$WORK/part" "$WORK/rest" >"$WORK/whole"
is "$(cat "$WORK/code") sha256:$(sha256sum <"$WORK/whole" | cut -d' ' -f1)" "206 $layer" \
	"fault cut-blob: a Range request resumes it to the right digest"
is "$(curl -s --max-time 10 "$blob" | sha256sum | cut -d' ' -f1)" "${layer#sha256:}" \
	"fault cut-blob: only once"
grep -q "range=bytes=$part-" "$FRONT_LOG" && ok "fault front logs the Range header" ||
	not_ok "fault front logs the Range header"

reg_front corrupt-blob
got=$(curl -s --max-time 10 "http://$FRONT_HOST/v2/busybox/blobs/$layer" | tee "$WORK/bad" | sha256sum | cut -d' ' -f1)
is "$(stat -c %s "$WORK/bad") $([ "$got" != "${layer#sha256:}" ] && echo differs)" "$layer_size differs" \
	"fault corrupt-blob: same length, wrong digest"
molt_fails 1 'digest|Digest' "fault corrupt-blob: skopeo refuses the image" \
	reg_skopeo copy --quiet --src-tls-verify=false "docker://$FRONT_HOST/busybox:latest" "oci:$WORK/corrupt:x"

reg_front huge-manifest
hdr=$(curl -s -I --max-time 5 "${manifest_url/FRONT/$FRONT_HOST}")
like "$hdr" $'Content-Length: 1073741824\r' "fault huge-manifest: promises 1 GiB"
n=$(curl -s --max-time 2 -o /dev/null -w '%{size_download}' "${manifest_url/FRONT/$FRONT_HOST}")
[ "$n" -gt 1000000 ] && ok "fault huge-manifest: streams it ($n bytes in 2 s)" ||
	not_ok "fault huge-manifest: streams it ($n bytes in 2 s)"
start=$SECONDS
molt_fails 1 'size|exceeds|too large|limit' "fault huge-manifest: skopeo gives up on its size" \
	reg_skopeo inspect --tls-verify=false "docker://$FRONT_HOST/busybox:latest"

reg_front endless-manifest
out=$(curl -s --max-time 2 -o /dev/null -D - -w 'size=%{size_download}' "${manifest_url/FRONT/$FRONT_HOST}")
unlike "$out" 'Content-Length' "fault endless-manifest: no length"
n=${out##*size=}
[ "$n" -gt 1000000 ] && ok "fault endless-manifest: streams until the client stops ($n bytes in 2 s)" ||
	not_ok "fault endless-manifest: streams until the client stops ($n bytes)"
molt_fails 1 'size|exceeds|too large|limit' "fault endless-manifest: skopeo gives up on its size" \
	reg_skopeo inspect --tls-verify=false "docker://$FRONT_HOST/busybox:latest"
[ $((SECONDS - start)) -lt 60 ] && ok "the manifest faults are bounded in time" ||
	not_ok "the manifest faults are bounded in time ($((SECONDS - start)) s)"

reg_front redirect-scheme
hdr=$(curl -s -D - -o /dev/null "http://$FRONT_HOST/v2/busybox/blobs/$layer")
like "$hdr" $'Location: file:///etc/passwd\r' "fault redirect-scheme: a blob redirects to file://"
molt_fails 1 'scheme|file' "fault redirect-scheme: skopeo does not follow it" \
	reg_skopeo copy --quiet --src-tls-verify=false "docker://$FRONT_HOST/busybox:latest" "oci:$WORK/redir:x"

reg_front redirect-host
front_port=${FRONT_HOST#*:}
hdr=$(curl -s -D - -o /dev/null "http://$FRONT_HOST/v2/busybox/blobs/$layer")
like "$hdr" "Location: http://localhost:$front_port/v2/busybox/blobs/$layer" \
	"fault redirect-host: a blob redirects to another host name"
is "$(curl -s -L --max-time 10 "http://$FRONT_HOST/v2/busybox/blobs/$layer" | sha256sum | cut -d' ' -f1)" \
	"${layer#sha256:}" "fault redirect-host: the other host serves the blob"
grep -q "host=localhost:$front_port" "$FRONT_LOG" && ok "fault redirect-host: the log names the host" ||
	not_ok "fault redirect-host: the log names the host"

reg_front lying-sizes
hdr=$(curl -s -D "$WORK/hdr" -H "$accept" -o "$WORK/lie.json" "${manifest_url/FRONT/$FRONT_HOST}")
lied=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["size"])' "$WORK/lie.json")
is "$lied" "$((layer_size / 2))" "fault lying-sizes: the layer size is halved"
like "$(cat "$WORK/hdr")" "Docker-Content-Digest: sha256:$(sha256sum <"$WORK/lie.json" | cut -d' ' -f1)" \
	"fault lying-sizes: the digest header matches the lie"
# (skopeo 1.9 copies such an image anyway: it checks digests, not declared sizes.)

reg_front many-layers
n=$(curl -s -H "$accept" "${manifest_url/FRONT/$FRONT_HOST}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["layers"]))')
is "$n" 100000 "fault many-layers: the manifest lists 100000 layers"

REG_LIFETIME=2 reg_front
pid=$FRONT_PID
sleep 4
kill -0 "$pid" 2>/dev/null && not_ok "a front stops by itself after REG_LIFETIME" ||
	ok "a front stops by itself after REG_LIFETIME"
reg_stop

# ---------------------------------------------------------------- TLS
reg_start --tls || { not_ok "TLS registry starts"; done_testing; exit; }
like "$REG_URL" '^https://' "tls: serves https"
[ -f "$REG_CERTS_D/$REG_HOST/ca.crt" ] && ok "tls: a certs.d root for MOLT_CERTS_DIR holds HOST:PORT/ca.crt" ||
	not_ok "tls: a certs.d root for MOLT_CERTS_DIR holds HOST:PORT/ca.crt"
sans=$(openssl x509 -in "$REG_DIR/tls/server.crt" -noout -ext subjectAltName 2>/dev/null)
like "$sans" 'IP Address:127.0.0.1' "tls: the certificate names IP 127.0.0.1"
like "$sans" 'DNS:localhost' "tls: the certificate names localhost"
molt_fails 1 'certificate|x509' "tls: without the test CA the certificate is refused" \
	reg_skopeo inspect "docker://$REG_HOST/busybox:latest"
round_trip tls
reg_molt_env
is "$MOLT_CERTS_DIR $(grep -c 'insecure = false' "$CONTAINERS_REGISTRIES_CONF")" "$REG_CERTS_D 1" \
	"reg_molt_env: MOLT_CERTS_DIR for TLS, the registry not insecure"
unset CONTAINERS_REGISTRIES_CONF REGISTRY_AUTH_FILE MOLT_CERTS_DIR
is "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REG_CA" "https://localhost:${REG_HOST#*:}/v2/")" 200 \
	"tls: https://localhost:PORT verifies too"
reg_stop

# ---------------------------------------------------------------- htpasswd
reg_start --htpasswd || { not_ok "htpasswd registry starts"; done_testing; exit; }
like "$(head -c 40 "$REG_INST/htpasswd")" "^$REG_USER:\\\$2y\\\$" "htpasswd: a bcrypt entry (htpasswd -B)"
hdr=$(curl -s -D - -o /dev/null "$REG_URL/v2/")
like "$hdr" 'Www-Authenticate: Basic realm="molt-test"' "htpasswd: /v2/ asks for basic auth"
molt_fails 1 'unauthorized|authentication required' "htpasswd: an anonymous push is refused" \
	reg_skopeo copy --quiet --dest-tls-verify=false "oci:$OCI:latest" "docker://$REG_HOST/busybox:latest"
molt_fails 1 'unauthorized|authentication required|invalid username/password' \
	"htpasswd: a wrong password is refused" \
	reg_skopeo copy --quiet --dest-tls-verify=false --dest-creds "$REG_USER:wrong" \
	"oci:$OCI:latest" "docker://$REG_HOST/busybox:latest"
round_trip htpasswd
# What molt's tests get: the same files podman reads, and skopeo accepts them. (Not in
# a subshell: the TAP counter lives in this one.)
{
	reg_molt_env
	reg_auth_file "$REG_USER" "$REG_PASS"
	like "$(cat "$CONTAINERS_REGISTRIES_CONF")" "location = \"$REG_HOST\"" \
		"reg_molt_env: a registries.conf for the registry"
	like "$(cat "$CONTAINERS_REGISTRIES_CONF")" "insecure = true" "reg_molt_env: plain HTTP is insecure"
	is "$(stat -c %a "$REGISTRY_AUTH_FILE")" 600 "reg_auth_file: mode 0600"
	check "reg_auth_file: skopeo logs in with the file it wrote" \
		skopeo --policy "$REG_DIR/policy.json" inspect --tls-verify=false "docker://$REG_HOST/busybox:latest"
	unset CONTAINERS_REGISTRIES_CONF REGISTRY_AUTH_FILE MOLT_CERTS_DIR
}
reg_stop

# ---------------------------------------------------------------- bearer tokens
reg_start --token || { not_ok "token registry starts"; done_testing; exit; }
hdr=$(curl -s -D - -o /dev/null "$REG_URL/v2/")
like "$hdr" "Www-Authenticate: Bearer realm=\"$REG_TOKEN_URL\",service=\"molt-test-registry\"" \
	"token: /v2/ sends the bearer challenge"
round_trip token
grep -q 'via=basic scope=repository:busybox:pull,push granted=\[{"type": "repository", "name": "busybox", "actions": \["pull", "push"\]}\]' "$REG_TOKEN_LOG" &&
	ok "token: the server granted push to the right user" || not_ok "token: the server granted push to the right user"
code=$(curl -s -o "$WORK/t.json" -w '%{http_code}' -u "$REG_USER:wrong" \
	"$REG_TOKEN_URL?service=molt-test-registry&scope=repository:busybox:pull")
is "$code" 401 "token: the token server refuses a wrong password"
molt_fails 1 'unauthorized|invalid username/password|authentication required' \
	"token: skopeo with a wrong password is refused" \
	reg_skopeo inspect --tls-verify=false --creds "$REG_USER:wrong" "docker://$REG_HOST/busybox:latest"
if grep -q "$REG_PASS" "$REG_TOKEN_LOG"; then not_ok "token: the log holds no password"; else ok "token: the log holds no password"; fi

curl -s -o "$WORK/t.json" -u "$REG_LIMITED_USER:$REG_LIMITED_PASS" \
	"$REG_TOKEN_URL?service=molt-test-registry&scope=repository:busybox:pull,push"
claims=$(python3 -c '
import base64, json, sys
t = json.load(open(sys.argv[1]))["token"].split(".")[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))["access"]))' "$WORK/t.json")
is "$claims" "[]" "token: a scope outside the user's prefix is not granted"
molt_fails 1 'denied|unauthorized|authentication required' "token: pushing out of scope is refused" \
	reg_skopeo copy --quiet --dest-tls-verify=false --dest-creds "$REG_LIMITED_USER:$REG_LIMITED_PASS" \
	"oci:$OCI:latest" "docker://$REG_HOST/other/busybox:latest"
check "token: pushing within scope works" \
	reg_skopeo copy --quiet --dest-tls-verify=false --dest-creds "$REG_LIMITED_USER:$REG_LIMITED_PASS" \
	"oci:$OCI:latest" "docker://$REG_HOST/allowed/busybox:latest"
molt_fails 1 'unauthorized|denied|authentication required' "token: an anonymous pull is refused" \
	reg_skopeo inspect --tls-verify=false "docker://$REG_HOST/busybox:latest"

check "token: skopeo login" reg_skopeo login --tls-verify=false -u "$REG_USER" -p "$REG_PASS" "$REG_HOST"
check "token: skopeo pulls with the stored login" \
	reg_skopeo inspect --tls-verify=false "docker://$REG_HOST/busybox:latest"

refresh=$(curl -s -u "$REG_USER:$REG_PASS" \
	"$REG_TOKEN_URL?service=molt-test-registry&scope=repository:busybox:pull&offline_token=true" |
	python3 -c 'import json,sys; print(json.load(sys.stdin).get("refresh_token", ""))')
[ -n "$refresh" ] && ok "token: offline_token=true hands out a refresh token" ||
	not_ok "token: offline_token=true hands out a refresh token"
code=$(curl -s -o "$WORK/r.json" -w '%{http_code}' --data-urlencode grant_type=refresh_token \
	--data-urlencode "refresh_token=$refresh" --data-urlencode service=molt-test-registry \
	--data-urlencode scope=repository:busybox:pull "$REG_TOKEN_URL")
tok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$WORK/r.json" 2>/dev/null)
is "$code $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
	-H "$accept" "$REG_URL/v2/busybox/manifests/latest")" "200 200" \
	"token: a refresh-token POST gives a token the registry accepts"
is "$(curl -s -o /dev/null -w '%{http_code}' --data 'grant_type=refresh_token&refresh_token=nope&service=molt-test-registry' "$REG_TOKEN_URL")" \
	401 "token: an unknown refresh token is refused"

reg_front realm-host
hdr=$(curl -s -D - -o /dev/null "http://$FRONT_HOST/v2/")
like "$hdr" "realm=\"http://localhost:${FRONT_HOST#*:}/token-elsewhere\"" \
	"fault realm-host: the challenge names a realm on another host"
reg_skopeo inspect --tls-verify=false --creds "$REG_USER:$REG_PASS" "docker://$FRONT_HOST/busybox:latest" >/dev/null 2>&1
like "$(cat "$FRONT_LOG")" 'GET /token-elsewhere[^ ]* auth=yes' \
	"fault realm-host: the log shows who sent credentials to the other host (skopeo does)"
reg_stop

reg_start --token --anonymous-pull || { not_ok "token registry (anonymous pull) starts"; done_testing; exit; }
check "anonymous pull: skopeo pushes with credentials" reg_push_busybox "$REG_HOST/busybox:latest"
check "anonymous pull: skopeo pulls without credentials" \
	reg_skopeo inspect --tls-verify=false "docker://$REG_HOST/busybox:latest"
molt_fails 1 'unauthorized|denied|authentication required' "anonymous pull: an anonymous push is refused" \
	reg_skopeo copy --quiet --dest-tls-verify=false "oci:$OCI:latest" "docker://$REG_HOST/anon:latest"
reg_stop

# ---------------------------------------------------------------- cleanup on exit
pids=$(bash -c '
	. "$1/lib.sh" >/dev/null; . "$1/registry_lib.sh"
	reg_start --token >/dev/null || exit 1
	echo "${_reg_all_pids[*]}" "$REG_HOST"' _ "$(dirname "$0")")
host=${pids##* }
sleep 0.5
alive=0
for p in ${pids% *}; do kill -0 "$p" 2>/dev/null && alive=1; done
is "$alive $(curl_code "http://$host/v2/")" "0 000" \
	"a script's registries and token server are gone when it exits"

done_testing
