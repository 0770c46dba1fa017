/**
 * Probe of oneDNN (through `lib/backends/native/dnnl/`) on the convolutions of d2l's ResNet-18:
 * for each distinct layer and pass (forward, backward data, backward weights) the implementation
 * oneDNN chose, milliseconds per call (median after a warm-up) and GFLOP/s, in three layouts:
 *
 * - `api`: what the library's functions do: activations `nhwc`, weights described as `any` and
 *   reordered from/to tfjs' HWIO on every call (the reorder is inside the time);
 * - `hwio`: activations `nhwc`, weights forced to plain HWIO (no reorder);
 * - `any`: activations and weights both `any` (the primitive's favourite layouts; the primitive
 *   alone is timed, without the reorders a network would need around it).
 *
 * Then batch norm (+ReLU) and max pooling on the stem's output, the per-call overhead of a tiny
 * primitive, and `dnnl_sgemm` at 2048^3 as the machine's practical peak.
 *
 * Options: `--batch 64 --size 96 --threads 2 --reps 5 --variants api,hwio,any --layers <part of a
 * layer name> --stat median|min --wait-policy active|passive --rounds 1`. On a machine shared with
 * other work, `--stat min --rounds 3` keeps each cell's best over rounds spread in time. libgomp reads `OMP_WAIT_POLICY` / `GOMP_SPINCOUNT` once, when oneDNN loads
 * it: set them in the command's environment or with `--wait-policy` (which sets the variable
 * before the library is opened); the header line shows what is in effect.
 *
 * @example
 * ```sh
 * deno run -A bench/dnnl_probe.ts --batch 64 --size 96 --threads 2
 * OMP_WAIT_POLICY=passive deno run -A bench/dnnl_probe.ts --size 28 --variants api
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { parseNumber } from "../lib/parse_number.ts";
import { type FmaPeak, measureFmaPeak } from "./fma_peak.ts";
import { trainingGflopPerImage } from "./flops.ts";
import { errorText, InputError } from "../lib/errors.ts";
import {
  ARG,
  batchNormBackward,
  batchNormForwardTraining,
  batchNormPrimitive,
  batchNormWorkspaceBytes,
  convBackwardData,
  convBackwardWeights,
  convForward,
  type ConvGeometry,
  convGeometry,
  type ConvLayout,
  type ConvPass,
  convPlan,
  describeMd,
  type Dnnl,
  maxPoolBackward,
  maxPoolForward,
  maxPoolPrimitive,
  maxPoolWorkspaceBytes,
  openDnnl,
  poolGeometry,
  relu,
  sgemm,
} from "../lib/backends/native/dnnl/mod.ts";

export type { ConvGeometry };

/** A distinct convolution of ResNet-18 and how many times one training step runs it. */
export interface ProbeLayer {
  /** Stage, kernel/stride and channels, e.g. "b3 3x3/2 64->128". */
  name: string;
  /** Shapes, stride and padding. */
  geometry: ConvGeometry;
  /** How many layers of ResNet-18 have this geometry. */
  count: number;
}

/**
 * The distinct convolutions of d2l's ResNet-18 (1 input channel) at `size` x `size`, batch `batch`.
 *
 * @example
 * ```ts
 * import { resnet18Convs } from "./dnnl_probe.ts";
 * console.log(resnet18Convs(96, 64).map((l) => l.name));
 * ```
 */
export function resnet18Convs(size: number, batch: number): ProbeLayer[] {
  const conv = (h: number, c: number, o: number, k: number, s: number, p: number) =>
    convGeometry({
      batch,
      inHeight: h,
      inWidth: h,
      inChannels: c,
      outChannels: o,
      kernel: k,
      stride: s,
      pad: p,
    });
  const stem = conv(size, 1, 64, 7, 2, 3);
  const pool = poolGeometry({
    batch,
    inHeight: stem.outHeight,
    inWidth: stem.outWidth,
    channels: 64,
    kernel: 3,
    stride: 2,
    pad: 1,
  });
  const layers: ProbeLayer[] = [
    { name: "b1 7x7/2 1->64", geometry: stem, count: 1 },
    { name: "b2 3x3/1 64", geometry: conv(pool.outHeight, 64, 64, 3, 1, 1), count: 4 },
  ];
  let h = pool.outHeight;
  for (const [stage, c] of [[3, 64], [4, 128], [5, 256]]) {
    const down = conv(h, c, 2 * c, 3, 2, 1);
    layers.push({ name: `b${stage} 3x3/2 ${c}->${2 * c}`, geometry: down, count: 1 });
    layers.push({
      name: `b${stage} 1x1/2 ${c}->${2 * c}`,
      geometry: conv(h, c, 2 * c, 1, 2, 0),
      count: 1,
    });
    h = down.outHeight;
    layers.push({
      name: `b${stage} 3x3/1 ${2 * c}`,
      geometry: conv(h, 2 * c, 2 * c, 3, 1, 1),
      count: 3,
    });
  }
  return layers;
}

