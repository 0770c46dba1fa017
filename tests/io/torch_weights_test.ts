/**
 * Weights interchange with d2l's PyTorch code (issue 6): our network as d2l's `state_dict()` and
 * back, PyTorch's golden network reproduced from its safetensors file, a network trained in
 * PyTorch evaluated on the whole Fashion-MNIST test set, and strict key/shape validation.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { runTorchPython, torchTest } from "../torch_python.ts";
import { describeError } from "../../cli/errors.ts";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type SafetensorsInput,
  toFloat32,
} from "../../lib/io/safetensors.ts";
import {
  checkTorchWeights,
  decodeTorchStateDict,
  encodeTorchStateDict,
  loadTorchWeights,
  recordedSize,
  saveTorchWeights,
  torchLayout,
} from "../../lib/io/torch_weights.ts";
import { loadFashionMnist } from "../../lib/data/fashion_mnist.ts";
import { batches } from "../../lib/data/batches.ts";
import {
  assertClose,
  GOLDEN_DIR,
  nchwToNhwc,
  readGolden,
  SMALL_ATOL_EVAL,
  SMALL_ATOL_TRAIN,
  type SmallGolden,
} from "../golden.ts";
import { runCli, TINY_NET } from "../run_cli.ts";

await initBackend("cpu");

const GOLDEN_ST = new URL("small_w8_s1111.safetensors", GOLDEN_DIR).pathname;
const FIXTURES = new URL("../fixtures/", import.meta.url);
const SMALL = { stages: [1, 1, 1, 1], width: 8 } as const;

/** All values of a tensor, read asynchronously; disposes it. */
async function values(t: tf.Tensor): Promise<Float32Array> {
  const v = await t.data() as Float32Array;
  t.dispose();
  return v;
}

