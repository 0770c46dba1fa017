import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { train } from "../../lib/run/train.ts";
import {
  type EpochRecord,
  METRICS_COLUMNS,
  metricsCsv,
  readHistory,
} from "../../lib/run/metrics.ts";
import { curvesSvg } from "../../lib/viz/curves.ts";
import { loadCheckpoint } from "../../lib/run/checkpoint.ts";
import { layersModelHandler } from "../../lib/io/layers_model.ts";
import { loadTorchWeights } from "../../lib/io/torch_weights.ts";
import { runCli, runScript, TINY_NET } from "../run_cli.ts";
import { writeAll } from "../../cli/export.ts";
import { GOLDEN_DIR, type GoldenTensor, nchwToNhwc, readGolden } from "../golden.ts";
import { syntheticSplit } from "../synthetic_split.ts";

const backend = await initBackend("cpu");

const record = (epoch: number, over: Partial<EpochRecord> = {}): EpochRecord => ({
  epoch,
  train_loss: 1 / epoch,
  train_acc: 0.5 + epoch / 100,
  test_acc: 0.4 + epoch / 100,
  examples_per_sec: 1000.5,
  epoch_seconds: 60.25,
  lr: 0.05,
  ...over,
});

/** A finished 2-epoch run on generated data, made once through the library (no data files). */
const parent = await Deno.makeTempDir();
globalThis.addEventListener("unload", () => Deno.removeSync(parent, { recursive: true }));
const RUN = `${parent}/run`;
await train({
  data: { train: syntheticSplit(8, 16, 1), test: syntheticSplit(4, 16, 2) },
  out: RUN,
  model: { stages: [1, 1, 1, 1], width: 8 },
  settings: { epochs: 2, batchSize: 4, lr: 0.05, size: 16, seed: 1, limit: null, testLimit: null },
  backend,
});

async function logitsOf(net: ResNet, x: tf.Tensor4D): Promise<Float32Array> {
  const y = tf.tidy(() => net.apply(x, { training: false }));
  const v = await y.data() as Float32Array;
  y.dispose();
  return v;
}

Deno.test("metricsCsv writes the documented header and round-trips through a CSV parser", () => {
  const csv = metricsCsv([record(1), record(2, { train_loss: NaN })]);
  assert.equal(csv.split("\n")[0], METRICS_COLUMNS.join(","));
  const rows = parse(csv, { columns: true, cast: true }) as Record<string, number | string>[];
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], { ...record(1) });
  assert.equal(rows[1].train_loss, "NaN");
});

/** What a person sees in a curves picture: tick labels, the legend, each curve's points. */
function readCurves(svg: string) {
  const texts = (cls: string) =>
    [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, "g"))].map((m) => m[1]);
  const legend = svg.split('<g class="legend">')[1]?.split("</g>")[0] ?? "";
  const series = [...svg.matchAll(/<g class="series" data-series="([^"]+)"[^>]*>(.*?)<\/g>/g)]
    .map(([, label, body]) => ({
      label,
      polylines: (body.match(/<polyline /g) ?? []).length,
      x: [...body.matchAll(/<circle class="point"[^>]* data-x="([^"]+)"/g)].map((m) => +m[1]),
      y: [...body.matchAll(/<circle class="point"[^>]* data-y="([^"]+)"/g)].map((m) => +m[1]),
    }));
  return {
    xticks: texts("xtick"),
    yticks: texts("ytick").map(Number),
    legend: [...legend.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]),
    series,
    xlabel: /<text [^>]*font-size="12">([^<]*)<\/text>/.exec(svg)?.[1],
    title: /<text class="title"[^>]*>([^<]*)<\/text>/.exec(svg)?.[1],
  };
}

