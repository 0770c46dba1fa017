/**
 * One tfjs backend and one configuration, measured in this process: builds the network, times
 * the first step, runs warm-up steps, then `trainStep` (lib/model/step.ts, the step training
 * runs) until the measured seconds have passed; for the task "eval", a step is one batch of the
 * test pass, `evaluate` of lib/run/evaluate.ts (inference-mode forward pass, resize to the size,
 * confusion counts read back), the pass that follows every epoch. It prints its progress as JSON lines on stdout
 * (`start`, `first`, a `step` per group of steps, `done`; or one `error`), which bench/measure.ts
 * reads, so that a run killed at its cap still says how far it got.
 *
 * It is an entry script of its own, started by bench/measure.ts with its configuration as one
 * JSON argument (fields of {@linkcode WorkerArgs}; missing ones take their defaults).
 *
 * @example
 * ```sh
 * deno run -A bench/worker.ts '{"impl":"native","size":28,"batch":64,"seconds":5}'
 * deno run -A bench/worker.ts '{"impl":"native","task":"eval","size":96,"seconds":5}'
 * deno run -A bench/worker.ts '{"impl":"cpu","net":{"depth":18,"stages":[1,1,1,1],"width":8}}'
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ResNet } from "../lib/model/resnet.ts";
import { mulberry32 } from "../lib/data/rng.ts";
import { type Batch, batches } from "../lib/data/batches.ts";
import type { Split } from "../lib/data/fashion_mnist.ts";
import { trainStep } from "../lib/model/step.ts";
import { evaluate } from "../lib/run/evaluate.ts";
import { SGD } from "../lib/model/fused.ts";
import { type BackendName, backendSummary, initBackend } from "../lib/backends/choose.ts";
import { currentDevice, SUBMIT_BATCH_FLAG } from "../lib/backends/webgpu.ts";
import { countGpuWork, workBetween } from "../lib/backends/webgpu_counts.ts";
import { errorText, InputError } from "../lib/errors.ts";
import { describeError } from "../cli/errors.ts";
import { freshShaderCache, timeFirstStep } from "./first_step.ts";
import { dnnlTime } from "../lib/backends/native/backend.ts";
import { BLAS_TIME } from "../lib/backends/native/blas.ts";
import {
  BATCH_SOURCES,
  type BatchSource,
  IMPLS,
  INSIDE_DNNL,
  isTorch,
  type KernelTime,
  modelOf,
  type NetShape,
  type StepSplit,
  type Task,
  TASKS,
  type TfjsImpl,
} from "./row.ts";

/** The environment variables that set the threads of the native backend's libraries. */
export const THREAD_VARS = ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"] as const;

/** One run's configuration. */
export interface WorkerArgs {
  impl: TfjsImpl;
  /** Training steps, or batches of the test pass. */
  task: Task;
  net: NetShape;
  size: number;
  batch: number;
  /** Measured seconds (at least two steps, and whole groups of `readEvery`). */
  seconds: number;
  /** Steps after the first and before the measured ones. */
  warmup: number;
  /** Profile one more step after the measured ones (`tf.profile`, and where its time went). */
  profile: boolean;
  /** WebGPU: compile the pipelines before the first step (lib/backends/warmup.ts). */
  compileAhead: "off" | "on";
  /** WebGPU: tfjs' deferred-submit batch size; null: lib/backends/webgpu.ts's. */
  submitBatch: number | null;
  /** Read the loss back every this many steps (eval: every batch is read back). */
  readEvery: number;
  batches: BatchSource;
}

/** The configuration when a field is not given: ResNet-18, 28x28, batch 64, 20 s. */
export const WORKER_DEFAULTS: Readonly<WorkerArgs> = Object.freeze({
  impl: "native",
  task: "train",
  net: { depth: 18, stages: null, width: 64 },
  size: 28,
  batch: 64,
  seconds: 20,
  warmup: 2,
  profile: false,
  compileAhead: "off",
  submitBatch: null,
  readEvery: 1,
  batches: "fixed",
});

/**
 * Reads a worker's JSON argument; throws {@linkcode InputError} (one line) on anything else.
 *
 * @example
 * ```ts
 * import { parseWorkerArgs } from "./worker.ts";
 * parseWorkerArgs('{"impl":"cpu","size":16}').batch; // 64
 * ```
 */
