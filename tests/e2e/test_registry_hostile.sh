#!/usr/bin/env bash
# A hostile or flaky registry is input like a hostile tar: each fault of
# tests/e2e/registry/fault_front.py (in front of a real docker-registry on 127.0.0.1) gets
# a retry, a resume, a bound or one clear error — and the store is left as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry_lib.sh"
reg_require

AUTH=$WORK/auth.json
m() { REGISTRY_AUTH_FILE=$AUTH "$MOLT" "$@"; }
n=0
fresh() { n=$((n + 1)); S=$WORK/s$n; }
gets() { grep -c "^GET $1" "$FRONT_LOG"; }

reg_start || { not_ok "a registry starts"; done_testing; exit; }
reg_push_busybox "$REG_HOST/busybox:latest" || not_ok "skopeo pushes the fixture"
layer=$(jq -r '.layers[0].digest' "$FIXTURES/busybox/oci/blobs/sha256/$(jq -r '.manifests[0].digest' "$FIXTURES/busybox/oci/index.json" | cut -c8-)")

# ---- retries: 429 and 503 with Retry-After, then success
reg_front 429=2 && fresh
out=$(m --root "$S" pull -q "$FRONT_HOST/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "two 429 answers are retried (Retry-After honoured) and the pull succeeds"
is "$(gets /v2/busybox/manifests/latest)" 3 "… the manifest was asked for three times"
reg_front 503=2 && fresh
out=$(m --root "$S" pull -q "$FRONT_HOST/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "two 503 answers are retried"
reg_front 429=50 && fresh
molt_fails 1 "registry '$FRONT_HOST': manifest 'latest': 429 TOOMANYREQUESTS" \
	"a registry that keeps answering 429 is given up on, with its words" \
	m --root "$S" pull "$FRONT_HOST/busybox:latest"
is "$(gets /v2/busybox/manifests/latest)" 5 "… after five tries"

# ---- a connection cut in the middle of a blob: resumed with Range
reg_front cut-blob && fresh
out=$(m --root "$S" pull -q "$FRONT_HOST/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "a blob cut off mid-transfer is resumed"; [ $rc = 0 ] || diag "$out"
like "$(grep "^GET /v2/busybox/blobs/" "$FRONT_LOG")" "range=bytes=[1-9][0-9]*-" \
	"… with a Range request from where it broke"
is "$(m --root "$S" run "$FRONT_HOST/busybox" echo whole 2>&1)" whole "… and the image is whole"

# ---- a corrupted blob: refused, named, nothing stored
reg_front corrupt-blob && fresh
m --root "$S" images >/dev/null
index=$(cat "$S/index.json")
molt_fails 1 "blob (sha256:[0-9a-f]{64}): blob digest mismatch: expected \\1, the content is sha256:" \
	"a corrupted blob is refused, naming it" \
	m --root "$S" pull "$FRONT_HOST/busybox:latest"
check "… it is not in the store" test ! -e "$S/blobs/sha256/${layer#sha256:}"
is "$(cat "$S/index.json")" "$index" "… the index is unchanged"
is "$(find "$S/tmp" "$S/registry/partial" -type f 2>/dev/null | wc -l)" 0 "… no scratch or partial file is left"

# ---- a pull killed half way: the next one hashes what it has and asks for the rest
reg_front && fresh
blob=$FIXTURES/busybox/oci/blobs/sha256/${layer#sha256:}
half=$(($(stat -c %s "$blob") / 2))
m --root "$S" images >/dev/null
mkdir -p "$S/registry/partial"
head -c "$half" "$blob" >"$S/registry/partial/${layer#sha256:}"
out=$(m --root "$S" pull -q "$FRONT_HOST/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "a pull finds the partial blob a killed pull left"
like "$(grep "^GET /v2/busybox/blobs/$layer" "$FRONT_LOG")" "range=bytes=$half-" "… and asks only for the rest"
check "… the blob is whole in the store" cmp "$blob" "$S/blobs/sha256/${layer#sha256:}"
check "… and the partial file is gone" test ! -e "$S/registry/partial/${layer#sha256:}"
fresh
m --root "$S" images >/dev/null
mkdir -p "$S/registry/partial"
head -c "$half" /dev/zero >"$S/registry/partial/${layer#sha256:}"
out=$(m --root "$S" pull -q "$FRONT_HOST/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "a partial file of wrong bytes costs a second download, not an error"
check "… and the blob in the store is right" cmp "$blob" "$S/blobs/sha256/${layer#sha256:}"

# ---- manifests: huge, endless, lying
reg_front huge-manifest && fresh
molt_fails 1 "manifest.*larger than 4194304 bytes" "a 1 GiB manifest is cut off at 4 MiB" \
	m --root "$S" pull "$FRONT_HOST/busybox:latest"
reg_front endless-manifest && fresh
molt_fails 1 "manifest.*larger than 4194304 bytes" "an endless manifest is cut off at 4 MiB" \
	m --root "$S" pull "$FRONT_HOST/busybox:latest"
reg_front lying-sizes && fresh
molt_fails 1 "blob sha256:[0-9a-f]{64} is larger than the [0-9]+ bytes its descriptor says" \
	"a manifest that halves the sizes is caught while streaming" m --root "$S" pull "$FRONT_HOST/busybox:latest"
check "… and the short blob is not stored" test ! -e "$S/blobs/sha256/${layer#sha256:}"
reg_front many-layers && fresh
molt_fails 1 "lists 100000 layers \(at most 1000|manifest.*larger than 4194304 bytes" \
	"a manifest of 100000 layers is refused (by the layer or the size bound)" \
	m --root "$S" pull "$FRONT_HOST/busybox:latest"

# ---- a registry that stops sending: the stall timeout ends each try
stall_port=$WORK/stall.port
timeout 60 python3 - "$stall_port" <<'EOF' &
import sys, time, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path == "/v2/":
            self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
            self.wfile.write(b"{}"); return
        self.send_response(200); self.send_header("Content-Length", "100"); self.end_headers()
        self.wfile.write(b'{"schemaVersion"'); self.wfile.flush(); time.sleep(50)
s = ThreadingHTTPServer(("127.0.0.1", 0), H); s.daemon_threads = True
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
stall_pid=$!
for _ in $(seq 50); do [ -s "$stall_port" ] && break; sleep 0.1; done
fresh
start=$(date +%s)
molt_fails 1 "registry '127.0.0.1:$(cat "$stall_port")': GET .*manifests/latest: .*(too slow|[Tt]imeout)" \
	"a registry that stops sending mid-body is given up on" \
	env MOLT_REGISTRY_STALL_TIMEOUT=1 REGISTRY_AUTH_FILE="$AUTH" "$MOLT" --root "$S" pull "127.0.0.1:$(cat "$stall_port")/x:latest"
elapsed=$(($(date +%s) - start))
if [ "$elapsed" -lt 40 ]; then ok "… within the bound of its tries, not the server's 50 s"
else not_ok "… within the bound of its tries"; diag "took ${elapsed}s"; fi
kill "$stall_pid" 2>/dev/null; wait "$stall_pid" 2>/dev/null

# ---- redirects
reg_front redirect-scheme && fresh
molt_fails 1 "refused a redirect to 'file:///etc/passwd' \(only http and https" \
	"a redirect to file:// is refused" m --root "$S" pull "$FRONT_HOST/busybox:latest"
reg_stop

reg_start --htpasswd || { not_ok "an htpasswd registry starts"; done_testing; exit; }
reg_push_busybox "$REG_HOST/busybox:latest"
reg_front redirect-host && fresh
printf '%s\n' "$REG_PASS" | m login -u "$REG_USER" --password-stdin "$FRONT_HOST" >/dev/null 2>&1 ||
	not_ok "login through the front"
molt_fails 1 "blob sha256:[0-9a-f]{64}: 401" "a redirect to another host does not get the credentials (and so fails)" \
	m --root "$S" pull "$FRONT_HOST/busybox:latest"
like "$(grep "^GET /v2/busybox/manifests/latest" "$FRONT_LOG")" "auth=yes" \
	"… the registry itself got them"
unlike "$(grep "host=localhost" "$FRONT_LOG")" "auth=yes" "… the other host never did"
reg_stop

reg_start --token || { not_ok "a token registry starts"; done_testing; exit; }
reg_push_busybox "$REG_HOST/busybox:latest"
reg_front realm-host && fresh
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$FRONT_HOST" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" >"$AUTH"
molt_fails 1 "token realm is on another host than the registry" \
	"a token realm on another host does not get the credentials, and the error says so" \
	m --root "$S" pull "$FRONT_HOST/busybox:latest"
like "$(grep "token-elsewhere" "$FRONT_LOG" | head -1)" "auth=no" "… the other host saw no credentials"
reg_stop

done_testing
