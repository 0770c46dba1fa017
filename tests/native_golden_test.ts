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
import { checkResidualGolden } from "./golden.ts";

const reg = await registerNativeBackend();
if (!reg.ok) console.log(`native golden tests skipped: ${reg.reason}`);

for (const file of ["residual_a.json", "residual_b.json"]) {
  Deno.test({
    name: `native: golden ${file} outputs, running statistics and gradients`,
    ignore: !reg.ok,
    fn: async () => {
      await tf.setBackend("native");
      fallbacks.clear();
      await checkResidualGolden(file);
      // The convolutions, BatchNorm and arithmetic ran on this backend's own kernels.
      assert.deepEqual(Object.fromEntries(fallbacks), {}, "fell back to cpu kernels");
    },
  });
}
