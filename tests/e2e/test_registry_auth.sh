#!/usr/bin/env bash
# The registry client's TLS and authentication against docker-registry on 127.0.0.1, as
# the unprivileged user: a test CA through certs.d (MOLT_CERTS_DIR), htpasswd basic
# auth, the bearer token flow with scopes, molt login / logout; credentials never
# printed, logged or stored in the store.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry_lib.sh"
reg_require

# Credentials go to a file of this script's own (docker-registry must not see the
# variable: it reads REGISTRY_* as its configuration).
AUTH=$WORK/auth.json
m() { REGISTRY_AUTH_FILE=$AUTH "$MOLT" "$@"; }
# start_with_busybox WHAT ARGS...: a registry (reg_start ARGS) holding the busybox base.
start_with_busybox() {
	local what=$1; shift
	reg_start "$@" || { not_ok "$what registry starts"; done_testing; exit; }
	reg_push_busybox "$REG_HOST/busybox:latest" || not_ok "skopeo pushes to $what registry"
}
# login_with PASSWORD: molt login as $REG_USER; its output in $out, its status in $rc.
login_with() {
	out=$(printf '%s\n' "$1" | m login -u "$REG_USER" --password-stdin "$REG_HOST" 2>&1); rc=$?
}
secret_free() { # NAME FILE...: none of the files holds the password or its base64 form
	local b64
	b64=$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)
	if grep -rqsF -e "$REG_PASS" -e "$b64" "${@:2}"; then not_ok "$1"; else ok "$1"; fi
}

# ---- TLS with a test CA
start_with_busybox "a TLS" --tls
molt_fails 1 "registry '$REG_HOST'.*(certificate|SSL)" \
	"a certificate from an unknown CA is refused (no silent fall back to http)" \
	m pull "$REG_HOST/busybox:latest"
