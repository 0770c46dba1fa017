#!/usr/bin/env python3
"""d2l's ResNet (or torchvision's) in PyTorch, timed the way bench/bench.ts times ours.

The default model is d2l's published code ("Dive into Deep Learning", chapter "Modern
Convolutional Neural Networks", section ResNet): ``Residual``, ``resnet_block`` and the b1..b5
network, with ``train_ch6``'s Xavier-uniform initialisation of conv and linear weights and its SGD
step (cross-entropy loss, zero_grad, backward, step; the accuracy count under no_grad). ``--stages``
re-stages it, ``--width`` scales its channels (width, 2w, 4w, 8w) and ``--stem cifar`` makes b1 a
3x3 stride-1 conv, BN and ReLU without the max pool: the network of ``deno task train --recipe
fast`` (``--stem cifar --width 16``), so that it too has a PyTorch row.

With ``--arch torchvision`` it is torchvision's own ``ResNet`` class (``BasicBlock`` or
``Bottleneck``, ``groups`` and ``width_per_group`` for ResNeXt, its own initialisation), adapted
to Fashion-MNIST the common way: ``conv1`` a 1-channel 7x7 stride-2 bias-free conv, ``fc`` with 10
outputs (``--in-channels`` and ``--classes`` change them; 3 and 1000 give the model zoo's network).
A ``--width`` other than 64 rebuilds the stages with torchvision's own ``_make_layer``; ``--stem
cifar`` makes ``conv1`` a 3x3 stride-1 bias-free conv and ``maxpool`` an ``nn.Identity``.

With ``--channels-last`` the model's parameters and the input are in ``torch.channels_last``
memory format (NHWC in memory, the layout tfjs uses), which lets PyTorch pick its channels-last
CPU kernels; the training step is the same. Its rows are "torch-cl".

With ``--eval`` a step is one batch of d2l's test pass instead (``evaluate_accuracy_gpu``:
``net.eval()``, then under ``torch.no_grad()`` the forward pass and the count of correct
predictions), the pass that follows every epoch; the input is already at its size (d2l's data
loader resizes on the CPU, outside the timed loop).

Prints one JSON object on stdout:
{"impl": "torch" or "torch-cl", "task": "train" or "eval", "arch", "depth", "stages", "width",
 "stem", "size", "batch", "examples_per_sec", "first_step_s", "steps", "seconds", "peak_rss_mb",
 "threads", "params", "version"}
With ``--describe`` it times nothing and prints {"params", "macs"}: the trainable parameters and
the forward pass's multiply-adds of every Conv2d and Linear for one image at ``--size`` (counted by
forward hooks), which tests/bench/ compares with bench/flops.ts and lib/model/shapes.ts.

Usage: python3 bench/torch_reference.py [--depth 18 | --stages 2,2,2,2] [--width 64]
       [--stem d2l|cifar] [--size 28] [--batch 64] [--seconds 20] [--warmup 2] [--threads 2]
       [--channels-last] [--eval]
       [--arch torchvision [--block bottleneck] [--groups 1] [--width-per-group 64]
        [--in-channels 1] [--classes 10]] [--describe]
"""
import argparse
import json
import resource
import sys
import time

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as e:  # the caller turns this into a "skipped" row
    print(f"error: PyTorch is not installed ({e}); on Debian: apt-get install python3-torch",
          file=sys.stderr)
    sys.exit(3)


class Residual(nn.Module):
    """d2l's residual block."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1,
                               stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    """d2l's resnet_block."""
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def resnet(stages, width=64, stem="d2l"):
    """d2l's ResNet-18 (b1..b5, global average pool, flatten, linear) with `stages` residual blocks
    per stage (ResNet-34: 3,4,6,3) and `width` channels in b2 (d2l's 64), doubling in b3..b5. The
    cifar stem keeps the 28x28 input's resolution in b2 (a 3x3/1 conv, no max pool)."""
    s, w = stages, width
    if stem == "cifar":
        b1 = nn.Sequential(nn.Conv2d(1, w, kernel_size=3, stride=1, padding=1),
                           nn.BatchNorm2d(w), nn.ReLU())
    else:
        b1 = nn.Sequential(nn.Conv2d(1, w, kernel_size=7, stride=2, padding=3),
                           nn.BatchNorm2d(w), nn.ReLU(),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(w, w, s[0], first_block=True))
    b3 = nn.Sequential(*resnet_block(w, 2 * w, s[1]))
    b4 = nn.Sequential(*resnet_block(2 * w, 4 * w, s[2]))
    b5 = nn.Sequential(*resnet_block(4 * w, 8 * w, s[3]))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(8 * w, 10))