/** Runs `fn` and asserts it throws a SafetensorsError (exit code 2) whose single line matches. */
async function rejects2(fn: () => Promise<unknown>, re: RegExp): Promise<string> {
  let msg = "";
  await assert.rejects(fn, (e: Error) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${e}`);
    assert.equal(describeError(e)?.code, 2);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    assert.ok(re.test(e.message), `${e.message} !~ ${re}`);
    msg = e.message;
    return true;
  });
  return msg;
}

Deno.test("torchLayout names, orders and shapes keys exactly as the golden PyTorch state_dict", () => {
  const file = decodeSafetensors(Deno.readFileSync(GOLDEN_ST), GOLDEN_ST);
  const net = new ResNet(SMALL);
  try {
    const layout = torchLayout(net);
    assert.deepEqual(layout.map((e) => e.key), [...file.tensors.keys()]);
    for (const e of layout) assert.deepEqual(e.shape, file.tensors.get(e.key)!.shape, e.key);
    assert.deepEqual(layout.length, 71);
  } finally {
    net.dispose();
  }
});

Deno.test("ResNet-18's layout has PyTorch's keys (2.1.bn2, 4.0.conv3, 7.weight [10, 512])", () => {
  const net = new ResNet({ depth: 18 });
  try {
    const byKey = new Map(torchLayout(net).map((e) => [e.key, e]));
    assert.deepEqual(byKey.get("0.0.weight")!.shape, [64, 1, 7, 7]);
    assert.deepEqual(byKey.get("2.1.bn2.num_batches_tracked")!.shape, []);
    assert.deepEqual(byKey.get("4.0.conv3.weight")!.shape, [512, 256, 1, 1]);
    assert.deepEqual(byKey.get("4.1.conv1.weight")!.shape, [512, 512, 3, 3]);
    assert.deepEqual(byKey.get("7.weight")!.shape, [10, 512]);
    assert.ok(!byKey.has("1.0.conv3.weight"), "b2's first block has no 1x1 conv");
    // len(state_dict()) of d2l's ResNet-18 in PyTorch 1.13 is 127: weights and biases of 20 convs
    // and the linear layer (42), and 5 entries for each of the 17 BatchNorms (85).
    assert.deepEqual(byKey.size, 127);
  } finally {
    net.dispose();
  }
});

Deno.test("export then import gives identical logits, running statistics and batch count", async () => {
  const a = new ResNet({ ...SMALL, seed: 1 });
  const b = new ResNet({ ...SMALL, seed: 2 });
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 5) as tf.Tensor4D;
  try {
    // Two training-mode passes move the running statistics away from their initial values.
    tf.tidy(() => [a.apply(x, { training: true }), a.apply(x, { training: true })]);
    const before = tf.memory().numTensors;
    const bytes = await encodeTorchStateDict(a);
    decodeTorchStateDict(b, bytes, "roundtrip");
    assert.deepEqual(tf.memory().numTensors, before, "no tensors leaked by export/import");
    assert.deepEqual(b.numBatchesTracked, 2);
    for (const [name, v] of a.params) {
      assert.deepEqual(await values(v.clone()), await values(b.params.get(name)!.clone()), name);
    }
    for (const training of [false, true]) {
      const ya = await values(tf.tidy(() => a.apply(x, { training })));
      const yb = await values(tf.tidy(() => b.apply(x, { training })));
      assert.deepEqual(yb, ya, `training=${training}`);
    }
    // Float tensors are F32, counts I64, and the file carries PyTorch's layouts.
    const file = decodeSafetensors(bytes);
    assert.deepEqual(file.tensors.get("0.0.weight")!.dtype, "F32");
    assert.deepEqual(file.tensors.get("0.0.weight")!.shape, [8, 1, 7, 7]);
    assert.deepEqual(file.tensors.get("7.weight")!.shape, [10, 64]);
    assert.deepEqual(file.tensors.get("3.0.bn1.num_batches_tracked")!.dtype, "I64");
    assert.deepEqual(file.metadata?.stages, "1,1,1,1");
    // OIHW: element [o=3, i=0, h=2, w=5] is HWIO [2, 5, 0, 3].
    const oihw = toFloat32(file.tensors.get("0.0.weight")!, "0.0.weight");
    const hwio = await values(a.params.get("b1.0.weight")!.clone());
    assert.deepEqual(oihw[((3 * 1 + 0) * 7 + 2) * 7 + 5], hwio[((2 * 7 + 5) * 1 + 0) * 8 + 3]);
    // fc: [out, in] element [o=4, i=9] is [in, out] [9, 4].
    const fcT = toFloat32(file.tensors.get("7.weight")!, "7.weight");
    const fc = await values(a.params.get("fc.weight")!.clone());
    assert.deepEqual(fcT[4 * 64 + 9], fc[9 * 10 + 4]);
  } finally {
    x.dispose();
    a.dispose();
    b.dispose();
  }
});

Deno.test("a weights file records the input size it was trained at; a bad one is refused", async () => {
  const net = new ResNet({ ...SMALL, seed: 3 });
  try {
    const dir = await Deno.makeTempDir();
    await saveTorchWeights(net, `${dir}/w.safetensors`, { size: 28 });
    const file = decodeSafetensors(await Deno.readFile(`${dir}/w.safetensors`));
    assert.equal(recordedSize(file), 28);
    assert.equal(recordedSize(decodeSafetensors(await encodeTorchStateDict(net))), null);
    const bad = encodeSafetensors([{
      name: "w",
      dtype: "F32",
      shape: [1],
      data: new Float32Array(1),
    }], {
      size: "28px",
    });
    assert.throws(
      () => recordedSize(decodeSafetensors(bad), "bad.safetensors"),
      /^SafetensorsError: bad.safetensors: metadata size "28px" is not a positive integer$/,
    );
    await Deno.remove(dir, { recursive: true });
  } finally {
    net.dispose();
  }
});

Deno.test("saveTorchWeights writes atomically and loadTorchWeights reads the file back", async () => {
  const dir = await Deno.makeTempDir();
  const a = new ResNet({ ...SMALL, seed: 3 });
  const b = new ResNet({ ...SMALL, seed: 4 });
  try {
    const path = `${dir}/net.safetensors`;
    await Deno.writeTextFile(path, "old contents");
    await saveTorchWeights(a, path);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["net.safetensors"]);
    await loadTorchWeights(b, path);
    const x = tf.ones([1, 32, 32, 1]) as tf.Tensor4D;
    assert.deepEqual(
      await values(tf.tidy(() => b.apply(x, { training: false }))),
      await values(tf.tidy(() => a.apply(x, { training: false }))),
    );
    x.dispose();
  } finally {
    a.dispose();
    b.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

const ATOL_EVAL = SMALL_ATOL_EVAL, ATOL_TRAIN = SMALL_ATOL_TRAIN;

for (const size of [28, 40]) {
  Deno.test(`golden small_w8_s1111.safetensors reproduces PyTorch's logits at ${size}x${size}`, async () => {
    const g = readGolden<SmallGolden>("small_w8_s1111.json");
    const net = new ResNet(SMALL);
    const x28 = nchwToNhwc(g.input_28);
    // PyTorch's F.interpolate(bilinear, align_corners=False) is tfjs' halfPixelCenters.
    const x = size === 28 ? x28 : tf.image.resizeBilinear(x28, [size, size], false, true);
    try {
      const summary = await checkTorchWeights(SMALL, GOLDEN_ST);
      assert.deepEqual(summary.tensors, 71);
      assert.deepEqual(summary.numBatchesTracked, 7);
      await loadTorchWeights(net, GOLDEN_ST);
      assert.deepEqual(net.numBatchesTracked, 7);
      const before = tf.memory().numTensors;
      // Eval first: a training-mode pass updates the running statistics.
      const ev = await values(tf.tidy(() => net.apply(x, { training: false })));
      assertClose(ev, g[`logits_eval_${size}` as "logits_eval_28"].data, ATOL_EVAL, 0, "eval");
      const tr = await values(tf.tidy(() => net.apply(x, { training: true })));
      assertClose(tr, g[`logits_train_${size}` as "logits_train_28"].data, ATOL_TRAIN, 0, "train");
      assert.deepEqual(tf.memory().numTensors, before);
      assert.deepEqual(net.numBatchesTracked, 8);
    } finally {
      tf.dispose([x28, x]);
      net.dispose();
    }
  });
}

