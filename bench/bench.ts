/**
 * `deno task bench [--json] [--quick]`: ResNet training speed (images per second over at least
 * 20 s after warm-up, first-step seconds, peak RSS) of every tfjs backend available here and of
 * d2l's PyTorch code (`bench/torch_reference.py`) in the same invocation, with each backend's ratio
 * to PyTorch. Every measurement runs in its own process (clean memory, a wall-clock cap per run);
 * the steps are `trainStep` of `lib/step.ts`, the very step that training runs.
 *
 * Results are appended to `bench/results/results.jsonl` with the date, machine and versions.
 *
 * For WebGPU (issue 8) it also compares how the loop is driven: with and without compiling the
 * pipelines ahead (`--compile-ahead`, lib/warmup.ts; each run starts with an empty driver shader
 * cache), tfjs' deferred-submit batch size (`--submit-batch`) and how often the loss is read back
 * (`--read-every`). Every combination is one run; its row says which.
 *
 * @example
 * ```sh
 * deno task bench                      # ResNet-18, 28x28 and 96x96, batch 64, all backends
 * deno task bench --quick --json       # a few seconds per run, one JSON object per line
 * deno task bench --impls native,torch --sizes 28 --batch 64,256 --profile
 * deno task bench --impls webgpu --stages 1,1,1,1 --width 8 --batch 16 --compile-ahead both
 * deno task bench --impls webgpu --stages 1,1,1,1 --width 8 --submit-batch 1,15 --read-every 1,10
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ResNet } from "../lib/model/resnet.ts";
import { mulberry32 } from "../lib/data/rng.ts";
import { type Batch, batches } from "../lib/data/batches.ts";
import type { Split } from "../lib/data/fashion_mnist.ts";
import { trainStep } from "../lib/model/step.ts";
import { SGD } from "../lib/model/fused.ts";
import { type BackendName, backendSummary, initBackend } from "../lib/backends/choose.ts";
import { SUBMIT_BATCH_FLAG } from "../lib/backends/webgpu.ts";
import { freshShaderCache, timeFirstStep } from "./first_step.ts";

/** The implementations the bench knows: tfjs backends, then PyTorch. */
export const IMPLS = ["native", "webgpu", "cpu", "torch"] as const;
/** One implementation. */
export type Impl = typeof IMPLS[number];

/**
 * Where the measured steps' inputs come from: one fixed batch; a fresh batch (lib/batches.ts, as
 * training makes them) made just before its step; or made ahead, right after the previous step
 * is queued, as lib/train.ts does so that its upload overlaps that step.
 */
export const BATCH_SOURCES = ["fixed", "inline", "ahead"] as const;
/** One of {@linkcode BATCH_SOURCES}. */
export type BatchSource = typeof BATCH_SOURCES[number];

/** Whether WebGPU pipelines are compiled before the first step (lib/warmup.ts). */
export const COMPILE_AHEAD = ["off", "on", "both"] as const;

/** One measured (or failed) run. */
export interface BenchRow {
  impl: Impl;
  /** 18 or 34, or null for other `stages`. */
  depth: number | null;
  /** Residual blocks per stage. */
  stages: number[];
  /** Channels of the first stage (64 in d2l). */
  width: number;
  size: number;
  batch: number;
  /** Training images per second over the measured steps; null when none finished. */
  img_per_s: number | null;
  /**
   * Seconds of the first step (graph set-up, allocations, shader compilation), after the
   * compile-ahead warm-up when there was one.
   */
  first_step_s: number | null;
  /** WebGPU: "on" when lib/warmup.ts compiled the pipelines before the first step; else null. */
  compile_ahead: "off" | "on" | null;
  /** Seconds of that warm-up (null when there was none). */
  warmup_s: number | null;
  /** Warm-up plus first step: the time from a built network to its first result. */
  first_result_s: number | null;
  /** WebGPU: tfjs' WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE in effect (dispatches per submit). */
  submit_batch: number | null;
  /** The measured steps read the loss back every this many steps (tfjs backends). */
  read_every: number | null;
  /** Where the steps' batches came from (tfjs backends; torch: null, one fixed batch). */
  batches: BatchSource | null;
  /** Measured steps and their seconds. */
  steps: number;
  seconds: number;
  /** Peak resident memory of the process, MiB. */
  peak_rss_mb: number | null;
  /** "ok", or why not: "unavailable: ...", "did not finish N steps in X s", "failed: ...". */
  status: string;
  /** What ran (backend summary or PyTorch version). */
  detail?: string;
  /** The per-kernel profile of one step (with --profile, tfjs backends). */
  profile?: KernelTime[];
}

