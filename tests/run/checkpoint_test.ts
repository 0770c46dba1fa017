import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { UserError } from "../../lib/errors.ts";
import { loadCheckpoint, saveCheckpoint } from "../../lib/run/checkpoint.ts";
import { layersModelHandler, paramNameOf, saveLayersModel } from "../../lib/io/layers_model.ts";
import type { TrainSettings } from "../../lib/run/recipe.ts";
import { defaultRunDir, ensureWritableDir } from "../../lib/run/run_dir.ts";
import { writeFileAtomic } from "../../lib/io/atomic.ts";
import { checkpointFile } from "../checkpoint_files.ts";
import { makeOptimizer, momentumState } from "../../lib/run/optimizer.ts";

await initBackend("cpu");
tf.env().set("WEBGPU_CPU_FORWARD", false);

const SIZE = 28;
const settings: TrainSettings = {
  epochs: 2,
  batchSize: 4,
  lr: 0.05,
  size: SIZE,
  seed: 3,
  limit: null,
  testLimit: null,
};

/** A tiny net whose BN running statistics are not the defaults, so saving them matters. */
function trainedTinyNet(): ResNet {
  const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 11 });
  tf.tidy(() => {
    net.apply(tf.randomUniform([4, SIZE, SIZE, 1], 0, 1, "float32", 5) as tf.Tensor4D, {
      training: true,
    });
  });
  return net;
}

function probe(): tf.Tensor4D {
  return tf.randomUniform([3, SIZE, SIZE, 1], 0, 1, "float32", 9) as tf.Tensor4D;
}

async function logits(net: ResNet, x: tf.Tensor4D): Promise<Float32Array> {
  const y = tf.tidy(() => net.apply(x, { training: false }));
  const v = await y.data() as Float32Array;
  y.dispose();
  return v;
}

Deno.test("paramNameOf maps tfjs-layers weight names to ours", () => {
  assert.deepEqual(paramNameOf("b2.0.conv1/kernel"), "b2.0.conv1.weight");
  assert.deepEqual(paramNameOf("b1.1/moving_variance"), "b1.1.running_var");
  assert.deepEqual(paramNameOf("b1.1/gamma"), "b1.1.weight");
  assert.deepEqual(paramNameOf("fc/bias"), "fc.bias");
  assert.deepEqual(paramNameOf("fc"), null);
});

