import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { UserError } from "../../lib/errors.ts";
import { loadCheckpoint, saveCheckpoint } from "../../lib/run/checkpoint.ts";
import { layersModelHandler, paramNameOf } from "../../lib/io/layers_model.ts";
import type { TrainSettings } from "../../lib/run/metrics.ts";
import { defaultRunDir, ensureWritableDir } from "../../lib/run/run_dir.ts";
import { writeFileAtomic } from "../../lib/io/atomic.ts";

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
  await saveCheckpoint(dir, net, { epoch: 1, batch: 0, settings, partial: null });
  const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
  assert.deepEqual(json.format, "layers-model");
  assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
  const model = await tfl.loadLayersModel(layersModelHandler(dir));
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
  const weights = await Deno.readFile(`${dir}/weights.bin`);
  const model = await Deno.readTextFile(`${dir}/model.json`);

  const flipped = weights.slice();
  flipped[100] ^= 0xff;
  await Deno.writeFile(`${dir}/weights.bin`, flipped);
  await oneLine(() => loadCheckpoint(dir), /weights\.bin is corrupt/);
  await Deno.writeFile(`${dir}/weights.bin`, weights.slice(0, 1000));
  await oneLine(() => loadCheckpoint(dir), /weights\.bin is corrupt/);
  await Deno.writeFile(`${dir}/weights.bin`, weights);

  await Deno.writeTextFile(`${dir}/model.json`, model.slice(0, 200));
  await oneLine(() => loadCheckpoint(dir), /model\.json is corrupt/);
  await Deno.writeTextFile(`${dir}/model.json`, "{}");
  await oneLine(() => loadCheckpoint(dir), /model\.json is corrupt/);
  await Deno.writeTextFile(`${dir}/model.json`, model);

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
    assert.match(e.message, /cannot write to output directory .*choose another --out$/);
    return true;
  });
  await writeFileAtomic(`${dir}/f.txt`, "one");
  await writeFileAtomic(`${dir}/f.txt`, "two");
  assert.equal(await Deno.readTextFile(`${dir}/f.txt`), "two");
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assert.deepEqual(names.sort(), ["a", "f.txt", "file"], "no temporary files left");
  await Deno.remove(dir, { recursive: true });
});