/** Time spent in one kernel during one profiled step. */
export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
}

const HERE = new URL(".", import.meta.url);

// ---------------------------------------------------------------------------------------------
// Worker: one implementation, one configuration, in this process.

interface WorkerArgs {
  impl: Exclude<Impl, "torch">;
  net: NetShape;
  size: number;
  batch: number;
  seconds: number;
  warmup: number;
  profile: boolean;
  compileAhead: "off" | "on";
  submitBatch: number | null;
  readEvery: number;
  batches: BatchSource;
}

/** The network: d2l's depth, or any four stage depths; and the first stage's width. */
interface NetShape {
  depth: number;
  stages: number[] | null;
  width: number;
}

function emit(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

/** Peak resident set size of this process in MiB (Linux), else the current RSS. */
function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return Deno.memoryUsage().rss / 2 ** 20;
}

async function runWorker(a: WorkerArgs): Promise<void> {
  let summary: string;
  try {
    summary = backendSummary(await initBackend(a.impl as BackendName));
  } catch (e) {
    emit({ event: "error", message: `unavailable: ${(e as Error).message.split("\n")[0]}` });
    return;
  }
  const webgpu = tf.getBackend() === "webgpu";
  if (webgpu && a.submitBatch !== null) tf.env().set(SUBMIT_BATCH_FLAG, a.submitBatch);
  const net = new ResNet({
    ...(a.net.stages ? { stages: a.net.stages } : { depth: a.net.depth }),
    width: a.net.width,
    seed: 0,
  });
  const opt = new SGD(0.05); // what lib/train.ts uses
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
  emit({
    event: "start",
    detail: summary,
    submit_batch: webgpu ? tf.env().getNumber(SUBMIT_BATCH_FLAG) : null,
  });
  const mode = webgpu && a.compileAhead === "on" ? "parallel" : "plain";
  const first = await timeFirstStep(net, mode, { batch: a.batch, size: a.size }, step);
  emit({
    event: "first",
    seconds: first.firstStepMs / 1000,
    warmup_s: mode === "plain" ? null : first.warmupMs / 1000,
  });
  for (let i = 0; i < a.warmup; i++) await step();
  // Steps go in groups of readEvery; only the last of a group reads (training's readEvery), so
  // the clock only stops where the host has waited for the device.
  let steps = 0, elapsed = 0;
  const t0 = performance.now();
  while (elapsed < a.seconds || steps < Math.max(2, a.readEvery)) {
    for (let i = 1; i <= a.readEvery; i++) await step(i === a.readEvery);
    steps += a.readEvery;
    elapsed = (performance.now() - t0) / 1000;
    emit({ event: "step", steps, seconds: elapsed });
  }
  let profile: KernelTime[] | undefined;
  if (a.profile) profile = await profileStep(() => trainStep(net, opt, x, labels));
  emit({ event: "done", steps, seconds: elapsed, peak_rss_mb: peakRssMb(), profile });
  const left = ahead as Batch | null; // set inside step(), which TypeScript does not follow
  if (left) tf.dispose([left.x, left.y]);
  tf.dispose([x, labels]);
  opt.dispose();
  net.dispose();
}

/** Endless batches of random 28x28 bytes (Fashion-MNIST's shape), made as training makes them. */
function* batchStream(batch: number, size: number): Generator<Batch, never> {
  const count = batch * 4, rand = mulberry32(1);
  const split: Split = {
    images: Uint8Array.from({ length: count * 28 * 28 }, () => Math.floor(rand() * 256)),
    labels: Uint8Array.from({ length: count }, (_, i) => (i * 7) % 10),
    count,
    height: 28,
    width: 28,
  };
  for (let epoch = 0;; epoch++) {
    yield* batches(split, { batchSize: batch, shuffle: true, seed: 0, epoch, size });
  }
}

