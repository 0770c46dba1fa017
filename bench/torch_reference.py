#!/usr/bin/env python3
"""d2l's ResNet in PyTorch, timed the way bench/bench.ts times ours: training steps per second.

The model is d2l's published code ("Dive into Deep Learning", chapter "Modern Convolutional
Neural Networks", section ResNet): ``Residual``, ``resnet_block`` and the b1..b5 network, with
``train_ch6``'s Xavier-uniform initialisation of conv and linear weights and its SGD step
(cross-entropy loss, zero_grad, backward, step; the accuracy count under no_grad).

With ``--channels-last`` the model's parameters and the input are in ``torch.channels_last``
memory format (NHWC in memory, the layout tfjs uses), which lets PyTorch pick its channels-last
CPU kernels; the training step is the same. Its rows are "torch-cl".

With ``--eval`` a step is one batch of d2l's test pass instead (``evaluate_accuracy_gpu``:
``net.eval()``, then under ``torch.no_grad()`` the forward pass and the count of correct
predictions), the pass that follows every epoch; the input is already at its size (d2l's data
loader resizes on the CPU, outside the timed loop).

Prints one JSON object on stdout:
{"impl": "torch" or "torch-cl", "task": "train" or "eval", "depth", "size", "batch", "examples_per_sec",
 "first_step_s", "steps", "seconds", "peak_rss_mb", "threads", "version"}

Usage: python3 bench/torch_reference.py [--depth 18] [--size 28] [--batch 64] [--seconds 20]
       [--warmup 2] [--threads 2] [--channels-last] [--eval]
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


def resnet(depth=18):
    """d2l's ResNet-18 (b1..b5, global average pool, flatten, linear); depth 34 re-stages it."""
    s = STAGES[depth]
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(64, 64, s[0], first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, s[1]))
    b4 = nn.Sequential(*resnet_block(128, 256, s[2]))
    b5 = nn.Sequential(*resnet_block(256, 512, s[3]))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(512, 10))


def init_weights(m):
    """train_ch6's initialisation."""
    if type(m) == nn.Linear or type(m) == nn.Conv2d:
        nn.init.xavier_uniform_(m.weight)


def training_step(depth, size, batch, lr, channels_last=False):
    """train_ch6's step on a fixed random batch: returns (step, net, X); seed 0."""
    torch.manual_seed(0)
    net = resnet(depth)
    net.apply(init_weights)
    net.train()
    X = torch.rand(batch, 1, size, size)
    if channels_last:
        # Before the optimizer is made: .to() re-lays the parameters out in place.
        net = net.to(memory_format=torch.channels_last)
        X = X.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    y = torch.randint(0, 10, (batch,))

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


def eval_step(depth, size, batch, channels_last=False):
    """One batch of evaluate_accuracy_gpu on a fixed random batch: returns (step, net, X)."""
    torch.manual_seed(0)
    net = resnet(depth)
    net.apply(init_weights)
    net.eval()
    X = torch.rand(batch, 1, size, size)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        X = X.to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def step():
        with torch.no_grad():
            y_hat = net(X)
            # d2l.accuracy
            return float((y_hat.argmax(axis=1).type(y.dtype) == y).sum())

    return step, net, X


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--depth", type=int, default=18, choices=sorted(STAGES))
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
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    if a.eval:
        step, _, _ = eval_step(a.depth, a.size, a.batch, a.channels_last)
    else:
        step, _, _ = training_step(a.depth, a.size, a.batch, a.lr, a.channels_last)

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
    print(json.dumps({
        "impl": "torch-cl" if a.channels_last else "torch", "task": "eval" if a.eval else "train",
        "depth": a.depth, "size": a.size,
        "batch": a.batch, "examples_per_sec": steps * a.batch / elapsed, "first_step_s": first,
        "steps": steps, "seconds": elapsed, "peak_rss_mb": rss_kb / 1024, "threads": a.threads,
        "version": f"torch {torch.__version__}",
    }))


if __name__ == "__main__":
    main()
