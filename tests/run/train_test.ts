import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { type BackendInfo, initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { trainStep } from "../../lib/model/step.ts";
import { DivergedError, train, type TrainOptions } from "../../lib/run/train.ts";
import { loadCheckpoint } from "../../lib/run/checkpoint.ts";
import { evaluate } from "../../lib/run/evaluate.ts";
import { METRICS_COLUMNS, readHistory } from "../../lib/run/metrics.ts";
import { resolveSettings, type TrainSettings } from "../../lib/run/recipe.ts";
import { trainEpoch } from "../../lib/run/epoch.ts";
import { makeOptimizer } from "../../lib/run/optimizer.ts";
import { assertClose } from "../golden.ts";
import { parse } from "csv-parse/sync";
import { syntheticSplit } from "../synthetic_split.ts";
import { checkpointFile } from "../checkpoint_files.ts";

const backend: BackendInfo = await initBackend("cpu");

// 16x16 inputs keep the CPU backend fast; the tiny net still reaches 1x1 at b5.
const SIZE = 16;
const data = { train: syntheticSplit(64, SIZE, 1), test: syntheticSplit(16, SIZE, 2) };
const model = { stages: [1, 1, 1, 1], width: 8 };
const settings = (over: Partial<TrainSettings> = {}): TrainSettings => ({
  epochs: 2,
  batchSize: 4,
  lr: 0.05,
  size: SIZE,
  seed: 7,
  limit: 16,
  testLimit: 8,
  ...over,
});
const run = (out: string, over: Partial<TrainOptions> = {}) =>
  train({ data, out, model, settings: settings(), backend, ...over });

Deno.test("overfitting one fixed batch halves the loss within 30 steps", async () => {
  const net = new ResNet({ ...model, seed: 3 });
  const opt = tf.train.sgd(0.05);
  const split = syntheticSplit(8, SIZE, 5);
  const x = tf.tidy(() => tf.div(tf.tensor4d(split.images, [8, SIZE, SIZE, 1], "int32"), 255));
  const y = tf.tensor1d(split.labels, "int32");
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const { loss, correct } = trainStep(net, opt, x as tf.Tensor4D, y);
    losses.push((await loss.data())[0]);
    tf.dispose([loss, correct]);
    if (losses.at(-1)! <= losses[0] / 2) break;
  }
  assert.ok(losses.at(-1)! <= losses[0] / 2, `losses ${losses.map((l) => l.toFixed(3))}`);
  tf.dispose([x, y]);
  opt.dispose();
  net.dispose();
});

Deno.test("a run writes metrics.csv with one row per epoch, history, no leaks", async () => {
  const out = await Deno.makeTempDir();
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  // 5 epochs of 4 steps: 20 steps, with the device sums read back every 3 steps.
  const r = await run(out, {
    settings: settings({ epochs: 5 }),
    readEvery: 3,
    afterStep: () => counts.push(tf.memory().numTensors),
  });
  assert.equal(r.status, "finished");
  assert.equal(counts.length, 20);
  assert.equal(Math.max(...counts), Math.min(...counts), `tensor counts ${counts}`);
  assert.equal(tf.memory().numTensors, before);

  const csv = await Deno.readTextFile(`${out}/metrics.csv`);
  const lines = csv.trimEnd().split("\n");
  assert.equal(lines[0], "epoch,train_loss,train_acc,test_acc,examples_per_sec,epoch_seconds,lr");
  const rows = parse(csv, { columns: true }) as Record<string, string>[];
  assert.equal(rows.length, 5);
  rows.forEach((row, i) => {
    assert.deepEqual(Object.keys(row), [...METRICS_COLUMNS]);
    assert.equal(Number(row.epoch), i + 1);
    for (const c of METRICS_COLUMNS) assert.ok(Number.isFinite(Number(row[c])), `${c}=${row[c]}`);
    assert.ok(Number(row.train_acc) >= 0 && Number(row.train_acc) <= 1);
    assert.ok(Number(row.test_acc) >= 0 && Number(row.test_acc) <= 1);
    assert.equal(Number(row.lr), 0.05);
  });
  const h = await readHistory(out);
  assert.equal(h.epochs.length, 5);
  assert.equal(h.finished, true);
  assert.equal(h.backends[0].name, "cpu");
  assert.deepEqual(h.config.stages, [1, 1, 1, 1]);
  assert.ok(h.versions["tfjs-core"]);
  // What a person looks at (curves.svg, report.html) the caller draws: tests/cli/train_test.ts.
  assert.equal(await Deno.stat(`${out}/curves.svg`).catch(() => null), null);

  // The checkpoint reproduces the last test accuracy.
  const { net, checkpoint } = await loadCheckpoint(out);
  assert.equal(checkpoint.epoch, 5);
  const ev = await evaluate(net, data.test, { size: SIZE, batchSize: 4, limit: 8 });
  assert.equal(ev.accuracy, h.epochs[4].test_acc);
  assert.equal(ev.n, 8);
  net.dispose();
  await Deno.remove(out, { recursive: true });
});

