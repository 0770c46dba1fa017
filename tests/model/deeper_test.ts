/**
 * Deeper and wider ResNets (issue 25): torchvision's parameter counts to the unit, every block in
 * both forms built for real (its variables equal the analytic count, its traced shapes the table),
 * the grouped convolution's composite against a dense convolution, zero-init of the residual
 * branches, and what the config accepts and refuses.
 */
import * as tf from "@tensorflow/tfjs-core";
import "../../lib/backends/setup.ts"; // the cpu backend and every gradient
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { groupedConv2d } from "../../lib/model/fused.ts";
import { keyMap, ResNet, type ResNetOptions, resolveConfig } from "../../lib/model/resnet.ts";
import { countParams, type ShapeRow, shapeTable } from "../../lib/model/shapes.ts";
import { assertClose } from "../golden.ts";

await initBackend("cpu");

const TORCHVISION = { arch: "torchvision", inChannels: 3, numClasses: 1000 } as const;

Deno.test("torchvision's parameter counts to the unit: resnet18..152 and resnext50_32x4d", () => {
  const counts: [ResNetOptions, number][] = [
    [{ depth: 18 }, 11_689_512],
    [{ depth: 34 }, 21_797_672],
    [{ depth: 50 }, 25_557_032],
    [{ depth: 101 }, 44_549_160],
    [{ depth: 152 }, 60_192_808],
    [{ depth: 50, groups: 32, widthPerGroup: 4 }, 25_028_904],
  ];
  for (const [model, count] of counts) {
    assert.equal(countParams({ ...model, ...TORCHVISION }), count, JSON.stringify(model));
  }
});

/** Which parameter names belong to a row of the table. */
function ownsParam(row: string, param: string): boolean {
  if (row === "dense") return param.startsWith("fc.");
  if (row.startsWith("b1.") || row === "b6") return param.startsWith(`${row}.`);
  return /^b[2-5]$/.test(row) && param.startsWith(`${row}.`);
}

/** The table a forward pass records (NCHW), with each row's parameters. */
function tracedRows(net: ResNet, size: number, batch: number, training: boolean): ShapeRow[] {
  const rows: ShapeRow[] = [];
  tf.tidy(() => {
    const x = tf.randomUniform([batch, size, size, net.config.inChannels]) as tf.Tensor4D;
    net.apply(x, {
      training,
      trace: (name, y) => {
        const s = y.shape;
        const shape = s.length === 4 ? [s[0], s[3], s[1], s[2]] : [...s];
        let params = 0;
        for (const [p, v] of net.params) if (v.trainable && ownsParam(name, p)) params += v.size;
        rows.push({ name, shape, params });
      },
    });
  });
  return rows;
}

