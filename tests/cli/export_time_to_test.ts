import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { type EpochRecord, writeHistory } from "../../lib/run/metrics.ts";
import { resolveConfig } from "../../lib/model/resnet.ts";
import { runCli } from "../run_cli.ts";

const record = (epoch: number, test_acc: number, epoch_seconds: number): EpochRecord => ({
  epoch,
  train_loss: 1 / epoch,
  train_acc: 0.8,
  test_acc,
  examples_per_sec: 100,
  epoch_seconds,
  lr: 0.05,
});

/** A recorded run as docs/runs/ keeps it: history.json (and metrics) without a checkpoint. */
async function recordedRun(dir: string, epochs: EpochRecord[]): Promise<string> {
  await Deno.mkdir(dir);
  const settings = { epochs: epochs.length, batchSize: 8, lr: 0.05, size: 28, seed: 0 };
  await writeHistory(dir, {
    config: resolveConfig({ stages: [1, 1, 1, 1], width: 8 }),
    settings: { ...settings, limit: null, testLimit: null },
    versions: {},
    backends: [],
    epochs,
    finished: true,
  });
  return dir;
}

const parent = await Deno.makeTempDir();
globalThis.addEventListener("unload", () => Deno.removeSync(parent, { recursive: true }));
const SLOW = await recordedRun(`${parent}/slow`, [
  record(1, 0.8, 600),
  record(2, 0.88, 600),
  record(3, 0.91, 600),
]);
const FAST = await recordedRun(`${parent}/fast`, [record(1, 0.9, 120), record(2, 0.94, 120)]);

Deno.test("export --time-to: when each level was first reached, as CSV or JSON, per run", async () => {
  const csv = await runCli(["export", "--run", SLOW, "--compare", FAST, "--time-to", "0.9,0.95"]);
  assert.equal(csv.code, 0, csv.stderr);
  assert.deepEqual(parse(csv.stdout, { columns: true }), [
    { run: SLOW, level: "0.9", epoch: "3", seconds: "1800", test_acc: "0.91" },
    { run: SLOW, level: "0.95", epoch: "", seconds: "", test_acc: "" },
    { run: FAST, level: "0.9", epoch: "1", seconds: "120", test_acc: "0.9" },
    { run: FAST, level: "0.95", epoch: "", seconds: "", test_acc: "" },
  ]);
  const json = await runCli(["export", "--run", FAST, "--time-to", "0.93", "--format", "json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), [
    { run: FAST, level: 0.93, epoch: 2, seconds: 240, test_acc: 0.94 },
  ]);
});

Deno.test("export --compare --plot: test accuracy against wall time, one curve per run", async () => {
  const out = `${parent}/vs_time.svg`;
  const r = await runCli([
    "export",
    "--run",
    SLOW,
    "--compare",
    FAST,
    "--plot",
    out,
    "--out",
    `${parent}/slow.csv`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const svg = await Deno.readTextFile(out);
  const series = [...svg.matchAll(/<g class="series" data-series="([^"]+)"[^>]*>(.*?)<\/g>/g)]
    .map(([, label, body]) => [label, [...body.matchAll(/data-x="([^"]+)"/g)].map((m) => +m[1])]);
  assert.deepEqual(series, [["slow", [10, 20, 30]], ["fast", [2, 4]]]);
  // --out still gets the --run's own per-epoch metrics
  assert.equal((await Deno.readTextFile(`${parent}/slow.csv`)).split("\n").length, 5);
});

Deno.test("export --time-to/--compare: one-line refusals for what cannot be done", async () => {
  const cases: [string[], RegExp][] = [
    [["--run", FAST, "--time-to", "93"], /--time-to.*give accuracies in \(0, 1\]/],
    [["--run", FAST, "--compare", SLOW], /--compare sets runs side by side in --plot or --time-to/],
    [["--run", FAST, "--compare", `${parent}/none`, "--time-to", "0.9"], /none does not exist/],
    [["--run", parent, "--time-to", "0.9"], /holds no history.json/],
    [
      ["--weights", "w.safetensors", "--format", "safetensors", "--out", "x", "--time-to", "0.9"],
      /--time-to and --compare need --run/,
    ],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(["export", ...args]);
    assert.notEqual(r.code, 0, args.join(" "));
    assert.match(r.stderr, want);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