Deno.test("each epoch's test pass is shown through the progress sink", async () => {
  const out = await Deno.makeTempDir();
  const seen: string[] = [];
  const progress = {
    start() {},
    update() {},
    stop() {},
    testPass: (epoch: number, epochs: number) => ({
      start: (total: number) => seen.push(`${epoch}/${epochs} start ${total}`),
      update: (done: number) => seen.push(`${epoch}/${epochs} ${done}`),
      stop: () => seen.push(`${epoch}/${epochs} stop`),
    }),
  };
  await run(out, { progress });
  assert.deepEqual(seen, ["1/2 start 8", "1/2 8", "1/2 stop", "2/2 start 8", "2/2 8", "2/2 stop"]);
  await Deno.remove(out, { recursive: true });
});

// The second set has the per-step schedule and the per-image flip schedule: both must resume
// mid-epoch where they stopped.
const RESUMED: Partial<TrainSettings>[] = [
  { momentum: 0.9, augment: ["crop", "flip", "erase"] },
  { momentum: 0.9, nesterov: true, schedule: "linear", labelSmoothing: 0.2, augment: ["altflip"] },
];
for (const opts of RESUMED) {
  Deno.test(`an interrupted run resumed ends with the same weights and metrics as an uninterrupted one (${JSON.stringify(opts)})`, async () => {
    const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
    await run(a, { settings: settings(opts) });
    // Interrupt in the middle of epoch 1, after its second step, as the CLI does: through the
    // signal alone, with no afterStep hook (the step count once advanced only inside one).
    const ctl = new AbortController();
    const progress = {
      start() {},
      update: (done: number) => done === 8 && ctl.abort(),
      stop() {},
    };
    const first = await run(b, {
      settings: settings(opts),
      signal: ctl.signal,
      readEvery: 1,
      progress,
    });
    assert.equal(first.status, "interrupted");
    assert.equal(first.checkpoint.epoch, 0);
    assert.equal(first.checkpoint.batch, 2);
    assert.equal(first.checkpoint.partial?.examples, 8);
    const second = await train({ data, out: b, resume: true, settings: settings(), backend });
    assert.equal(second.status, "finished");
    assert.deepEqual(
      await Deno.readFile(await checkpointFile(b, "weights.bin")),
      await Deno.readFile(await checkpointFile(a, "weights.bin")),
    );
    assert.deepEqual(
      await Deno.readFile(await checkpointFile(b, "optimizer.safetensors")),
      await Deno.readFile(await checkpointFile(a, "optimizer.safetensors")),
    );
    const ha = await readHistory(a), hb = await readHistory(b);
    assert.equal(hb.epochs.length, 2);
    for (const k of ["train_loss", "train_acc", "test_acc", "lr"] as const) {
      assert.deepEqual(hb.epochs.map((r) => r[k]), ha.epochs.map((r) => r[k]), k);
    }
    const ca = await loadCheckpoint(a), cb = await loadCheckpoint(b);
    assert.equal(cb.net.numBatchesTracked, ca.net.numBatchesTracked);
    ca.net.dispose();
    cb.net.dispose();
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  });
}