export function parseWorkerArgs(text: string): WorkerArgs {
  let o: Partial<WorkerArgs>;
  try {
    o = JSON.parse(text);
  } catch {
    throw new InputError(`worker: ${text.slice(0, 60)} is not JSON: give e.g. '{"impl":"native"}'`);
  }
  const a = { ...WORKER_DEFAULTS, ...o, net: { ...WORKER_DEFAULTS.net, ...o.net } };
  if (!(IMPLS as readonly string[]).includes(a.impl) || isTorch(a.impl)) {
    throw new InputError(`worker: impl ${a.impl}: use native, webgpu or cpu`);
  }
  const int = (v: unknown, min: number) => Number.isSafeInteger(v) && (v as number) >= min;
  const bad = [
    !int(a.size, 1) && `size ${a.size}: give a positive integer`,
    !int(a.batch, 1) && `batch ${a.batch}: give a positive integer`,
    !int(a.readEvery, 1) && `readEvery ${a.readEvery}: give a positive integer`,
    !int(a.warmup, 0) && `warmup ${a.warmup}: give a non-negative integer`,
    !(typeof a.seconds === "number" && a.seconds > 0) && `seconds ${a.seconds}: give a number > 0`,
    !(TASKS as readonly string[]).includes(a.task) && `task ${a.task}: use ${TASKS.join(", ")}`,
    !(BATCH_SOURCES as readonly string[]).includes(a.batches) &&
    `batches ${a.batches}: use ${BATCH_SOURCES.join(", ")}`,
  ].find(Boolean);
  if (bad) throw new InputError(`worker: ${bad}`);
  return a;
}

function emit(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

/**
 * Peak resident set size of this process in MiB (Linux), else the current RSS.
 *
 * @example
 * ```ts
 * import { peakRssMb } from "./worker.ts";
 * peakRssMb() > 0; // true
 * ```
 */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return Deno.memoryUsage().rss / 2 ** 20;
}

/** The network and step function of a run. */
interface Trainer {
  net: ResNet;
  /** One step; reads its result back (waits for the step) when `read` (eval: always). */
  step: (read?: boolean) => Promise<void>;
  dispose: () => void;
}

function network(a: WorkerArgs): ResNet {
  return new ResNet({ ...modelOf(a.net), seed: 0 });
}

/** Random 28x28 bytes (Fashion-MNIST's shape) and labels, `count` images. */
function randomSplit(count: number): Split {
  const rand = mulberry32(1);
  return {
    images: Uint8Array.from({ length: count * 28 * 28 }, () => Math.floor(rand() * 256)),
    labels: Uint8Array.from({ length: count }, (_, i) => (i * 7) % 10),
    count,
    height: 28,
    width: 28,
  };
}

/** A step of the test pass: `evaluate` over one batch, as after every epoch (resized to size). */
function evaluator(a: WorkerArgs): Trainer {
  const net = network(a), split = randomSplit(a.batch);
  const step = async () => {
    await evaluate(net, split, { size: a.size, batchSize: a.batch });
  };
  return { net, step, dispose: () => net.dispose() };
}

function trainer(a: WorkerArgs): Trainer {
  if (a.task === "eval") return evaluator(a);
  const net = network(a);
  const opt = new SGD(0.05); // what lib/run/train.ts uses
  const x = tf.randomUniform([a.batch, a.size, a.size, 1], 0, 1, "float32", 1) as tf.Tensor4D;
  const labels = tf.tensor1d(Array.from({ length: a.batch }, (_, i) => (i * 7) % 10), "int32");
  const stream = a.batches === "fixed" ? null : batchStream(a.batch, a.size);
  let ahead: Batch | null = null;
  // Without a read the step is only queued; reading the loss waits for it to finish.
  const step = async (read = true) => {
    let b: Batch | null = null;
    if (stream) {
      b = ahead ?? stream.next().value;
      ahead = null;
    }
    const r = trainStep(net, opt, b?.x ?? x, b?.y ?? labels);
    if (stream && a.batches === "ahead") ahead = stream.next().value;
    if (b) tf.dispose([b.x, b.y]);
    if (read) await r.loss.data();
    tf.dispose([r.loss, r.correct]);
  };
  const dispose = () => {
    const left = ahead as Batch | null; // set inside step(), which TypeScript does not follow
    if (left) tf.dispose([left.x, left.y]);
    tf.dispose([x, labels]);
    opt.dispose();
    net.dispose();
  };
  return { net, step, dispose };
}

