/**
 * d2l's Residual blocks on the `native` backend against PyTorch's float64 golden values
 * (`../shared/golden/residual_{a,b}.json`): inference and training outputs, the running statistics
 * update and the gradients of `sum(out * G)`. Skipped, with the reason printed, without BLAS.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { registerNativeBackend } from "../lib/native/backend.ts";
import { fallbacks } from "../lib/native/kernels.ts";
import { Residual } from "../lib/model.ts";
import {
  assertClose,
  asTensor,
  type GoldenTensor,
  nchwToNhwc,
  oihwToHwio,
  readGolden,
} from "./golden.ts";

const reg = await registerNativeBackend();
if (!reg.ok) console.log(`native golden tests skipped: ${reg.reason}`);

interface ResidualGolden {
  config: { input_channels: number; num_channels: number; use_1x1conv: boolean; strides: number };
  X: GoldenTensor;
  G: GoldenTensor;
  params: Record<string, GoldenTensor>;
  bn_train_stats: Record<string, Record<string, GoldenTensor>>;
  f64: {
    out_eval: GoldenTensor;
    out_train: GoldenTensor;
    grads_train: Record<string, GoldenTensor>;
  };
}

/** NHWC -> NCHW, HWIO -> OIHW, or as is; flat values. */
async function golden(t: tf.Tensor, layout: "nhwc" | "hwio" | "plain"): Promise<Float32Array> {
  const perm = layout === "nhwc" ? [0, 3, 1, 2] : layout === "hwio" ? [3, 2, 0, 1] : null;
  const u = perm ? tf.transpose(t, perm) : t.clone();
  const d = (await u.data()) as Float32Array;
  u.dispose();
  return d;
}

for (const file of ["residual_a.json", "residual_b.json"]) {
  Deno.test({
    name: `native: golden ${file} outputs, running statistics and gradients`,
    ignore: !reg.ok,
    fn: async () => {
      await tf.setBackend("native");
      const g = readGolden<ResidualGolden>(file);
      const before = tf.memory().numTensors;
      fallbacks.clear();
      const c = g.config;
      const blk = new Residual(c.input_channels, c.num_channels, {
        use1x1conv: c.use_1x1conv,
        strides: c.strides,
      });
      for (const [name, v] of blk.store) {
        const t = v.rank === 4 ? oihwToHwio(g.params[name]) : asTensor(g.params[name]);
        v.assign(t);
        t.dispose();
      }
      const x = nchwToNhwc(g.X), gOut = nchwToNhwc(g.G);

      const yEval = tf.tidy(() => blk.apply(x, { training: false }));
      assertClose(await golden(yEval, "nhwc"), g.f64.out_eval.data, 1e-5, 0, "out_eval");

      const xVar = tf.variable(x);
      const trainable = [...blk.store].filter(([, v]) => v.trainable);
      let yTrain: tf.Tensor | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const y = blk.apply(xVar as tf.Tensor4D, { training: true });
        yTrain = tf.keep(y);
        return tf.sum(tf.mul(y, gOut)) as tf.Scalar;
      }, [xVar, ...trainable.map(([, v]) => v)]);
      assertClose(await golden(yTrain!, "nhwc"), g.f64.out_train.data, 1e-5, 0, "out_train");
      const want = g.f64.grads_train;
      assertClose(await golden(grads[xVar.name], "nhwc"), want.X.data, 1e-4, 1e-4, "grad X");
      for (const [name, v] of trainable) {
        const got = await golden(grads[v.name], v.rank === 4 ? "hwio" : "plain");
        assertClose(got, want[name].data, 1e-4, 1e-4, `grad ${name}`);
      }
      for (const bn of ["bn1", "bn2"]) {
        const s = g.bn_train_stats[bn];
        for (
          const [key, stat] of [["running_mean", "running_mean_after"], [
            "running_var",
            "running_var_after",
          ]]
        ) {
          const got = await blk.store.get(`${bn}.${key}`)!.data();
          assertClose(got, s[stat].data, 1e-6, 1e-5, `${bn}.${key}`);
        }
      }
      // The convolutions, BatchNorm and arithmetic ran on this backend's own kernels.
      assert.deepEqual(Object.fromEntries(fallbacks), {}, "fell back to cpu kernels");

      tf.dispose([yEval, x, gOut, xVar, value, yTrain!, ...Object.values(grads)]);
      for (const v of blk.store.values()) v.dispose();
      assert.equal(tf.memory().numTensors, before, "tensors leaked");
    },
  });
}
