#!/usr/bin/env python3
"""Loads a safetensors file exported by this project into d2l's PyTorch ResNet with a strict
load_state_dict and prints the logits for given inputs, so tests can compare them with ours.

    /usr/bin/python3 tools/torch_load_check.py WEIGHTS.safetensors INPUT.json

INPUT.json: {"stages": [..4], "width": W, "x": {"shape": [n, 1, h, w], "data": [...]}} (NCHW).
Prints one JSON line: {"keys": n, "missing": [], "unexpected": [], "logits_eval": [...],
"logits_train": [...]}. Needs python3-torch (CI does not install it; the test skips then).
"""
import json
import struct
import sys

import numpy as np
import torch

from torch_train_small import resnet

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def load_safetensors(path):
    """The format by hand (the safetensors package may be absent)."""
    with open(path, "rb") as f:
        raw = f.read()
    n, = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[b:end], dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.reshape(e["shape"]).copy())
    return out


def main():
    weights, inp = sys.argv[1], json.load(open(sys.argv[2]))
    torch.set_num_threads(1)
    net = resnet(inp["width"], inp["stages"])
    state = load_safetensors(weights)
    res = net.load_state_dict(state, strict=True)
    tracked = int(net[0][1].num_batches_tracked)  # before the training-mode pass adds one
    x = torch.tensor(inp["x"]["data"], dtype=torch.float32).reshape(inp["x"]["shape"])
    with torch.no_grad():
        net.eval()
        ev = net(x)
        net.train()
        tr = net(x)
    print(json.dumps({
        "keys": len(state),
        "missing": list(res.missing_keys),
        "unexpected": list(res.unexpected_keys),
        "logits_eval": ev.flatten().tolist(),
        "logits_train": tr.flatten().tolist(),
        "num_batches_tracked": tracked,
    }))


if __name__ == "__main__":
    main()