/** Kernel times of one call of `step`, summed per kernel, largest first. */
async function profileStep(step: () => { loss: tf.Tensor; correct: tf.Tensor }) {
  const info = await tf.profile(() => {
    const r = step();
    return [r.loss, r.correct];
  });
  const by = new Map<string, KernelTime>();
  for (const k of info.kernels) {
    // Op wrappers ("fusedConv2d__op") also appear; they contain their kernel: skip them.
    if (k.name.endsWith("__op")) continue;
    const e = by.get(k.name) ?? { kernel: k.name, ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.calls++;
    by.set(k.name, e);
  }
  tf.dispose(info.result as tf.Tensor[]);
  return [...by.values()].sort((p, q) => q.ms - p.ms);
}

// ---------------------------------------------------------------------------------------------
// Parent: spawn one process per run, cap its wall time, collect rows.

interface RunOptions {
  net: NetShape;
  size: number;
  batch: number;
  seconds: number;
  warmup: number;
  cap: number;
  profile: boolean;
  python: string | null;
  /** Threads of OpenBLAS and of PyTorch. */
  threads: number;
  compileAhead: "off" | "on";
  submitBatch: number | null;
  readEvery: number;
  batches: BatchSource;
}

/** Runs `cmd`, handing each stdout JSON line to `onLine`; kills it after `cap` seconds. */
async function spawnJson(
  cmd: string,
  args: string[],
  cap: number,
  onLine: (o: Record<string, unknown>) => void,
  env: Record<string, string> = {},
): Promise<{ code: number; timedOut: boolean; stderr: string }> {
  const child = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, cap * 1000);
  const errText = new Response(child.stderr).text();
  let buf = "";
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line.startsWith("{")) {
        try {
          onLine(JSON.parse(line));
        } catch {
          // not ours
        }
      }
    }
  }
  const status = await child.status;
  clearTimeout(timer);
  return { code: status.code, timedOut, stderr: await errText };
}

/** The depth when `stages` is d2l's ResNet-18 or -34, else null. */
function depthOf(n: NetShape): number | null {
  if (!n.stages) return n.depth;
  const s = n.stages.join(",");
  return s === "2,2,2,2" ? 18 : s === "3,4,6,3" ? 34 : null;
}

