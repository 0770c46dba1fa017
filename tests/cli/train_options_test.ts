/**
 * The training options on the command line: bad values are one line and exit 2; a recipe with
 * flags over it is recorded resolved in history.json and checkpoint.json; --resume keeps them
 * (and refuses to change them); eval --tta.
 * @module
 */
import assert from "node:assert/strict";
import { runCli, TINY_RUN } from "../run_cli.ts";
import { readHistory } from "../../lib/run/metrics.ts";

function oneLineError(r: { code: number; stderr: string }, re: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("backend: "));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

Deno.test("bad training options: one line naming the flag and what to give, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--momentum", "-0.5"], /--momentum.*at least 0/],
    [["--momentum", "1"], /--momentum.*\[0, 1\)/],
    [["--weight-decay", "-1"], /--weight-decay.*at least 0/],
    [["--label-smoothing", "1"], /--label-smoothing.*\[0, 1\)/],
    [["--label-smoothing", "-0.1"], /--label-smoothing.*at least 0/],
    [["--schedule", "exponential"], /--schedule.*constant, step, cosine, onecycle, linear/],
    [["--augment", "crop,rotate"], /--augment.*unknown rotate.*crop, flip, erase, altflip/],
    [["--augment", "flip,altflip"], /--augment flip and altflip both mirror the images/],
    [["--recipe", "fancy"], /--recipe.*d2l, modern, fast/],
    [["--warmup-epochs", "3", "--epochs", "3"], /--warmup-epochs 3 must be .* below --epochs 3/],
    [["--nesterov"], /--nesterov needs a --momentum above 0/],
    [["--recipe", "modern", "--momentum", "0", "--nesterov"], /--nesterov needs a --momentum/],
  ];
  const dir = await Deno.makeTempDir();
  const results = await Promise.all(
    cases.map(([flags], i) => runCli(["train", ...TINY_RUN, ...flags, "--out", `${dir}/r${i}`])),
  );
  results.forEach((r, i) => oneLineError(r, cases[i][1]));
  // Nothing was created for a refused run.
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--recipe modern with flags over it: resolved settings recorded, kept by --resume", async () => {
  const out = `${await Deno.makeTempDir()}/run`;
  const tiny = [...TINY_RUN, "--batch-size", "16", "--limit", "32", "--test-limit", "16"];
  const r = await runCli([
    "train",
    ...tiny,
    "--recipe",
    "modern",
    "--epochs",
    "2",
    "--momentum",
    "0.5",
    "--augment",
    "flip",
    "--tta",
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const h = await readHistory(out);
  const { recipe, momentum, nesterov, weightDecay, schedule, labelSmoothing, augment, tta, lr } =
    h.settings;
  assert.deepEqual(
    { recipe, momentum, nesterov, weightDecay, schedule, labelSmoothing, augment, tta, lr },
    {
      recipe: "modern",
      momentum: 0.5,
      nesterov: false,
      weightDecay: 5e-4,
      schedule: "cosine",
      labelSmoothing: 0,
      augment: ["flip"],
      tta: true,
      lr: 0.1,
    },
  );
  const ckpt = JSON.parse(await Deno.readTextFile(`${out}/checkpoint.json`));
  assert.deepEqual(ckpt.settings, h.settings);
  assert.ok((await Deno.stat(`${out}/${ckpt.model}/optimizer.safetensors`)).size > 0);
  const csv = (await Deno.readTextFile(`${out}/metrics.csv`)).trim().split("\n");
  assert.deepEqual(csv.slice(1).map((l) => Number(l.split(",").at(-1))), [0.1, 0.05]);

  oneLineError(
    await runCli(["train", "--resume", out, "--momentum", "0.9", "--augment", "none"]),
    /--momentum, --augment cannot be combined with --resume/,
  );
  // A third epoch: the cosine is stretched over 3 epochs, the settings stay.
  const again = await runCli(["train", "--resume", out, "--epochs", "3", "--backend", "cpu"]);
  assert.equal(again.code, 0, again.stderr);
  const h2 = await readHistory(out);
  assert.deepEqual({ ...h2.settings, epochs: 2 }, h.settings);
  assert.deepEqual(h2.epochs.map((e) => e.lr), [
    0.1,
    0.05,
    0.1 * (1 + Math.cos(2 * Math.PI / 3)) / 2,
  ]);

  const ev = await runCli([
    "eval",
    "--run",
    out,
    "--backend",
    "cpu",
    "--limit",
    "16",
    "--tta",
    "--json",
  ]);
  assert.equal(ev.code, 0, ev.stderr);
  const j = JSON.parse(ev.stdout);
  assert.equal(j.tta, true);
  assert.equal(j.n, 16);
  // With --tta in the run, each epoch's test pass is eval --tta's accuracy.
  assert.equal(j.accuracy, h2.epochs[2].test_acc);
  await Deno.remove(out, { recursive: true });
});

Deno.test("train --help shows each option's default under each recipe", async () => {
  const r = await runCli(["train", "--help"]);
  assert.equal(r.code, 0);
  const help = r.stdout.replace(/\s+/g, " "); // commander wraps the lines
  assert.match(help, /--momentum <m> [^-]*\(d2l 0, modern 0\.9, fast 0\.9\)/);
  assert.match(help, /--augment <list> .*\(d2l none, modern crop,flip,erase, fast altflip\)/);
  assert.match(help, /--schedule <name> .*\(d2l constant, modern cosine, fast linear\)/);
});