function flops(g: ConvGeometry): number {
  const out = g.batch * g.outHeight * g.outWidth * g.outChannels;
  return 2 * out * g.inChannels * g.kernelHeight * g.kernelWidth;
}

/** "median" (default) or "min": the minimum is steadier on a machine shared with other work. */
let statistic: "median" | "min" = "median";

/** Median (or minimum) milliseconds of `reps` calls of `fn`, after `warmup` untimed calls. */
function timeMs(fn: () => void, reps: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return statistic === "min" ? times[0] : times[Math.floor(times.length / 2)];
}

function filled(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37) * 0.5; // no denormals, no zeros
  return a;
}

/** The three layouts compared; `api` is what the library's functions use. */
const VARIANTS = ["api", "hwio", "any"] as const;
type Variant = typeof VARIANTS[number];

interface Measured {
  impl: string;
  layout: string;
  ms: number;
}

interface ConvBuffers {
  x: Float32Array;
  w: Float32Array;
  dy: Float32Array;
  out: { y: Float32Array; dx: Float32Array; dw: Float32Array };
}

function convBuffers(g: ConvGeometry): ConvBuffers {
  const xN = g.batch * g.inHeight * g.inWidth * g.inChannels;
  const yN = g.batch * g.outHeight * g.outWidth * g.outChannels;
  const wN = g.kernelHeight * g.kernelWidth * g.inChannels * g.outChannels;
  const x = filled(xN), w = filled(wN), dy = filled(yN);
  return {
    x,
    w,
    dy,
    out: { y: new Float32Array(yN), dx: new Float32Array(xN), dw: new Float32Array(wN) },
  };
}

function apiCall(dnnl: Dnnl, g: ConvGeometry, pass: ConvPass, b: ConvBuffers): () => void {
  if (pass === "forward") return () => convForward(dnnl, g, b.x, b.w, null, b.out.y);
  if (pass === "backward_data") return () => convBackwardData(dnnl, g, b.dy, b.w, b.out.dx);
  return () => convBackwardWeights(dnnl, g, b.x, b.dy, b.out.dw, null);
}

/** The library's own calls; `layout` names the weights layout and the reorder's share. */
function measureApi(dnnl: Dnnl, g: ConvGeometry, pass: ConvPass, b: ConvBuffers, reps: number) {
  const plan = convPlan(dnnl, g, pass);
  const ms = timeMs(apiCall(dnnl, g, pass, b), reps);
  if (plan.im2col || !plan.reorder) {
    return { impl: plan.impl, layout: plan.im2col ? "w hwio" : "w hwio (no reorder)", ms };
  }
  const wArg = pass === "backward_weights" ? ARG.DNNL_ARG_DIFF_WEIGHTS : ARG.DNNL_ARG_WEIGHTS;
  const layout = describeMd(plan.conv.mds[plan.conv.args.indexOf(wArg)]);
  const reorder = plan.reorder;
  const from = pass === "backward_weights" ? dnnl.scratch.weights : b.w;
  const to = pass === "backward_weights" ? b.out.dw : dnnl.scratch.weights;
  const reorderMs = timeMs(() => reorder.run({ from, to }), reps);
  return { impl: plan.impl, layout: `w ${layout}, reorder ${reorderMs.toFixed(2)} ms`, ms };
}