async function measure(impl: Impl, o: RunOptions): Promise<BenchRow> {
  const depth = depthOf(o.net);
  const row: BenchRow = {
    impl,
    depth,
    stages: o.net.stages ?? (o.net.depth === 34 ? [3, 4, 6, 3] : [2, 2, 2, 2]),
    width: o.net.width,
    size: o.size,
    batch: o.batch,
    img_per_s: null,
    first_step_s: null,
    compile_ahead: impl === "webgpu" ? o.compileAhead : null,
    warmup_s: null,
    first_result_s: null,
    submit_batch: null,
    read_every: impl === "torch" ? null : o.readEvery,
    batches: impl === "torch" ? null : o.batches,
    steps: 0,
    seconds: 0,
    peak_rss_mb: null,
    status: "ok",
  };
  if (impl === "torch") {
    if (depth === null || o.net.width !== 64) {
      row.status = "skipped: bench/torch_reference.py builds ResNet-18 and -34 of width 64 only";
      return row;
    }
    if (!o.python) {
      row.status = "skipped: no python3 with PyTorch (Debian: apt-get install python3-torch)";
      return row;
    }
    const r = await spawnJson(
      o.python,
      [
        new URL("torch_reference.py", HERE).pathname,
        ...["--depth", `${depth}`, "--size", `${o.size}`, "--batch", `${o.batch}`],
        ...["--seconds", `${o.seconds}`, "--warmup", `${o.warmup}`, "--threads", `${o.threads}`],
      ],
      o.cap,
      (j) => {
        row.img_per_s = j.img_per_s as number;
        row.first_step_s = j.first_step_s as number;
        row.first_result_s = row.first_step_s;
        row.steps = j.steps as number;
        row.seconds = j.seconds as number;
        row.peak_rss_mb = j.peak_rss_mb as number;
        row.detail = `${j.version}, ${j.threads} threads`;
      },
    );
    if (r.timedOut) row.status = `did not finish in ${o.cap} s`;
    else if (r.code !== 0 || row.img_per_s === null) row.status = `failed: ${lastLine(r.stderr)}`;
    return row;
  }
  let done = false, error: string | null = null;
  // WebGPU starts from an empty driver shader cache, so its first step is a fresh machine's.
  const cache = impl === "webgpu" ? await freshShaderCache() : null;
  const net = o.net.stages ? ["--stages", o.net.stages.join(",")] : ["--depth", `${o.net.depth}`];
  const r = await spawnJson(
    Deno.execPath(),
    [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--worker",
      impl,
      ...net,
      ...["--width", `${o.net.width}`, "--sizes", `${o.size}`, "--batch", `${o.batch}`],
      ...["--seconds", `${o.seconds}`, "--warmup", `${o.warmup}`],
      ...["--compile-ahead", o.compileAhead, "--read-every", `${o.readEvery}`],
      ...["--batches", o.batches],
      ...(o.submitBatch !== null ? ["--submit-batch", `${o.submitBatch}`] : []),
      ...(o.profile ? ["--profile"] : []),
    ],
    o.cap,
    (j) => {
      if (j.event === "error") error = j.message as string;
      if (j.event === "start") {
        row.detail = j.detail as string;
        row.submit_batch = (j.submit_batch as number | null) ?? null;
      }
      if (j.event === "first") {
        row.first_step_s = j.seconds as number;
        row.warmup_s = (j.warmup_s as number | null) ?? null;
        row.first_result_s = row.first_step_s + (row.warmup_s ?? 0);
      }
      if (j.event === "step" || j.event === "done") {
        row.steps = j.steps as number;
        row.seconds = j.seconds as number;
      }
      if (j.event === "done") {
        done = true;
        row.peak_rss_mb = j.peak_rss_mb as number;
        if (j.profile) row.profile = j.profile as KernelTime[];
      }
    },
    { OPENBLAS_NUM_THREADS: `${o.threads}`, OMP_NUM_THREADS: `${o.threads}`, ...cache?.env },
  );
  await cache?.remove();
  if (error) row.status = error;
  else if (r.timedOut && !done) {
    const phase = row.first_step_s === null
      ? row.compile_ahead === "on" ? "its warm-up and first step" : "its first step"
      : row.steps === 0
      ? `${o.warmup + 1} warm-up steps`
      : `${o.seconds} s of steps (${row.steps} measured)`;
    row.status = `did not finish ${phase} in ${o.cap} s`;
  } else if (!done) row.status = `failed: ${lastLine(r.stderr)}`;
  if (row.steps > 0 && row.seconds > 0) row.img_per_s = row.steps * o.batch / row.seconds;
  if (!done && row.steps < 2) row.img_per_s = null;
  return row;
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n").filter((l) => l.trim());
  return lines.length ? lines[lines.length - 1].slice(0, 200) : "no output";
}

