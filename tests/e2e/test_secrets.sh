#!/bin/bash
# test_secrets.sh — RUN --mount=type=secret and type=ssh with --secret / --ssh, the
# predefined proxy args, --build-arg SOURCE_DATE_EPOCH, RUN --security/--network,
# --add-host, --ulimit, --shm-size (issue #12). The secrets' values are grep-ed for
# in the whole store (every blob decompressed, every tree, config, history and cache
# entry), the build's output, --print-plan and -o type=tar.
. "$(dirname "$0")/lib.sh"
load_busybox

S1="molt-secret-file-$RANDOM$RANDOM-value"
S2="molt-secret-env-$RANDOM$RANDOM-value"
printf '%s' "$S1" >"$WORK/secret.txt"
md5() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }

# found VALUE: prints every place of the store, outputs and logs that holds VALUE.
found() {
	local f
	grep -rlaF -- "$1" "$MOLT_ROOT" "$WORK/build.out" "$WORK/build.log" "$WORK"/*.tar \
		"$WORK"/plan.json 2>/dev/null
	find "$MOLT_ROOT" "$WORK"/*.tar -type f 2>/dev/null | while read -r f; do
		{ gzip -dc "$f" 2>/dev/null || true; } | grep -qaF -- "$1" && echo "$f (gzip)"
	done
	true
}

c=$(ctx sec <<'EOF'
FROM busybox
RUN --mount=type=secret,id=tok sh -c 'wc -c </run/secrets/tok >/len; md5sum </run/secrets/tok | cut -d" " -f1 >/md5; stat -c "%a %u %g" /run/secrets/tok >/perm; echo x >/run/secrets/tok 2>/dev/null || echo ro >/ro; cat /proc/sys/kernel/random/uuid >/uuid'
RUN --mount=type=secret,id=tok,target=/etc/app/token,mode=0440,uid=1000,gid=1000 sh -c 'stat -c "%a %u %g" /etc/app/token >/perm2; md5sum </etc/app/token | cut -d" " -f1 >/md5b'
RUN --mount=type=secret,id=envtok,env=MYTOKEN sh -c 'printf %s "$MYTOKEN" | md5sum | cut -d" " -f1 >/md5env; [ -e /run/secrets/envtok ] || echo nofile >/envnofile'
RUN --mount=type=secret,id=absent sh -c '[ -e /run/secrets/absent ] || echo none >/absent'
RUN sh -c '[ -e /run/secrets/tok ] || echo gone >/after; env >/env.txt'
EOF
)
export TOKENVAR="$S2"
build "$c" --secret id=tok,src="$WORK/secret.txt" --secret id=envtok,env=TOKENVAR -t sec:a \
	-o type=tar,dest="$WORK/a.tar"
is "$?" 0 "a build with RUN --mount=type=secret succeeds"
mkdir -p "$WORK/a" && tar -xf "$WORK/a.tar" -C "$WORK/a"
is "$(tr -d ' ' <"$WORK/a/len")" "${#S1}" "the RUN read the secret file (its length)"
is "$(cat "$WORK/a/md5")" "$(md5 "$S1")" "the RUN read the secret file (its hash)"
is "$(cat "$WORK/a/perm")" "400 0 0" "the secret is at /run/secrets/ID, mode 0400, owned by 0:0"
is "$(cat "$WORK/a/ro" 2>/dev/null)" "ro" "the secret file is read-only"
is "$(cat "$WORK/a/perm2")" "440 1000 1000" "target=, mode=, uid=, gid= are applied"
is "$(cat "$WORK/a/md5b")" "$(md5 "$S1")" "the secret is at its target"
is "$(cat "$WORK/a/md5env")" "$(md5 "$S2")" "env= gives the secret (from --secret env=VAR) as a variable"
is "$(cat "$WORK/a/envnofile" 2>/dev/null)" "nofile" "env= alone leaves no file"
is "$(cat "$WORK/a/absent" 2>/dev/null)" "none" "a secret that was not given and is not required leaves no file"
is "$(cat "$WORK/a/after" 2>/dev/null)" "gone" "a later RUN does not see the secret"
[ ! -e "$WORK/a/run/secrets" ] && [ ! -e "$WORK/a/etc/app" ] \
	&& ok "no mount point stub is left in the image" \
	|| not_ok "no mount point stub is left in the image"
"$MOLT" build --print-plan --secret id=tok,src="$WORK/secret.txt" --secret id=envtok,env=TOKENVAR \
	"$c" >"$WORK/plan.json" 2>>"$WORK/build.log"
"$MOLT" save --format oci -o "$WORK/save.tar" sec:a >/dev/null 2>&1
is "$(found "$S1")" "" "the file secret's value is nowhere in the store, outputs, logs or plan"
is "$(found "$S2")" "" "the env secret's value is nowhere in the store, outputs, logs or plan"
[ -n "$(found "$(md5 "$S1")")" ] && ok "the search finds what a RUN wrote (the hash)" \
	|| not_ok "the search finds what a RUN wrote (the hash)"

# Another value, same build: the value is in no cache key (BuildKit's rule).
printf '%s' "other-$S1" >"$WORK/secret2.txt"
build "$c" --secret id=tok,src="$WORK/secret2.txt" --secret id=envtok,env=TOKENVAR \
	-o type=tar,dest="$WORK/b.tar"
mkdir -p "$WORK/b" && tar -xf "$WORK/b.tar" -C "$WORK/b"
is "$(cat "$WORK/b/uuid" 2>/dev/null)" "$(cat "$WORK/a/uuid")" \
	"a changed secret value does not change the cache key (the step is not run again)"

# A step that made /run a symlink: the mount point resolves inside the root, its stub
# goes, and the value stays out of the layer.
c9=$(ctx seclink <<'EOF'
FROM busybox
RUN rm -rf /run && mkdir /elsewhere && ln -s /elsewhere /run
RUN --mount=type=secret,id=tok sh -c 'md5sum </run/secrets/tok | cut -d" " -f1 >/md5l'
EOF
)
build "$c9" --secret id=tok,src="$WORK/secret.txt" -o type=tar,dest="$WORK/l.tar"
mkdir -p "$WORK/l" && tar -xf "$WORK/l.tar" -C "$WORK/l"
is "$(cat "$WORK/l/md5l" 2>/dev/null)" "$(md5 "$S1")" "a secret under a symlinked /run is mounted inside the root"
is "$(ls -A "$WORK/l/elsewhere" 2>/dev/null)" "" "its stub is not left behind the symlink"
is "$(found "$S1")" "" "the value is still nowhere in the store or outputs"

# A failing RUN with a secret: its error names the command, never the value.
c2=$(ctx secfail <<'EOF'
FROM busybox
RUN --mount=type=secret,id=tok,env=TOK sh -c 'exit 3'
EOF
)
build "$c2" --secret id=tok,src="$WORK/secret.txt"
is "$?" 1 "a failing RUN with a secret fails"
unlike "$(cat "$WORK/build.log" "$WORK/build.out")" "$S1" "its error does not show the secret"

c3=$(ctx secreq <<'EOF'
FROM busybox
RUN --mount=type=secret,id=needed,required=true true
EOF
)
build_fails "$c3" 1 "required=true without the secret fails" \
	"secret 'needed' is required but was not given" "the error names the secret"
molt_fails 2 "cannot read '$WORK/nope'" "--secret src= of a missing file is a clear usage error" \
	"$MOLT" build --secret id=x,src="$WORK/nope" "$c3"
head -c 600000 /dev/zero >"$WORK/big"
molt_fails 2 "larger than 500 KiB" "a secret over 500 KiB is refused" \
	"$MOLT" build --secret id=x,src="$WORK/big" "$c3"
molt_fails 2 "needs id=ID" "--secret without id= is refused" "$MOLT" build --secret src="$WORK/secret.txt" "$c3"
molt_fails 2 "'NOPE_UNSET' is not set" "--secret env= of an unset variable is refused" \
	"$MOLT" build --secret id=x,env=NOPE_UNSET "$c3"
# id alone: the variable of that name (buildx)
export needed="$S2"
build "$c3" --secret id=needed
is "$?" 0 "--secret id=ID alone takes \$ID"
unset needed

# ---- ssh
cp "$STAGE/helpers/probe_agent" "$WORK/probe_agent"
c4=$(ctx ssh <<'EOF'
FROM busybox
RUN --mount=type=ssh --mount=type=bind,source=probe_agent,target=/usr/bin/probe_agent sh -c 'probe_agent >/agent1; echo "$SSH_AUTH_SOCK" >/sock1'
RUN --mount=type=ssh,id=mykey,target=/tmp/agent.sock --mount=type=bind,source=probe_agent,target=/usr/bin/probe_agent sh -c 'probe_agent >/agent2; echo "$SSH_AUTH_SOCK" >/sock2'
RUN sh -c '[ -e /run/buildkit/ssh_agent.0 ] || [ -n "$SSH_AUTH_SOCK" ] || echo none >/agent3'
RUN --mount=type=ssh --mount=type=ssh,id=mykey sh -c 'ls /run/buildkit >/twosocks; echo "$SSH_AUTH_SOCK" >/sock3'
RUN --network=none --mount=type=ssh --mount=type=bind,source=probe_agent,target=/usr/bin/probe_agent sh -c 'probe_agent >/agent7'
USER 1000
RUN --mount=type=ssh,uid=1000 --mount=type=bind,source=probe_agent,target=/usr/bin/probe_agent sh -c 'probe_agent >/tmp/agent4; stat -c "%a %u" "$SSH_AUTH_SOCK" >/tmp/perm4'
RUN --mount=type=ssh --mount=type=bind,source=probe_agent,target=/usr/bin/probe_agent sh -c 'probe_agent >/tmp/agent5 2>/dev/null || echo denied >/tmp/agent5'
RUN --mount=type=ssh,mode=0666 --mount=type=bind,source=probe_agent,target=/usr/bin/probe_agent sh -c 'probe_agent >/tmp/agent6'
EOF
)
cp "$WORK/probe_agent" "$c4/"
if command -v ssh-agent >/dev/null && command -v ssh-keygen >/dev/null; then
	ssh-keygen -q -t ed25519 -N '' -f "$WORK/id" >/dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$WORK/id2" >/dev/null
	eval "$(ssh-agent -s -a "$WORK/agent.sock")" >/dev/null
	trap 'kill "$SSH_AGENT_PID" 2>/dev/null; cleanup_work' EXIT
	ssh-add -q "$WORK/id" "$WORK/id2" 2>/dev/null
	build "$c4" --ssh default --ssh mykey="$WORK/id" -o type=tar,dest="$WORK/ssh.tar"
	is "$?" 0 "a build with RUN --mount=type=ssh succeeds"
	mkdir -p "$WORK/ssh" && tar -xf "$WORK/ssh.tar" -C "$WORK/ssh"
	is "$(cat "$WORK/ssh/agent1" 2>/dev/null)" "keys 2" "--ssh default: the step reached the caller's agent (its 2 keys)"
	is "$(cat "$WORK/ssh/sock1" 2>/dev/null)" "/run/buildkit/ssh_agent.0" "SSH_AUTH_SOCK names the default target"
	is "$(cat "$WORK/ssh/agent2" 2>/dev/null)" "keys 1" "--ssh ID=KEYFILE: the step reached molt's own agent with that key"
	is "$(cat "$WORK/ssh/sock2" 2>/dev/null)" "/tmp/agent.sock" "target= moves the socket and SSH_AUTH_SOCK"
	is "$(cat "$WORK/ssh/agent3" 2>/dev/null)" "none" "a RUN without the mount has no agent"
	is "$(cat "$WORK/ssh/twosocks" 2>/dev/null | tr '\n' ' ')" "ssh_agent.0 ssh_agent.1 " \
		"two ssh mounts of a RUN get ssh_agent.0 and ssh_agent.1"
	is "$(cat "$WORK/ssh/sock3" 2>/dev/null)" "/run/buildkit/ssh_agent.0" "SSH_AUTH_SOCK names the first"
	is "$(cat "$WORK/ssh/agent7" 2>/dev/null)" "keys 2" "RUN --network=none still reaches the agent (a unix socket)"
	is "$(cat "$WORK/ssh/tmp/agent4" 2>/dev/null)" "keys 2" "uid=1000: USER 1000 reaches the agent"
	is "$(cat "$WORK/ssh/tmp/perm4" 2>/dev/null)" "600 1000" "the step's socket has the mount's owner and mode 0600"
	is "$(cat "$WORK/ssh/tmp/agent5" 2>/dev/null)" "denied" "by default (0:0, 0600) USER 1000 cannot use the agent, as in BuildKit"
	is "$(cat "$WORK/ssh/tmp/agent6" 2>/dev/null)" "keys 2" "mode=0666 opens it to every user"
	[ ! -e "$WORK/ssh/run/buildkit" ] && [ ! -e "$WORK/ssh/tmp/agent.sock" ] \
		&& ok "no socket stub is left in the image" || not_ok "no socket stub is left in the image"
	is "$(ls -d "$TMPDIR"/molt-ssh-* 2>/dev/null)" "" "molt's agent and its socket are gone after the build"
	ssh-keygen -q -t ed25519 -N 'pass phrase' -f "$WORK/locked" >/dev/null
	molt_fails 2 "could not load the key '$WORK/locked'" "a passphrase-protected key file is a clear error" \
		"$MOLT" build --ssh k="$WORK/locked" "$c4"
	kill "$SSH_AGENT_PID" 2>/dev/null
	unset SSH_AUTH_SOCK
	molt_fails 2 "SSH_AUTH_SOCK is not set" "--ssh default without an agent is a clear error" \
		"$MOLT" build --ssh default "$c4"
else
	skip "ssh-agent and ssh-keygen are not installed (openssh-client)"
fi
c5=$(ctx sshreq <<'EOF'
FROM busybox
RUN --mount=type=ssh,required=true true
EOF
)
build "$c5"
like "$(cat "$WORK/build.log")" "SSH agent 'default' is required but was not given" "required=true ssh without --ssh fails clearly"

# ---- proxy args, SOURCE_DATE_EPOCH, --security, --network
P="http://proxy-$RANDOM.invalid:3128"
c6=$(ctx proxy <<'EOF'
FROM busybox
RUN sh -c 'echo "$HTTP_PROXY" | md5sum | cut -d" " -f1 >/proxy; echo "$no_proxy" >/noproxy; touch /newfile'
RUN --security=sandbox echo ok >/sandbox
RUN --network=none sh -c 'grep -c : /proc/net/dev >/netnone'
RUN --network=host sh -c 'grep -c : /proc/net/dev >/nethost'
RUN --network=default sh -c 'grep -c : /proc/net/dev >/netdefault'
EOF
)
build "$c6" --build-arg HTTP_PROXY="$P" --build-arg no_proxy=example.invalid \
	--build-arg SOURCE_DATE_EPOCH=1000000000 -t proxy:a -o type=tar,dest="$WORK/p.tar"
is "$?" 0 "a build with proxy args and SOURCE_DATE_EPOCH succeeds"
mkdir -p "$WORK/p" && tar -xf "$WORK/p.tar" -C "$WORK/p"
is "$(cat "$WORK/p/proxy")" "$(echo "$P" | md5sum | cut -d' ' -f1)" "HTTP_PROXY reaches RUN without an ARG"
is "$(cat "$WORK/p/noproxy")" "example.invalid" "no_proxy reaches RUN without an ARG"
cfg=$(config proxy:a)
unlike "$cfg" "proxy-|example.invalid" "the proxy args are not in the config or history"
unlike "$(cat "$WORK/build.log")" "not consumed" "no unused-build-arg warning for proxy args or SOURCE_DATE_EPOCH"
is "$(printf '%s' "$cfg" | jq -r .created)" "2001-09-09T01:46:40Z" "--build-arg SOURCE_DATE_EPOCH sets the created time"
l=$(jq -r '.manifests[0].digest' "$WORK/save/index.json" | sed 's/sha256://')
layer=$(jq -r '.layers[1].digest' "$WORK/save/blobs/sha256/$l" | sed 's/sha256://')
like "$(tar -tvzf "$WORK/save/blobs/sha256/$layer" 2>/dev/null | grep newfile)" "2001-09-09" \
	"--build-arg SOURCE_DATE_EPOCH clamps the layer's mtimes"
is "$(cat "$WORK/p/sandbox")" "ok" "RUN --security=sandbox runs"
is "$(tr -d ' ' <"$WORK/p/netnone")" "1" "RUN --network=none has only lo"
is "$(tr -d ' ' <"$WORK/p/nethost")" "$(grep -c : /proc/net/dev)" "RUN --network=host has the host's interfaces"
is "$(tr -d ' ' <"$WORK/p/netdefault")" "$(grep -c : /proc/net/dev)" "RUN --network=default is the build's network"
c6b=$(ctx netdefault <<'EOF'
FROM busybox
RUN --network=default sh -c 'grep -c : /proc/net/dev >/netdefault'
RUN --network=none sh -c 'grep -c : /proc/net/dev >/netnone'
EOF
)
build "$c6b" --network none -o type=tar,dest="$WORK/p2.tar"
mkdir -p "$WORK/p2" && tar -xf "$WORK/p2.tar" -C "$WORK/p2"
is "$(tr -d ' ' <"$WORK/p2/netdefault" 2>/dev/null)" "1" "RUN --network=default follows molt build --network none"
build "$c6" --network none
like "$(cat "$WORK/build.log")" "RUN --network=host: this build runs with --network none" \
	"RUN --network=host cannot override molt build --network none"
molt_fails 2 "SOURCE_DATE_EPOCH='soon'" "a malformed SOURCE_DATE_EPOCH build arg is refused" \
	"$MOLT" build --build-arg SOURCE_DATE_EPOCH=soon "$c6"
c7=$(ctx insecure <<'EOF'
FROM busybox
RUN --security=insecure true
EOF
)
build_fails "$c7" 1 "RUN --security=insecure fails" \
	"security=insecure is not supported" "the error says why"

# ---- --add-host, --ulimit, --shm-size
c8=$(ctx runopts <<'EOF'
FROM busybox
RUN sh -c 'grep -E "myhost|gw" /etc/hosts >/hosts; ulimit -n >/nofile; ulimit -Hn >/nofile_hard; df -k /dev/shm | tail -n 1 | awk "{print \$2}" >/shm'
EOF
)
build "$c8" --add-host myhost:10.1.2.3 --add-host gw=host-gateway --ulimit nofile=512:1024 \
	--shm-size 3m -o type=tar,dest="$WORK/r.tar"
is "$?" 0 "a build with --add-host, --ulimit and --shm-size succeeds"
mkdir -p "$WORK/r" && tar -xf "$WORK/r.tar" -C "$WORK/r"
is "$(cat "$WORK/r/hosts")" "$(printf '10.1.2.3\tmyhost\n127.0.0.1\tgw')" "--add-host entries are in the step's /etc/hosts"
[ ! -e "$WORK/r/etc/hosts" ] || ! grep -q myhost "$WORK/r/etc/hosts" && ok "--add-host is not in the image" \
	|| not_ok "--add-host is not in the image"
is "$(cat "$WORK/r/nofile")" "512" "--ulimit sets the soft limit"
is "$(cat "$WORK/r/nofile_hard")" "1024" "--ulimit sets the hard limit"
is "$(cat "$WORK/r/shm")" "3072" "--shm-size sizes /dev/shm"
hard=$(ulimit -Hn)
molt_fails 2 "above your own hard limit" "--ulimit above the caller's hard limit is refused" \
	"$MOLT" build --ulimit nofile=1:$((hard + 1)) "$c8"
molt_fails 2 "unknown limit 'bogus'" "--ulimit of an unknown name is refused" \
	"$MOLT" build --ulimit bogus=1 "$c8"
molt_fails 2 "soft limit is above the hard" "--ulimit soft > hard is refused" \
	"$MOLT" build --ulimit nofile=20:10 "$c8"
molt_fails 2 "not an IP address" "--add-host with a bad address is refused" \
	"$MOLT" build --add-host myhost:notanip "$c8"
molt_fails 2 "shm-size must be a size" "--shm-size with a bad size is refused" \
	"$MOLT" build --shm-size lots "$c8"

done_testing
