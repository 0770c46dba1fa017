import assert from "node:assert/strict";
import { runCli, TINY_RUN } from "../run_cli.ts";
import { readHistory } from "../../lib/run/metrics.ts";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { loadCheckpoint } from "../../lib/run/checkpoint.ts";
import { loadTorchWeights } from "../../lib/io/torch_weights.ts";
import { GOLDEN_DIR } from "../golden.ts";
import { checkpointFile } from "../checkpoint_files.ts";

// The tiny network on real Fashion-MNIST, resized to 16x16 so the CPU backend stays quick.

function oneLineError(r: { code: number; stderr: string }, code: number, re: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("backend: "));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

Deno.test("train --json prints one object per epoch and d2l's summary; the run dir is complete", async () => {
  const out = `${await Deno.makeTempDir()}/run`;
  const r = await runCli([
    "train",
    ...TINY_RUN,
    "--epochs",
    "2",
    "--batch-size",
    "4",
    "--limit",
    "8",
    "--test-limit",
    "8",
    "--seed",
    "3",
    "--out",
    out,
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^backend: cpu/m);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.type), ["epoch", "epoch", "summary"]);
  assert.deepEqual(lines.slice(0, 2).map((l) => l.epoch), [1, 2]);
  assert.equal(lines[2].test_acc, lines[1].test_acc);
  assert.ok(lines[2].examples_per_sec > 0);
  assert.match(lines[2].backend, /^cpu/);
  for (const f of ["checkpoint.json", "history.json", "metrics.csv"]) {
    assert.ok((await Deno.stat(`${out}/${f}`)).size > 0, f);
  }
  for (const f of ["model.json", "weights.bin"] as const) {
    assert.ok((await Deno.stat(await checkpointFile(out, f))).size > 0, f);
  }
  // One checkpoint is kept; no lock or temporary file is left behind.
  const names = [];
  for await (const e of Deno.readDir(out)) names.push(e.name);
  assert.deepEqual(names.sort(), [
    "checkpoint.json",
    "curves.svg",
    "history.json",
    "metrics.csv",
    "model-3",
    "report.html",
  ]);
  assert.match(await Deno.readTextFile(`${out}/curves.svg`), /^<svg[^]*train loss[^]*test acc/);
  const h = await readHistory(out);
  assert.equal(h.settings.size, 16);
  assert.equal(h.settings.limit, 8);
  assert.equal(h.epochs.length, 2);
  assert.ok(h.versions["resnet-d2l"]);
  await Deno.remove(out, { recursive: true });
});

