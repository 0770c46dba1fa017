import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { ConfigError } from "../../lib/errors.ts";
import {
  DEPTHS,
  fromTorchKey,
  Residual,
  ResNet,
  resnetBlock,
  resolveConfig,
  torchKey,
} from "../../lib/model/resnet.ts";
import { shapeTable } from "../../lib/model/shapes.ts";
import { assertClose, checkResidualGolden, readGolden } from "../golden.ts";

await initBackend("cpu");

Deno.test("d2l's shape checks: Residual(3,3) keeps (4,3,6,6); Residual(3,6,1x1,2) gives (4,6,3,3)", () => {
  const before = tf.memory().numTensors;
  const a = new Residual(3, 3);
  const b = new Residual(3, 6, { use1x1conv: true, strides: 2 });
  tf.tidy(() => {
    const x = tf.randomUniform([4, 6, 6, 3]) as tf.Tensor4D;
    assert.deepEqual(a.apply(x, { training: true }).shape, [4, 6, 6, 3]);
    assert.deepEqual(b.apply(x, { training: true }).shape, [4, 3, 3, 6]);
  });
  for (const v of [...a.store.values(), ...b.store.values()]) v.dispose();
  assert.deepEqual(tf.memory().numTensors, before);
});

Deno.test("resnetBlock: the first block of a later stage halves the size through a 1x1 conv", () => {
  const store = new Map();
  const blocks = resnetBlock(64, 128, 2, false, { name: "b3", store });
  assert.deepEqual(blocks.length, 2);
  assert(blocks[0].conv3 !== null && blocks[0].conv1.stride === 2);
  assert(blocks[1].conv3 === null && blocks[1].conv1.stride === 1);
  assert(store.has("b3.0.conv3.weight") && store.has("b3.1.bn2.running_var"));
  const first = resnetBlock(64, 64, 2, true, { name: "b2", store: new Map() });
  assert(first.every((b) => b.conv3 === null && b.conv1.stride === 1));
  for (const v of store.values()) v.dispose();
  for (const b of first) for (const v of b.store.values()) v.dispose();
});

type ShapesGolden = {
  shapes: Record<string, { name: string; shape: number[] }[]>;
  param_count: Record<string, { parameters: number }>;
};
const shapesGolden = readGolden<ShapesGolden>("resnet_shapes.json");
const goldenName: Record<string, string> = {
  AdaptiveAvgPool2d: "pool",
  Flatten: "flatten",
  Linear: "dense",
};

for (const depth of [18, 34]) {
  for (const size of [224, 96, 28]) {
    Deno.test(`ResNet-${depth} shape table at ${size} equals PyTorch's`, () => {
      const t = shapeTable({ depth }, { size });
      const golden = shapesGolden.shapes[`1x1x${size}x${size}`];
      assert.deepEqual(
        t.layers.map((r) => [r.name, r.shape]),
        golden.map((r) => [goldenName[r.name] ?? r.name, r.shape]),
      );
      assert.deepEqual(t.params, shapesGolden.param_count[`resnet${depth}`].parameters);
      assert.deepEqual(t.stages, DEPTHS[depth]);
    });
  }
}

Deno.test("parameter counts equal PyTorch's: 11,178,378 and 21,290,250", () => {
  for (const [depth, count] of [[18, 11_178_378], [34, 21_290_250]]) {
    const net = new ResNet({ depth });
    assert.deepEqual(net.countParams(), count);
    net.dispose();
  }
});

Deno.test("config: unknown depth, bad stage lists and widths are rejected with one line", () => {
  assert.throws(() => resolveConfig({ depth: 42 }), {
    name: "ConfigError",
    message: /unknown depth 42/,
  });
  assert.throws(() => resolveConfig({ stages: [1, 2, 3] }), {
    name: "ConfigError",
    message: /four positive integers/,
  });
  assert.throws(() => resolveConfig({ stages: [1, 0, 1, 1] }), ConfigError);
  assert.throws(() => resolveConfig({ width: 0 }), ConfigError);
  assert.deepEqual(resolveConfig({ stages: [2, 2, 2, 2] }).depth, 18);
  assert.deepEqual(resolveConfig({ stages: [1, 1, 1, 1] }).depth, null);
});

Deno.test("torchKey maps names to d2l's state_dict keys and back", () => {
  const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
  const keys = [...net.params.keys()].map(torchKey);
  assert.deepEqual(keys.slice(0, 6), [
    "0.0.weight",
    "0.0.bias",
    "0.1.weight",
    "0.1.bias",
    "0.1.running_mean",
    "0.1.running_var",
  ]);
  assert(keys.includes("1.0.conv1.weight") && keys.includes("2.0.conv3.weight"));
  assert.deepEqual(keys.slice(-2), ["7.weight", "7.bias"]);
  for (const k of net.params.keys()) assert.deepEqual(fromTorchKey(torchKey(k)), k);
  net.dispose();
});

// ---- numerical parity with d2l's PyTorch Residual (golden files) ----

for (const file of ["residual_a.json", "residual_b.json"]) {
  Deno.test(`golden ${file}: inference and training outputs, running statistics, gradients`, () =>
    checkResidualGolden(file));
}

Deno.test("residual property: zero conv2 and bn2 make a block without 1x1 conv return relu(x)", async () => {
  const blk = new Residual(4, 4, { rand: Math.random });
  for (const n of ["conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias"]) {
    const v = blk.store.get(n)!;
    v.assign(tf.zerosLike(v));
  }
  const x = tf.randomNormal([2, 5, 5, 4]) as tf.Tensor4D;
  for (const training of [false, true]) {
    const [y, r] = tf.tidy(() => [blk.apply(x, { training }), tf.relu(x)]);
    assertClose(await y.data(), await r.data(), 1e-6, 0, `training=${training}`);
    tf.dispose([y, r]);
  }
  x.dispose();
  for (const v of blk.store.values()) v.dispose();
});

Deno.test("same seed, same weights; a different seed, different weights", async () => {
  const [a, b, c] = [1, 1, 2].map((seed) => new ResNet({ stages: [1, 1, 1, 1], width: 8, seed }));
  const w = async (n: ResNet) => await n.params.get("b2.0.conv1.weight")!.data();
  const [wa, wb, wc] = [await w(a), await w(b), await w(c)];
  assert.deepEqual(wa, wb);
  assert(wa.some((v, i) => v !== wc[i]));
  for (const n of [a, b, c]) n.dispose();
});
