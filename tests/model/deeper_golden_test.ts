/**
 * The deeper and wider networks against PyTorch (tests/golden/deeper_*.safetensors, made by
 * tools/golden/deeper.py from torchvision's own ResNet classes, d2l's ResNeXtBlock and a
 * pre-activation block): state_dict layout, logits in both modes, one SGD step's gradients and
 * BatchNorm's running statistics, on the cpu backend and on each native variant there is.
 */
import * as tf from "@tensorflow/tfjs-core";
import "../../lib/backends/setup.ts"; // the cpu backend and every gradient
import { initBackend } from "../../lib/backends/choose.ts";
import { checkDeeperGolden } from "../golden.ts";
import { nativeVariants, variantTest } from "../backends/native_variants.ts";

const NETS = ["tv_bottleneck", "tv_resnext", "d2l_resnext", "d2l_preact_cifar"];

await initBackend("cpu");
for (const name of NETS) {
  Deno.test(`cpu: ${name} equals PyTorch (logits, gradients, running statistics)`, async () => {
    await tf.setBackend("cpu");
    await checkDeeperGolden(name);
  });
}

for (const variant of await nativeVariants()) {
  const test = variantTest(variant);
  for (const name of NETS) {
    test({
      name: `${name} equals PyTorch (logits, gradients, running statistics)`,
      fn: async () => {
        await tf.setBackend(variant.name);
        await checkDeeperGolden(name);
      },
    });
  }
}
