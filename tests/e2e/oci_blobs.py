# SPDX-License-Identifier: Apache-2.0
"""The blobs of an OCI layout, for e2e scripts that make images of their own from the
fixture (PYTHONPATH=tests/e2e): read one by digest, write one and get its digest."""
import hashlib
import os


class Blobs:
    def __init__(self, layout):
        self.dir = os.path.join(layout, "blobs", "sha256")

    def read(self, digest):
        with open(os.path.join(self.dir, digest.split(":")[1]), "rb") as f:
            return f.read()

    def write(self, data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.dir, d), "wb") as f:
            f.write(data)
        return "sha256:" + d
