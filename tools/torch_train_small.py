#!/usr/bin/env python3
"""Trains a small d2l ResNet in PyTorch and writes the test fixture for issue 6 (item 3).

The network is d2l's own code ("Modern Convolutional Neural Networks", ResNet): Residual,
resnet_block and nn.Sequential(b1, b2, b3, b4, b5, AdaptiveAvgPool2d, Flatten, Linear), with
d2l's init_weights (Xavier-uniform conv and linear weights) and train_ch6's SGD (lr 0.05, batch
256), on the real Fashion-MNIST (pixels / 255). After training it records PyTorch's eval-mode
test accuracy at 28x28 and after a bilinear resize (half-pixel centres) to 40x40, and saves the
state_dict as safetensors (written by hand: the safetensors package is not needed).

Run from the repository root (needs python3-torch; CI does not run this):

    /usr/bin/python3 tools/torch_train_small.py [--width 8] [--stages 1,1,1,1] [--epochs 1]

Outputs tests/fixtures/torch_w{W}_s{S}.safetensors and tests/fixtures/torch_w{W}_s{S}.json.
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import sys

import torch
from torch import nn
from torch.nn import functional as F

# d2l's Residual and resnet_block, written once for the benchmark and reused here.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_reference import resnet_block  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def resnet(width, stages, in_channels=1, num_classes=10):
    b1 = nn.Sequential(nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(width), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    chans = [width, width, width * 2, width * 4, width * 8]
    blocks = [nn.Sequential(*resnet_block(chans[i], chans[i + 1], stages[i], first_block=i == 0))
              for i in range(4)]
    return nn.Sequential(b1, *blocks, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(width * 8, num_classes))


def init_weights(m):
    # d2l's train_ch6
    if type(m) == nn.Linear or type(m) == nn.Conv2d:
        nn.init.xavier_uniform_(m.weight)


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def save_safetensors(path, state, metadata):
    """The safetensors format by hand: u64 LE header length, JSON header, raw LE bytes."""
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name, t in state.items():
        t = t.detach().contiguous().cpu()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
    os.replace(tmp, path)


def evaluate(net, X, y, size):
    net.eval()
    correct, preds = 0, []
    with torch.no_grad():
        for i in range(0, len(X), 1000):
            xb = X[i:i + 1000]
            if size != 28:
                xb = F.interpolate(xb, size=(size, size), mode="bilinear", align_corners=False)
            p = net(xb).argmax(dim=1)
            preds.append(p)
            correct += int((p == y[i:i + 1000]).sum())
    return correct, torch.cat(preds).tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--stages", default="1,1,1,1")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="tests/fixtures")
    ap.add_argument("--size", type=int, default=28,
                    help="train at this input size (bilinear resize, half-pixel centres)")
    ap.add_argument("--per-epoch", action="store_true",
                    help="test accuracy at --size after every epoch, as d2l's train_ch6 prints")
    a = ap.parse_args()
    stages = [int(s) for s in a.stages.split(",")]
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)

    Xtr = torch.tensor(read_idx("train-images-idx3-ubyte.gz"), dtype=torch.float32)[:, None] / 255
    ytr = torch.tensor(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    Xte = torch.tensor(read_idx("t10k-images-idx3-ubyte.gz"), dtype=torch.float32)[:, None] / 255
    yte = torch.tensor(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))

    net = resnet(a.width, stages)
    net.apply(init_weights)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.time()
    epochs = []
    for epoch in range(a.epochs):
        net.train()
        perm = torch.randperm(len(Xtr))
        total, n = 0.0, 0
        for i in range(0, len(Xtr), a.batch):
            idx = perm[i:i + a.batch]
            xb = Xtr[idx]
            if a.size != 28:
                xb = F.interpolate(xb, size=(a.size, a.size), mode="bilinear", align_corners=False)
            opt.zero_grad()
            loss = loss_fn(net(xb), ytr[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
            n += len(idx)
        line = f"epoch {epoch + 1}: train loss {total / n:.4f} ({time.time() - t0:.1f} s)"
        rec = {"epoch": epoch + 1, "train_loss": total / n, "seconds": round(time.time() - t0, 1)}
        if a.per_epoch:
            correct, _ = evaluate(net, Xte, yte, a.size)
            rec["test_acc"] = correct / len(yte)
            line += f", test acc {correct / len(yte):.4f}"
        epochs.append(rec)
        print(line, flush=True)

    results = {}
    for size in (28, 40):
        correct, preds = evaluate(net, Xte, yte, size)
        # One digit per test image: the predicted class, in file order.
        results[str(size)] = {"accuracy": correct / len(yte), "correct": correct, "n": len(yte),
                              "predictions": "".join(map(str, preds))}
        print(f"test accuracy at {size}x{size}: {correct / len(yte):.4f} ({correct}/{len(yte)})")

    name = f"torch_w{a.width}_s{''.join(map(str, stages))}"
    os.makedirs(a.out, exist_ok=True)
    meta = {"format": "pt", "stages": ",".join(map(str, stages)), "width": str(a.width),
            "arch": f"d2l ResNet, width {a.width}, stages {a.stages}, 1 input channel, 10 classes"}
    save_safetensors(os.path.join(a.out, name + ".safetensors"), net.state_dict(), meta)
    record = {
        "made_by": "tools/torch_train_small.py",
        "torch": torch.__version__,
        "config": {"width": a.width, "stages": stages, "epochs": a.epochs, "lr": a.lr,
                   "batch": a.batch, "seed": a.seed, "size": a.size},
        "epochs": epochs,
        "preprocessing": "pixels / 255; sizes other than 28: F.interpolate bilinear, "
                         "align_corners=False (half-pixel centres)",
        "eval": results,
        "train_seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(a.out, name + ".json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
