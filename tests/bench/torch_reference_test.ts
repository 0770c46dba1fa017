/**
 * bench/torch_reference.py builds the network the native rows run: with `--describe` it prints
 * the trainable parameters and the forward multiply-adds (forward hooks on every Conv2d and
 * Linear) of the PyTorch network it would time, which must equal lib/model/shapes.ts'
 * `countParams` and bench/flops.ts' `forwardMacs` for the same options: torchvision's own ResNet
 * class with the 1-channel 7x7/2 bias-free stem and 10 outputs (the bench's), the model zoo's
 * resnet50 and resnext50_32x4d, a tiny bottleneck net, d2l's ResNet-18, and both forms with the
 * cifar stem (d2l's at width 16 is `deno task train --recipe fast`'s network). Ignored without a
 * python3 that imports torch and torchvision.
 */
import assert from "node:assert/strict";
import { findTorchPython } from "../../bench/environment.ts";
import { forwardMacs } from "../../bench/flops.ts";
import type { ResNetOptions } from "../../lib/model/resnet.ts";
import { countParams } from "../../lib/model/shapes.ts";

const SCRIPT = new URL("../../bench/torch_reference.py", import.meta.url).pathname;
const python = await findTorchPython();
const torchvision = python !== null &&
  (await new Deno.Command(python, { args: ["-c", "import torchvision"], stderr: "null" }).output())
    .success;
const why = python === null ? "no python3 with PyTorch" : "no torchvision";

async function script(args: string[]) {
  const out = await new Deno.Command(python!, { args: [SCRIPT, ...args] }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const ZOO = { inChannels: 3, numClasses: 1000 };
const CASES: [string[], ResNetOptions, number][] = [
  [["--arch", "torchvision", "--depth", "50"], { depth: 50, arch: "torchvision" }, 28],
  [["--arch", "torchvision", "--depth", "50"], { depth: 50, arch: "torchvision" }, 96],
  [
    ["--arch", "torchvision", "--depth", "50", "--in-channels", "3", "--classes", "1000"],
    { depth: 50, arch: "torchvision", ...ZOO },
    224,
  ],
  [
    [
      ...["--arch", "torchvision", "--depth", "50", "--groups", "32", "--width-per-group", "4"],
      ...["--in-channels", "3", "--classes", "1000"],
    ],
    { depth: 50, arch: "torchvision", groups: 32, widthPerGroup: 4, ...ZOO },
    224,
  ],
  [["--arch", "torchvision", "--depth", "18"], { depth: 18, arch: "torchvision" }, 28],
  [
    ["--arch", "torchvision", "--stages", "1,1,1,1", "--width", "8", "--block", "bottleneck"],
    { stages: [1, 1, 1, 1], width: 8, block: "bottleneck", arch: "torchvision" },
    16,
  ],
  [["--depth", "18"], { depth: 18 }, 28],
  [["--stem", "cifar", "--width", "16"], { depth: 18, width: 16, stem: "cifar" }, 28],
  [["--stages", "1,2,1,1", "--width", "8"], { stages: [1, 2, 1, 1], width: 8 }, 28],
  [
    ["--arch", "torchvision", "--stem", "cifar", "--width", "16"],
    { depth: 18, width: 16, stem: "cifar", arch: "torchvision" },
    28,
  ],
];

for (const [args, model, size] of CASES) {
  Deno.test({
    name: `torch_reference.py ${args.join(" ")} --size ${size}: our parameters and FLOPs` +
      (torchvision ? "" : ` (ignored: ${why})`),
    ignore: !torchvision,
    async fn() {
      const r = await script([...args, "--size", `${size}`, "--describe"]);
      assert.equal(r.code, 0, r.stderr);
      const got = JSON.parse(r.stdout);
      assert.equal(got.params, countParams(model));
      assert.equal(got.macs, forwardMacs(model, size));
      // torchvision's documented resnet50: 25,557,032 parameters, 4.09 GMAC.
      if (size === 224 && !model.groups) {
        assert.deepEqual(got, { params: 25_557_032, macs: 4_089_184_256 });
      }
      // `deno task shapes --stem cifar --width 16`'s total.
      if (model.stem === "cifar" && model.arch !== "torchvision") {
        assert.equal(got.params, 701_930);
      }
    },
  });
}

Deno.test({
  name: "torch_reference.py: d2l's code refuses what it does not build" +
    (torchvision ? "" : ` (ignored: ${why})`),
  ignore: !torchvision,
  async fn() {
    const d2l50 = await script(["--depth", "50", "--describe"]);
    assert.equal(d2l50.code, 2);
    assert.match(d2l50.stderr, /use --arch torchvision for the others/);
    const bottleneck = await script(["--stages", "1,1,1,1", "--block", "bottleneck", "--describe"]);
    assert.equal(bottleneck.code, 2);
    assert.match(bottleneck.stderr, /d2l's code here is a basic-block ResNet/);
  },
});