out=$(MOLT_CERTS_DIR=$REG_CERTS_D m pull -q "$REG_HOST/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "the CA in certs.d/HOST:PORT/ca.crt makes the pull work"; [ $rc = 0 ] || diag "$out"
out=$(m pull -q --tls-verify=false "$REG_HOST/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "--tls-verify=false pulls without the CA"
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG_HOST" >"$WORK/insecure.conf"
out=$(CONTAINERS_REGISTRIES_CONF=$WORK/insecure.conf m pull -q "$REG_HOST/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "insecure = true in registries.conf pulls without the CA"
m tag "$REG_HOST/busybox:latest" local/tls:1
out=$(MOLT_CERTS_DIR=$REG_CERTS_D m push -q local/tls:1 "$REG_HOST/pushed/tls:1" 2>&1); rc=$?
is "$rc" 0 "push over TLS"
is "$(reg_skopeo inspect "${REG_SKOPEO_SRC[@]/--src-/--}" "docker://$REG_HOST/pushed/tls:1" 2>/dev/null | jq -r .Name)" \
	"$REG_HOST/pushed/tls" "skopeo reads what molt pushed over TLS"
reg_stop

# ---- htpasswd basic auth
start_with_busybox "an htpasswd" --htpasswd
molt_fails 1 "registry '$REG_HOST': authentication required \(log in with 'molt login $REG_HOST'\)" \
	"a pull without credentials says to log in" m pull "$REG_HOST/busybox:latest"
login_with wrong
is "$rc" 1 "login with a wrong password fails"
like "$out" "login '$REG_HOST'.*refused" "… saying the credentials were refused"
check "… and stores nothing" test ! -s "$AUTH"
login_with "$REG_PASS"
is "$rc" 0 "login with the right password"
is "$out" "Login Succeeded!" "login says so (and nothing else)"
is "$(jq -r --arg h "$REG_HOST" '.auths[$h].auth' "$AUTH" | base64 -d)" "$REG_USER:$REG_PASS" \
	"the credentials are in the containers auth file"
is "$(stat -c %a "$AUTH")" 600 "the auth file is private"
m --debug pull "$REG_HOST/busybox:latest" >"$WORK/o1" 2>&1; rc=$?
is "$rc" 0 "pull with the stored credentials"
m tag "$REG_HOST/busybox:latest" local/basic:1
m --debug push local/basic:1 "$REG_HOST/team/basic:1" >"$WORK/o2" 2>&1; rc=$?
is "$rc" 0 "push with the stored credentials"
is "$(reg_skopeo inspect "${REG_SKOPEO_SRC[@]/--src-/--}" "docker://$REG_HOST/team/basic:1" 2>/dev/null | jq -r .Name)" \
	"$REG_HOST/team/basic" "skopeo reads what molt pushed with basic auth"
printf 'FROM %s/busybox:latest\nRUN true\n' "$REG_HOST" >"$WORK/Dockerfile"
m --root "$WORK/s2" build --progress plain -f "$WORK/Dockerfile" -t "$REG_HOST/team/b:1" --push "$WORK" >"$WORK/o3" 2>&1; rc=$?
is "$rc" 0 "a build pulls its base and pushes its result with the stored credentials"
m --root "$WORK/s2" prune --all >/dev/null 2>&1
secret_free "the password appears in no output, even with --debug" "$WORK/o1" "$WORK/o2" "$WORK/o3"
secret_free "… nor anywhere in the store" "$MOLT_ROOT"
out=$(m logout "$REG_HOST" 2>&1); rc=$?
is "$rc" 0 "logout"
is "$(jq -r --arg h "$REG_HOST" '.auths[$h] // "gone"' "$AUTH")" gone "logout removes the entry"
molt_fails 1 "authentication required" "after logout the pull needs credentials again" \
	m pull "$REG_HOST/busybox:latest"
molt_fails 1 "no credentials|not logged in|ENOENT|no login" "a second logout says there was nothing" \
	m logout "$REG_HOST"
molt_fails 2 "visible to every user" "a password on the command line is refused" \
	m login -u x -p y "$REG_HOST"
molt_fails 1 "no terminal|password-stdin" "login without a terminal or --password-stdin says how" \
	m login -u x "$REG_HOST" </dev/null
reg_stop

# ---- the bearer token flow
start_with_busybox "a token" --token
molt_fails 1 "registry '$REG_HOST': manifest 'latest': 401 .*log in with 'molt login'" \
	"an anonymous pull (a token without rights) is refused, clearly" m pull "$REG_HOST/busybox:latest"
login_with nope
is "$rc" 1 "token login with a wrong password fails"
like "$out" "token server refused the credentials" "… the token server said no"
login_with "$REG_PASS"
m --debug pull "$REG_HOST/busybox:latest" >"$WORK/t1" 2>&1; rc=$?
is "$rc" 0 "pull with a bearer token"
grep -q 'scope=repository:busybox:pull' "$REG_TOKEN_LOG" && ok "the token asked for the repository's pull scope" ||
	{ not_ok "the token asked for the repository's pull scope"; diag "$(tail -3 "$REG_TOKEN_LOG")"; }
m tag "$REG_HOST/busybox:latest" local/tok:1
m --debug push local/tok:1 "$REG_HOST/team/tok:1" >"$WORK/t2" 2>&1; rc=$?
is "$rc" 0 "push with a bearer token (pull,push scope)"
like "$(cat "$WORK/t2")" "mounted from busybox" "the layer is mounted across repositories (two scopes in one token)"
is "$(reg_skopeo inspect "${REG_SKOPEO_SRC[@]/--src-/--}" "docker://$REG_HOST/team/tok:1" 2>/dev/null | jq -r .Name)" \
	"$REG_HOST/team/tok" "skopeo reads what molt pushed with a token"
secret_free "no password in the output of the token flow" "$WORK/t1" "$WORK/t2"
printf '%s\n' "$REG_LIMITED_PASS" | m login -u "$REG_LIMITED_USER" --password-stdin "$REG_HOST" >/dev/null 2>&1
molt_fails 1 "registry '$REG_HOST'.*(401|403|denied|refused)" \
	"a user without push rights on a repository gets a clear refusal" \
	m push local/tok:1 "$REG_HOST/team/forbidden:1"
out=$(m push -q local/tok:1 "$REG_HOST/allowed/tok:1" 2>&1); rc=$?
is "$rc" 0 "the same user pushes where it may"
reg_stop

reg_start --token --anonymous-pull || { not_ok "a token registry with anonymous pull starts"; done_testing; exit; }
reg_push_busybox "$REG_HOST/busybox:latest"
rm -f "$AUTH"
out=$(m --root "$WORK/s3" pull -q "$REG_HOST/busybox:latest" 2>&1); rc=$?
is "$rc" 0 "an anonymous bearer token pulls a public image"
m --root "$WORK/s3" prune --all >/dev/null 2>&1
reg_stop

done_testing