function measureConv(
  dnnl: Dnnl,
  g: ConvGeometry,
  pass: ConvPass,
  variant: Variant,
  b: ConvBuffers,
  reps: number,
): Measured {
  if (variant === "api") return measureApi(dnnl, g, pass, b, reps);
  const layout: ConvLayout = variant === "hwio"
    ? { weights: "hwio" }
    : { weights: "any", activations: "any" };
  const plan = convPlan(dnnl, g, pass, layout);
  // Fresh buffers of the sizes the primitive asks for: blocked layouts may pad the channels.
  const buffers = Object.fromEntries(
    plan.conv.names.map((name, i) => [name, filled(Math.ceil(plan.conv.bytes[i] / 4))]),
  );
  const md = (args: number[]) =>
    describeMd(plan.conv.mds[plan.conv.args.findIndex((a) => args.includes(a))]);
  const src = md([ARG.DNNL_ARG_SRC, ARG.DNNL_ARG_DIFF_SRC]);
  const shown = variant === "any"
    ? `a ${src} w ${md([ARG.DNNL_ARG_WEIGHTS, ARG.DNNL_ARG_DIFF_WEIGHTS])}`
    : `a ${src}`;
  return { impl: plan.conv.impl, layout: shown, ms: timeMs(() => plan.conv.run(buffers), reps) };
}

/** One printed row of the convolution table. */
interface ConvRow {
  layer: string;
  pass: ConvPass;
  gflop: number;
  results: Partial<Record<Variant, Measured>>;
}

function probeConvs(
  dnnl: Dnnl,
  layers: ProbeLayer[],
  variants: Variant[],
  reps: number,
): ConvRow[] {
  const rows: ConvRow[] = [];
  for (const layer of layers) {
    const b = convBuffers(layer.geometry);
    for (const pass of ["forward", "backward_data", "backward_weights"] as const) {
      const results: ConvRow["results"] = {};
      for (const v of variants) results[v] = measureConv(dnnl, layer.geometry, pass, v, b, reps);
      rows.push({ layer: layer.name, pass, gflop: flops(layer.geometry) / 1e9, results });
    }
    for (const key of [...dnnl.cache.keys()]) { // free the layer's JIT code and buffers
      (dnnl.cache.get(key) as { dispose(): void }).dispose();
      dnnl.cache.delete(key);
    }
  }
  return rows;
}

const PASS_SHORT: Record<ConvPass, string> = {
  forward: "fwd",
  backward_data: "bwd-d",
  backward_weights: "bwd-w",
};

function printConvHeader(variants: Variant[]): void {
  const cols = variants.map((v) => `${v}: impl / layout / ms / GFLOP/s`).join(" | ");
  console.log(`${"layer".padEnd(20)} ${"pass".padEnd(5)} ${"GFLOP".padStart(6)} | ${cols}`);
}

function printConvRow(row: ConvRow, variants: Variant[]): void {
  const cells = variants.map((v) => {
    const m = row.results[v]!;
    return `${m.impl} / ${m.layout} / ${m.ms.toFixed(2)} / ${(row.gflop / m.ms * 1e3).toFixed(1)}`;
  });
  const head = `${row.layer.padEnd(20)} ${PASS_SHORT[row.pass].padEnd(5)} ${
    row.gflop.toFixed(3).padStart(6)
  }`;
  console.log(`${head} | ${cells.join(" | ")}`);
}

/**
 * The most of the FMA peak a ResNet-18 training step can reach if it took only `ms`
 * milliseconds: the step's FLOPs as the bench counts them (bench/flops.ts) over the peak, in that
 * time. With `ms` the step's convolutions (and BatchNorm, pooling) measured alone, it bounds what
 * any step can reach, whatever the rest (the update, JavaScript) costs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peakCeiling } from "./dnnl_probe.ts";
 * // ResNet-18 at 96x96, batch 64: 1.59 GFLOP an image; a 400 ms step on a 400 GFLOP/s CPU
 * assert.equal(peakCeiling({ size: 96, batch: 64, ms: 400, peakGflops: 400 }).toFixed(3), "0.635");
 * ```
 */
export function peakCeiling(
  o: { size: number; batch: number; ms: number; peakGflops: number },
): number {
  const gflop = trainingGflopPerImage({ depth: 18 }, o.size) * o.batch;
  return gflop / o.peakGflops / (o.ms / 1e3);
}