/** The first python3 that imports torch, or null. */
async function findTorchPython(prefer?: string): Promise<string | null> {
  const candidates = prefer ? [prefer] : ["python3", "/usr/bin/python3"];
  for (const py of candidates) {
    try {
      const out = await new Deno.Command(py, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.success) return py;
    } catch {
      // not installed
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Reporting.

/** The machine and software versions, for the results file. */
export async function environment(python: string | null): Promise<Record<string, unknown>> {
  let cpu = Deno.build.arch as string;
  try {
    const m = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  let torch: string | null = null;
  if (python) {
    const out = await new Deno.Command(python, {
      args: ["-c", "import torch; print(torch.__version__)"],
      stdout: "piped",
      stderr: "null",
    }).output();
    torch = new TextDecoder().decode(out.stdout).trim() || null;
  }
  return {
    date: new Date().toISOString(),
    machine: { cpu, cores: navigator.hardwareConcurrency, os: Deno.build.os },
    loadavg_at_start: Deno.loadavg(),
    versions: { deno: Deno.version.deno, tfjs: tf.version_core, torch },
  };
}

function fmtNum(v: number | null, digits = 1): string {
  return v === null ? "-" : v.toFixed(digits);
}

/** The network of a row: its depth, or its stages and width (e.g. "1,1,1,1 w8"). */
export function netLabel(r: Pick<BenchRow, "depth" | "stages" | "width">): string {
  if (r.depth !== null && r.width === 64) return `${r.depth}`;
  return `${r.depth ?? r.stages.join(",")} w${r.width}`;
}

/** How a run was driven, for the table's note column (only what differs between rows). */
export function runNote(r: BenchRow): string {
  const parts: string[] = [];
  if (r.compile_ahead) parts.push(`compile-ahead ${r.compile_ahead}`);
  if (r.submit_batch !== null) parts.push(`submit ${r.submit_batch}`);
  if (r.read_every !== null && r.read_every !== 1) parts.push(`read every ${r.read_every}`);
  if (r.batches !== null && r.batches !== "fixed") parts.push(`batches ${r.batches}`);
  if (r.status !== "ok") parts.push(r.status);
  return parts.join(", ");
}

const secs = (v: number | null) => v === null ? "-" : `${v.toFixed(2)} s`;

/**
 * The human table: one row per run, with the ratio to PyTorch's images/s of the same shape.
 * With WebGPU rows it also has the warm-up and the first result (warm-up plus first step).
 */
export function formatTable(rows: BenchRow[]): string {
  const start = rows.some((r) => r.compile_ahead !== null);
  const head = [
    "impl",
    "depth",
    "size",
    "batch",
    "img/s",
    ...(start ? ["warm-up"] : []),
    "first step",
    ...(start ? ["first result"] : []),
    "peak RSS",
    "vs torch",
    "note",
  ];
  const body = rows.map((r) => {
    const t = rows.find((q) =>
      q.impl === "torch" && q.size === r.size && q.batch === r.batch && q.depth === r.depth &&
      q.width === r.width
    );
    const ratio = r.img_per_s !== null && t?.img_per_s
      ? `${(r.img_per_s / t.img_per_s).toFixed(2)}x`
      : "-";
    return [
      r.impl,
      netLabel(r),
      `${r.size}`,
      `${r.batch}`,
      fmtNum(r.img_per_s),
      ...(start ? [secs(r.warmup_s)] : []),
      secs(r.first_step_s),
      ...(start ? [secs(r.first_result_s)] : []),
      r.peak_rss_mb === null ? "-" : `${Math.round(r.peak_rss_mb)} MiB`,
      ratio,
      runNote(r),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < head.length - 1 ? c.padEnd(widths[i]) : c)).join("  ").trimEnd();
  return [line(head), ...body.map(line)].join("\n");
}

/** A per-kernel profile as a table (ms per step, share, calls). */
export function formatProfile(p: KernelTime[], top = 15): string {
  const total = p.reduce((s, k) => s + k.ms, 0);
  const lines = p.slice(0, top).map((k) =>
    `${k.kernel.padEnd(22)} ${k.ms.toFixed(1).padStart(8)} ms ${
      (100 * k.ms / total).toFixed(1).padStart(5)
    }% ${String(k.calls).padStart(5)} calls`
  );
  return [...lines, `${"total".padEnd(22)} ${total.toFixed(1).padStart(8)} ms`].join("\n");
}

async function appendResults(env: Record<string, unknown>, rows: BenchRow[], command: string) {
  const dir = new URL("results/", HERE);
  await Deno.mkdir(dir, { recursive: true });
  const file = new URL("results.jsonl", dir);
  let old = "";
  try {
    old = await Deno.readTextFile(file);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const add = rows.map((r) => {
    const { profile: _, ...rest } = r;
    return JSON.stringify({ ...env, command, ...rest });
  }).join("\n");
  const tmp = new URL(`results.jsonl.tmp${Deno.pid}`, dir);
  await Deno.writeTextFile(tmp, old + (old && !old.endsWith("\n") ? "\n" : "") + add + "\n");
  await Deno.rename(tmp, file);
  return file.pathname;
}

// ---------------------------------------------------------------------------------------------
// Command line.

function list<T>(parse: (s: string) => T) {
  return (v: string): T[] => v.split(",").filter((s) => s.trim()).map((s) => parse(s.trim()));
}
function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("give a positive integer");
  return n;
}
function positive(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError("give a positive number");
  return n;
}
function stages(v: string): number[] {
  const s = list(positiveInt)(v);
  if (s.length !== 4) throw new InvalidArgumentError("give four positive integers, e.g. 1,1,1,1");
  return s;
}
function batchSource(v: string): BatchSource {
  if (!(BATCH_SOURCES as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`unknown batch source ${v}: use ${BATCH_SOURCES.join(", ")}`);
  }
  return v as BatchSource;
}
function impl(v: string): Impl {
  if (!(IMPLS as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`unknown implementation ${v}: use ${IMPLS.join(", ")}`);
  }
  return v as Impl;
}

/** Parses `args` and runs the benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = new Command()
    .name("bench")
    .description("ResNet training speed of each backend here and of d2l's PyTorch code")
    .exitOverride()
    .option("--json", "print one JSON object per run instead of the table")
    .option("--quick", "short runs (3 s measured, 1 warm-up step, 90 s cap): a smoke test")
    .addOption(
      new Option("--depth <n>", "ResNet depth (18 or 34)").argParser(positiveInt).default(18),
    )
    .addOption(
      new Option("--stages <a,b,c,d>", "residual blocks per stage instead of --depth (no torch)")
        .argParser(stages),
    )
    .addOption(
      new Option("--width <n>", "channels of the first stage (torch: 64 only)").argParser(
        positiveInt,
      ).default(64),
    )
    .addOption(
      new Option("--sizes <list>", "input sizes").argParser(list(positiveInt)).default([28, 96]),
    )
    .addOption(
      new Option("--batch <list>", "batch sizes").argParser(list(positiveInt)).default([64]),
    )
    .addOption(
      new Option("--impls <list>", `implementations: ${IMPLS.join(",")}`).argParser(list(impl))
        .default([...IMPLS]),
    )
    .addOption(
      new Option("--seconds <s>", "measured seconds per run (default 20, --quick 3)").argParser(
        positive,
      ),
    )
    .addOption(
      new Option("--cap <s>", "wall-clock cap per run (default 240, --quick 90)").argParser(
        positive,
      ),
    )
    .addOption(
      new Option("--threads <n>", "threads of OpenBLAS and PyTorch").argParser(positiveInt)
        .default(2),
    )
    .addOption(
      new Option(
        "--compile-ahead <mode>",
        "webgpu: compile pipelines before the first step (lib/warmup.ts): off, on, or both runs",
      ).choices(COMPILE_AHEAD).default("on"),
    )
    .addOption(
      new Option(
        "--submit-batch <list>",
        `webgpu: tfjs' deferred-submit batch sizes to compare (default: lib/webgpu.ts's)`,
      ).argParser(list(positiveInt)),
    )
    .addOption(
      new Option(
        "--read-every <list>",
        "tfjs backends: read the loss back every N measured steps (training reads every 10)",
      ).argParser(list(positiveInt)).default([1]),
    )
    .addOption(
      new Option(
        "--batches <list>",
        "tfjs backends: one fixed batch, or a fresh one per step made inline or ahead of its step",
      ).argParser(list(batchSource)).default(["fixed"]),
    )
    .option("--profile", "print a per-kernel profile of one step for each tfjs backend")
    .option("--no-save", "do not append to bench/results/results.jsonl")
    .option("--python <path>", "python3 with PyTorch (default: the first python3 that imports it)")
    .addOption(new Option("--worker <impl>").hideHelp())
    .addOption(new Option("--warmup <n>").hideHelp().argParser(Number));
  try {
    program.parse(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
  const o = program.opts();
  const quick = !!o.quick;
  const seconds: number = o.seconds ?? (quick ? 3 : 20);
  const warmup: number = o.warmup ?? (quick ? 1 : 2);
  const net: NetShape = { depth: o.depth, stages: o.stages ?? null, width: o.width };
  if (o.worker) {
    await runWorker({
      impl: o.worker,
      net,
      compileAhead: o.compileAhead === "off" ? "off" : "on",
      submitBatch: o.submitBatch?.[0] ?? null,
      readEvery: o.readEvery[0],
      batches: o.batches[0],
      size: o.sizes[0],
      batch: o.batch[0],
      seconds,
      warmup,
      profile: !!o.profile,
    });
    return 0;
  }
  if (!o.stages && o.depth !== 18 && o.depth !== 34) {
    console.error(`error: --depth ${o.depth}: use 18 or 34 (or --stages a,b,c,d)`);
    return 2;
  }
  for (
    const [flag, v] of [
      ["--sizes", o.sizes],
      ["--batch", o.batch],
      ["--impls", o.impls],
      ["--read-every", o.readEvery],
      ["--batches", o.batches],
    ]
  ) {
    if (v.length === 0) {
      console.error(`error: ${flag} is empty: give at least one value`);
      return 2;
    }
  }
  const cap: number = o.cap ?? (quick ? 90 : 240);
  const impls: Impl[] = o.impls;
  const python = impls.includes("torch") ? await findTorchPython(o.python) : null;
  const env = await environment(python);
  const rows: BenchRow[] = [];
  const label = netLabel({ depth: depthOf(net), stages: net.stages ?? [], width: net.width });
  for (const size of o.sizes as number[]) {
    for (const batch of o.batch as number[]) {
      for (
        const [i, v] of impls.flatMap((i) =>
          variants(i, o as VariantFlags).map((v) => [i, v] as const)
        )
      ) {
        const what = [v.compileAhead && `compile-ahead ${v.compileAhead}`]
          .concat(v.submitBatch ? [`submit ${v.submitBatch}`] : [])
          .concat(i !== "torch" ? [`read every ${v.readEvery}`, `batches ${v.batches}`] : [])
          .filter(Boolean).join(", ");
        console.error(
          `bench: ${i}, ResNet ${label}, ${size}x${size}, batch ${batch}` +
            `${what ? ` (${what})` : ""} ...`,
        );
        const row = await measure(i, {
          net,
          size,
          batch,
          seconds,
          warmup,
          cap,
          profile: !!o.profile,
          python,
          threads: o.threads,
          compileAhead: v.compileAhead ?? "off",
          submitBatch: v.submitBatch,
          readEvery: v.readEvery,
          batches: v.batches,
        });
        rows.push(row);
        if (o.json) {
          const { profile: _, ...rest } = row;
          console.log(JSON.stringify(rest));
        }
        if (row.profile && !o.json) {
          console.error(`profile of one step, ${i} ${size}x${size} batch ${batch}:`);
          console.error(formatProfile(row.profile));
        }
      }
    }
  }
  const load = Deno.loadavg();
  if (!o.json) {
    const m = env.machine as { cpu: string; cores: number };
    console.log(
      `ResNet ${label} training, images/s after warm-up (${seconds} s measured per run, ` +
        `${o.threads} BLAS/PyTorch threads); ${m.cpu}, ${m.cores} cores; load average ` +
        `${load.map((v) => v.toFixed(1)).join(" ")}`,
    );
    console.log(formatTable(rows));
  }
  if (o.save) {
    const command = `deno task bench ${args.join(" ")}`.trim();
    const file = await appendResults({ ...env, loadavg_at_end: load }, rows, command);
    console.error(`bench: results appended to ${file}`);
  }
  return 0;
}

interface Variant {
  compileAhead: "off" | "on" | null;
  submitBatch: number | null;
  readEvery: number;
  batches: BatchSource;
}

/** The options that multiply runs. */
interface VariantFlags {
  compileAhead: (typeof COMPILE_AHEAD)[number];
  submitBatch?: number[];
  readEvery: number[];
  batches: BatchSource[];
}

/** The runs of one implementation: every combination of the flags that apply to it. */
function variants(impl: Impl, o: VariantFlags): Variant[] {
  if (impl === "torch") {
    return [{ compileAhead: null, submitBatch: null, readEvery: 1, batches: "fixed" }];
  }
  const webgpu = impl === "webgpu";
  const modes = !webgpu
    ? [null]
    : o.compileAhead === "both"
    ? ["off", "on"] as const
    : [o.compileAhead as "off" | "on"];
  const submits = webgpu && o.submitBatch?.length ? o.submitBatch : [null];
  return modes.flatMap((compileAhead) =>
    submits.flatMap((submitBatch) =>
      o.readEvery.flatMap((readEvery) =>
        o.batches.map((batches) => ({ compileAhead, submitBatch, readEvery, batches }))
      )
    )
  );
}

if (import.meta.main) Deno.exit(await main(Deno.args));
