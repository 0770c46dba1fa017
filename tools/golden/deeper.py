#!/usr/bin/env python3
"""Makes the references of the deeper and wider networks (issue 25) in tests/golden/:

  deeper_<name>.safetensors   for each net of NETS: the input (4 Fashion-MNIST test images, NCHW),
                              labels, logits in inference and training mode, every parameter's
                              gradient of the mean cross-entropy (one SGD step's), and every
                              BatchNorm's running statistics after that training-mode pass; the
                              metadata holds the architecture and the state_dict's keys and shapes.
  tv_bottleneck_trained.safetensors + .json
                              a small torchvision Bottleneck ResNet trained briefly here, saved as
                              PyTorch's state_dict (no metadata of ours), with its predictions and
                              accuracy on the first N test images.

The nets are torchvision's own classes (torchvision.models.resnet.ResNet with Bottleneck, groups and
width_per_group; conv1 and fc replaced the common Fashion-MNIST way: a 1-channel 7x7/2 bias-free conv
and 10 outputs; the layers rebuilt by ResNet._make_layer at width 4), d2l's ResNeXtBlock (section
8.6.5, d2l's form) and He et al. (2016b)'s pre-activation block in d2l's form with the CIFAR stem.
Weights are not stored for the parity nets: every state_dict entry is set from the formula of
`formula_value` (tests/golden.ts computes the same), so the files hold only what PyTorch computed.

    /usr/bin/python3 tools/golden/deeper.py [--out DIR]
    (needs Debian's python3-torch, python3-torchvision and dataset-fashion-mnist)
"""
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models.resnet import Bottleneck, ResNet

from common import out_dir
from torch_train_small import read_idx, save_safetensors

WIDTH, STAGES, BATCH = 4, [1, 1, 1, 1], 4