// Every step's end is a save point here: a tiny interval (in seconds) has always passed.
const EVERY_STEP = 1e-9;

Deno.test("checkpoints part-way through epochs change nothing; a kill after one resumes from it exactly", async () => {
  const opts = RESUMED[0];
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir(), c = await Deno.makeTempDir();
  await run(a, { settings: settings(opts) });
  const before = tf.memory().numTensors;
  await run(c, { settings: settings(opts), saveEvery: EVERY_STEP });
  assert.equal(tf.memory().numTensors, before);
  // A kill in epoch 2 after its third step: the save after its second step is the last one.
  const killed = new Error("killed");
  await assert.rejects(
    run(b, {
      settings: settings(opts),
      saveEvery: EVERY_STEP,
      afterStep: (_net, epoch, step) => {
        if (epoch === 1 && step === 2) throw killed;
      },
    }),
    (e) => e === killed,
  );
  const saved = JSON.parse(await Deno.readTextFile(`${b}/checkpoint.json`));
  assert.deepEqual([saved.epoch, saved.batch, saved.partial.examples], [1, 2, 8]);
  const resumed = await train({ data, out: b, resume: true, settings: settings(), backend });
  assert.equal(resumed.status, "finished");
  for (const dir of [b, c]) {
    for (const f of ["weights.bin", "optimizer.safetensors"] as const) {
      assert.deepEqual(
        await Deno.readFile(await checkpointFile(dir, f)),
        await Deno.readFile(await checkpointFile(a, f)),
        `${dir === b ? "killed and resumed" : "saving every step"}: ${f}`,
      );
    }
    const ha = await readHistory(a), h = await readHistory(dir);
    for (const k of ["train_loss", "train_acc", "test_acc", "lr"] as const) {
      assert.deepEqual(h.epochs.map((r) => r[k]), ha.epochs.map((r) => r[k]), k);
    }
  }
  for (const dir of [a, b, c]) await Deno.remove(dir, { recursive: true });
});

Deno.test("a checkpoint part-way through an epoch is not written when a weight is no longer finite", async () => {
  const out = await Deno.makeTempDir();
  await assert.rejects(
    run(out, {
      readEvery: 1,
      saveEvery: EVERY_STEP,
      // After step 1 of epoch 2 (its loss was finite), fc's weights go NaN: the save after that
      // step must not keep them; step 2's loss is NaN. The save after step 0 stays the last.
      afterStep: (net, epoch, step) => {
        if (epoch === 1 && step === 1) {
          const w = net.params.get("fc.weight")!;
          tf.tidy(() => w.assign(tf.fill(w.shape, NaN)));
        }
      },
    }),
    (e: unknown) => {
      assert.ok(e instanceof DivergedError, String(e));
      assert.match(e.message, /checkpoint \(epoch 1 and 1 steps of epoch 2\) in \S+ stays/);
      return true;
    },
  );
  const { net, checkpoint } = await loadCheckpoint(out);
  assert.deepEqual([checkpoint.epoch, checkpoint.batch], [1, 1]);
  assert.ok((await net.params.get("fc.weight")!.data()).every(Number.isFinite));
  net.dispose();
  await Deno.remove(out, { recursive: true });
});