Deno.test("train prints text epoch lines and d2l's two summary lines", async () => {
  const out = `${await Deno.makeTempDir()}/run`;
  const r = await runCli([
    "train",
    ...TINY_RUN,
    "--epochs",
    "1",
    "--batch-size",
    "4",
    "--limit",
    "4",
    "--test-limit",
    "4",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(
    lines[0],
    /^epoch 1\/1 {2}loss \d+\.\d{4} {2}train acc [01]\.\d{3} {2}test acc [01]\.\d{3}/,
  );
  assert.match(lines[1], /^loss \d+\.\d{3}, train acc [01]\.\d{3}, test acc [01]\.\d{3}$/);
  assert.match(lines[2], /^\d+\.\d examples\/sec on cpu/);
  await Deno.remove(out, { recursive: true });
});

Deno.test("train rejects bad numbers with one line and exit 2", async () => {
  oneLineError(await runCli(["train", "--batch-size", "0"]), 2, /--batch-size.*positive integer/);
  oneLineError(await runCli(["train", "--epochs", "-1"]), 2, /--epochs.*positive integer/);
  oneLineError(await runCli(["train", "--lr", "abc"]), 2, /--lr.*positive number/);
  oneLineError(await runCli(["train", "--size", "0"]), 2, /--size.*positive integer/);
  oneLineError(await runCli(["train", "--threads", "0"]), 2, /--threads.*positive integer/);
  oneLineError(await runCli(["train", "--save-every", "-1"]), 2, /--save-every.*at least 0/);
});

Deno.test("train refuses an output directory it cannot write, before loading anything", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/file`;
  await Deno.writeTextFile(file, "x");
  const t0 = performance.now();
  const r = await runCli(["train", ...TINY_RUN, "--out", `${file}/run`]);
  oneLineError(r, 1, /cannot write to output directory .*choose another --out/);
  assert.doesNotMatch(r.stderr, /^backend:/m, "failed before the backend started");
  assert.ok(performance.now() - t0 < 30_000);
  oneLineError(
    await runCli(["train", ...TINY_RUN, "--out", file]),
    1,
    /file is a file, not a directory: choose another --out/,
  );
  // A directory that already holds a run is never overwritten.
  await Deno.mkdir(`${dir}/old`);
  await Deno.writeTextFile(`${dir}/old/checkpoint.json`, "{}");
  const again = await runCli(["train", ...TINY_RUN, "--out", `${dir}/old`]);
  oneLineError(again, 1, /already holds a run: resume it with --resume/);
  assert.doesNotMatch(again.stderr, /^backend:/m, "failed before the backend started");
  assert.equal(await Deno.readTextFile(`${dir}/old/checkpoint.json`), "{}");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train --resume: missing run, finished run, conflicting flags", async () => {
  const dir = await Deno.makeTempDir();
  oneLineError(await runCli(["train", "--resume", `${dir}/nope`]), 1, /does not exist/);
  oneLineError(await runCli(["train", "--resume", dir]), 1, /holds no checkpoint/);
  oneLineError(
    await runCli(["train", "--resume", dir, "--seed", "1", "--size", "28"]),
    2,
    /--size, --seed cannot be combined with --resume/,
  );
  await Deno.remove(dir, { recursive: true });
});

/** Starts a tiny run of 50 epochs (far more than it can run before a test stops it). */
function spawnLongRun(out: string) {
  const args = [
    "train",
    ...TINY_RUN,
    "--epochs",
    "50",
    "--batch-size",
    "4",
    "--limit",
    "16",
    "--test-limit",
    "4",
    "--out",
    out,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../main.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  return { child, output: child.output() };
}

/** Waits until the run in `out` has its first epoch on disk. */
async function firstEpochWritten(out: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const csv = await Deno.readTextFile(`${out}/metrics.csv`).catch(() => "");
    if (csv.trim().split("\n").length >= 2) return;
    assert.ok(Date.now() < deadline, "the first epoch was not written in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a long tiny run into `out`, sends `sig` once its first epoch is on disk. */
async function interruptAfterFirstEpoch(out: string, sig: Deno.Signal) {
  const { child, output } = spawnLongRun(out);
  try {
    await firstEpochWritten(out);
    child.kill(sig);
  } catch (e) {
    child.kill("SIGKILL");
    await output;
    throw e;
  }
  const res = await output;
  return { code: res.code, stderr: new TextDecoder().decode(res.stderr) };
}

Deno.test("a second train into a running run's directory, or --resume of it, refuses in one line", async () => {
  const out = `${await Deno.makeTempDir()}/run`;
  const { child, output } = spawnLongRun(out);
  try {
    await firstEpochWritten(out);
    const inUse = /is in use by another train run \(pid \d+ on .* since .*\): wait for it/;
    oneLineError(await runCli(["train", ...TINY_RUN, "--out", out]), 1, inUse);
    oneLineError(await runCli(["train", "--resume", out, "--backend", "cpu"]), 1, inUse);
  } finally {
    child.kill("SIGINT");
  }
  const res = await output;
  assert.equal(res.code, 130, new TextDecoder().decode(res.stderr));
  assert.ok((await readHistory(out)).epochs.length >= 1, "the first run's epochs are kept");
  await Deno.remove(out, { recursive: true });
});

Deno.test("two train runs started at once into one directory: one runs, the other refuses", async () => {
  const out = `${await Deno.makeTempDir()}/run`;
  const args = [...TINY_RUN, "--epochs", "1", "--batch-size", "4", "--limit", "8"];
  const runs = await Promise.all(
    [0, 1].map(() => runCli(["train", ...args, "--test-limit", "4", "--out", out])),
  );
  const codes = runs.map((r) => r.code).sort();
  assert.deepEqual(codes, [0, 1], runs.map((r) => r.stderr).join("\n"));
  const refused = runs.find((r) => r.code === 1)!;
  oneLineError(refused, 1, /is in use by another train run|already holds a run/);
  await Deno.remove(out, { recursive: true });
});

for (const [sig, code] of [["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  Deno.test(`${sig} saves like Ctrl-C, prints the resume command, exits ${code}`, async () => {
    const out = `${await Deno.makeTempDir()}/run`;
    const { code: got, stderr } = await interruptAfterFirstEpoch(out, sig);
    assert.equal(got, code, stderr);
    assert.match(stderr, new RegExp(`stop requested \\(${sig}\\): finishing the current step`));
    assert.match(stderr, /Resume with: deno task train --resume \S+ --epochs 50$/m);
    const saved = JSON.parse(await Deno.readTextFile(`${out}/checkpoint.json`));
    assert.ok(saved.epoch >= 1 && saved.epoch < 50, JSON.stringify(saved));
    await Deno.remove(out, { recursive: true });
  });
}

Deno.test("Ctrl-C saves, prints the resume command, exits 130; --resume finishes the run", async () => {
  const out = `${await Deno.makeTempDir()}/run`;
  const { code, stderr } = await interruptAfterFirstEpoch(out, "SIGINT");
  assert.equal(code, 130, stderr);
  assert.match(stderr, /^interrupt: finishing the current step and saving/m);
  assert.match(stderr, /Resume with: deno task train --resume \S+ --epochs 50$/m);
  const saved = JSON.parse(await Deno.readTextFile(`${out}/checkpoint.json`));
  assert.ok(saved.epoch >= 1 && saved.epoch < 50, JSON.stringify(saved));
  const done = (await readHistory(out)).epochs.length;
  assert.equal(done, saved.epoch);

  // Resume for one more epoch than was finished.
  const target = saved.epoch + 1;
  const r = await runCli([
    "train",
    "--resume",
    out,
    "--epochs",
    String(target),
    "--backend",
    "cpu",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const h = await readHistory(out);
  assert.deepEqual(h.epochs.map((e) => e.epoch), Array.from({ length: target }, (_, i) => i + 1));
  assert.equal(h.finished, true);
  assert.equal(h.backends.length, 2);
  await Deno.remove(out, { recursive: true });
});

Deno.test("train --init-from starts from d2l weights", async () => {
  const out = `${await Deno.makeTempDir()}/run`;
  const weights = new URL("small_w8_s1111.safetensors", GOLDEN_DIR).pathname;
  // A learning rate far below float32 resolution: the weights stay the loaded ones.
  const r = await runCli([
    "train",
    ...TINY_RUN,
    "--init-from",
    weights,
    "--lr",
    "1e-30",
    "--epochs",
    "1",
    "--batch-size",
    "4",
    "--limit",
    "4",
    "--test-limit",
    "4",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  await initBackend("cpu");
  const { net } = await loadCheckpoint(out);
  const ref = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 5 });
  await loadTorchWeights(ref, weights);
  for (const name of ["b1.0.weight", "b3.0.conv3.weight", "fc.bias"]) {
    const a = await net.params.get(name)!.data(), b = await ref.params.get(name)!.data();
    assert.ok(a.every((v, i) => Math.abs(v - b[i]) < 1e-12), name);
  }
  net.dispose();
  ref.dispose();
  oneLineError(
    await runCli(["train", ...TINY_RUN, "--init-from", `${out}/nope.safetensors`]),
    2,
    /--init-from .*no such file/,
  );
  // Weights of another architecture are refused, and the new run directory goes with them.
  const refused = `${out}-refused`;
  const r2 = await runCli([
    "train",
    ...TINY_RUN,
    "--width",
    "16",
    "--init-from",
    weights,
    "--out",
    refused,
  ]);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /^error: .*small_w8_s1111\.safetensors/m);
  await assert.rejects(Deno.stat(refused), Deno.errors.NotFound, "no empty run directory left");
  await Deno.remove(out, { recursive: true });
});
