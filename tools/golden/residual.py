#!/usr/bin/env python3
"""Makes tests/golden/residual_a.json and residual_b.json: one d2l Residual block each, with its
inference and training outputs, the gradients of L = sum(out * G), the BatchNorm statistics, the
same recomputed in float64, and two independent checks (a NumPy float64 forward, central finite
differences). The keys are described in tests/golden/README.md.

    /usr/bin/python3 tools/golden/residual.py [--out DIR]   (needs Debian's python3-torch)
"""
import copy
import sys

import numpy as np
import torch

from common import enc, out_dir, write_json
from torch_reference import Residual  # d2l's block, bench/torch_reference.py

CASES = {
    "residual_a.json": dict(input_channels=3, num_channels=3, use_1x1conv=False, strides=1),
    "residual_b.json": dict(input_channels=3, num_channels=6, use_1x1conv=True, strides=2),
}
BN = ("bn1", "bn2")


def make_block(c):
    """Seed 0, PyTorch's default conv init, then random BatchNorm parameters and statistics."""
    torch.manual_seed(0)
    blk = Residual(c["input_channels"], c["num_channels"], c["use_1x1conv"], c["strides"])
    with torch.no_grad():
        for name in BN:
            bn = getattr(blk, name)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
    return blk


def train_pass(blk, X, G):
    """One training-mode forward and backward of sum(out * G): out, grads, intermediates."""
    blk = copy.deepcopy(blk).train()
    X = X.clone().requires_grad_(True)
    seen = {}
    hooks = [getattr(blk, n).register_forward_hook(
        lambda _m, _i, o, n=n: seen.__setitem__(n + "_out", o.detach().clone()))
        for n in ("conv1", "bn1", "conv2", "bn2", "conv3") if getattr(blk, n) is not None]
    out = blk(X)
    (out * G).sum().backward()
    for h in hooks:
        h.remove()
    grads = {"X": X.grad}
    grads.update({n: p.grad for n, p in blk.named_parameters()})
    return out.detach(), grads, seen, blk


def bn_stats(blk, after, seen):
    """Batch mean and biased variance of each BatchNorm's input, and the running stats after."""
    inputs = {"bn1": seen["conv1_out"], "bn2": seen["conv2_out"]}
    stats = {}
    for n in BN:
        x = inputs[n]
        stats[n] = {
            "batch_mean": enc(x.mean(dim=(0, 2, 3))),
            "batch_var_biased": enc(x.var(dim=(0, 2, 3), unbiased=False)),
            "running_mean_after": enc(getattr(after, n).running_mean),
            "running_var_after": enc(getattr(after, n).running_var),
        }
    return stats


def numpy_forward(p, X, c, training):
    """The block in float64 NumPy, independent of torch's kernels."""
    def conv(x, w, b, stride, pad):
        n, ci, h, wd = x.shape
        co, _, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
        y = np.zeros((n, co, oh, ow))
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
                y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
        return y + b[None, :, None, None]

    def bn(x, name):
        if training:
            m, v = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        else:
            m, v = p[name + ".running_mean"], p[name + ".running_var"]
        xh = (x - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + 1e-5)
        return xh * p[name + ".weight"][None, :, None, None] + p[name + ".bias"][None, :, None, None]

    s = c["strides"]
    y = np.maximum(bn(conv(X, p["conv1.weight"], p["conv1.bias"], s, 1), "bn1"), 0)
    y = bn(conv(y, p["conv2.weight"], p["conv2.bias"], 1, 1), "bn2")
    if c["use_1x1conv"]:
        X = conv(X, p["conv3.weight"], p["conv3.bias"], s, 0)
    return np.maximum(y + X, 0)