Deno.test("curvesSvg draws the three d2l curves: axes, a point per epoch, the legend", () => {
  const records = [record(1), record(2), record(3)];
  const svg = curvesSvg(records);
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  const c = readCurves(svg);
  assert.equal(c.title, "ResNet training");
  assert.equal(c.xlabel, "epoch");
  assert.deepEqual(c.xticks, ["0", "1", "2", "3"], "integer epoch ticks");
  assert.ok(c.yticks[0] <= 0 && c.yticks.at(-1)! >= 1, `y axis ${c.yticks}`);
  assert.deepEqual(c.legend, ["train loss", "train acc", "test acc"]);
  const keys = { "train loss": "train_loss", "train acc": "train_acc", "test acc": "test_acc" };
  assert.deepEqual(c.series.map((s) => s.label), Object.keys(keys));
  for (const s of c.series) {
    assert.equal(s.polylines, 1, s.label);
    assert.deepEqual(s.x, [1, 2, 3], `${s.label}: one point per epoch`);
    const key = keys[s.label as keyof typeof keys] as "train_loss" | "train_acc" | "test_acc";
    assert.deepEqual(s.y, records.map((r) => +r[key].toFixed(4)), s.label);
  }
  // Thirty epochs: round integer ticks, not one per epoch.
  const long = readCurves(curvesSvg(Array.from({ length: 30 }, (_, i) => record(i + 1))));
  assert.deepEqual(long.xticks, ["0", "5", "10", "15", "20", "25", "30"]);
  assert.ok(long.series.every((s) => s.x.length === 30));
});

