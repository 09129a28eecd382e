# SPDX-License-Identifier: Apache-2.0
"""What the test registry's helper servers (fault_front.py, token_server.py) share:
a threading HTTP server on 127.0.0.1, its port handed to the shell through a file."""
import os
import threading
from http.server import ThreadingHTTPServer


def start(handler):
    """A server on a free port of 127.0.0.1; a hung client never holds up the exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    return server


def forever(server, lifetime, port_file):
    """Serves until killed or `lifetime` seconds have passed. The port goes into
    port_file by rename, so the waiting shell never reads half a number."""
    threading.Timer(lifetime, lambda: os._exit(0)).start()
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(tmp, port_file)
    server.serve_forever()
