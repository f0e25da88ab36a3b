#!/usr/bin/env python3
"""Checks a Simply checkpoint with standard Python tools, independently of Simply.

    tools/interop/check_checkpoint.py RUN/checkpoints/step-00000100

For each shard listed in manifest.json it checks the .zst file's size and
SHA-256, decompresses it (the `zstandard` package, or the `zstd` command line
tool when the package is missing), opens the result with the `safetensors`
library (numpy backend), and checks every tensor's dtype, shape, place in the
shard and SHA-256 against the manifest, then the state hash over all tensors
in manifest order (SHA-256 over the SHA-256 digests of their bytes' 1 MiB
pieces: tools/golden/state_hash.py). It prints a summary and exits 1 on any mismatch (2 on bad
usage).

Setup (from the repository root):

    python3 -m venv .venv && .venv/bin/pip install safetensors numpy zstandard
    .venv/bin/python tools/interop/check_checkpoint.py RUN/checkpoints/step-00000100

(`zstandard` is optional when the `zstd` command is installed.)
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from state_hash import StateHash  # noqa: E402
from safetensors.numpy import load as safetensors_load


def decompress(data: bytes, path: str) -> bytes:
    try:
        import zstandard
    except ImportError:
        zstandard = None
    if zstandard is not None:
        return zstandard.ZstdDecompressor().decompress(data)
    if shutil.which("zstd") is None:
        raise RuntimeError("neither the zstandard package nor the zstd command is available")
    # The CLI, as a user would run it: zstd -d shard.zst -o shard.safetensors
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "shard.safetensors")
        subprocess.run(["zstd", "-q", "-d", path, "-o", out], check=True)
        with open(out, "rb") as f:
            return f.read()


def check(checkpoint: str) -> list:
    problems = []
    manifest_path = os.path.join(checkpoint, "manifest.json")
    with open(manifest_path, "rb") as f:
        manifest = json.loads(f.read())

    # manifest_sha256: SHA-256 of the compact, key-sorted JSON of the manifest
    # without that key (Simply keeps number text as written; ensure_ascii=False
    # writes strings as Simply does for the characters it uses).
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if hashlib.sha256(canonical).hexdigest() != manifest.get("manifest_sha256"):
        problems.append(f"{manifest_path}: manifest_sha256 does not match its content "
                        "(or the manifest holds numbers Python re-formats)")

    by_shard = {}
    for t in manifest["tensors"]:
        by_shard.setdefault(t["shard"], []).append(t)

    state = StateHash()
    total_raw = total_zst = count = 0
    for index, shard in enumerate(manifest["shards"]):
        path = os.path.join(checkpoint, shard["file"])
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != shard["bytes"]:
            problems.append(f"{path}: {len(data)} bytes, manifest says {shard['bytes']}")
            continue
        if hashlib.sha256(data).hexdigest() != shard["sha256"]:
            problems.append(f"{path}: sha256 does not match the manifest")
            continue
        raw = decompress(data, path)
        if len(raw) != shard["raw_bytes"]:
            problems.append(f"{path}: decompressed to {len(raw)} bytes, manifest says {shard['raw_bytes']}")
        tensors = safetensors_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + header_len])
        expected = by_shard.get(index, [])
        if sorted(tensors) != sorted(t["name"] for t in expected):
            problems.append(f"{path}: holds {sorted(tensors)}, manifest lists {sorted(t['name'] for t in expected)}")
        for t in expected:
            name = t["name"]
            if name not in tensors:
                problems.append(f"{path}: tensor {name} missing")
                continue
            a = tensors[name]
            if a.dtype != np.float32 or t["dtype"] != "F32":
                problems.append(f"{path}: tensor {name} is {a.dtype}, manifest says {t['dtype']}")
            if list(a.shape) != t["shape"]:
                problems.append(f"{path}: tensor {name} has shape {list(a.shape)}, manifest says {t['shape']}")
            if header[name]["data_offsets"] != [t["offset"], t["offset"] + t["length"]]:
                problems.append(f"{path}: tensor {name} at {header[name]['data_offsets']}, manifest says offset {t['offset']} length {t['length']}")
            b = np.ascontiguousarray(a).astype("<f4", copy=False).tobytes()
            if hashlib.sha256(b).hexdigest() != t["sha256"]:
                problems.append(f"{path}: tensor {name} sha256 does not match the manifest")
            state.update(b)
            count += 1
        total_raw += len(raw)
        total_zst += len(data)

    if state.hexdigest() != manifest["state_sha256"]:
        problems.append(f"{manifest_path}: state_sha256 does not match the tensors")
    ratio = total_raw / total_zst if total_zst else 0.0
    print(f"{checkpoint}: step {manifest['step']}, {count} tensors in {len(manifest['shards'])} shard(s), "
          f"{total_raw / 1e6:.1f} MB raw, {total_zst / 1e6:.1f} MB compressed (ratio {ratio:.3f}), "
          f"state {manifest['state_sha256'][:16]}…: {'OK' if not problems else 'MISMATCH'}")
    return problems


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: check_checkpoint.py CHECKPOINT_DIR", file=sys.stderr)
        return 2
    try:
        problems = check(sys.argv[1])
    except Exception as e:  # a damaged file: report it, do not crash with a traceback
        print(f"{sys.argv[1]}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
