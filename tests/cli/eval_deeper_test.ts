/**
 * A torchvision ResNet saved by PyTorch (tests/golden/tv_bottleneck_trained.safetensors: Bottleneck
 * blocks, width 4, the 1-channel bias-free 7x7/2 conv1 and 10-way fc of the common Fashion-MNIST
 * adaptation; trained one short epoch by tools/golden/deeper.py) scores here what it scored in
 * PyTorch, through `eval --weights FILE --arch torchvision --json`, its architecture read from the
 * tensor names and shapes alone.
 */
import assert from "node:assert/strict";
import { GOLDEN_DIR } from "../golden.ts";
import { runCli } from "../run_cli.ts";

const DATASET = "/usr/share/datasets/fashion-mnist";
const haveDataset = await Deno.stat(`${DATASET}/t10k-images-idx3-ubyte.gz`).then(() => true)
  .catch(() => false);
const WEIGHTS = new URL("tv_bottleneck_trained.safetensors", GOLDEN_DIR).pathname;

Deno.test({
  name: `eval --arch torchvision of PyTorch's own file gives PyTorch's accuracy${
    haveDataset ? "" : ` [ignored: ${DATASET} is absent (dataset-fashion-mnist)]`
  }`,
  ignore: !haveDataset,
  async fn() {
    const want = JSON.parse(
      await Deno.readTextFile(new URL("tv_bottleneck_trained.json", GOLDEN_DIR)),
    ) as { n: number; correct: number };
    const cache = await Deno.makeTempDir();
    try {
      const r = await runCli([
        "eval",
        ...["--weights", WEIGHTS, "--arch", "torchvision", "--size", "28"],
        ...["--limit", String(want.n), "--json", "--backend", "cpu"],
        ...["--source-dir", DATASET, "--data-dir", cache],
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /stages 1,1,1,1, width 4, torchvision form, bottleneck, input 28x28/);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.n, want.n);
      assert.equal(doc.correct, want.correct); // 361 of 500
      // A flag that contradicts the file is refused before anything runs.
      const bad = await runCli(["eval", "--weights", WEIGHTS, "--arch", "d2l", "--json"]);
      assert.equal(bad.code, 2);
      assert.match(
        bad.stderr.trim(),
        /error: --arch d2l contradicts .*, which is for arch torchvision/,
      );
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  },
});