def init_weights(m):
    """train_ch6's initialisation."""
    if type(m) == nn.Linear or type(m) == nn.Conv2d:
        nn.init.xavier_uniform_(m.weight)


def d2l_net(stages, width=64, stem="d2l"):
    """d2l's ResNet (see `resnet`) with train_ch6's initialisation."""
    net = resnet(stages, width, stem)
    net.apply(init_weights)
    return net


# torchvision's resnet18 .. resnet152 layouts (its resnet.py), by depth.
TV_STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
             152: (3, 8, 36, 3)}


def torchvision_net(stages, block="bottleneck", width=64, groups=1, width_per_group=64,
                    in_channels=1, classes=10, stem="d2l"):
    """torchvision's own ResNet class, conv1 an `in_channels`-channel 7x7/2 bias-free conv and fc
    with `classes` outputs (the common Fashion-MNIST adaptation), initialised as its __init__
    does; a width other than 64 rebuilds the stages with its own _make_layer. The cifar stem is
    the usual CIFAR adaptation: conv1 3x3/1 (bias-free, as torchvision's) and no max pool."""
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
    kind = Bottleneck if block == "bottleneck" else BasicBlock
    net = ResNet(kind, list(stages), num_classes=classes, groups=groups,
                 width_per_group=width_per_group)
    if stem == "cifar":
        net.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
    if width != 64:
        net.inplanes = width
        net.bn1 = nn.BatchNorm2d(width)
        net.layer1 = net._make_layer(kind, width, stages[0])
        net.layer2 = net._make_layer(kind, width * 2, stages[1], stride=2)
        net.layer3 = net._make_layer(kind, width * 4, stages[2], stride=2)
        net.layer4 = net._make_layer(kind, width * 8, stages[3], stride=2)
        net.fc = nn.Linear(width * 8 * kind.expansion, classes)
    for m in net.modules():  # torchvision's ResNet.__init__, for the replaced layers too
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    return net


def _net(model):
    """A network: `model` is d2l's depth (18 or 34) or a function that builds one."""
    return d2l_net(STAGES[model]) if isinstance(model, int) else model()


def training_step(model, size, batch, lr, channels_last=False, in_channels=1, classes=10):
    """train_ch6's step on a fixed random batch: returns (step, net, X); seed 0. `model`: d2l's
    depth, or a function that builds the network."""
    torch.manual_seed(0)
    net = _net(model)
    net.train()
    X = torch.rand(batch, in_channels, size, size)
    if channels_last:
        # Before the optimizer is made: .to() re-lays the parameters out in place.
        net = net.to(memory_format=torch.channels_last)
        X = X.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    y = torch.randint(0, classes, (batch,))

    def step():
        # train_ch6's body.
        optimizer.zero_grad()
        y_hat = net(X)
        l = loss(y_hat, y)
        l.backward()
        optimizer.step()
        with torch.no_grad():
            correct = float((y_hat.argmax(axis=1) == y).sum())
        return float(l), correct

    return step, net, X


def eval_step(model, size, batch, channels_last=False, in_channels=1, classes=10):
    """One batch of evaluate_accuracy_gpu on a fixed random batch: returns (step, net, X)."""
    torch.manual_seed(0)
    net = _net(model)
    net.eval()
    X = torch.rand(batch, in_channels, size, size)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        X = X.to(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (batch,))

    def step():
        with torch.no_grad():
            y_hat = net(X)
            # d2l.accuracy
            return float((y_hat.argmax(axis=1).type(y.dtype) == y).sum())

    return step, net, X