def checks(blk, X, G, c, out32, grads32, out64, grads64):
    """Max |diff| of the float32 and float64 results against NumPy and finite differences."""
    p = {k: v.detach().double().numpy() for k, v in blk.state_dict().items()}
    x = X.double().numpy()
    g = G.double().numpy()
    res = {}
    for mode, training in (("eval", False), ("train", True)):
        ref = numpy_forward(p, x, c, training)
        res[f"f32_out_{mode}_maxabs_vs_numpy"] = float(np.abs(out32[mode].numpy() - ref).max())
        res[f"f64_out_{mode}_maxabs_vs_numpy"] = float(np.abs(out64[mode].numpy() - ref).max())
    loss = lambda pp, xx: float((numpy_forward(pp, xx, c, True) * g).sum())  # noqa: E731
    h = 1e-6
    fd_x = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        a, b = x.copy(), x.copy()
        a[i] += h
        b[i] -= h
        fd_x[i] = (loss(p, a) - loss(p, b)) / (2 * h)
    fd_w = np.zeros_like(p["conv1.weight"])
    for i in np.ndindex(fd_w.shape):
        a, b = dict(p), dict(p)
        a["conv1.weight"] = p["conv1.weight"].copy()
        b["conv1.weight"] = p["conv1.weight"].copy()
        a["conv1.weight"][i] += h
        b["conv1.weight"][i] -= h
        fd_w[i] = (loss(a, x) - loss(b, x)) / (2 * h)
    for key, fd in (("X", fd_x), ("conv1.weight", fd_w)):
        res[f"f32_grad_{key}_maxabs_vs_finite_diff"] = float(np.abs(grads32[key].numpy() - fd).max())
        res[f"f64_grad_{key}_maxabs_vs_finite_diff"] = float(np.abs(grads64[key].numpy() - fd).max())
        res[f"grad_{key}_maxabs_value"] = float(np.abs(fd).max())
    return res


def golden(c):
    blk = make_block(c)
    X = torch.rand(4, c["input_channels"], 6, 6)
    with torch.no_grad():
        out_eval = copy.deepcopy(blk).eval()(X)
    G = torch.randn(out_eval.shape)
    out_train, grads, seen, after = train_pass(blk, X, G)
    blk64 = copy.deepcopy(blk).double()
    with torch.no_grad():
        out_eval64 = copy.deepcopy(blk64).eval()(X.double())
    out_train64, grads64, _, _ = train_pass(blk64, X.double(), G.double())
    desc = (f"d2l Residual({c['input_channels']}, {c['num_channels']}, "
            f"use_1x1conv={c['use_1x1conv']}, strides={c['strides']}); "
            "BatchNorm eps=1e-5, momentum=0.1")
    return {
        "description": desc,
        "torch_version": torch.__version__,
        "generation": "torch.manual_seed(0); blk = Residual(...) (default PyTorch conv init); "
        "for bn in (bn1, bn2): weight.uniform_(0.5,1.5), bias.uniform_(-0.5,0.5), "
        "running_mean.uniform_(-0.2,0.2), running_var.uniform_(0.5,1.5); "
        "X = torch.rand(4,cin,6,6); G = torch.randn(out_shape)",
        "config": {**c, "bn_eps": 1e-5, "bn_momentum": 0.1},
        "X": enc(X),
        "G": enc(G),
        "params": {k: enc(v) for k, v in blk.state_dict().items() if "num_batches" not in k},
        "out_eval": enc(out_eval),
        "out_train": enc(out_train),
        "grads_train": {k: enc(v) for k, v in grads.items()},
        "bn_train_stats": bn_stats(blk, after, seen),
        "intermediates_train": {k: enc(v) for k, v in seen.items()},
        "f64": {
            "out_eval": enc(out_eval64),
            "out_train": enc(out_train64),
            "grads_train": {k: enc(v) for k, v in grads64.items()},
        },
        "checks": checks(blk, X, G, c, {"eval": out_eval, "train": out_train}, grads,
                         {"eval": out_eval64, "train": out_train64}, grads64),
    }


if __name__ == "__main__":
    out = out_dir(sys.argv)
    for name, c in CASES.items():
        write_json(name, golden(c), out)
