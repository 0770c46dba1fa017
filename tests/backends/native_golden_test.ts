/**
 * d2l's Residual blocks on the `native` backend against PyTorch's float64 golden values
 * (tests/golden/residual_{a,b}.json): inference and training outputs, the running statistics
 * update and the gradients of `sum(out * G)`; and the whole small golden network
 * (`small_w8_s1111`), whose training-mode pass runs the fused BatchNorm+ReLU kernels end to end.
 * Skipped, with the reason printed, without BLAS.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { nativeVariants, variantTest } from "./native_variants.ts";
import { fallbacks } from "../../lib/backends/native/kernels/kernel.ts";
import {
  assertClose,
  checkResidualGolden,
  GOLDEN_DIR,
  nchwToNhwc,
  readGolden,
  SMALL_ATOL_EVAL,
  SMALL_ATOL_TRAIN,
  type SmallGolden,
} from "../golden.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { loadTorchWeights } from "../../lib/io/torch_weights.ts";

for (const variant of await nativeVariants()) suite(variant.name, variantTest(variant));

function suite(NATIVE: string, test: ReturnType<typeof variantTest>): void {
  for (const file of ["residual_a.json", "residual_b.json"]) {
    test({
      name: `golden ${file} outputs, running statistics and gradients`,
      fn: async () => {
        await tf.setBackend(NATIVE);
        fallbacks.clear();
        await checkResidualGolden(file);
        // The convolutions, BatchNorm and arithmetic ran on this backend's own kernels.
        assert.deepEqual(Object.fromEntries(fallbacks), {}, "fell back to cpu kernels");
      },
    });
  }

  const ATOL_EVAL = SMALL_ATOL_EVAL, ATOL_TRAIN = SMALL_ATOL_TRAIN;

  for (const size of [28, 40]) {
    test({
      name: `golden small_w8_s1111 network logits at ${size}x${size}, eval and training mode`,
      fn: async () => {
        await tf.setBackend(NATIVE);
        const g = readGolden<SmallGolden>("small_w8_s1111.json");
        const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
        const x28 = nchwToNhwc(g.input_28);
        const x = size === 28 ? x28 : tf.image.resizeBilinear(x28, [size, size], false, true);
        try {
          await loadTorchWeights(net, new URL("small_w8_s1111.safetensors", GOLDEN_DIR).pathname);
          const before = tf.memory().numTensors;
          fallbacks.clear();
          const ev = tf.tidy(() => net.apply(x, { training: false }));
          const tr = tf.tidy(() => net.apply(x, { training: true }));
          const [e, t] = [await ev.data(), await tr.data()];
          tf.dispose([ev, tr]);
          assertClose(e, g[`logits_eval_${size}` as "logits_eval_28"].data, ATOL_EVAL, 0, "eval");
          assertClose(
            t,
            g[`logits_train_${size}` as "logits_train_28"].data,
            ATOL_TRAIN,
            0,
            "train",
          );
          assert.equal(tf.memory().numTensors, before, "tensors leaked");
          assert.deepEqual(Object.fromEntries(fallbacks), {}, "fell back to cpu kernels");
        } finally {
          tf.dispose([x28, x]);
          net.dispose();
        }
      },
    });
  }
}
