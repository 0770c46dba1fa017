#!/usr/bin/env python3
"""Makes tests/golden/resnet_shapes.json: d2l's ResNet-18 output shape after each of b1's layers,
b2..b5, the pool, flatten and linear, traced by PyTorch at 224, 96 and 28 pixels, and the
parameter counts of ResNet-18 and -34 with their breakdown (d2l's convs keep their biases, so
these differ from torchvision's).

    /usr/bin/python3 tools/golden/shapes.py [--out DIR]   (needs Debian's python3-torch)
"""
import sys

import torch
from torch import nn

from common import out_dir, write_json
from torch_train_small import resnet  # d2l's network: b1, b2..b5, pool, flatten, linear

SIZES = (224, 96, 28)
STAGES = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3]}


def trace(net, size):
    """The shape after b1's four layers, each stage and the head, for a 1x1xSxS input."""
    names = ["b1", "b2", "b3", "b4", "b5"]
    rows, x = [], torch.zeros(1, 1, size, size)
    with torch.no_grad():
        for i, m in enumerate(net):
            if i == 0:
                for j, layer in enumerate(m):
                    x = layer(x)
                    rows.append({"name": f"b1.{j}", "layer": type(layer).__name__,
                                 "shape": list(x.shape)})
                continue
            x = m(x)
            name = names[i] if i < len(names) else type(m).__name__
            rows.append({"name": name, "layer": type(m).__name__, "shape": list(x.shape)})
    return rows


def counts(net):
    """Parameter counts by kind."""
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    linear = [m for m in net.modules() if isinstance(m, nn.Linear)]
    return {
        "parameters": sum(p.numel() for p in net.parameters()),
        "conv_weights": sum(m.weight.numel() for m in convs),
        "conv_biases": sum(m.bias.numel() for m in convs),
        "bn_gamma_beta": sum(m.weight.numel() + m.bias.numel() for m in bns),
        "linear": sum(p.numel() for m in linear for p in m.parameters()),
        "bn_running_stat_buffers": sum(m.running_mean.numel() + m.running_var.numel() for m in bns),
        "num_conv2d": len(convs),
        "num_residual_blocks": sum(1 for m in net.modules() if type(m).__name__ == "Residual"),
    }


if __name__ == "__main__":
    net18 = resnet(64, STAGES["resnet18"]).eval()
    write_json("resnet_shapes.json", {
        "note": "d2l ResNet, in_channels=1, num_classes=10; shapes are NCHW; conv layers have "
        "bias=True (d2l), so counts differ from torchvision",
        "shapes": {f"1x1x{s}x{s}": trace(net18, s) for s in SIZES},
        "param_count": {k: counts(resnet(64, v)) for k, v in STAGES.items()},
    }, out_dir(sys.argv))
