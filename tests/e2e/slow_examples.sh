#!/usr/bin/env bash
# slow_examples.sh — examples/c-static and examples/react-nginx built on the Debian base
# (scripts/mkbase.sh debian, made as root by tests/run-tests.sh under MOLT_SLOW=1 into
# $FIXTURES/debian/oci). They install packages with apt-get and yarn in RUN steps, so they
# need the package network: `make check-slow` only.
. "$(dirname "$0")/lib.sh"
ex=$STAGE/examples
deb=$FIXTURES/debian/oci

if [ ! -f "$deb/index.json" ]; then
	skip "no Debian base in $deb (tests/run-tests.sh makes it as root under MOLT_SLOW=1; see $deb/../mkbase.log)"
	done_testing; exit
fi
if ! have_subuid; then
	# apt drops privileges to _apt and dpkg chowns to system users: one id is not enough.
	skip "user $(id -un) has no subordinate id range in /etc/subuid; apt-get needs one"
	done_testing; exit
fi

check "the Debian base loads (molt load -i OCI layout)" "$MOLT" load -i "$deb"

# tarlist FILE: the entries of a rootfs tar, one a line, without "./" and trailing "/".
tarlist() { tar -tf "$1" | sed -e 's|^\./||' -e 's|/$||' | grep -v '^\.\?$' | LC_ALL=C sort; }

# free_port: 8080 when nothing listens there, else another free port (the host may run
# anything; other test runs share it).
free_port() {
	local p
	for p in 8080 $((20000 + RANDOM % 20000)) $((20000 + RANDOM % 20000)) $((20000 + RANDOM % 20000)); do
		if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"; return 0
		fi
	done
	return 1
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Each example is built once, both tagged in the store and exported as a rootfs tar (the
# builds take minutes).
# 1. c-static: gcc from apt in the builder, the binary alone in scratch.
if "$MOLT" build --progress plain -t c-static -o "type=tar,dest=$WORK/c.tar" "$ex/c-static" >"$WORK/c.log" 2>&1; then
	ok "examples/c-static builds (apt-get install gcc in a RUN step)"
	is "$("$MOLT" run --network none c-static world 2>&1)" \
		"hello from a static binary built by molt world" "the c-static image runs its static binary (ENTRYPOINT + args)"
	is "$(tarlist "$WORK/c.tar" | tr '\n' ' ')" "hello " "the c-static image holds exactly the binary (COPY --from into scratch)"
	tar -xf "$WORK/c.tar" -C "$WORK" hello 2>/dev/null || tar -xf "$WORK/c.tar" -C "$WORK" ./hello
	like "$(file -b "$WORK/hello" 2>&1)" "statically linked" "the c-static binary is statically linked"
else
	not_ok "examples/c-static builds (apt-get install gcc in a RUN step)"; diag "$(tail -n 30 "$WORK/c.log")"
fi

# 2. react-nginx: node and yarn in the builder, nginx and the bundle in the final image.
port=$(free_port) || port=8080
registry=$(npm config get registry 2>/dev/null || true)
# A package network that intercepts TLS with its own authority shows up as extra CAs
# installed on this host; the fresh Debian base does not trust them (see the Dockerfile).
strict=${MOLT_NPM_STRICT_SSL:-true}
if [ -z "${MOLT_NPM_STRICT_SSL:-}" ] && ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	strict=false
fi
args=(--build-arg "NPM_REGISTRY=$registry" --build-arg "NPM_STRICT_SSL=$strict" --build-arg "LISTEN_PORT=$port")
if "$MOLT" build --progress plain "${args[@]}" -t react-nginx -o "type=tar,dest=$WORK/r.tar" \
	"$ex/react-nginx" >"$WORK/r.log" 2>&1; then
	ok "examples/react-nginx builds (apt-get nodejs yarnpkg, yarn install, yarn build, nginx)"
else
	not_ok "examples/react-nginx builds (apt-get nodejs yarnpkg, yarn install, yarn build, nginx)"
	diag "$(tail -n 40 "$WORK/r.log")"
	done_testing; exit
fi

if [ -s "$WORK/r.tar" ]; then
	tarlist "$WORK/r.tar" >"$WORK/r.list"
	like "$(grep -c . "$WORK/r.list")" '^[0-9]{3,}$' "the react-nginx image is a whole Debian tree"
	check "the react-nginx image holds nginx" grep -qx 'usr/sbin/nginx' "$WORK/r.list"
	check "the react-nginx image holds the bundle (COPY --from=builder /app/dist)" \
		grep -qx 'usr/share/nginx/html/app.js' "$WORK/r.list"
	unlike "$(grep -E '(^|/)(node|nodejs|yarnpkg)$' "$WORK/r.list")" . "the react-nginx image holds no node or yarn binary"
	unlike "$(grep -E '(^|/)node_modules(/|$)' "$WORK/r.list")" . "the react-nginx image holds no node_modules"
	unlike "$(grep -E '(^|/)(package\.json|yarn\.lock|App\.jsx|index\.jsx)$|^app(/|$)' "$WORK/r.list")" . \
		"the react-nginx image holds no sources, package.json or yarn.lock"
else
	not_ok "examples/react-nginx exports as a tar (-o type=tar)"
fi

# Served by the image's own CMD (nginx as www-data), on the host's network.
if listening "$port"; then
	skip "port $port became busy before the server started"
	done_testing; exit
fi
"$MOLT" run --network host react-nginx >"$WORK/nginx.log" 2>&1 &
nginx_pid=$!
page=""
for _ in $(seq 100); do
	page=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null) && [ -n "$page" ] && break
	kill -0 "$nginx_pid" 2>/dev/null || break
	sleep 0.2
done
like "$page" '<script src="/app.js"></script>' "nginx serves index.html, which references the React bundle"
bundle=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/app.js" 2>/dev/null)
like "$bundle" 'react\.element' "nginx serves the React bundle (React's element symbol is in it)"
like "$bundle" 'clicked' "the bundle holds the app's own component"
like "$(curl -fsS --max-time 5 "http://127.0.0.1:$port/some/client/route" 2>/dev/null)" 'id="root"' \
	"unknown paths fall back to index.html (try_files)"
[ -n "$page" ] || diag "$(tail -n 20 "$WORK/nginx.log")"

# SIGTERM to molt run reaches nginx (pid 1 forwards it); nothing keeps the port.
kill -TERM "$nginx_pid" 2>/dev/null
stopped=0
for _ in $(seq 50); do
	kill -0 "$nginx_pid" 2>/dev/null || { stopped=1; break; }
	sleep 0.2
done
if [ $stopped = 1 ]; then
	wait "$nginx_pid" 2>/dev/null
	ok "molt run stops on SIGTERM"
else
	not_ok "molt run stops on SIGTERM"; kill -KILL "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null
fi
if listening "$port"; then not_ok "no nginx listens on port $port after molt run ended"; else ok "no nginx listens on port $port after molt run ended"; fi

done_testing
