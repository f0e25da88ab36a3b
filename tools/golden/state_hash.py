#!/usr/bin/env python3
"""The state hash (hashes.jsonl's and a manifest's state_sha256) in plain Python,
and the golden vectors the Swift tests check it against.

    python3 tools/golden/state_hash.py > golden/state_hash.json

The state's bytes are cut into 1 MiB pieces (the last may be shorter); the
state hash is the SHA-256 of the pieces' SHA-256 digests, concatenated in
order (Sources/SimplyCore/Hash/StateHasher.swift says why). Only hashlib is
needed; tools/interop/check_checkpoint.py imports StateHash from here.
"""

import hashlib
import json

PIECE_BYTES = 1 << 20


class StateHash:
    """Streaming state hash: update() with bytes in any split, then hexdigest()."""

    def __init__(self):
        self.root = hashlib.sha256()
        self.piece = hashlib.sha256()
        self.filled = 0

    def update(self, data):
        view = memoryview(data).cast("B")
        while len(view):
            n = min(len(view), PIECE_BYTES - self.filled)
            self.piece.update(view[:n])
            self.filled += n
            view = view[n:]
            if self.filled == PIECE_BYTES:
                self.root.update(self.piece.digest())
                self.piece = hashlib.sha256()
                self.filled = 0

    def hexdigest(self):
        root = self.root.copy()
        if self.filled:
            root.update(self.piece.digest())
        return root.hexdigest()


def pattern(length):
    """The vectors' bytes: byte i is (i * 2654435761 >> 13) mod 256."""
    return bytes(((i * 2654435761) >> 13) & 255 for i in range(length))


def main():
    lengths = [0, 1, 64, PIECE_BYTES - 1, PIECE_BYTES, PIECE_BYTES + 1, 2 * PIECE_BYTES,
               3 * PIECE_BYTES + 4, 5 * PIECE_BYTES + 12345]
    longest = pattern(max(lengths))
    vectors = []
    for n in lengths:
        h = StateHash()
        h.update(longest[:n])
        vectors.append({"length": n, "state_sha256": h.hexdigest()})
    print(json.dumps({"piece_bytes": PIECE_BYTES,
                      "pattern": "byte i = (i * 2654435761 >> 13) mod 256",
                      "vectors": vectors}, indent=1))


if __name__ == "__main__":
    main()