def tv_net(groups, width_per_group, width=WIDTH, stages=STAGES):
    """torchvision's ResNet(Bottleneck, ...) at `width` (its own _make_layer), 1 channel, 10 classes."""
    net = ResNet(Bottleneck, list(stages), num_classes=10, groups=groups,
                 width_per_group=width_per_group)
    net.inplanes = width
    net.conv1 = nn.Conv2d(1, width, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(width)
    net.layer1 = net._make_layer(Bottleneck, width, stages[0])
    net.layer2 = net._make_layer(Bottleneck, width * 2, stages[1], stride=2)
    net.layer3 = net._make_layer(Bottleneck, width * 4, stages[2], stride=2)
    net.layer4 = net._make_layer(Bottleneck, width * 8, stages[3], stride=2)
    net.fc = nn.Linear(width * 8 * Bottleneck.expansion, 10)
    return net


class ResNeXtBlock(nn.Module):
    """d2l's ResNeXtBlock (8.6.5) with explicit input channels instead of lazy layers. Its `groups`
    is the channels per group: it passes groups=bot_channels // groups to the 3x3 conv."""

    def __init__(self, in_channels, num_channels, groups, bot_mul, use_1x1conv=False, strides=1):
        super().__init__()
        bot_channels = int(round(num_channels * bot_mul))
        self.conv1 = nn.Conv2d(in_channels, bot_channels, kernel_size=1, stride=1)
        self.conv2 = nn.Conv2d(bot_channels, bot_channels, kernel_size=3, stride=strides,
                               padding=1, groups=bot_channels // groups)
        self.conv3 = nn.Conv2d(bot_channels, num_channels, kernel_size=1, stride=1)
        self.bn1 = nn.BatchNorm2d(bot_channels)
        self.bn2 = nn.BatchNorm2d(bot_channels)
        self.bn3 = nn.BatchNorm2d(num_channels)
        if use_1x1conv:
            self.conv4 = nn.Conv2d(in_channels, num_channels, kernel_size=1, stride=strides)
            self.bn4 = nn.BatchNorm2d(num_channels)
        else:
            self.conv4 = None

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = F.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.conv4:
            X = self.bn4(self.conv4(X))
        return F.relu(Y + X)


class PreActBlock(nn.Module):
    """He et al. (2016b)'s full pre-activation block, d2l's form (convs with bias); the 1x1
    shortcut (when the stride or the channels change) takes the pre-activated input."""

    def __init__(self, in_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, num_channels, 3, stride=strides, padding=1)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, 3, padding=1)
        self.conv3 = (nn.Conv2d(in_channels, num_channels, 1, stride=strides)
                      if use_1x1conv else None)

    def forward(self, X):
        A = F.relu(self.bn1(X))
        shortcut = self.conv3(A) if self.conv3 else X
        Y = self.conv1(A)
        Y = self.conv2(F.relu(self.bn2(Y)))
        return Y + shortcut


def d2l_net(block, width=WIDTH, stages=STAGES, groups=1, width_per_group=64, cifar=False):
    """d2l's nn.Sequential(b1, ..., b5, [BN, ReLU,] pool, flatten, linear) of `block` blocks."""
    stem = ([nn.Conv2d(1, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU()] if cifar else
            [nn.Conv2d(1, width, 7, 2, 3), nn.BatchNorm2d(width), nn.ReLU(),
             nn.MaxPool2d(3, 2, 1)])
    expansion = 4 if block == "bottleneck" else 1
    layers, cin = [nn.Sequential(*stem)], width
    for i, n in enumerate(stages):
        planes = width * 2 ** i
        out = planes * expansion
        blocks = []
        for j in range(n):
            stride = 2 if i > 0 and j == 0 else 1
            proj = stride != 1 or cin != out
            if block == "bottleneck":
                mid = (planes * width_per_group // 64) * groups
                # d2l's arguments: groups = channels per group, bot_mul = mid / out.
                blocks.append(ResNeXtBlock(cin, out, mid // groups, mid / out, proj, stride))
            else:
                blocks.append(PreActBlock(cin, out, proj, stride))
            cin = out
        layers.append(nn.Sequential(*blocks))
    if block == "preact":
        layers += [nn.BatchNorm2d(cin), nn.ReLU()]
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


# name -> (builder, our options: what `new ResNet(...)` takes for the same network)
NETS = {
    "tv_bottleneck": (lambda: tv_net(1, 64),
                      {"arch": "torchvision", "block": "bottleneck"}),
    "tv_resnext": (lambda: tv_net(2, 32),
                   {"arch": "torchvision", "block": "bottleneck", "groups": 2,
                    "widthPerGroup": 32}),
    "d2l_resnext": (lambda: d2l_net("bottleneck", groups=2, width_per_group=32),
                    {"arch": "d2l", "block": "bottleneck", "groups": 2, "widthPerGroup": 32}),
    "d2l_preact_cifar": (lambda: d2l_net("preact", cifar=True),
                         {"arch": "d2l", "block": "preact", "stem": "cifar"}),
}


def formula_value(j, shape, is_bn, kind):
    """Entry j of the state_dict (float64, then float32): u = sin(0.731 i + 1.37 j + 0.1) at flat
    index i; conv and linear weights u * sqrt(3 / fan_in), biases 0.1 u, BatchNorm weight 1 + 0.3 u,
    bias 0.2 u, running mean 0.2 u, running variance 1 + 0.4 u."""
    n = int(np.prod(shape)) if shape else 1
    u = np.sin(0.731 * np.arange(n, dtype=np.float64) + 1.37 * j + 0.1)
    if kind == "running_mean":
        v = 0.2 * u
    elif kind == "running_var":
        v = 1 + 0.4 * u
    elif is_bn:
        v = 1 + 0.3 * u if kind == "weight" else 0.2 * u
    elif len(shape) >= 2:
        v = u * math.sqrt(3 / (n // shape[0]))
    else:
        v = 0.1 * u
    return torch.tensor(v.astype(np.float32).reshape(shape))


def set_formula_weights(net):
    state = net.state_dict()
    bn_prefixes = {k[: -len("running_mean")] for k in state if k.endswith("running_mean")}
    new = {}
    for j, (k, t) in enumerate(state.items()):
        if k.endswith("num_batches_tracked"):
            new[k] = torch.tensor(7)
            continue
        prefix, kind = k.rsplit(".", 1)
        new[k] = formula_value(j, list(t.shape), prefix + "." in bn_prefixes, kind)
    net.load_state_dict(new)


def reference(name, build, ours, x, y, out):
    torch.manual_seed(0)
    net = build()
    set_formula_weights(net)
    keys = [[k, list(t.shape)] for k, t in net.state_dict().items()]
    net.eval()
    with torch.no_grad():
        logits_eval = net(x)
    net.train()
    logits_train = net(x)
    loss = F.cross_entropy(logits_train, y)
    loss.backward()
    tensors = {"input": x, "labels": y, "logits_eval": logits_eval,
               "logits_train": logits_train.detach(), "loss": loss.detach().reshape(1)}
    for k, p in net.named_parameters():
        tensors["grad/" + k] = p.grad
    for k, t in net.state_dict().items():
        if k.endswith("running_mean") or k.endswith("running_var"):
            tensors["after/" + k] = t
    config = {**ours, "stages": STAGES, "width": WIDTH, "inChannels": 1, "numClasses": 10}
    meta = {"config": json.dumps(config), "keys": json.dumps(keys)}
    path = os.path.join(out, f"deeper_{name}.safetensors")
    save_safetensors(path, tensors, meta)
    print(f"wrote {path}", file=sys.stderr)


def trained(x_all, y_all, x_test, y_test, out, n_test=500):
    """A torchvision Bottleneck ResNet, width 4, trained 1 epoch on 6,000 training images."""
    torch.manual_seed(0)
    net = tv_net(1, 64)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net.train()
    for i in range(0, 6000, 64):
        opt.zero_grad()
        F.cross_entropy(net(x_all[i:i + 64]), y_all[i:i + 64]).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        logits = net(x_test[:n_test])
    pred = logits.argmax(1)
    save_safetensors(os.path.join(out, "tv_bottleneck_trained.safetensors"), net.state_dict(),
                     {"format": "pt"})
    doc = {"n": n_test, "correct": int((pred == y_test[:n_test]).sum()),
           "predictions": pred.tolist(), "logits_first8": logits[:8].reshape(-1).tolist()}
    with open(os.path.join(out, "tv_bottleneck_trained.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    out = out_dir(sys.argv)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    test_x = torch.tensor(read_idx("t10k-images-idx3-ubyte.gz"), dtype=torch.float32)[:, None] / 255
    test_y = torch.tensor(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    for name, (build, ours) in NETS.items():
        reference(name, build, ours, test_x[:BATCH], test_y[:BATCH], out)
    train_x = torch.tensor(read_idx("train-images-idx3-ubyte.gz")[:6000],
                           dtype=torch.float32)[:, None] / 255
    train_y = torch.tensor(read_idx("train-labels-idx1-ubyte.gz")[:6000].astype(np.int64))
    trained(train_x, train_y, test_x, test_y, out)
