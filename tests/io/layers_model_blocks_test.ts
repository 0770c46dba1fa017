import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { ResNet, type ResNetOptions } from "../../lib/model/resnet.ts";
import { loadLayersWeights, saveLayersModel, toLayersModel } from "../../lib/io/layers_model.ts";

await tf.setBackend("cpu");

// Every block kind and form a run can train, so that every run can write its checkpoint.
const NETS: [string, ResNetOptions][] = [
  ["bottleneck, d2l form", { block: "bottleneck", stages: [1, 1, 1, 1], width: 4 }],
  [
    "ResNeXt, torchvision form",
    {
      arch: "torchvision",
      block: "bottleneck",
      groups: 2,
      widthPerGroup: 16,
      stages: [1, 1, 1, 1],
      width: 4,
    },
  ],
  ["ResNeXt, d2l form", { block: "bottleneck", groups: 2, stages: [1, 1, 1, 1], width: 4 }],
  ["pre-activation, cifar stem", {
    block: "preact",
    stem: "cifar",
    stages: [1, 1, 1, 1],
    width: 4,
  }],
  ["basic, torchvision form", { arch: "torchvision", stages: [1, 1, 1, 1], width: 4 }],
];

async function logits(net: ResNet, x: tf.Tensor4D): Promise<Float32Array> {
  const y = net.apply(x, { training: false });
  const v = await y.data() as Float32Array;
  y.dispose();
  return v;
}

for (const [what, opts] of NETS) {
  Deno.test(`layers model of a ${what}: the graph computes the network, the weights round-trip`, async () => {
    const net = new ResNet({ ...opts, seed: 3 });
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, "float32", 5) as tf.Tensor4D;
    // Trained-looking BatchNorm statistics, so that eval mode is not the identity.
    for (const [name, v] of net.params) {
      if (name.endsWith("running_mean")) {
        v.assign(tf.randomUniform(v.shape, -0.2, 0.2, "float32", 1));
      }
      if (name.endsWith("running_var")) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, "float32", 2));
    }
    const before = tf.memory().numTensors;
    const want = await logits(net, x);
    // The browser's view: the tfjs-layers graph's own prediction.
    const model = toLayersModel(net, 16);
    const y = model.predict(x) as tf.Tensor;
    const got = await y.data();
    want.forEach((w, i) =>
      assert.ok(Math.abs(w - got[i]) < 1e-4, `${what} logit ${i}: ${w} ${got[i]}`)
    );
    tf.dispose([y]);
    model.dispose();
    // The checkpoint's view: saved, then read by name into a network of another seed.
    const dir = `${await Deno.makeTempDir()}/layers`;
    await saveLayersModel(net, 16, dir);
    const copy = new ResNet({ ...opts, seed: 9 });
    await loadLayersWeights(copy, dir);
    for (const [name, v] of net.params) {
      const a = await v.data(), b = await copy.params.get(name)!.data();
      assert.deepEqual(b, a, name);
    }
    await Deno.remove(dir, { recursive: true });
    copy.dispose();
    assert.equal(tf.memory().numTensors - before, 0, "no tensor leaks");
    tf.dispose(x);
    net.dispose();
  });
}
