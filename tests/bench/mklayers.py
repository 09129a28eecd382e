#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""mklayers.py BASE_OCI OUT_OCI EXTRA_MB — for bench_pull.sh: the image of BASE_OCI (an
OCI layout with one image) plus EXTRA_MB of files in 3 more gzip layers, written as a new
OCI layout tagged "latest". The files are seeded (the same bytes every time), 4 KiB to
1 MiB, half random and half text, so the layers cost what real ones do to fetch,
decompress, hash and unpack."""
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import sys
import tarfile

N_LAYERS = 3


class HashWriter:
    def __init__(self, out):
        self.out, self.h = out, hashlib.sha256()

    def write(self, data):
        self.h.update(data)
        return self.out.write(data)


def blob_path(oci, digest):
    return os.path.join(oci, "blobs", "sha256", digest.split(":")[1])


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def add_blob(oci, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(oci, d), "wb") as f:
        f.write(data)
    return d, len(data)


def write_layer(oci, n, size, rng, words):
    tmp = os.path.join(oci, "layer.tmp")
    with open(tmp, "wb") as raw:
        gz = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)
        hw = HashWriter(gz)
        tar = tarfile.open(fileobj=hw, mode="w|", format=tarfile.PAX_FORMAT)
        written, i, dirs = 0, 0, set()
        while written < size:
            d = f"usr/lib/bench/l{n}/d{i // 64:03d}"
            for p in (f"usr", "usr/lib", "usr/lib/bench", f"usr/lib/bench/l{n}", d):
                if p not in dirs:
                    ti = tarfile.TarInfo(p)
                    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
                    tar.addfile(ti)
                    dirs.add(p)
            n_bytes = min(int(4096 * 256 ** rng.random()), size - written + 1)
            if i % 2:
                data = rng.randbytes(n_bytes)
            else:
                text = " ".join(rng.choice(words) for _ in range(n_bytes // 6 + 1))
                data = text.encode()[:n_bytes]
            ti = tarfile.TarInfo(f"{d}/f{i:06d}")
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tar.addfile(ti, io.BytesIO(data))
            written += len(data)
            i += 1
        tar.close()
        gz.close()
    diff_id = "sha256:" + hw.h.hexdigest()
    digest = file_digest(tmp)
    os.rename(tmp, blob_path(oci, digest))
    return digest, os.path.getsize(blob_path(oci, digest)), diff_id


def main():
    base, out, extra_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.copytree(base, out)
    idx = json.load(open(os.path.join(out, "index.json")))
    manifest = json.load(open(blob_path(out, idx["manifests"][0]["digest"])))
    config = json.load(open(blob_path(out, manifest["config"]["digest"])))
    rng = random.Random(42)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(2000)]
    for n in range(N_LAYERS):
        digest, size, diff_id = write_layer(out, n, extra_mb * (1 << 20) // N_LAYERS, rng, words)
        manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                   "digest": digest, "size": size})
        config["rootfs"]["diff_ids"].append(diff_id)
        config.setdefault("history", []).append(
            {"created": "1970-01-01T00:00:00Z", "created_by": f"bench_pull: extra layer {n + 1}"})
    cd, cs = add_blob(out, json.dumps(config, separators=(",", ":")).encode())
    manifest["config"] = dict(manifest["config"], digest=cd, size=cs)
    md, ms = add_blob(out, json.dumps(manifest, separators=(",", ":")).encode())
    idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
           "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "digest": md, "size": ms,
                          "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    json.dump(idx, open(os.path.join(out, "index.json"), "w"))


if __name__ == "__main__":
    main()
