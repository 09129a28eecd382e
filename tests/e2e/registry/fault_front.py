#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A fault-injecting HTTP front for a registry, for the hostile-registry tests.

It forwards every request to --backend (keeping the Host header, so the registry's
upload Location URLs point back at the front) and misbehaves as each --fault says:

  429=N             the first N manifest/blob GET or HEAD requests answer 429 with
                    Retry-After: 1
  503=N             the same with 503
  cut-blob          the first full blob GET sends half the body and closes the
                    connection (Content-Length promises all of it); later requests,
                    with or without Range, pass through
  corrupt-blob      every blob GET body has one byte flipped (same length)
  huge-manifest     manifest GETs answer Content-Length: 1 GiB and stream that much
  endless-manifest  manifest GETs stream without a length until the client gives up
  redirect-scheme   blob GETs answer 307 to file:///etc/passwd
  redirect-host     blob GETs answer 307 to the same path on http://localhost:PORT
                    (another host name for this front; that request passes through)
  realm-host        a 401's WWW-Authenticate realm is replaced by
                    http://localhost:PORT/token-elsewhere, which logs whether
                    credentials came and hands out a token the registry rejects
  lying-sizes       manifests are rewritten with every layer size halved (and the
                    Docker-Content-Digest header recomputed to match the lie)
  many-layers       manifests are rewritten to list their first layer 100000 times

Every request is logged to --log as "METHOD PATH auth=yes|no range=... host=..." (never
the credentials themselves). Each fault is bounded in time: the front exits by itself
after --lifetime seconds, and a streamed body never outlives the client.

  fault_front.py --backend http://127.0.0.1:PORT --port-file F [--fault F]...
                 [--log FILE] [--lifetime SECONDS]
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

import serve

BLOB_RE = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")
MANIFEST_RE = re.compile(r"^/v2/.+/manifests/[^/]+$")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "content-length"}