def count_params(net):
    """Trainable parameters (BatchNorm's running statistics are buffers, not counted)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def forward_macs(net, in_channels, size):
    """Multiply-adds of every Conv2d and Linear in one image's forward pass (forward hooks)."""
    total = [0]

    def hook(m, _inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            total[0] += out.numel() * k * m.in_channels // m.groups
        else:
            total[0] += m.in_features * m.out_features

    hooks = [m.register_forward_hook(hook) for m in net.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear))]
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, in_channels, size, size))
    for h in hooks:
        h.remove()
    return total[0]


def stage_list(v):
    """`a,b,c,d`: four positive integers."""
    s = [int(x) for x in v.split(",")]
    if len(s) != 4 or min(s) < 1:
        raise argparse.ArgumentTypeError(f"{v}: give four positive integers")
    return s


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="d2l", choices=["d2l", "torchvision"])
    p.add_argument("--depth", type=int, default=18, choices=sorted(TV_STAGES),
                   help="d2l: 18 or 34; torchvision: 18, 34, 50, 101, 152")
    p.add_argument("--stages", type=stage_list, help="blocks per stage (over --depth)")
    p.add_argument("--block", choices=["basic", "bottleneck"],
                   help="torchvision: default the depth's (50 and up: bottleneck); d2l: basic")
    p.add_argument("--width", type=int, default=64, help="channels of the stem and b2")
    p.add_argument("--stem", default="d2l", choices=["d2l", "cifar"],
                   help="d2l (7x7/2 conv, 3x3/2 max pool) or cifar (3x3/1 conv, no max pool)")
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--width-per-group", type=int, default=64)
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--channels-last", action="store_true",
                   help="model and input in torch.channels_last memory format")
    p.add_argument("--eval", action="store_true",
                   help="time batches of the test pass (inference) instead of training steps")
    p.add_argument("--describe", action="store_true",
                   help="print the parameters and forward multiply-adds, time nothing")
    a = p.parse_args()
    tv_only = a.block == "bottleneck" or a.groups != 1 or a.width_per_group != 64 or \
        a.in_channels != 1 or a.classes != 10
    if a.arch == "d2l" and ((a.stages is None and a.depth not in STAGES) or tv_only):
        p.error("d2l's code here is a basic-block ResNet (--depth 18 or 34, or --stages), "
                "1 channel, 10 classes: use --arch torchvision for the others")
    return a


def model_of(a):
    """The network builder of the flags: d2l's or torchvision's."""
    if a.arch == "d2l":
        stages = a.stages or STAGES[a.depth]
        return lambda: d2l_net(stages, a.width, a.stem)
    stages = a.stages or TV_STAGES[a.depth]
    block = a.block or ("bottleneck" if a.stages is None and a.depth >= 50 else "basic")
    return lambda: torchvision_net(stages, block, a.width, a.groups, a.width_per_group,
                                   a.in_channels, a.classes, a.stem)


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    model = model_of(a)
    if a.describe:
        torch.manual_seed(0)
        net = _net(model)
        print(json.dumps({"params": count_params(net),
                          "macs": forward_macs(net, a.in_channels, a.size)}))
        return
    io = {"in_channels": a.in_channels, "classes": a.classes}
    if a.eval:
        step, net, _ = eval_step(model, a.size, a.batch, a.channels_last, **io)
    else:
        step, net, _ = training_step(model, a.size, a.batch, a.lr, a.channels_last, **io)

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    for _ in range(a.warmup):
        step()
    steps = 0
    t0 = time.perf_counter()
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= a.seconds and steps >= 2:
            break
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    version = f"torch {torch.__version__}"
    if a.arch == "torchvision":
        import torchvision
        version += f", torchvision {torchvision.__version__}"
    print(json.dumps({
        "impl": "torch-cl" if a.channels_last else "torch", "task": "eval" if a.eval else "train",
        "arch": a.arch, "depth": a.depth, "stages": a.stages, "width": a.width, "stem": a.stem,
        "size": a.size, "batch": a.batch, "examples_per_sec": steps * a.batch / elapsed,
        "first_step_s": first, "steps": steps, "seconds": elapsed, "peak_rss_mb": rss_kb / 1024, "threads": a.threads,
        "params": count_params(net), "version": version,
    }))


if __name__ == "__main__":
    main()
