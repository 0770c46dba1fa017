/**
 * The native backend's inference convolution with the BatchNorm folded in (`CONV_BN`,
 * lib/backends/native/kernels/conv_bn.ts): a test pass gives what the cpu backend's three ops in
 * a row give, within float32 rounding, for d2l's and torchvision's blocks and both stems, on
 * oneDNN and on OpenBLAS; a smaller last batch and new BatchNorm statistics are folded anew; the
 * kernel replaces every conv + BatchNorm pair of the test pass, and no tensor is left behind.
 * Skipped, with the reason printed, for a library that does not load.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { dnnlTime } from "../../lib/backends/native/backend.ts";
import { nativeVariants, variantTest } from "./native_variants.ts";
import { ResNet, type ResNetOptions } from "../../lib/model/resnet.ts";
import { CONV_BN } from "../../lib/model/fused.ts";
import { assertClose } from "../golden.ts";

tf.enableProdMode(); // no "install tfjs-node" banner from the cpu backend
const variants = await nativeVariants();

// The fold rounds w * s once where the three ops round conv(x, w) and then its scaling. Measured
// here: at most 1.6e-7 on logits of size ~1 on oneDNN; on OpenBLAS' im2col + sgemm, 1.2e-5 on a
// logit of 1.84 after torchvision's bottleneck net's 16 blocks (6.6e-6 relative). 1e-5 absolute
// plus 1e-5 relative covers both with room for other CPUs' kernels.
const ATOL = 1e-5, RTOL = 1e-5;

/** Logits of `x` in inference mode on `backend`. */
async function logits(net: ResNet, x: tf.Tensor4D, backend: string): Promise<Float32Array> {
  await tf.setBackend(backend);
  const y = tf.tidy(() => net.apply(x, { training: false }));
  const v = (await y.data()) as Float32Array;
  y.dispose();
  return v;
}

/** Gives every BatchNorm of `net` running statistics and an affine part away from 0 and 1. */
function randomiseBatchNorms(net: ResNet, seed: number): void {
  for (const [name, v] of net.params) {
    if (/(bn\d*|Bn)\.|running_/.test(name) && v.rank === 1) {
      const value = tf.randomUniform(v.shape, 0.5, 1.5, "float32", seed++);
      v.assign(value);
      value.dispose();
    }
  }
}

const NETS: [string, ResNetOptions][] = [
  ["d2l, stages 1,1,1,1", { stages: [1, 1, 1, 1], width: 16 }],
  ["d2l, cifar stem", { stages: [2, 2, 2, 2], width: 16, stem: "cifar" }],
  ["torchvision bottleneck", { depth: 50, arch: "torchvision", width: 16 }],
];

for (const v of variants) {
  for (const [what, opts] of NETS) {
    variantTest(v)({
      name: `conv+BN: the test pass of ${what} gives the cpu backend's logits`,
      fn: async () => {
        const make = () => {
          const net = new ResNet({ ...opts, seed: 3 });
          randomiseBatchNorms(net, 11);
          return net;
        };
        // The cpu references on a twin made first: moving the weights between backends would
        // drop the native copies this test is about.
        await tf.setBackend("cpu");
        const x = tf.randomUniform([5, 32, 32, 1], 0, 1, "float32", 7) as tf.Tensor4D;
        const part = tf.slice(x, 0, 3);
        const twin = make();
        const want = { full: await logits(twin, x, "cpu"), part: await logits(twin, part, "cpu") };
        randomiseBatchNorms(twin, 23);
        const wantAfter = await logits(twin, x, "cpu");
        twin.dispose();
        await tf.setBackend(v.name);
        const net = make();
        try {
          const before = tf.memory().numTensors;
          const reorders = () => dnnlTime(v.name)?.reorders ?? 0;
          const full = await logits(net, x, v.name);
          assertClose(full, want.full, ATOL, RTOL, `${what}: full batch`);
          // A smaller batch runs another primitive, then the full one again: each from the copies
          // (or folded again where the primitive's layout differs), never from a stale one.
          const small = await logits(net, part, v.name);
          assertClose(small, want.part, ATOL, RTOL, `${what}: last batch`);
          assert.deepEqual(await logits(net, part, v.name), small);
          const r0 = reorders();
          assert.deepEqual(await logits(net, x, v.name), full);
          assert.deepEqual(await logits(net, x, v.name), full);
          assert.equal(reorders() - r0, 0, `${what}: the full batch reordered weights again`);
          // New statistics (a training step's) are new tensors: folded anew.
          randomiseBatchNorms(net, 23);
          const after = await logits(net, x, v.name);
          assertClose(after, wantAfter, ATOL, RTOL, `${what}: new statistics`);
          assert.equal(tf.memory().numTensors, before);
          // Every conv + BatchNorm pair of the pass is one kernel.
          const p = await tf.profile(() => net.apply(x, { training: false }));
          const count = (k: string) => p.kernels.filter((e) => e.name === k).length;
          const bns = [...net.params.keys()].filter((n) => n.endsWith("running_mean")).length;
          assert.equal(
            count(CONV_BN),
            bns,
            `${what}: ${count(CONV_BN)} conv+BN kernels for ${bns}`,
          );
          assert.equal(count("FusedBatchNorm"), 0);
          tf.dispose(p.result as tf.Tensor);
        } finally {
          tf.dispose([x, part]);
          net.dispose();
        }
      },
    });
  }
}