function printStepTotals(
  r: Round,
  layers: ProbeLayer[],
  o: Options,
  peak: FmaPeak | { error: string },
): void {
  // One training step runs each layer `count` times per pass; the stem's backward-data pass is
  // not needed (nothing upstream of the image wants a gradient), so it is left out.
  let fastest = Infinity;
  for (const v of o.variants) {
    let ms = 0;
    for (const row of r.convs) {
      if (row.layer === layers[0].name && row.pass === "backward_data") continue;
      ms += row.results[v]!.ms * layers.find((l) => l.name === row.layer)!.count;
    }
    fastest = Math.min(fastest, ms);
    console.log(`  ${v}: ${ms.toFixed(1)} ms of convolutions per ResNet-18 training step`);
  }
  const pool = r.normPool.find((p) => p.label.startsWith("max pool"))!;
  const poolMs = pool.fwd + pool.bwd;
  console.log(
    `  the 17 BatchNorm layers, forward and backward: ${r.normsMs.toFixed(1)} ms; max pool ${
      poolMs.toFixed(1)
    } ms`,
  );
  if (!("gflops" in peak)) {
    console.log(`  ceiling: not computed (FMA peak not measured: ${peak.error})`);
    return;
  }
  const pct = (ms: number) =>
    `${(100 * peakCeiling({ ...o, ms, peakGflops: peak.gflops })).toFixed(1)}%`;
  console.log(
    `  ceiling: a step is at most ${pct(fastest)} of the FMA peak in its convolutions' time ` +
      `(fastest layout), ${pct(fastest + r.normsMs + poolMs)} with BatchNorm and pooling ` +
      `(FMA peak ${peak.gflops.toFixed(1)} GFLOP/s on ${peak.threads} threads, ${peak.isa}; ` +
      `${trainingGflopPerImage({ depth: 18 }, o.size).toFixed(3)} GFLOP a training image, ` +
      `bench/flops.ts)`,
  );
}

/** A batch-norm or pooling measurement: times and the bytes each pass moves, per element. */
interface NormPoolRow {
  label: string;
  impl: string;
  fwd: number;
  bwd: number;
  fwdBytes: number;
  bwdBytes: number;
}

function stemActivation(size: number, batch: number) {
  const stem = resnet18Convs(size, batch)[0].geometry;
  return { batch, height: stem.outHeight, width: stem.outWidth, channels: 64 };
}

type NormShape = { batch: number; height: number; width: number; channels: number };

/** Milliseconds of one BatchNorm (+ReLU) forward-training and backward call on `s`. */
function timeBatchNorm(dnnl: Dnnl, s: NormShape, relu: boolean, reps: number) {
  const n = s.batch * s.height * s.width * s.channels;
  const x = filled(n), y = new Float32Array(n), dy = filled(n), dx = new Float32Array(n);
  const c = () => new Float32Array(s.channels);
  const stats = { gamma: c().fill(1), beta: c(), mean: c(), variance: c() };
  const grads = { dx, dgamma: c(), dbeta: c() };
  const o = { epsilon: 1e-5, relu };
  const workspace = new Uint8Array(batchNormWorkspaceBytes(dnnl, s, o));
  const fwd = timeMs(
    () => batchNormForwardTraining(dnnl, s, o, { x, y, ...stats, workspace }),
    reps,
  );
  const bwd = timeMs(
    () => batchNormBackward(dnnl, s, o, { x, dy, ...stats, workspace, ...grads }),
    reps,
  );
  return { impl: batchNormPrimitive(dnnl, "training", s, o).impl, fwd, bwd, n };
}

function probeBatchNorm(dnnl: Dnnl, size: number, batch: number, reps: number): NormPoolRow[] {
  const s = stemActivation(size, batch);
  return [false, true].map((withRelu) => {
    const { impl, fwd, bwd, n } = timeBatchNorm(dnnl, s, withRelu, reps);
    // forward reads x twice (statistics, then normalization) and writes y; backward reads x and dy
    // twice and writes dx: bytes per element as a rough traffic estimate.
    return {
      label: withRelu ? "BN+ReLU" : "BN",
      impl,
      fwd,
      bwd,
      fwdBytes: 12 * n,
      bwdBytes: 20 * n,
    };
  });
}

/**
 * Milliseconds of all 17 BatchNorm layers of one ResNet-18 training step, forward and backward:
 * one with its ReLU after the stem, two in each of the 8 residual blocks (the first with its ReLU)
 * on the block's output map (d2l's 1x1 shortcut has none).
 */
function probeNetworkNorms(dnnl: Dnnl, size: number, batch: number, reps: number): number {
  const stem = stemActivation(size, batch);
  let ms = 0;
  const add = (s: NormShape, relu: boolean, count: number) => {
    const t = timeBatchNorm(dnnl, s, relu, reps);
    ms += count * (t.fwd + t.bwd);
  };
  add(stem, true, 1);
  for (const l of resnet18Convs(size, batch).filter((l) => l.name.includes("3x3/1"))) {
    const g = l.geometry;
    const s = { batch, height: g.outHeight, width: g.outWidth, channels: g.outChannels };
    add(s, true, 2);
    add(s, false, 2);
  }
  return ms;
}