Deno.test("trainEpoch saves part-way after every step but the last, and a save's time is not training time", async () => {
  const before = tf.memory().numTensors;
  const net = new ResNet({ ...model, seed: 1 });
  const s = resolveSettings(settings());
  const t = { net, optimizer: makeOptimizer(net, s, null), settings: s, data };
  const saves: [number, number][] = [];
  const SAVE_MS = 300;
  const r = await trainEpoch(t, {
    epoch: 0,
    checkpoint: {
      every: EVERY_STEP,
      save: async (step, sums) => {
        saves.push([step, sums.examples]);
        await new Promise((done) => setTimeout(done, SAVE_MS));
      },
    },
  });
  // 16 images in steps of 4: saves after steps 1, 2 and 3, with the sums up to each.
  assert.deepEqual(saves, [[1, 4], [2, 8], [3, 12]]);
  assert.ok(r.wallSeconds() >= 3 * SAVE_MS / 1000, `wall ${r.wallSeconds()} s`);
  assert.ok(r.seconds < r.wallSeconds() - 3 * SAVE_MS / 1000 + 0.05, `training ${r.seconds} s`);
  assert.equal(r.sums.trainSeconds, r.seconds);
  t.optimizer.dispose();
  net.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("a NaN loss stops the run with one line and keeps the last good checkpoint", async () => {
  const out = await Deno.makeTempDir();
  const before = tf.memory().numTensors;
  await assert.rejects(
    run(out, {
      readEvery: 1,
      // Step 0's weights go NaN after its loss was taken: step 1's loss, read by step 2, is NaN.
      afterStep: (net, epoch, step) => {
        if (epoch === 1 && step === 0) {
          const w = net.params.get("fc.weight")!;
          tf.tidy(() => w.assign(tf.fill(w.shape, NaN)));
        }
      },
    }),
    (e: unknown) => {
      assert.ok(e instanceof DivergedError, String(e));
      assert.ok(!e.message.includes("\n"));
      assert.match(
        e.message,
        /loss became NaN in epoch 2 \(by step 2\) .*checkpoint \(epoch 1\) in \S+ stays: .*e\.g\. 0\.005$/,
      );
      return true;
    },
  );
  assert.equal(tf.memory().numTensors, before);
  const { net, checkpoint } = await loadCheckpoint(out);
  assert.equal(checkpoint.epoch, 1);
  const fc = await net.params.get("fc.weight")!.data();
  assert.ok(fc.every(Number.isFinite));
  assert.equal((await readHistory(out)).epochs.length, 1);
  net.dispose();
  // The suggested recovery: resume with a lower learning rate, recorded per epoch.
  const again = await train({
    data,
    out,
    resume: true,
    settings: settings({ lr: 0.005 }),
    backend,
  });
  assert.equal(again.status, "finished");
  assert.deepEqual(again.history.epochs.map((r) => r.lr), [0.05, 0.005]);
  await Deno.remove(out, { recursive: true });
});

Deno.test("training into a directory that already holds a run is refused", async () => {
  const out = await Deno.makeTempDir();
  await run(out, { settings: settings({ epochs: 1, limit: 4 }) });
  await assert.rejects(
    run(out),
    /already holds a run: resume it, or train into another directory$/,
  );
  await Deno.remove(out, { recursive: true });
});

Deno.test("the next batch is made before each read-back (upload overlaps the step), and never leaks", async () => {
  const out = await Deno.makeTempDir();
  const before = tf.memory().numTensors;
  const atStep: number[] = [], atRead: number[] = [];
  // 2 epochs of 4 steps, a read-back after every step.
  const r = await run(out, {
    readEvery: 1,
    afterStep: () => atStep.push(tf.memory().numTensors),
    progress: {
      start() {},
      update: () => atRead.push(tf.memory().numTensors),
      stop() {},
    },
  });
  assert.equal(r.status, "finished");
  // Each epoch: 4 per-step read-backs, then the end-of-epoch one (same count as the 4th).
  assert.equal(atStep.length, 8);
  assert.equal(atRead.length, 10);
  const reads = [...atRead.slice(0, 4), ...atRead.slice(5, 9)];
  // Steps 1-3 of an epoch: the next batch's x and y exist at the read; after step 4 none does.
  reads.forEach((n, i) => assert.equal(n, atStep[i] + (i % 4 === 3 ? 0 : 2), `read ${i}`));
  assert.equal(tf.memory().numTensors, before);
  await Deno.remove(out, { recursive: true });
});

Deno.test("an interrupted run disposes the batch it had made ahead", async () => {
  const out = await Deno.makeTempDir();
  const before = tf.memory().numTensors;
  const ctl = new AbortController();
  const r = await run(out, {
    signal: ctl.signal,
    afterStep: (_n, epoch, step) => {
      if (epoch === 0 && step === 0) ctl.abort();
    },
  });
  assert.equal(r.status, "interrupted");
  assert.equal(r.checkpoint.batch, 1);
  assert.equal(tf.memory().numTensors, before);
  await Deno.remove(out, { recursive: true });
});

// The training options: momentum, Nesterov, weight decay, a schedule with warm-up, label
// smoothing and every augmentation, each recorded and restored by a resume.
const OPTIONS: Partial<TrainSettings> = {
  epochs: 3,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  schedule: "cosine",
  warmupEpochs: 1,
  labelSmoothing: 0.1,
  augment: ["crop", "flip", "erase"],
};

for (const name of ["cpu", "native"]) {
  Deno.test({
    name: `${name}: with momentum, a schedule, smoothing and augmentation, an interrupted run ` +
      "resumed ends with the same weights and momentum buffers as an uninterrupted one",
    ignore: name === "native" && !(await initBackend("native").then(() => true, () => false)),
    fn: async () => {
      const info = await initBackend(name as "cpu" | "native");
      try {
        const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
        const over = { settings: settings(OPTIONS), backend: info };
        const before = tf.memory().numTensors;
        const full = await run(a, over);
        assert.equal(tf.memory().numTensors, before);
        // lr 0.05: warm-up epoch at half, then cosine over the two epochs left.
        assert.deepEqual(full.history.epochs.map((r) => r.lr), [0.025, 0.05, 0.025]);
        // Interrupted twice: mid-epoch 1 and mid-epoch 2, each resumed.
        for (const stopAt of [[0, 1], [1, 2]]) {
          const ctl = new AbortController();
          const r = await train({
            data,
            out: b,
            resume: stopAt[0] > 0,
            model,
            ...over,
            signal: ctl.signal,
            afterStep: (_n, epoch, step) => {
              if (epoch === stopAt[0] && step === stopAt[1]) ctl.abort();
            },
          });
          assert.equal(r.status, "interrupted");
        }
        const last = await train({ data, out: b, resume: true, ...over });
        assert.equal(last.status, "finished");
        for (const f of ["weights.bin", "optimizer.safetensors"]) {
          const at = async (dir: string) => `${dir}/${(await readCheckpointJson(dir)).model}/${f}`;
          const [x, y] = [await Deno.readFile(await at(b)), await Deno.readFile(await at(a))];
          // Compared as bytes (a deepEqual's diff of 300 kB would take minutes on failure).
          assert.ok(x.length === y.length && x.every((v, i) => v === y[i]), `${f} differs`);
        }
        const ha = await readHistory(a), hb = await readHistory(b);
        assert.deepEqual(hb.epochs.map((r) => r.test_acc), ha.epochs.map((r) => r.test_acc));
        assert.deepEqual(hb.epochs.map((r) => r.lr), ha.epochs.map((r) => r.lr));
        assert.deepEqual(ha.settings, { ...settings(OPTIONS), recipe: "d2l", tta: false });
        assert.deepEqual(hb.settings, ha.settings);
        await Deno.remove(a, { recursive: true });
        await Deno.remove(b, { recursive: true });
      } finally {
        await tf.setBackend("cpu");
      }
    },
  });
}

async function readCheckpointJson(dir: string) {
  return JSON.parse(await Deno.readTextFile(`${dir}/checkpoint.json`));
}

Deno.test("a per-step schedule sets the step's rate before every step (linear: lr * (1 - t))", async () => {
  const before = tf.memory().numTensors;
  const net = new ResNet({ ...model, seed: 1 });
  const s = resolveSettings(settings({ schedule: "linear", lr: 0.08, epochs: 2 }));
  const t = { net, optimizer: makeOptimizer(net, s, null), settings: s, data };
  const seen: number[] = [];
  await trainEpoch(t, { epoch: 1, afterStep: () => seen.push(t.optimizer.lr) });
  assertClose(seen, [0.04, 0.03, 0.02, 0.01], 1e-9); // 4 steps of 4 images, second of 2 epochs
  t.optimizer.dispose();
  net.dispose();
  assert.equal(tf.memory().numTensors, before);
});