/**
 * Measures one run as the module describes, printing its JSON lines; a backend that cannot start
 * prints one `error` line ("unavailable: ...").
 *
 * @example
 * ```ts
 * import { runWorker, WORKER_DEFAULTS } from "./worker.ts";
 * const net = { depth: 18, stages: [1, 1, 1, 1], width: 8 };
 * await runWorker({ ...WORKER_DEFAULTS, impl: "cpu", net, seconds: 1 });
 * ```
 */
export async function runWorker(a: WorkerArgs): Promise<void> {
  let summary: string;
  try {
    summary = backendSummary(await initBackend(a.impl as BackendName));
  } catch (e) {
    emit({ event: "error", message: `unavailable: ${errorText(e)}` });
    return;
  }
  const webgpu = tf.getBackend() === "webgpu";
  if (webgpu && a.submitBatch !== null) tf.env().set(SUBMIT_BATCH_FLAG, a.submitBatch);
  // WebGPU's work per measured step (dispatches, buffers, uploads, reads, compiles), with
  // --profile; counted from before the first buffer, whose read-backs it must see.
  const gpu = webgpu && a.profile ? countGpuWork(currentDevice()!) : null;
  const t = trainer(a);
  emit({
    event: "start",
    detail: summary,
    submit_batch: webgpu ? tf.env().getNumber(SUBMIT_BATCH_FLAG) : null,
    params: t.net.countParams(),
    // What the native backend's OpenBLAS (and, with oneDNN, OpenMP) were told to use.
    threads: Object.fromEntries(THREAD_VARS.map((v) => [v, Deno.env.get(v) ?? null])),
  });
  const mode = webgpu && a.compileAhead === "on" ? "parallel" : "plain";
  const first = await timeFirstStep(t.net, mode, { batch: a.batch, size: a.size }, t.step);
  emit({
    event: "first",
    seconds: first.firstStepMs / 1000,
    warmup_s: mode === "plain" ? null : first.warmupMs / 1000,
  });
  for (let i = 0; i < a.warmup; i++) await t.step();
  const gpu0 = gpu?.counts();
  // Steps go in groups of readEvery; only the last of a group reads (training's readEvery), so
  // the clock only stops where the host has waited for the device.
  let steps = 0, elapsed = 0;
  const t0 = performance.now();
  while (elapsed < a.seconds || steps < Math.max(2, a.readEvery)) {
    for (let i = 1; i <= a.readEvery; i++) await t.step(i === a.readEvery);
    steps += a.readEvery;
    elapsed = (performance.now() - t0) / 1000;
    emit({ event: "step", steps, seconds: elapsed });
  }
  const perStep = gpu && gpu0 ? workBetween(gpu0, gpu.counts(), steps) : undefined;
  const p = a.profile ? await profileStep(t.step) : undefined;
  if (p && perStep) p.split.gpu = perStep;
  emit({
    event: "done",
    steps,
    seconds: elapsed,
    peak_rss_mb: peakRssMb(),
    profile: p?.kernels,
    profile_split: p?.split,
  });
  t.dispose();
}

/** Endless batches of random 28x28 bytes (Fashion-MNIST's shape), made as training makes them. */
function* batchStream(batch: number, size: number): Generator<Batch, never> {
  const split = randomSplit(batch * 4);
  for (let epoch = 0;; epoch++) {
    yield* batches(split, { batchSize: batch, shuffle: true, seed: 0, epoch, size });
  }
}

/** The libraries' counters now: oneDNN's primitives (null without oneDNN) and BLAS' sgemm. */
function libraryTime() {
  return { dnnl: dnnlTime(), blas: { calls: BLAS_TIME.calls, ms: BLAS_TIME.ms } };
}

/**
 * One step without and one under `tf.profile` (both reading their result back): the profiled
 * step's kernel times summed per kernel, largest first (with oneDNN, an {@linkcode INSIDE_DNNL}
 * entry: part of the kernels' times), and where its wall time went ({@linkcode splitStep}).
 */
