#!/usr/bin/env python3
"""Compares two folders of golden files: every number within --atol (default 1e-6), every other
value equal. Prints one line per file and the keys that differ; exits 1 when any does.

    /usr/bin/python3 tools/golden/compare.py NEW_DIR OLD_DIR [--atol 1e-6] [--skip checks]
"""
import json
import os
import struct
import sys

import numpy as np


def leaves(obj, path=""):
    """(path, value) for every leaf; a tensor's data list is one leaf."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(obj, list) and obj and all(isinstance(v, (int, float)) for v in obj):
        yield path, np.asarray(obj, dtype=np.float64)
    else:
        yield path, obj


def safetensors_leaves(path):
    raw = open(path, "rb").read()
    n, = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None)
    yield "__metadata__", meta
    for k, e in header.items():
        s, t = e["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[e["dtype"]]
        yield k, np.frombuffer(raw[8 + n + s:8 + n + t], dtype=dt).astype(np.float64)


def load(path):
    if path.endswith(".safetensors"):
        return dict(safetensors_leaves(path))
    return dict(leaves(json.load(open(path))))


def compare(new, old, atol, skip):
    a, b = load(new), load(old)
    bad, worst = [], 0.0
    for k in sorted(set(a) | set(b)):
        if k.split(".")[0] in skip:
            continue
        x, y = a.get(k), b.get(k)
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.shape == y.shape:
            d = float(np.abs(x - y).max()) if x.size else 0.0
            worst = max(worst, d)
            if d > atol:
                bad.append(f"{k}: max |diff| {d:.3g}")
        elif isinstance(x, (int, float)) and isinstance(y, (int, float)):
            worst = max(worst, abs(x - y))
            if abs(x - y) > atol:
                bad.append(f"{k}: {x} vs {y}")
        elif x != y:
            bad.append(f"{k}: {str(x)[:60]!r} vs {str(y)[:60]!r}")
    return bad, worst


def main(argv):
    new, old = argv[1], argv[2]
    atol = float(argv[argv.index("--atol") + 1]) if "--atol" in argv else 1e-6
    skip = set(argv[argv.index("--skip") + 1].split(",")) if "--skip" in argv else set()
    failed = False
    for name in sorted(os.listdir(old)):
        if not name.endswith((".json", ".safetensors")):
            continue
        bad, worst = compare(os.path.join(new, name), os.path.join(old, name), atol, skip)
        print(f"{name}: {'differs' if bad else 'agrees'} (max |diff| {worst:.3g}, atol {atol:g})")
        for line in bad:
            print(f"  {line}")
        failed |= bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