/** The golden file's tensors as writer input, so tests can damage the state_dict. */
function goldenInputs(): SafetensorsInput[] {
  const file = decodeSafetensors(Deno.readFileSync(GOLDEN_ST), GOLDEN_ST);
  return [...file.tensors].map(([name, t]) => ({
    name,
    dtype: t.dtype,
    shape: t.shape,
    data: t.bytes,
  }));
}

Deno.test("a missing key, an unexpected key or a wrong shape: one line naming the key, nothing assigned", async () => {
  const net = new ResNet({ ...SMALL, seed: 9 });
  const dir = await Deno.makeTempDir();
  const write = (name: string, tensors: SafetensorsInput[]) => {
    const p = `${dir}/${name}.safetensors`;
    Deno.writeFileSync(p, encodeSafetensors(tensors));
    return p;
  };
  try {
    const original = await values(net.params.get("b1.0.weight")!.clone());
    const gi = goldenInputs();
    const missing = write("missing", gi.filter((t) => t.name !== "3.0.bn2.running_var"));
    await rejects2(
      () => loadTorchWeights(net, missing),
      /missing\.safetensors: missing key "3\.0\.bn2\.running_var" \(expected shape \[32\]\)/,
    );
    const extra = write("extra", [...gi, {
      name: "8.weight",
      dtype: "F32",
      shape: [2],
      data: new Float32Array(2),
    }]);
    await rejects2(
      () => loadTorchWeights(net, extra),
      /unexpected key "8\.weight" \(shape \[2\]\)/,
    );
    // The width-8 file into a width-16 network: the first key already disagrees.
    const wide = new ResNet({ stages: [1, 1, 1, 1], width: 16 });
    try {
      await rejects2(
        () => loadTorchWeights(wide, GOLDEN_ST),
        /key "0\.0\.weight" has shape \[8, 1, 7, 7\] but the network for d2l ResNet, basic blocks, width 16, stages 1,1,1,1, .* expects \[16, 1, 7, 7\] \(the file says: d2l ResNet, width 8, stages 1,1,1,1/,
      );
    } finally {
      wide.dispose();
    }
    // A ResNet-18 file has keys a [1,1,1,1] network lacks.
    const deep = new ResNet({ depth: 18, width: 8 });
    const deepPath = `${dir}/deep.safetensors`;
    await saveTorchWeights(deep, deepPath);
    deep.dispose();
    await rejects2(() => loadTorchWeights(net, deepPath), /unexpected key "1\.1\.conv1\.weight"/);
    // Wrong dtype and non-finite values are refused too.
    const asInt = write(
      "int",
      gi.map((t) => t.name === "7.bias" ? { ...t, dtype: "I32" as const } : t),
    );
    await rejects2(() => loadTorchWeights(net, asInt), /"7\.bias" has dtype I32; expected a float/);
    const nan = write(
      "nan",
      gi.map((t) =>
        t.name === "7.bias"
          ? { ...t, data: new Float32Array(10).fill(Number.NaN), dtype: "F32" as const }
          : t
      ),
    );
    await rejects2(() => loadTorchWeights(net, nan), /key "7\.bias" holds NaN/);
    // None of the failed loads changed a weight.
    assert.deepEqual(await values(net.params.get("b1.0.weight")!.clone()), original);
    assert.deepEqual(net.numBatchesTracked, 0);
  } finally {
    net.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shapes --weights: a fitting file passes, a misfit exits 2 with one line", async () => {
  const ok = await runCli([
    "shapes",
    ...TINY_NET,
    "--size",
    "28",
    "--json",
    "--weights",
    GOLDEN_ST,
  ]);
  assert.deepEqual(ok.code, 0, ok.stderr);
  const t = JSON.parse(ok.stdout);
  assert.deepEqual(t.weights, { path: GOLDEN_ST, tensors: 71, numBatchesTracked: 7 });
  const bad = await runCli(["shapes", "--depth", "18", "--size", "28", "--weights", GOLDEN_ST]);
  assert.deepEqual(bad.code, 2);
  assert.deepEqual(bad.stdout, "");
  // Besides the backend's announcement, exactly one line: the error, with no stack trace.
  const errorLines = (stderr: string) =>
    stderr.trim().split("\n").filter((l) => !l.startsWith("backend:"));
  const lines = errorLines(bad.stderr);
  assert.deepEqual(lines.length, 1, bad.stderr);
  assert.ok(/key "0\.0\.weight" has shape \[8, 1, 7, 7\].*expects \[64, 1, 7, 7\]/.test(lines[0]));
  const missing = await runCli(["shapes", "--weights", "/nonexistent/w.safetensors"]);
  assert.deepEqual(missing.code, 2);
  assert.deepEqual(errorLines(missing.stderr).length, 1, missing.stderr);
  assert.ok(missing.stderr.includes("no such file"), missing.stderr);
});

interface TorchRecord {
  config: { width: number; stages: number[] };
  eval: Record<
    string,
    // predictions: one digit per test image, PyTorch's predicted class.
    { accuracy: number; correct: number; n: number; predictions: string }
  >;
}

const DATASET = "/usr/share/datasets/fashion-mnist";
const haveDataset = (() => {
  try {
    return Deno.statSync(`${DATASET}/t10k-images-idx3-ubyte.gz`).isFile;
  } catch {
    return false;
  }
})();
if (!haveDataset) {
  console.log(`skipping the PyTorch-accuracy test: ${DATASET} is absent (dataset-fashion-mnist)`);
}

Deno.test({
  name: "weights trained in PyTorch reach PyTorch's test accuracy (within 0.1 point) at 28 and 40",
  ignore: !haveDataset,
  async fn() {
    const rec = JSON.parse(
      await Deno.readTextFile(new URL("torch_w8_s1111.json", FIXTURES)),
    ) as TorchRecord;
    const path = new URL("torch_w8_s1111.safetensors", FIXTURES).pathname;
    const cache = await Deno.makeTempDir();
    const net = new ResNet({ stages: rec.config.stages, width: rec.config.width });
    try {
      const { test } = await loadFashionMnist({
        dataDir: cache,
        sourceDirs: [DATASET],
        mirrors: [],
        quiet: true,
      });
      await loadTorchWeights(net, path);
      // The whole test set at 28x28; the first 2,000 images after the resize to 40x40, which
      // costs twice as much per image on tfjs' CPU kernels (the resize itself is checked on the
      // golden logits above).
      for (const [size, limit] of [[28, 10000], [40, 2000]]) {
        const want = rec.eval[String(size)];
        assert.deepEqual(want.n, test.count);
        const before = tf.memory().numTensors;
        const preds: number[] = [];
        let correct = 0;
        for (const b of batches(test, { batchSize: 500, size, limit })) {
          const [p, c] = tf.tidy(() => {
            const pred = tf.argMax(net.apply(b.x, { training: false }), 1);
            return [pred, tf.sum(tf.cast(tf.equal(pred, b.y), "int32"))];
          });
          preds.push(...await p.data());
          correct += (await c.data())[0];
          tf.dispose([p, c, b.x, b.y]);
        }
        assert.deepEqual(tf.memory().numTensors, before);
        assert.deepEqual(preds.length, limit);
        const torchPreds = [...want.predictions.slice(0, limit)].map(Number);
        const torchCorrect = torchPreds.filter((p, i) => p === test.labels[i]).length;
        if (limit === want.n) assert.deepEqual(torchCorrect, want.correct);
        // Up to ties: near-equal top logits may flip between two float32 implementations; 0.1
        // percentage point of the images may differ, and so may the accuracy.
        const allowed = Math.floor(limit / 1000);
        const disagree = preds.filter((p, i) => p !== torchPreds[i]).length;
        assert.ok(
          disagree <= allowed,
          `${size}x${size}: ${disagree} of ${limit} predictions differ from PyTorch's`,
        );
        assert.ok(
          Math.abs(correct - torchCorrect) <= allowed,
          `${size}x${size}: ${correct}/${limit} correct, PyTorch ${torchCorrect}/${limit}`,
        );
      }
    } finally {
      net.dispose();
      await Deno.remove(cache, { recursive: true });
    }
  },
});

Deno.test(torchTest(
  "PyTorch loads our export with a strict load_state_dict and computes our logits",
  async () => {
    const dir = await Deno.makeTempDir();
    const net = new ResNet({ ...SMALL, seed: 11 });
    const x = tf.randomUniform([4, 32, 32, 1], 0, 1, "float32", 6) as tf.Tensor4D;
    try {
      // Training-mode passes give the running statistics and batch counts non-default values.
      tf.tidy(() => [net.apply(x, { training: true }), net.apply(x, { training: true })]);
      const weights = `${dir}/ours.safetensors`;
      await saveTorchWeights(net, weights);
      const nchw = await values(tf.transpose(x, [0, 3, 1, 2]));
      await Deno.writeTextFile(
        `${dir}/input.json`,
        JSON.stringify({
          stages: SMALL.stages,
          width: SMALL.width,
          x: { shape: [4, 1, 32, 32], data: [...nchw] },
        }),
      );
      const ev = await values(tf.tidy(() => net.apply(x, { training: false })));
      const tr = await values(tf.tidy(() => net.apply(x, { training: true })));
      const out = await runTorchPython([
        new URL("../../tools/torch_load_check.py", import.meta.url).pathname,
        weights,
        `${dir}/input.json`,
      ]);
      const r = JSON.parse(out);
      assert.deepEqual([r.keys, r.missing, r.unexpected], [71, [], []]);
      assert.equal(r.num_batches_tracked, 2);
      assertClose(r.logits_eval, ev, ATOL_EVAL, 0, "PyTorch eval logits");
      assertClose(r.logits_train, tr, ATOL_TRAIN, 0, "PyTorch train logits");
    } finally {
      x.dispose();
      net.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
));