Deno.test("checkpoint save -> load gives identical logits and keeps BN statistics", async () => {
  const dir = await Deno.makeTempDir();
  const before = tf.memory().numTensors;
  const net = trainedTinyNet();
  const x = probe();
  await saveCheckpoint(dir, net, { epoch: 1, batch: 0, settings, partial: null });
  const { net: back, checkpoint } = await loadCheckpoint(dir);
  assert.deepEqual(checkpoint.epoch, 1);
  assert.deepEqual(checkpoint.settings, settings);
  assert.deepEqual(back.numBatchesTracked, net.numBatchesTracked);
  assert.deepEqual(back.config, net.config);
  const rm = await back.params.get("b1.1.running_mean")!.data();
  assert.ok(rm.some((v) => v !== 0), "running mean was saved");
  assert.deepEqual(
    await back.params.get("b3.0.bn2.running_var")!.data(),
    await net.params.get("b3.0.bn2.running_var")!.data(),
  );
  assert.deepEqual(await logits(back, x), await logits(net, x));
  net.dispose();
  back.dispose();
  x.dispose();
  assert.deepEqual(tf.memory().numTensors, before);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the saved tfjs-layers model predicts our ResNet's inference logits", async () => {
  const dir = await Deno.makeTempDir();
  const net = trainedTinyNet();
  const x = probe();
  const c = await saveCheckpoint(dir, net, { epoch: 1, batch: 0, settings, partial: null });
  const json = JSON.parse(await Deno.readTextFile(`${dir}/${c.model}/model.json`));
  assert.deepEqual(json.format, "layers-model");
  assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
  const model = await tfl.loadLayersModel(layersModelHandler(`${dir}/${c.model}`));
  const y = model.predict(x) as tf.Tensor;
  const got = await y.data();
  const want = await logits(net, x);
  assert.deepEqual(y.shape, [3, 10]);
  // Different kernels (padding layer + valid conv vs. padded conv) may round differently.
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
  assert.ok(maxDiff < 1e-4, `max |layers - ResNet| = ${maxDiff}`);
  tf.dispose([y, x]);
  model.dispose();
  net.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("corrupt or missing checkpoint files are one-line UserErrors", async () => {
  const dir = await Deno.makeTempDir();
  const net = trainedTinyNet();
  await saveCheckpoint(dir, net, { epoch: 1, batch: 0, settings, partial: null });
  net.dispose();
  const before = tf.memory().numTensors;
  const oneLine = async (fn: () => Promise<unknown>, re: RegExp) => {
    await assert.rejects(fn, (e: unknown) => {
      assert.ok(e instanceof UserError, String(e));
      assert.ok(!e.message.includes("\n"), e.message);
      assert.match(e.message, re);
      return true;
    });
  };
  await oneLine(() => loadCheckpoint(`${dir}/nope`), /does not exist/);
  const weightsPath = await checkpointFile(dir, "weights.bin");
  const modelPath = await checkpointFile(dir, "model.json");
  const weights = await Deno.readFile(weightsPath);
  const model = await Deno.readTextFile(modelPath);

  const flipped = weights.slice();
  flipped[100] ^= 0xff;
  await Deno.writeFile(weightsPath, flipped);
  await oneLine(() => loadCheckpoint(dir), /weights\.bin is corrupt/);
  await Deno.writeFile(weightsPath, weights.slice(0, 1000));
  await oneLine(() => loadCheckpoint(dir), /weights\.bin is corrupt/);
  await Deno.writeFile(weightsPath, weights);

  await Deno.writeTextFile(modelPath, model.slice(0, 200));
  await oneLine(() => loadCheckpoint(dir), /model\.json is corrupt/);
  await Deno.writeTextFile(modelPath, "{}");
  await oneLine(() => loadCheckpoint(dir), /model\.json is corrupt/);
  // Two weights of one shape swapped by name: valid JSON, right sizes, wrong network.
  await Deno.writeTextFile(
    modelPath,
    model.replace('"b1.1/gamma"', '"SWAP"').replace('"b1.1/beta"', '"b1.1/gamma"')
      .replace('"SWAP"', '"b1.1/beta"'),
  );
  assert.notEqual(await Deno.readTextFile(modelPath), model, "the swap changed model.json");
  await oneLine(() => loadCheckpoint(dir), /model\.json is corrupt \(its checksum differs/);
  await Deno.writeTextFile(modelPath, model);
  await Deno.remove(weightsPath);
  await oneLine(() => loadCheckpoint(dir), /cannot read .*weights\.bin/);
  await Deno.writeFile(weightsPath, weights);

  const text = await Deno.readTextFile(`${dir}/checkpoint.json`);
  await Deno.writeTextFile(`${dir}/checkpoint.json`, text.replace('"epoch": 1', '"epoch": 2'));
  await oneLine(() => loadCheckpoint(dir), /checkpoint\.json is corrupt .*checksum/);
  await Deno.writeTextFile(`${dir}/checkpoint.json`, text);

  await Deno.writeTextFile(`${dir}/checkpoint.json`, "{");
  await oneLine(() => loadCheckpoint(dir), /checkpoint\.json is corrupt/);
  await Deno.remove(`${dir}/checkpoint.json`);
  await oneLine(() => loadCheckpoint(dir), /holds no checkpoint/);
  assert.deepEqual(tf.memory().numTensors, before);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("run directories: default name, writability check, atomic writes", async () => {
  const when = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.equal(defaultRunDir(18, when), "runs/20260102-030405-resnet18");
  assert.equal(defaultRunDir(null, when), "runs/20260102-030405-resnet-custom");
  const dir = await Deno.makeTempDir();
  await ensureWritableDir(`${dir}/a/b`);
  assert.ok((await Deno.stat(`${dir}/a/b`)).isDirectory);
  await Deno.writeTextFile(`${dir}/file`, "x");
  await assert.rejects(ensureWritableDir(`${dir}/file/run`), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /cannot write to output directory .*; choose another directory$/);
    return true;
  });
  await assert.rejects(ensureWritableDir(`${dir}/file`), /file\/?\S* is a file, not a directory/);
  await writeFileAtomic(`${dir}/f.txt`, "one");
  await writeFileAtomic(`${dir}/f.txt`, "two");
  assert.equal(await Deno.readTextFile(`${dir}/f.txt`), "two");
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assert.deepEqual(names.sort(), ["a", "f.txt", "file"], "no temporary files left");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a run saved in the version-1 layout still loads; the next save moves it to model-N", async () => {
  const dir = await Deno.makeTempDir();
  const net = trainedTinyNet();
  const x = probe();
  await saveLayersModel(net, SIZE, dir); // model.json + weights.bin beside checkpoint.json
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(`${dir}/weights.bin`));
  const v1 = {
    format: "resnet-d2l-checkpoint",
    version: 1,
    epoch: 1,
    batch: 0,
    partial: null,
    config: net.config,
    settings,
    numBatchesTracked: net.numBatchesTracked,
    weightsSha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""),
    savedAt: new Date().toISOString(),
  };
  await Deno.writeTextFile(`${dir}/checkpoint.json`, JSON.stringify(v1, null, 2));
  const { net: back, checkpoint } = await loadCheckpoint(dir);
  assert.equal(checkpoint.version, 1);
  assert.deepEqual(await logits(back, x), await logits(net, x));
  const c = await saveCheckpoint(dir, back, { epoch: 2, batch: 0, settings, partial: null });
  assert.equal(c.version, 2);
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assert.deepEqual(names.sort(), ["checkpoint.json", "model-1"]);
  tf.dispose([x]);
  net.dispose();
  back.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a save keeps one checkpoint and clears what killed saves left", async () => {
  const dir = await Deno.makeTempDir();
  const net = trainedTinyNet();
  await saveCheckpoint(dir, net, { epoch: 1, batch: 0, settings, partial: null });
  // What kills leave: an uncommitted model directory, temporary files and directories.
  await Deno.mkdir(`${dir}/model-7`);
  await Deno.mkdir(`${dir}/.model-8.123-abc.tmp`);
  await Deno.writeTextFile(`${dir}/.checkpoint.json.123-abd.tmp`, "{");
  const c = await saveCheckpoint(dir, net, { epoch: 2, batch: 0, settings, partial: null });
  assert.equal(c.model, "model-8", "numbered after every directory there, committed or not");
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assert.deepEqual(names.sort(), ["checkpoint.json", "model-8"]);
  assert.equal((await loadCheckpoint(dir)).checkpoint.epoch, 2);
  net.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a save that fails at any rename leaves the previous checkpoint loadable", async () => {
  const dir = await Deno.makeTempDir();
  const net = trainedTinyNet();
  await saveCheckpoint(dir, net, { epoch: 1, batch: 0, settings, partial: null });
  const rename = Deno.rename;
  for (const failAt of [1, 2]) {
    let n = 0;
    Object.assign(Deno, {
      rename: (a: string, b: string) =>
        ++n === failAt ? Promise.reject(new Error("ENOSPC")) : rename(a, b),
    });
    try {
      await assert.rejects(
        saveCheckpoint(dir, net, { epoch: 2, batch: 0, settings, partial: null }),
        /ENOSPC/,
      );
    } finally {
      Object.assign(Deno, { rename });
    }
    const { net: back, checkpoint } = await loadCheckpoint(dir);
    assert.equal(checkpoint.epoch, 1, `failure at rename ${failAt}`);
    back.dispose();
  }
  net.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SGD's momentum buffers are saved beside the model, checksummed, and restored", async () => {
  const dir = await Deno.makeTempDir();
  const before = tf.memory().numTensors;
  const net = trainedTinyNet();
  const s = { ...settings, momentum: 0.9 };
  const opt = makeOptimizer(net, { lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 }, null);
  // Buffers that are not zeros: one step on a random batch.
  opt.minimize(
    () => tf.mean(net.apply(probe(), { training: true })) as tf.Scalar,
    false,
    net.trainableVariables(),
  );
  const state = await momentumState(net, opt);
  assert.equal(state!.length, net.trainableVariables().length);
  const ckpt = await saveCheckpoint(
    dir,
    net,
    { epoch: 1, batch: 0, settings: s, partial: null },
    state,
  );
  assert.match(ckpt.optimizerSha256!, /^[0-9a-f]{64}$/);
  const { net: back, optimizer: saved } = await loadCheckpoint(dir);
  const restored = makeOptimizer(
    back,
    { lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 },
    saved,
  );
  for (const [name, v] of net.params) {
    if (!v.trainable) continue;
    const w = back.params.get(name)!;
    assert.deepEqual(await restored.momentumOf(w)!.data(), await opt.momentumOf(v)!.data(), name);
  }
  // A run without momentum saves no optimizer file; a corrupt one is refused in one line.
  const path = `${dir}/${ckpt.model}/optimizer.safetensors`;
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 1] ^= 1;
  await Deno.writeFile(path, bytes);
  await assert.rejects(loadCheckpoint(dir), (e: unknown) => {
    assert.ok(e instanceof UserError && !e.message.includes("\n"));
    assert.match(e.message, /optimizer\.safetensors is corrupt \(its checksum differs/);
    return true;
  });
  const plain = await saveCheckpoint(dir, net, { epoch: 2, batch: 0, settings, partial: null });
  assert.equal(plain.optimizerSha256, undefined);
  await assert.rejects(Deno.stat(`${dir}/${plain.model}/optimizer.safetensors`));
  // Saved state that does not fit the network is refused too.
  const wrong = new Map([...saved!].map(([k, v]) => [k, v.subarray(1)]));
  assert.throws(
    () => makeOptimizer(back, { lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 }, wrong),
    /holds no momentum buffer of \d+ values for b1\.0\.weight: it is corrupt/,
  );
  restored.dispose();
  opt.dispose();
  back.dispose();
  net.dispose();
  assert.equal(tf.memory().numTensors, before);
  await Deno.remove(dir, { recursive: true });
});