function probeMaxPool(dnnl: Dnnl, size: number, batch: number, reps: number): NormPoolRow {
  const s = stemActivation(size, batch);
  const g = poolGeometry({
    batch,
    inHeight: s.height,
    inWidth: s.width,
    channels: 64,
    kernel: 3,
    stride: 2,
    pad: 1,
  });
  const n = batch * s.height * s.width * 64, m = batch * g.outHeight * g.outWidth * 64;
  const x = filled(n), dx = new Float32Array(n), y = new Float32Array(m), dy = filled(m);
  const ws = new Uint8Array(maxPoolWorkspaceBytes(dnnl, g));
  const fwd = timeMs(() => maxPoolForward(dnnl, g, x, y, ws), reps);
  const bwd = timeMs(() => maxPoolBackward(dnnl, g, dy, ws, dx), reps);
  const impl = maxPoolPrimitive(dnnl, g, "forward").impl;
  return { label: "max pool 3x3/2", impl, fwd, bwd, fwdBytes: 4 * (n + m), bwdBytes: 4 * (n + m) };
}

function printNormPool(rows: NormPoolRow[], size: number, batch: number): void {
  const s = stemActivation(size, batch);
  console.log(
    `\nbatch norm and max pool on the stem output [${batch}, ${s.height}, ${s.width}, 64]`,
  );
  const gbs = (bytes: number, ms: number) => `${(bytes / ms / 1e6).toFixed(1)} GB/s`;
  for (const r of rows) {
    const fwd = `fwd ${r.fwd.toFixed(2)} ms (${gbs(r.fwdBytes, r.fwd)})`;
    const bwd = `bwd ${r.bwd.toFixed(2)} ms (${gbs(r.bwdBytes, r.bwd)})`;
    console.log(`  ${r.label.padEnd(14)} ${r.impl}: ${fwd}, ${bwd}`);
  }
}

/** Microseconds per call of a ReLU on 64 floats: FFI, cache lookup, OpenMP fork/join. */
function probeOverhead(dnnl: Dnnl): number {
  const tiny = filled(64), out = new Float32Array(64);
  return timeMs(() => {
    for (let i = 0; i < 1000; i++) relu(dnnl, tiny, out);
  }, 5); // ms per 1000 calls = µs per call
}

/** Milliseconds of `dnnl_sgemm` at 2048^3. */
function probeSgemm(dnnl: Dnnl, reps: number): number {
  const n = 2048;
  const a = filled(n * n), b = filled(n * n), c = new Float32Array(n * n);
  return timeMs(() => sgemm(dnnl, n, n, n, a, b, c), Math.min(reps, 3));
}

function parseOptions() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      batch: { type: "string", default: "64" },
      size: { type: "string", default: "96" },
      threads: { type: "string", default: "2" },
      reps: { type: "string", default: "5" },
      variants: { type: "string", default: VARIANTS.join(",") },
      layers: { type: "string", default: "" },
      stat: { type: "string", default: "median" },
      "wait-policy": { type: "string", default: "" },
      rounds: { type: "string", default: "1" },
    },
  });
  const variants = values.variants.split(",").filter((v): v is Variant =>
    (VARIANTS as readonly string[]).includes(v)
  );
  if (variants.length === 0) throw new Error(`--variants: choose from ${VARIANTS.join(",")}`);
  if (values.stat !== "median" && values.stat !== "min") throw new Error("--stat: median or min");
  const int = (flag: "batch" | "size" | "threads" | "reps" | "rounds") =>
    parseNumber(values[flag], "integer", 1, false, `--${flag} ${values[flag]}`);
  return {
    batch: int("batch"),
    size: int("size"),
    threads: int("threads"),
    reps: int("reps"),
    variants,
    layers: values.layers,
    stat: values.stat as "median" | "min",
    waitPolicy: waitPolicyOption(values["wait-policy"]),
    rounds: int("rounds"),
  };
}

function waitPolicyOption(value: string): "active" | "passive" | undefined {
  if (value === "") return undefined;
  if (value === "active" || value === "passive") return value;
  throw new Error("--wait-policy: active or passive");
}

