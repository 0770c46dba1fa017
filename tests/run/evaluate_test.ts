import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { CLASS_NAMES } from "../../lib/data/fashion_mnist.ts";
import { evaluate, formatEvaluation } from "../../lib/run/evaluate.ts";
import { confusionCsv } from "../../lib/run/confusion_csv.ts";
import { readHistory } from "../../lib/run/metrics.ts";
import { runCli, TINY_NET, TINY_RUN } from "../run_cli.ts";
import { GOLDEN_DIR, type GoldenTensor, readGolden } from "../golden.ts";
import { syntheticSplit } from "../synthetic_split.ts";
import { checkpointFile } from "../checkpoint_files.ts";

await initBackend("cpu");

/** One tiny finished run on real data, trained once for the CLI tests of this file. */
let runDir: Promise<string> | null = null;
let runParent: string | null = null;
globalThis.addEventListener("unload", () => {
  if (runParent) Deno.removeSync(runParent, { recursive: true });
});
function tinyRun(): Promise<string> {
  runDir ??= (async () => {
    runParent = await Deno.makeTempDir();
    const out = `${runParent}/run`;
    const r = await runCli([
      "train",
      ...TINY_RUN,
      "--epochs",
      "1",
      "--batch-size",
      "4",
      "--limit",
      "8",
      "--test-limit",
      "12",
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return out;
  })();
  return runDir;
}

function oneLineError(r: { code: number; stderr: string }, code: number, re: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("backend: "));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
}

Deno.test("evaluate counts per class and a confusion matrix consistent with accuracy", async () => {
  const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 2 });
  const split = syntheticSplit(10, 16, 4);
  const before = tf.memory().numTensors;
  const r = await evaluate(net, split, { size: 16, batchSize: 4, limit: 9 }, CLASS_NAMES);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.n, 9);
  assert.equal(r.confusion.flat().reduce((a, b) => a + b, 0), 9);
  assert.equal(r.correct, r.confusion.reduce((a, row, i) => a + row[i], 0));
  assert.equal(r.accuracy, r.correct / 9);
  const labels = Array.from(split.labels.subarray(0, 9));
  r.perClass.forEach((c, i) => {
    assert.equal(c.name, CLASS_NAMES[i]);
    assert.equal(c.n, labels.filter((l) => l === i).length);
  });
  // Predictions agree with a direct forward pass.
  const x = tf.tidy(() =>
    tf.div(tf.tensor4d(split.images.subarray(0, 9 * 256), [9, 16, 16, 1], "int32"), 255)
  );
  const pred = tf.tidy(() => tf.argMax(net.apply(x as tf.Tensor4D, { training: false }), 1));
  const p = await pred.data();
  assert.equal(r.correct, labels.filter((l, i) => p[i] === l).length);
  tf.dispose([x, pred]);
  assert.match(formatEvaluation(r), /Ankle boot/);
  const rows = parse(confusionCsv(r), { columns: true }) as Record<string, string>[];
  assert.equal(rows.length, 10);
  assert.equal(rows[0]["true\\predicted"], "T-shirt/top");
  net.dispose();
});

Deno.test("evaluate reports its progress: the total, the images done, the end", async () => {
  const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 2 });
  const seen: string[] = [];
  const progress = {
    start: (total: number) => seen.push(`start ${total}`),
    update: (done: number) => seen.push(`update ${done}`),
    stop: () => seen.push("stop"),
  };
  await evaluate(net, syntheticSplit(10, 16, 4), { size: 16, batchSize: 4, limit: 9, progress });
  assert.deepEqual([seen[0], ...seen.slice(-2)], ["start 9", "update 9", "stop"]);
  net.dispose();
});

Deno.test("eval --json on a finished run reproduces its last test accuracy", async () => {
  const out = await tinyRun();
  const h = await readHistory(out);
  const r = await runCli(["eval", "--run", out, "--limit", "12", "--json", "--backend", "cpu"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc), ["accuracy", "correct", "n", "per_class", "backend"]);
  assert.equal(doc.n, 12);
  assert.equal(doc.accuracy, h.epochs[0].test_acc);
  assert.equal(doc.correct, Math.round(doc.accuracy * 12));
  assert.deepEqual(doc.per_class.map((c: { name: string }) => c.name), [...CLASS_NAMES]);
  assert.deepEqual(Object.keys(doc.per_class[0]), ["class", "name", "accuracy"]);
  assert.match(doc.backend, /^cpu/);
});