class Faults:
    def __init__(self, specs):
        self.counts = {}
        self.flags = set()
        for spec in specs:
            name, _, n = spec.partition("=")
            if name in ("429", "503"):
                self.counts[name] = int(n or "1")
            elif name in ("cut-blob", "corrupt-blob", "huge-manifest", "endless-manifest",
                          "redirect-scheme", "redirect-host", "realm-host", "lying-sizes",
                          "many-layers"):
                self.flags.add(name)
            else:
                raise SystemExit(f"fault_front: unknown fault '{spec}'")
        self.cut_done = False
        self.lock = threading.Lock()

    def take(self, name):
        """Consumes one of a counted fault; True while some are left."""
        with self.lock:
            if self.counts.get(name, 0) > 0:
                self.counts[name] -= 1
                return True
            return False

    def take_cut(self):
        with self.lock:
            if "cut-blob" in self.flags and not self.cut_done:
                self.cut_done = True
                return True
            return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "molt-test-front/1"

    def log_message(self, fmt, *args):
        pass

    def record(self, extra=""):
        line = (f"{self.command} {self.path} auth={'yes' if self.headers.get('Authorization') else 'no'}"
                f" range={self.headers.get('Range', '-')} host={self.headers.get('Host', '-')}{extra}")
        with self.server.log_lock, open(self.server.log_path, "a") as f:
            f.write(line + "\n")

    def simple(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def backend(self, body):
        b = self.server.backend
        conn = http.client.HTTPConnection(b.hostname, b.port, timeout=60)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP:
                conn.putheader(k, v)
        if body or self.command in ("PUT", "POST", "PATCH"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        return conn, conn.getresponse()

    def send_headers(self, resp, length=None, drop=(), add=None):
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP or lk in drop:
                continue
            if lk == "www-authenticate" and "realm-host" in self.server.faults.flags:
                v = re.sub(r'realm="[^"]*"',
                           f'realm="http://localhost:{self.server.port}/token-elsewhere"', v)
            self.send_header(k, v)
        for k, v in (add or {}).items():
            self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def stream(self, total, chunk):
        """Sends `chunk` repeatedly: `total` bytes, or without end when total is None."""
        deadline = time.monotonic() + self.server.lifetime
        sent = 0
        try:
            while (total is None or sent < total) and time.monotonic() < deadline:
                piece = chunk if total is None else chunk[:total - sent]
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass
        self.close_connection = True

    def fake_manifest(self, endless):
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        if endless:
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(1 << 30))
        self.end_headers()
        if self.command == "HEAD":
            return
        self.wfile.write(b'{"schemaVersion":2,"padding":"')
        self.stream(None if endless else (1 << 30) - 30, b"a" * 65536)

    def rewrite_manifest(self, resp, data):
        try:
            m = json.loads(data)
        except ValueError:
            return data
        layers = m.get("layers")
        if not isinstance(layers, list) or not layers:
            return data
        if "lying-sizes" in self.server.faults.flags:
            for layer in layers:
                layer["size"] = max(1, int(layer.get("size", 2)) // 2)
        if "many-layers" in self.server.faults.flags:
            m["layers"] = [layers[0]] * 100000
        return json.dumps(m).encode()

    def handle_any(self):
        self.record()
        faults, path = self.server.faults, urllib.parse.urlsplit(self.path).path
        if path == "/token-elsewhere":
            return self.simple(200, json.dumps({"token": "not-a-valid-token"}).encode(),
                               {"Content-Type": "application/json"})
        blob = BLOB_RE.match(path) and self.command in ("GET", "HEAD")
        manifest = MANIFEST_RE.match(path) and self.command in ("GET", "HEAD")
        if blob or manifest:
            for code in ("429", "503"):
                if faults.take(code):
                    body = json.dumps({"errors": [{"code": "TOOMANYREQUESTS" if code == "429"
                                                   else "UNAVAILABLE", "message": "fault"}]})
                    return self.simple(int(code), body.encode(),
                                       {"Retry-After": "1", "Content-Type": "application/json"})
        if manifest and faults.flags & {"huge-manifest", "endless-manifest"}:
            return self.fake_manifest("endless-manifest" in faults.flags)
        if blob and self.command == "GET" and "redirect-scheme" in faults.flags:
            return self.simple(307, b"", {"Location": "file:///etc/passwd"})
        if (blob and self.command == "GET" and "redirect-host" in faults.flags and
                not self.headers.get("Host", "").startswith("localhost:")):
            return self.simple(307, b"",
                               {"Location": f"http://localhost:{self.server.port}{self.path}"})
        body = self.read_body()
        conn, resp = self.backend(body)
        try:
            self.relay(resp, blob, manifest)
        finally:
            conn.close()

    def relay(self, resp, blob, manifest):
        faults = self.server.faults
        length = resp.getheader("Content-Length")
        length = int(length) if length is not None else None
        if self.command == "HEAD" or resp.status in (204, 304):
            return self.send_headers(resp, length if self.command == "HEAD" else 0)
        if manifest and resp.status == 200 and faults.flags & {"lying-sizes", "many-layers"}:
            data = self.rewrite_manifest(resp, resp.read())
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            self.send_headers(resp, len(data), drop=("docker-content-digest", "etag"),
                              add={"Docker-Content-Digest": digest})
            self.wfile.write(data)
            return
        if blob and resp.status == 200 and not self.headers.get("Range") and faults.take_cut():
            half = (length or 2) // 2
            self.send_headers(resp, length)
            self.wfile.write(resp.read(half))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if blob and resp.status == 200 and "corrupt-blob" in faults.flags and length:
            data = bytearray(resp.read())
            data[len(data) // 2] ^= 0xFF
            self.send_headers(resp, len(data))
            self.wfile.write(data)
            return
        self.send_headers(resp, length)
        while True:
            piece = resp.read(65536)
            if not piece:
                break
            self.wfile.write(piece)
        if length is None:
            self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backend", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--fault", action="append", default=[])
    p.add_argument("--log", default=os.devnull)
    p.add_argument("--lifetime", type=float, default=600)
    args = p.parse_args()
    server = serve.start(Handler)
    server.backend = urllib.parse.urlsplit(args.backend)
    server.faults = Faults(args.fault)
    server.log_path = args.log
    server.log_lock = threading.Lock()
    server.lifetime = args.lifetime
    server.port = server.server_address[1]
    serve.forever(server, args.lifetime, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