Deno.test("export prints CSV on stdout, or JSON, or writes files with --out and --plot", async () => {
  const h = await readHistory(RUN);
  const r = await runCli(["export", "--run", RUN]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, await Deno.readTextFile(`${RUN}/metrics.csv`));
  const rows = parse(r.stdout, { columns: true, cast: true }) as EpochRecord[];
  assert.deepEqual(rows, h.epochs);

  const j = await runCli(["export", "--run", RUN, "--format", "json"]);
  assert.equal(j.code, 0, j.stderr);
  assert.deepEqual(JSON.parse(j.stdout), h.epochs);

  const dir = await Deno.makeTempDir();
  const f = await runCli([
    "export",
    "--run",
    RUN,
    "--out",
    `${dir}/m.csv`,
    "--plot",
    `${dir}/c.svg`,
  ]);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout, "");
  assert.equal(await Deno.readTextFile(`${dir}/m.csv`), r.stdout);
  const plotted = readCurves(await Deno.readTextFile(`${dir}/c.svg`));
  assert.deepEqual(plotted.series.map((c) => c.x), [[1, 2], [1, 2], [1, 2]], "2 epochs, 3 curves");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("export --plot writes what its name says: SVG, PNG, or a one-line refusal", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runCli([
    "export",
    "--run",
    RUN,
    "--plot",
    `${dir}/c.png`,
    "--out",
    `${dir}/m.csv`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const png = await Deno.readFile(`${dir}/c.png`);
  assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71], "a PNG file, not SVG text"); // "PNG"
  const bad = await runCli(["export", "--run", RUN, "--plot", `${dir}/c.pdf`]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(
    bad.stderr.trim(),
    `error: --plot ${dir}/c.pdf: give a file name ending in .svg or .png`,
  );
  assert.equal(bad.stdout, "", "refused before anything was written");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("export --format layers over an earlier export: a kill at any rename never mixes them", async () => {
  const dir = await Deno.makeTempDir();
  const layers = `${dir}/layers`;
  const killAt = new URL("../fixtures/kill_at_rename.ts", import.meta.url).pathname;
  const fixture = new URL("../fixtures/torch_w8_s1111.safetensors", import.meta.url).pathname;
  const older = [
    "export",
    "--weights",
    fixture,
    "--size",
    "16",
    "--format",
    "layers",
    "--out",
    layers,
  ];
  const newer = ["export", "--run", RUN, "--format", "layers", "--out", layers];
  const pair = async (d: string) =>
    (await Deno.readTextFile(`${d}/model.json`)).length + ":" +
    (await Deno.readFile(`${d}/weights.bin`)).reduce((a, b) => (a * 31 + b) >>> 0, 7);
  assert.equal((await runCli(newer)).code, 0);
  const NEW = await pair(layers);
  let kills = 0;
  for (let k = 1;; k++) {
    assert.equal((await runCli(older)).code, 0);
    const OLD = await pair(layers);
    assert.notEqual(OLD, NEW);
    const r = await runScript(killAt, [String(k), ...newer]);
    if (r.code === 0) break;
    kills++;
    // Killed: the directory holds the old pair whole, or it is aside whole until the next write.
    const aside = [...Deno.readDirSync(dir)].find((e) => /^\.layers\.old\./.test(e.name));
    const seen = await pair(aside ? `${dir}/${aside.name}` : layers);
    assert.ok(seen === OLD || seen === NEW, `kill at rename ${k}: a mix`);
    // The next export puts things right and clears what the killed one left.
    assert.equal((await runCli(newer)).code, 0);
    assert.equal(await pair(layers), NEW);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["layers"]);
  }
  assert.equal(kills, 2, "the old directory renamed aside, the new one renamed in");
  const other = await runCli(["export", "--run", RUN, "--format", "layers", "--out", RUN]);
  assert.equal(other.code, 1);
  assert.match(
    other.stderr.trim(),
    /^error: .* holds other files \(.*checkpoint\.json.*\), which replacing it would lose/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("export: only the epochs the checkpoint has (a run killed between its two writes)", async () => {
  const dir = await Deno.makeTempDir();
  const run = `${dir}/run`;
  await new Deno.Command("cp", { args: ["-r", RUN, run] }).output();
  // history.json is written before checkpoint.json: killed in between, it has one epoch more.
  const h = await readHistory(run);
  const saved = h.epochs.length;
  await Deno.writeTextFile(
    `${run}/history.json`,
    JSON.stringify({ ...h, epochs: [...h.epochs, record(saved + 1)] }),
  );
  const csv = await runCli(["export", "--run", run]);
  assert.equal(csv.code, 0, csv.stderr);
  assert.deepEqual(parse(csv.stdout, { columns: true, cast: true }), h.epochs);
  const json = await runCli(["export", "--run", run, "--format", "json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), h.epochs);
  const plot = await runCli([
    "export",
    "--run",
    run,
    "--out",
    `${dir}/m.csv`,
    "--plot",
    `${dir}/c.svg`,
  ]);
  assert.equal(plot.code, 0, plot.stderr);
  const epochs = h.epochs.map((r) => r.epoch);
  const curves = readCurves(await Deno.readTextFile(`${dir}/c.svg`));
  assert.deepEqual(curves.series.map((c) => c.x), [epochs, epochs, epochs]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeAll: every byte written when each write takes only a few", async () => {
  const got: number[] = [];
  const writes: number[] = [];
  const slow = {
    write(p: Uint8Array): Promise<number> {
      const n = Math.min(3, p.length);
      got.push(...p.subarray(0, n));
      writes.push(n);
      return Promise.resolve(n);
    },
  };
  const bytes = Uint8Array.from({ length: 10 }, (_, i) => i);
  await writeAll(slow, bytes);
  assert.deepEqual(got, [...bytes]);
  assert.deepEqual(writes, [3, 3, 3, 1]);
});

Deno.test("export --format safetensors and layers carry the run's exact weights", async () => {
  const dir = await Deno.makeTempDir();
  const st = await runCli([
    "export",
    "--run",
    RUN,
    "--format",
    "safetensors",
    "--out",
    `${dir}/w.safetensors`,
  ]);
  assert.equal(st.code, 0, st.stderr);
  const layers = await runCli([
    "export",
    "--weights",
    `${dir}/w.safetensors`,
    ...TINY_NET,
    "--size",
    "16",
    "--format",
    "layers",
    "--out",
    `${dir}/layers`,
  ]);
  assert.equal(layers.code, 0, layers.stderr);

  const { net } = await loadCheckpoint(RUN);
  const x = tf.randomUniform([2, 16, 16, 1], 0, 1, "float32", 3) as tf.Tensor4D;
  const want = await logitsOf(net, x);
  const fromTorch = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 99 });
  await loadTorchWeights(fromTorch, `${dir}/w.safetensors`);
  assert.deepEqual(await logitsOf(fromTorch, x), want);
  const model = await tfl.loadLayersModel(layersModelHandler(`${dir}/layers`));
  const y = model.predict(x) as tf.Tensor;
  const got = await y.data();
  assert.ok(got.every((v, i) => Math.abs(v - want[i]) < 1e-4), `${got} vs ${want}`);
  tf.dispose([x, y]);
  model.dispose();
  net.dispose();
  fromTorch.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("export: the weights file records the run's size; readers use it, refuse contradictions", async () => {
  const dir = await Deno.makeTempDir();
  const w = `${dir}/w.safetensors`;
  const st = await runCli(["export", "--run", RUN, "--format", "safetensors", "--out", w]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stderr, /^network: run .*: stages 1,1,1,1, width 8, input 16x16 \(the run's\)$/m);
  // No architecture or size flags: all of it from the file (before: 96x96 and ResNet-18).
  const layers = await runCli([
    "export",
    "--weights",
    w,
    "--format",
    "layers",
    "--out",
    `${dir}/l`,
  ]);
  assert.equal(layers.code, 0, layers.stderr);
  assert.match(layers.stderr, /input 16x16 \(recorded in the file\)$/m);
  const model = JSON.parse(await Deno.readTextFile(`${dir}/l/model.json`));
  assert.deepEqual(model.modelTopology.config.layers[0].config.batch_input_shape, [
    null,
    16,
    16,
    1,
  ]);
  const cases: [string[], RegExp][] = [
    [
      ["--weights", w, "--size", "28"],
      /^error: --size 28 contradicts .*w\.safetensors, which is for 16x16 input/,
    ],
    [
      ["--weights", w, "--stages", "2,2,2,2"],
      /--stages 2,2,2,2 contradicts .*stages 1,1,1,1: leave --stages out/,
    ],
    [["--weights", w, "--depth", "18"], /--depth 18 contradicts/],
    [["--weights", w, "--width", "16"], /--width 16 contradicts .*width 8/],
    [["--run", RUN, "--size", "28"], /--size 28 contradicts the run .*trained at 16x16/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(["export", ...args, "--format", "layers", "--out", `${dir}/x`]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("backend: "));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("export: bad input is one line with a non-zero exit", async () => {
  const dir = await Deno.makeTempDir();
  const cases: [string[], number, RegExp][] = [
    [["export", "--run", `${dir}/nope`], 1, /does not exist/],
    [["export", "--run", dir], 1, /holds no history.json/],
    [["export", "--run", RUN, "--format", "xml"], 2, /--format/],
    [["export"], 2, /needs --run DIR/],
    [["export", "--run", RUN, "--format", "safetensors"], 2, /needs --out/],
    [["export", "--run", RUN, "--out", `${dir}/missing/m.csv`], 1, /cannot be written/],
    [["export", "--run", RUN, "--format", "safetensors", "--out", dir], 1, /is a directory: give/],
    [["export", "--run", RUN, "--out", dir], 1, /--out .* is a directory: give a file/],
    [
      ["export", "--run", RUN, "--format", "layers", "--out", `${RUN}/history.json`],
      1,
      /is a file/,
    ],
  ];
  for (const [args, code, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /^backend:/m, "refused before the backend started");
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("backend: "));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("export --format layers of d2l's golden weights predicts PyTorch's logits", async () => {
  const g = readGolden<{ input_28: GoldenTensor; logits_eval_28: GoldenTensor }>(
    "small_w8_s1111.json",
  );
  const dir = await Deno.makeTempDir();
  const r = await runCli([
    "export",
    "--weights",
    new URL("small_w8_s1111.safetensors", GOLDEN_DIR).pathname,
    ...TINY_NET,
    "--size",
    "28",
    "--format",
    "layers",
    "--out",
    dir,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const model = await tfl.loadLayersModel(layersModelHandler(dir));
  const x = nchwToNhwc(g.input_28);
  const y = model.predict(x) as tf.Tensor;
  assert.deepEqual(y.shape, g.logits_eval_28.shape);
  const got = await y.data();
  const diff = Math.max(...g.logits_eval_28.data.map((v, i) => Math.abs(v - got[i])));
  assert.ok(diff < 1e-4, `max |tfjs-layers - PyTorch| = ${diff}`);
  tf.dispose([x, y]);
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});