Deno.test("eval --weights of an exported run: the run's size and architecture, said, same score", async () => {
  const out = await tinyRun();
  const w = `${out}/../exported.safetensors`;
  const e = await runCli(["export", "--run", out, "--format", "safetensors", "--out", w]);
  assert.equal(e.code, 0, e.stderr);
  const args = ["--limit", "12", "--json", "--backend", "cpu"];
  const fromRun = await runCli(["eval", "--run", out, ...args]);
  // No --stages, --width or --size: before, 96x96 (and ResNet-18's keys) were assumed silently.
  const fromFile = await runCli(["eval", "--weights", w, ...args]);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.match(
    fromFile.stderr,
    /^network: weights .*: stages 1,1,1,1, width 8, input 16x16 \(recorded in the file\)$/m,
  );
  assert.equal(JSON.parse(fromFile.stdout).accuracy, JSON.parse(fromRun.stdout).accuracy);
  oneLineError(
    await runCli(["eval", "--weights", w, "--size", "96", ...args]),
    2,
    /--size 96 contradicts/,
  );
});

Deno.test("eval prints a per-class table and writes the confusion matrix CSV", async () => {
  const out = await tinyRun();
  const csv = `${await Deno.makeTempDir()}/confusion.csv`;
  const r = await runCli([
    "eval",
    "--run",
    out,
    "--limit",
    "20",
    "--backend",
    "cpu",
    "--confusion",
    csv,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^test acc [01]\.\d{4} \(\d+\/20\)/);
  for (const name of CLASS_NAMES) assert.ok(r.stdout.includes(name), name);
  const rows = parse(await Deno.readTextFile(csv), { columns: true }) as Record<string, string>[];
  assert.equal(rows.length, 10);
  const total = rows.reduce(
    (a, row) => a + CLASS_NAMES.reduce((b, n) => b + Number(row[n]), 0),
    0,
  );
  assert.equal(total, 20);
});

Deno.test("eval: bad run directories and corrupt files are one line, exit 1", async () => {
  const out = await tinyRun();
  const dir = await Deno.makeTempDir();
  oneLineError(
    await runCli(["eval", "--run", `${dir}/nope`, "--backend", "cpu"]),
    1,
    /does not exist/,
  );
  oneLineError(await runCli(["eval", "--run", dir, "--backend", "cpu"]), 1, /holds no checkpoint/);
  // Usage errors and unwritable outputs come before the backend starts and before the work.
  const noArgs = await runCli(["eval"]);
  oneLineError(noArgs, 2, /exactly one of --run/);
  assert.doesNotMatch(noArgs.stderr, /^backend:/m);
  const confusionDir = await runCli(["eval", "--run", out, "--confusion", dir]);
  oneLineError(
    confusionDir,
    1,
    /--confusion .* is a directory: give a file, e\.g\. .*confusion\.csv$/,
  );
  assert.doesNotMatch(confusionDir.stderr, /^backend:/m);
  // A corrupted copy of the run: the original stays intact for other tests.
  const copy = `${dir}/copy`;
  await Deno.mkdir(copy);
  await copyTree(out, copy);
  const modelPath = await checkpointFile(copy, "model.json");
  const weightsPath = await checkpointFile(copy, "weights.bin");
  const model = await Deno.readTextFile(modelPath);
  await Deno.writeTextFile(modelPath, model.slice(0, model.length / 2));
  oneLineError(
    await runCli(["eval", "--run", copy, "--backend", "cpu"]),
    1,
    /model\.json is corrupt/,
  );
  await Deno.writeTextFile(modelPath, model);
  const w = await Deno.readFile(weightsPath);
  await Deno.writeFile(weightsPath, w.subarray(0, w.length - 8));
  oneLineError(
    await runCli(["eval", "--run", copy, "--backend", "cpu"]),
    1,
    /weights\.bin is corrupt/,
  );
  await Deno.remove(dir, { recursive: true });
});

/** Copies directory `from` into `to` (which exists), subdirectories included. */
async function copyTree(from: string, to: string): Promise<void> {
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) {
      await Deno.mkdir(`${to}/${e.name}`);
      await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    } else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

Deno.test("eval --weights on d2l's golden network agrees with PyTorch's predictions", async () => {
  const g = readGolden<{ labels: number[]; logits_eval_28: GoldenTensor }>(
    "small_w8_s1111.json",
  );
  const [n, k] = g.logits_eval_28.shape;
  const torchCorrect = g.labels.filter((label, i) => {
    const row = g.logits_eval_28.data.slice(i * k, (i + 1) * k);
    return row.indexOf(Math.max(...row)) === label;
  }).length;
  const r = await runCli([
    "eval",
    "--weights",
    new URL("small_w8_s1111.safetensors", GOLDEN_DIR).pathname,
    ...TINY_NET,
    "--size",
    "28",
    "--limit",
    String(n),
    "--backend",
    "cpu",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.n, n);
  assert.equal(doc.correct, torchCorrect);
});