async function profileStep(step: (read?: boolean) => Promise<void>) {
  BLAS_TIME.on = true;
  try {
    let t = performance.now();
    await step(true);
    const unprofiledMs = performance.now() - t;
    const before = libraryTime();
    t = performance.now();
    const info = await tf.profile(async () => {
      await step(true);
      return [];
    });
    const wallMs = performance.now() - t;
    const after = libraryTime();
    const by = new Map<string, KernelTime>();
    for (const k of info.kernels) {
      // Op wrappers ("fusedConv2d__op") also appear; they contain their kernel: skip them.
      if (k.name.endsWith("__op")) continue;
      const e = by.get(k.name) ?? { kernel: k.name, ms: 0, calls: 0 };
      e.ms += Number(k.kernelTimeMs);
      e.calls++;
      by.set(k.name, e);
    }
    const kernels = [...by.values()].sort((p, q) => q.ms - p.ms);
    const dnnl = before.dnnl && after.dnnl
      ? { ms: after.dnnl.ms - before.dnnl.ms, calls: after.dnnl.calls - before.dnnl.calls }
      : null;
    if (dnnl) kernels.push({ kernel: INSIDE_DNNL, ...dnnl });
    const split = splitStep({
      wallMs,
      unprofiledMs,
      kernelMs: kernels.filter((k) => k.kernel !== INSIDE_DNNL).reduce((s, k) => s + k.ms, 0),
      kernels: kernels.filter((k) => k.kernel !== INSIDE_DNNL).reduce((s, k) => s + k.calls, 0),
      dnnl,
      blas: { ms: after.blas.ms - before.blas.ms, calls: after.blas.calls - before.blas.calls },
    });
    return { kernels, split };
  } finally {
    BLAS_TIME.on = false;
  }
}

/**
 * Where one step's wall time went: inside oneDNN, inside BLAS, in the kernels' own JavaScript
 * (the kernels' summed time less the two libraries'), between kernels (the wall time less the
 * kernels'). The four add up to the wall time.
 *
 * @example
 * ```ts
 * import { splitStep } from "./worker.ts";
 * const s = splitStep({
 *   wallMs: 100, unprofiledMs: 95, kernelMs: 80, kernels: 300,
 *   dnnl: { ms: 50, calls: 120 }, blas: { ms: 10, calls: 4 },
 * });
 * [s.kernel_js_ms, s.between_ms]; // [20, 20]
 * ```
 */
export function splitStep(m: {
  wallMs: number;
  unprofiledMs: number;
  kernelMs: number;
  kernels: number;
  dnnl: { ms: number; calls: number } | null;
  blas: { ms: number; calls: number };
}): StepSplit {
  const dnnl = m.dnnl ?? { ms: 0, calls: 0 };
  return {
    wall_ms: m.wallMs,
    unprofiled_ms: m.unprofiledMs,
    dnnl_ms: dnnl.ms,
    blas_ms: m.blas.ms,
    kernel_js_ms: m.kernelMs - dnnl.ms - m.blas.ms,
    between_ms: m.wallMs - m.kernelMs,
    dnnl_calls: dnnl.calls,
    blas_calls: m.blas.calls,
    kernels: m.kernels,
  };
}

/**
 * The command that measures `a` in a new process: `deno run -A bench/worker.ts JSON`. WebGPU
 * runs start from an empty driver shader cache (bench/first_step.ts), so their first step is a
 * fresh machine's; call `done()` when the process has exited.
 *
 * @example
 * ```ts
 * import { WORKER_DEFAULTS, workerCommand } from "./worker.ts";
 * const w = await workerCommand({ ...WORKER_DEFAULTS, impl: "cpu" });
 * await new Deno.Command(w.cmd, { args: w.args, env: w.env }).output();
 * await w.done();
 * ```
 */
export async function workerCommand(a: WorkerArgs): Promise<{
  cmd: string;
  args: string[];
  env: Record<string, string>;
  done: () => Promise<void>;
}> {
  const cache = a.impl === "webgpu" ? await freshShaderCache() : null;
  return {
    cmd: Deno.execPath(),
    // V8's flag as deno.json's train/eval/predict tasks run: its heap then stays near 35 MiB
    // instead of growing to 110-140 MiB of garbage between full GCs (the training step's JS
    // objects); peak RSS of ResNet-18 training at 28x28 b64 443-449 -> 298-299 MiB, 96x96 629-640
    // -> 526-528, images/s the same within the runs' noise; ResNet-50 (torchvision) at 28x28, its
    // step three times as many small kernels, about 15% slower (189/196 img/s against 251/217),
    // README speed section (bench worker, alternated, 2 x 15 s each, Zen 5).
    args: [
      "run",
      "-A",
      "--v8-flags=--optimize-for-size",
      new URL(import.meta.url).pathname,
      JSON.stringify(a),
    ],
    env: cache?.env ?? {},
    done: async () => await cache?.remove(),
  };
}

if (import.meta.main) {
  try {
    await runWorker(parseWorkerArgs(Deno.args[0] ?? "{}"));
  } catch (e) {
    const d = describeError(e);
    if (!d) throw e;
    console.error(d.line);
    Deno.exit(d.code);
  }
}
