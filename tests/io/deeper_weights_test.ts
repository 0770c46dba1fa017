/**
 * Weights of the deeper and wider networks (issue 25): torchvision's state_dict names in its form,
 * the architecture in the metadata and inferred from names and shapes alone, a file without
 * `num_batches_tracked`, and the one-line refusal of flags that contradict a file.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet, type ResNetOptions, resolveConfig } from "../../lib/model/resnet.ts";
import { decodeSafetensors, encodeSafetensors } from "../../lib/io/safetensors.ts";
import {
  architectureOf,
  decodeTorchStateDict,
  encodeTorchStateDict,
  torchLayout,
  torchStateDict,
} from "../../lib/io/torch_weights.ts";
import { planWeights } from "../../cli/net_source.ts";

await initBackend("cpu");

const NETS: ResNetOptions[] = [
  { arch: "torchvision", stages: [1, 2, 1, 1], width: 4 },
  { arch: "torchvision", stages: [1, 1, 1, 1], width: 4, block: "bottleneck" },
  { arch: "torchvision", stages: [1, 1, 1, 1], width: 4, block: "bottleneck", groups: 2 },
  { arch: "torchvision", stages: [1, 1, 1, 1], width: 4, block: "preact", stem: "cifar" },
  {
    arch: "d2l",
    stages: [1, 1, 2, 1],
    width: 4,
    block: "bottleneck",
    groups: 2,
    widthPerGroup: 32,
  },
  { arch: "d2l", stages: [1, 1, 1, 1], width: 4, block: "preact", stem: "cifar" },
];

for (const model of NETS) {
  Deno.test(`out and back in, with our metadata and from names and shapes alone: ${JSON.stringify(model)}`, async () => {
    const before = tf.memory().numTensors;
    const a = new ResNet({ ...model, seed: 1 }), b = new ResNet({ ...model, seed: 2 });
    const x = tf.randomUniform([2, 20, 20, 1], 0, 1, "float32", 3) as tf.Tensor4D;
    tf.dispose(a.apply(x, { training: true })); // running statistics away from their start
    const bytes = await encodeTorchStateDict(a, { size: 20 });
    const bare = encodeSafetensors(await torchStateDict(a));
    const want = resolveConfig(model);
    for (const file of [bytes, bare]) {
      assert.deepEqual(resolveConfig(architectureOf(decodeSafetensors(file))!), want);
    }
    decodeTorchStateDict(b, bytes, "w.safetensors");
    const [ya, yb] = tf.tidy(
      () => [a.apply(x, { training: false }), b.apply(x, { training: false })],
    );
    assert.deepEqual(await yb.data(), await ya.data());
    assert.equal(b.numBatchesTracked, 1);
    const keys = torchLayout(a).map((e) => e.key);
    if (model.arch === "torchvision") {
      assert.equal(keys[0], "conv1.weight");
      assert(keys.includes("bn1.num_batches_tracked") && keys.at(-1) === "fc.bias");
      assert(keys.every((k) => /^(conv1|bn1|layer[1-4]|final_bn|fc)\./.test(k)), keys.join());
    } else {
      assert.equal(keys[0], "0.0.weight");
    }
    tf.dispose([x, ya, yb]);
    a.dispose();
    b.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
}

Deno.test("torchvision's form: a file without num_batches_tracked loads; d2l's still needs them", async () => {
  const model: ResNetOptions = { arch: "torchvision", stages: [1, 1, 1, 1], width: 4 };
  const a = new ResNet(model);
  const without = (await torchStateDict(a)).filter((t) => !t.name.endsWith("num_batches_tracked"));
  const b = new ResNet({ ...model, seed: 4 });
  decodeTorchStateDict(b, encodeSafetensors(without), "no-count.safetensors");
  assert.equal(b.numBatchesTracked, 0);
  const d = new ResNet({ stages: [1, 1, 1, 1], width: 4 });
  const d2l = (await torchStateDict(d)).filter((t) => !t.name.endsWith("num_batches_tracked"));
  assert.throws(
    () => decodeTorchStateDict(d, encodeSafetensors(d2l), "d2l.safetensors"),
    /missing key "0\.1\.num_batches_tracked"/,
  );
  for (const n of [a, b, d]) n.dispose();
});

Deno.test("flags that contradict a file's architecture: one line naming the flag and the file's value", async () => {
  const net = new ResNet(NETS[2]);
  const ours = decodeSafetensors(await encodeTorchStateDict(net));
  const bare = decodeSafetensors(encodeSafetensors(await torchStateDict(net)));
  for (const file of [ours, bare]) {
    assert.deepEqual(resolveConfig(planWeights(file, "f", {}).model), net.config);
    const cases: [Parameters<typeof planWeights>[2], RegExp][] = [
      [
        { arch: "d2l" },
        /--arch d2l contradicts f, which is for arch torchvision: leave --arch out$/,
      ],
      [{ block: "basic" }, /--block basic contradicts f, which is for block bottleneck/],
      [{ groups: 4 }, /--groups 4 contradicts f, which is for groups 2/],
      [{ stem: "cifar" }, /--stem cifar contradicts f, which is for stem d2l/],
      [{ depth: 18 }, /--depth 18 contradicts f, which is for stages 1,1,1,1/],
    ];
    for (const [flags, re] of cases) assert.throws(() => planWeights(file, "f", flags), re);
  }
  // A depth of the other block family, with the same stages, is refused too.
  const r34 = new ResNet({ depth: 34, width: 4 });
  const f34 = decodeSafetensors(await encodeTorchStateDict(r34));
  assert.throws(
    () => planWeights(f34, "r34", { depth: 50 }),
    /--depth 50 contradicts r34, which is for a basic-block ResNet/,
  );
  r34.dispose();
  net.dispose();
});
