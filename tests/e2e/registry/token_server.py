#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A bearer-token server for the registry tests (docker's token auth flow).

docker-registry's `auth: token:` trusts a JWT signed RS256 by a key whose certificate
chains to its `rootcertbundle`; the token names the certificate in the `x5c` header.
This server checks basic credentials (GET) or an OAuth2 form (POST: password and
refresh_token grants), grants each requested `repository:NAME:ACTIONS` scope only as
far as the user's repository prefix allows, and signs with `openssl dgst` (the Python
standard library has no RSA). It listens on 127.0.0.1 only, logs every request (never a
password) and exits by itself after --lifetime seconds.

  token_server.py --key K --cert C --issuer I --service S --port-file F
                  [--user NAME:PASSWORD[:REPO_PREFIX]]... [--anonymous-pull]
                  [--log FILE] [--lifetime SECONDS]
"""
import argparse
import base64
import json
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

import serve


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Tokens:
    def __init__(self, args):
        self.args = args
        der = subprocess.run(["openssl", "x509", "-in", args.cert, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.users = {}  # name -> (password, repository prefix)
        for spec in args.user:
            name, password, *prefix = spec.split(":", 2)
            self.users[name] = (password, prefix[0] if prefix else "")
        self.refresh = {}  # refresh token -> user name
        self.lock = threading.Lock()

    def sign(self, claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.args.key],
                             input=signing_input, check=True, capture_output=True).stdout
        return signing_input.decode() + "." + b64url(sig)

    def grant(self, user, scopes):
        """The access list for user (None: anonymous) and the requested scopes."""
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            name, wanted = ":".join(parts[1:-1]), parts[-1].split(",")
            if user is None:
                allowed = {"pull"} if self.args.anonymous_pull else set()
            elif name.startswith(self.users[user][1]):
                allowed = {"pull", "push", "delete", "*"}
            else:
                allowed = set()
            actions = [a for a in wanted if a in allowed]
            if actions:
                access.append({"type": "repository", "name": name, "actions": actions})
        return access

    def issue(self, user, scopes, offline):
        now = int(time.time())
        access = self.grant(user, scopes)
        claims = {"iss": self.args.issuer, "sub": user or "", "aud": self.args.service,
                  "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(16), "access": access}
        token = self.sign(claims)
        body = {"token": token, "access_token": token, "expires_in": 300,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
        if offline and user is not None:
            refresh = secrets.token_hex(24)
            with self.lock:
                self.refresh[refresh] = user
            body["refresh_token"] = refresh
        return body, access


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "molt-test-token/1"

    def log_message(self, fmt, *args):
        pass

    def record(self, line):
        if self.server.log_path:
            with open(self.server.log_path, "a") as f:
                f.write(line + "\n")

    def reply(self, code, body, extra=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def deny(self, why):
        self.record(f"{self.command} {self.path.split('?')[0]} refused: {why}")
        self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": why}]},
                   {"WWW-Authenticate": 'Basic realm="molt-test-token"'})

    def check_password(self, name, password):
        tokens = self.server.tokens
        return name in tokens.users and secrets.compare_digest(tokens.users[name][0], password)

    def finish_grant(self, user, scopes, offline, how):
        body, access = self.server.tokens.issue(user, scopes, offline)
        self.record(f"{self.command} /token user={user or '-'} via={how} "
                    f"scope={' '.join(scopes) or '-'} granted={json.dumps(access)}")
        self.reply(200, body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            return self.reply(404, {"errors": [{"code": "NOT_FOUND"}]})
        q = urllib.parse.parse_qs(url.query)
        scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
        auth = self.headers.get("Authorization", "")
        user = None
        if auth:
            if not auth.startswith("Basic "):
                return self.deny("only basic credentials are accepted here")
            try:
                name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return self.deny("malformed basic credentials")
            if not self.check_password(name, password):
                return self.deny(f"wrong user name or password for '{name}'")
            user = name
        if q.get("service", [""])[0] != self.server.tokens.args.service:
            return self.reply(400, {"errors": [{"code": "UNSUPPORTED",
                                                "message": "unknown service"}]})
        self.finish_grant(user, scopes, q.get("offline_token", [""])[0] == "true",
                          "basic" if user else "anonymous")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        if self.path.split("?")[0] != "/token" or n > 65536:
            return self.reply(404, {"errors": [{"code": "NOT_FOUND"}]})
        form = urllib.parse.parse_qs(self.rfile.read(n).decode(errors="replace"))
        get = lambda k: form.get(k, [""])[0]
        scopes = [s for v in form.get("scope", []) for s in v.split(" ") if s]
        grant = get("grant_type")
        if grant == "password":
            if not self.check_password(get("username"), get("password")):
                return self.deny(f"wrong user name or password for '{get('username')}'")
            user = get("username")
        elif grant == "refresh_token":
            with self.server.tokens.lock:
                user = self.server.tokens.refresh.get(get("refresh_token"))
            if user is None:
                return self.deny("unknown refresh token")
        else:
            return self.reply(400, {"error": "unsupported_grant_type"})
        self.finish_grant(user, scopes, get("access_type") == "offline", grant)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--user", action="append", default=[])
    p.add_argument("--anonymous-pull", action="store_true")
    p.add_argument("--log")
    p.add_argument("--lifetime", type=float, default=600)
    args = p.parse_args()
    server = serve.start(Handler)
    server.tokens = Tokens(args)
    server.log_path = args.log
    serve.forever(server, args.lifetime, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