const SMALL: ResNetOptions[] = [];
for (const arch of ["d2l", "torchvision"] as const) {
  SMALL.push(
    { arch, stages: [1, 2, 1, 1], width: 8 },
    { arch, stages: [1, 1, 2, 1], width: 8, block: "bottleneck" },
    { arch, stages: [1, 1, 1, 1], width: 8, block: "bottleneck", groups: 4, widthPerGroup: 32 },
    { arch, stages: [2, 1, 1, 1], width: 8, block: "preact", stem: "cifar" },
  );
}
for (const model of SMALL) {
  Deno.test(`a real net's variables and traced shapes equal the table: ${JSON.stringify(model)}`, () => {
    const before = tf.memory().numTensors;
    const net = new ResNet({ ...model, inChannels: 2, numClasses: 5 });
    const t = shapeTable({ ...model, inChannels: 2, numClasses: 5 }, { size: 20, batch: 3 });
    assert.equal(net.countParams(), t.params);
    for (const training of [false, true]) {
      assert.deepEqual(t.layers, tracedRows(net, 20, 3, training));
    }
    // Every name maps to a PyTorch key and back.
    const keys = keyMap(net.config);
    for (const name of net.params.keys()) {
      assert.equal(keys.fromTorchKey(keys.torchKey(name)), name);
    }
    net.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
}

Deno.test("torchvision form: no conv bias, a 1x1 conv + BN downsample, stride on the 3x3 (v1.5)", () => {
  const net = new ResNet({ ...TORCHVISION, stages: [1, 1, 1, 1], width: 8, block: "bottleneck" });
  const keys = keyMap(net.config);
  const names = [...net.params.keys()].map(keys.torchKey);
  assert(!names.some((k) => /conv\d\.bias|downsample\.0\.bias/.test(k)));
  assert.deepEqual(names.filter((k) => k.startsWith("layer2.0.")).slice(0, 3), [
    "layer2.0.conv1.weight",
    "layer2.0.bn1.weight",
    "layer2.0.bn1.bias",
  ]);
  assert(names.includes("layer1.0.downsample.1.running_var") && names.at(-1) === "fc.bias");
  const b = net.stages[1][0];
  assert(!("use1x1conv" in b) && "conv3" in b);
  assert.equal(b.conv1.stride, 1);
  assert.equal(b.conv2.stride, 2);
  net.dispose();
});

Deno.test("torchvision's initialisation: Kaiming-normal (fan_out) convs, nn.Linear's bound, BN 1 and 0", async () => {
  const net = new ResNet({ arch: "torchvision", stages: [1, 1, 1, 1], width: 32, seed: 3 });
  const w = await net.params.get("b5.0.conv2.weight")!.data() as Float32Array; // 256x256x3x3
  const mean = w.reduce((a, v) => a + v, 0) / w.length;
  const std = Math.sqrt(w.reduce((a, v) => a + (v - mean) ** 2, 0) / w.length);
  assert(Math.abs(std / Math.sqrt(2 / (256 * 9)) - 1) < 0.01, `std ${std}`);
  assert(Math.abs(mean) < 1e-3);
  const fc = await net.params.get("fc.weight")!.data() as Float32Array;
  const bound = 1 / Math.sqrt(256);
  assert(fc.every((v) => Math.abs(v) <= bound) && Math.max(...fc.map(Math.abs)) > 0.9 * bound);
  assert.deepEqual([...await net.params.get("b2.0.bn1.weight")!.data()], new Array(32).fill(1));
  net.dispose();
});

Deno.test("zero-init residual: each branch's last BN scale is 0, so an identity block is relu(x)", async () => {
  for (const block of ["basic", "bottleneck", "preact"] as const) {
    const net = new ResNet({ stages: [2, 1, 1, 1], width: 8, block, zeroInitResidual: true });
    const bn = { basic: "bn2", bottleneck: "bn3", preact: "bn2" }[block];
    for (const [name, v] of net.params) {
      if (new RegExp(`^b\\d\\.\\d\\.${bn}\\.weight$`).test(name)) {
        assert((await v.data()).every((x) => x === 0), name);
      }
    }
    const second = net.stages[0][1], ch = block === "bottleneck" ? 32 : 8;
    const x = tf.randomUniform([2, 5, 5, ch], -1, 1) as tf.Tensor4D;
    // The pre-activation branch ends in conv2, fed zeros: it adds conv2's bias (d2l's form).
    const bias = second.conv2.bias!;
    const [y, r] = tf.tidy(() => [
      second.apply(x, { training: false }),
      block === "preact" ? tf.add(x, bias) : tf.relu(x),
    ]);
    assertClose(await y.data(), await r.data(), 1e-6, 0, block);
    tf.dispose([x, y, r]);
    net.dispose();
  }
});

Deno.test("grouped convolution: the composite equals a dense convolution with a block-diagonal filter, and so do its gradients", async () => {
  const before = tf.memory().numTensors;
  const groups = 3, cin = 6, cout = 9;
  const x = tf.randomNormal([2, 7, 7, cin], 0, 1, "float32", 1) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, cin / groups, cout], 0, 1, "float32", 2) as tf.Tensor4D;
  // Output channel o of group g = floor(o / (cout / groups)) sees input channels of group g only.
  const dense = tf.tidy(() => {
    const mask = tf.buffer([1, 1, cin, cout]);
    for (let i = 0; i < cin; i++) {
      for (let o = 0; o < cout; o++) {
        if (Math.floor(i / (cin / groups)) === Math.floor(o / (cout / groups))) {
          mask.set(1, 0, 0, i, o);
        }
      }
    }
    const tiled = tf.tile(f, [1, 1, groups, 1]);
    return tf.mul(tiled, mask.toTensor()) as tf.Tensor4D;
  });
  const pad = [[0, 0], [1, 1], [1, 1], [0, 0]] as [[0, 0], [1, 1], [1, 1], [0, 0]];
  for (const stride of [1, 2]) {
    const [a, b] = tf.tidy(() => [
      groupedConv2d(x, f, stride, pad, groups),
      tf.conv2d(x, dense, stride, pad),
    ]);
    assertClose(await a.data(), await b.data(), 1e-5, 1e-5, `stride ${stride}`);
    tf.dispose([a, b]);
  }
  const g = tf.grad((xx: tf.Tensor) =>
    tf.sum(tf.square(groupedConv2d(xx as tf.Tensor4D, f, 2, pad, groups)))
  );
  const h = tf.grad((xx: tf.Tensor) =>
    tf.sum(tf.square(tf.conv2d(xx as tf.Tensor4D, dense, 2, pad)))
  );
  const [gx, hx] = [g(x), h(x)];
  assertClose(await gx.data(), await hx.data(), 1e-4, 1e-5, "input gradient");
  tf.dispose([x, f, dense, gx, hx]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("config: depths 50..152 imply the bottleneck; contradictions and ResNeXt without bottleneck are refused", () => {
  assert.deepEqual(resolveConfig({ depth: 101 }).stages, [3, 4, 23, 3]);
  assert.equal(resolveConfig({ depth: 152 }).block, "bottleneck");
  assert.equal(resolveConfig({ depth: 34, block: "preact" }).depth, 34);
  assert.equal(resolveConfig({ stages: [3, 4, 6, 3] }).depth, 34);
  assert.throws(() => resolveConfig({ depth: 50, block: "basic" }), /depth 50 is a bottleneck/);
  assert.throws(() => resolveConfig({ depth: 18, block: "bottleneck" }), /depth 18 is a basic/);
  assert.throws(() => resolveConfig({ groups: 2 }), /need the bottleneck block/);
  assert.throws(
    () => resolveConfig({ depth: 50, width: 8, widthPerGroup: 4 }),
    /0 channels per group/,
  );
  assert.throws(() => resolveConfig({ arch: "keras" as "d2l" }), /unknown arch "keras"/);
  assert.throws(() => resolveConfig({ stem: "imagenet" as "d2l" }), /unknown stem/);
});

Deno.test("config: a config saved before these options resolves to d2l's; a resolved one to itself", () => {
  const old = { depth: 18, stages: [2, 2, 2, 2], inChannels: 1, numClasses: 10, width: 64 };
  assert.deepEqual(resolveConfig(old), {
    ...old,
    arch: "d2l",
    block: "basic",
    groups: 1,
    widthPerGroup: 64,
    stem: "d2l",
    zeroInitResidual: false,
  });
  const c = resolveConfig({ depth: 50, arch: "torchvision", groups: 32, widthPerGroup: 4 });
  assert.deepEqual(resolveConfig(c), c);
  assert.deepEqual(resolveConfig(JSON.parse(JSON.stringify(c))), c);
});
