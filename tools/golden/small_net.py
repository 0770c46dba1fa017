#!/usr/bin/env python3
"""Makes tests/golden/small_w8_s1111.safetensors and .json: a whole d2l ResNet of width 8 with one
residual block per stage, its state_dict (PyTorch's key names), and its logits for the first 8
Fashion-MNIST test images in inference and training mode, at 28x28 and after a bilinear resize
to 40x40 (F.interpolate, align_corners=False). tests/golden/README.md describes the keys.

    /usr/bin/python3 tools/golden/small_net.py [--out DIR]
    (needs Debian's python3-torch and dataset-fashion-mnist)
"""
import copy
import os
import sys

import torch
from torch import nn
from torch.nn import functional as F

from common import enc, out_dir, write_json
from torch_train_small import init_weights, read_idx, resnet, save_safetensors

WIDTH, STAGES, NAME = 8, [1, 1, 1, 1], "small_w8_s1111"


def make_net():
    """Seed 1; d2l's Xavier-uniform conv and linear weights (train_ch6), PyTorch's default biases,
    random BatchNorm parameters and statistics, so that inference mode tests them."""
    torch.manual_seed(1)
    net = resnet(WIDTH, STAGES)
    net.apply(init_weights)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    return net


def logits(net, x, training):
    """Logits of a copy (a training-mode pass would move the running statistics)."""
    net = copy.deepcopy(net).train(training)
    with torch.no_grad():
        return net(x)


if __name__ == "__main__":
    out = out_dir(sys.argv)
    net = make_net()
    x = torch.tensor(read_idx("t10k-images-idx3-ubyte.gz")[:8], dtype=torch.float32)[:, None] / 255
    labels = read_idx("t10k-labels-idx1-ubyte.gz")[:8].tolist()
    x40 = F.interpolate(x, size=(40, 40), mode="bilinear", align_corners=False)
    os.makedirs(out, exist_ok=True)
    meta = {"arch": f"d2l ResNet, width {WIDTH}, stages {','.join(map(str, STAGES))}, "
                    "1 input channel, 10 classes"}
    save_safetensors(os.path.join(out, NAME + ".safetensors"), net.state_dict(), meta)
    write_json(NAME + ".json", {
        "config": {"width": WIDTH, "stages": STAGES, "in_channels": 1, "num_classes": 10,
                   "bn_eps": 1e-5, "bn_momentum": 0.1},
        "labels": labels,
        "input_28": enc(x),
        "logits_eval_28": enc(logits(net, x, False)),
        "logits_train_28": enc(logits(net, x, True)),
        "logits_eval_40": enc(logits(net, x40, False)),
        "logits_train_40": enc(logits(net, x40, True)),
    }, out)