type Options = ReturnType<typeof parseOptions>;

/** Everything one round measures. */
interface Round {
  sgemmMs: number;
  overheadUs: number;
  convs: ConvRow[];
  normPool: NormPoolRow[];
  /** All of the step's BatchNorm layers (0 when `--layers` picks some convolutions only). */
  normsMs: number;
}

function measureRound(dnnl: Dnnl, o: Options, layers: ProbeLayer[]): Round {
  return {
    sgemmMs: probeSgemm(dnnl, o.reps),
    overheadUs: probeOverhead(dnnl),
    convs: probeConvs(dnnl, layers, o.variants, o.reps),
    normPool: [
      ...probeBatchNorm(dnnl, o.size, o.batch, o.reps),
      probeMaxPool(dnnl, o.size, o.batch, o.reps),
    ],
    normsMs: o.layers === "" ? probeNetworkNorms(dnnl, o.size, o.batch, o.reps) : 0,
  };
}

/** Keeps, cell by cell, the faster of two rounds (other work on the cores only slows calls). */
function bestOf(a: Round, b: Round): Round {
  const convs = a.convs.map((row, i) => {
    const results: ConvRow["results"] = {};
    for (const [v, m] of Object.entries(row.results) as [Variant, Measured][]) {
      const other = b.convs[i].results[v]!;
      results[v] = other.ms < m.ms ? other : m;
    }
    return { ...row, results };
  });
  const normPool = a.normPool.map((r, i) => {
    const o = b.normPool[i];
    return { ...r, fwd: Math.min(r.fwd, o.fwd), bwd: Math.min(r.bwd, o.bwd) };
  });
  return {
    sgemmMs: Math.min(a.sgemmMs, b.sgemmMs),
    overheadUs: Math.min(a.overheadUs, b.overheadUs),
    convs,
    normPool,
    normsMs: Math.min(a.normsMs, b.normsMs),
  };
}

function printRound(
  r: Round,
  o: Options,
  layers: ProbeLayer[],
  peak: FmaPeak | { error: string },
): void {
  const gflops = 2 * 2048 ** 3 / r.sgemmMs / 1e6;
  console.log(
    `dnnl_sgemm 2048^3: ${r.sgemmMs.toFixed(1)} ms = ${gflops.toFixed(1)} GFLOP/s (practical peak)`,
  );
  console.log(
    `per-call overhead (ReLU on 64 floats, FFI + cache + OpenMP fork/join): ${
      r.overheadUs.toFixed(1)
    } µs\n`,
  );
  printConvHeader(o.variants);
  for (const row of r.convs) printConvRow(row, o.variants);
  console.log("");
  if (o.layers === "") printStepTotals(r, layers, o, peak);
  printNormPool(r.normPool, o.size, o.batch);
}

async function main(): Promise<void> {
  const o = parseOptions();
  // Measured first, in a process of its own, before oneDNN's threads exist.
  const peak = await measureFmaPeak({ threads: o.threads });
  statistic = o.stat;
  const dnnl = openDnnl(undefined, { waitPolicy: o.waitPolicy });
  if (!dnnl.ok) {
    console.error(`oneDNN unavailable: ${dnnl.reason}`);
    Deno.exit(1);
  }
  dnnl.setThreads(o.threads);
  const spin = Deno.env.get("GOMP_SPINCOUNT") ?? "default";
  const omp = `${dnnl.getThreads()} OpenMP threads, wait policy ${dnnl.waitPolicy}, spin ${spin}`;
  console.log(`oneDNN ${dnnl.version} (${dnnl.path}), ISA ${dnnl.isa}, ${omp}`);
  const rounds = o.rounds > 1 ? `, best cell of ${o.rounds} rounds` : "";
  console.log(
    `ResNet-18 at ${o.size}x${o.size}, batch ${o.batch}: ${o.stat} of ${o.reps} calls after a warm-up${rounds}\n`,
  );
  const layers = resnet18Convs(o.size, o.batch).filter((l) =>
    o.layers === "" || l.name.includes(o.layers)
  );
  let best = measureRound(dnnl, o, layers);
  for (let i = 1; i < o.rounds; i++) best = bestOf(best, measureRound(dnnl, o, layers));
  printRound(best, o, layers, peak);
  dnnl.close();
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    console.error(`error: ${errorText(e)}`); // a bad flag value: one line, exit 2
    Deno.exit(2);
  }
}
