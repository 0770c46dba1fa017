/**
 * What the benchmark measures and records: the implementations it knows, the network shape of a
 * run, and {@linkcode BenchRow}, one measured (or failed) run as `--json` prints it and the
 * results file stores it.
 *
 * @example
 * ```ts
 * import { depthOf, isTorch, newRow } from "./row.ts";
 * const net = { depth: 18, stages: null, width: 64 };
 * depthOf(net); // 18
 * isTorch("torch-cl"); // true
 * newRow("native", net, { size: 28, batch: 64 }).status; // "ok"
 * newRow("torch", net, { size: 28, batch: 64, task: "eval" }).task; // "eval"
 * ```
 * @module
 */
import type { GpuCounts } from "../lib/backends/webgpu_counts.ts";
import {
  type Arch,
  type BlockKind,
  type ResNetOptions,
  resolveConfig,
  type Stem,
} from "../lib/model/resnet.ts";
import { gflopPerImage } from "./flops.ts";

/**
 * The implementations the bench knows: tfjs backends, then d2l's PyTorch code in PyTorch's
 * default (NCHW) memory format and in `torch.channels_last` (bench/torch_reference.py).
 */
export const IMPLS = ["native", "webgpu", "cpu", "torch", "torch-cl"] as const;
/** One implementation. */
export type Impl = typeof IMPLS[number];
/** The PyTorch references: the rows that "vs torch" compares with. */
export const TORCH_IMPLS = ["torch", "torch-cl"] as const;
/** One PyTorch reference. */
export type TorchImpl = typeof TORCH_IMPLS[number];
/** A tfjs backend, measured by bench/worker.ts. */
export type TfjsImpl = Exclude<Impl, TorchImpl>;

/**
 * Whether `impl` is one of the PyTorch references.
 *
 * @example
 * ```ts
 * import { isTorch } from "./row.ts";
 * isTorch("native"); // false
 * ```
 */
export function isTorch(impl: Impl): impl is TorchImpl {
  return (TORCH_IMPLS as readonly string[]).includes(impl);
}

/**
 * Where the measured steps' inputs come from: one fixed batch; a fresh batch (lib/data/batches.ts,
 * as training makes them) made just before its step; or made ahead, right after the previous step
 * is queued, as lib/run/train.ts does so that its upload overlaps that step.
 */
export const BATCH_SOURCES = ["fixed", "inline", "ahead"] as const;
/** One of {@linkcode BATCH_SOURCES}. */
export type BatchSource = typeof BATCH_SOURCES[number];

/**
 * What a run measures: training steps (`trainStep`, lib/model/step.ts) or the test pass that
 * follows every epoch (`evaluate`, lib/run/evaluate.ts: inference-mode forward passes and the
 * confusion counts; PyTorch: d2l's `evaluate_accuracy_gpu`, `net.eval()` under `no_grad`).
 */
export const TASKS = ["train", "eval"] as const;
/** One of {@linkcode TASKS}. */
export type Task = typeof TASKS[number];

/** Whether WebGPU pipelines are compiled before the first step (lib/backends/warmup.ts). */
export const COMPILE_AHEAD = ["off", "on", "both"] as const;

/**
 * The network: a depth of lib/model/resnet.ts' `DEPTHS`, or any four stage depths; the first
 * stage's width; and the form and block (absent: d2l's form, the depth's block).
 */
export interface NetShape {
  /** 18, 34, 50, 101 or 152 (used when `stages` is null). */
  depth: number;
  /** Residual blocks per stage, instead of `depth`. */
  stages: number[] | null;
  /** Channels of the first stage (64 in d2l and torchvision). */
  width: number;
  /** d2l's form (default) or torchvision's (lib/model/resnet.ts' `arch`). */
  arch?: Arch;
  /** The residual block; default the depth's (50 and up: bottleneck), else basic. */
  block?: BlockKind;
  /** Groups of the bottleneck's 3x3 conv (ResNeXt), default 1. */
  groups?: number;
  /** torchvision's width_per_group, default 64. */
  widthPerGroup?: number;
  /** The stem (lib/model/resnet.ts' `stem`): d2l's (default) or the 3x3/1 `cifar` one. */
  stem?: Stem;
}

/**
 * The `ResNet` options of a bench network (1 input channel, 10 classes: Fashion-MNIST's); throws
 * lib/errors.ts' ConfigError (one line) for a combination the model refuses when resolved.
 *
 * @example
 * ```ts
 * import { modelOf } from "./row.ts";
 * modelOf({ depth: 50, stages: null, width: 64, arch: "torchvision" }).depth; // 50
 * ```
 */
export function modelOf(n: NetShape): ResNetOptions {
  return {
    ...(n.stages ? { stages: n.stages } : { depth: n.depth }),
    width: n.width,
    ...(n.arch ? { arch: n.arch } : {}),
    ...(n.block ? { block: n.block } : {}),
    ...(n.groups ? { groups: n.groups } : {}),
    ...(n.widthPerGroup ? { widthPerGroup: n.widthPerGroup } : {}),
    ...(n.stem ? { stem: n.stem } : {}),
  };
}

/**
 * The depth when the stages and block are a row of the depth table (ResNet-18 .. -152), else
 * null.
 *
 * @example
 * ```ts
 * import { depthOf } from "./row.ts";
 * depthOf({ depth: 18, stages: [3, 4, 6, 3], width: 64 }); // 34
 * depthOf({ depth: 18, stages: [3, 4, 6, 3], width: 64, block: "bottleneck" }); // 50
 * ```
 */
export function depthOf(n: NetShape): number | null {
  return resolveConfig(modelOf(n)).depth;
}

/**
 * The residual blocks per stage of a network.
 *
 * @example
 * ```ts
 * import { stagesOf } from "./row.ts";
 * stagesOf({ depth: 34, stages: null, width: 64 }); // [3, 4, 6, 3]
 * ```
 */
export function stagesOf(n: NetShape): number[] {
  return [...resolveConfig(modelOf(n)).stages];
}

/** One measured (or failed) run. */
export interface BenchRow {
  impl: Impl;
  /** Training steps or the test pass (rows saved before this field were training). */
  task: Task;
  /** 18, 34, 50, 101 or 152, or null for other `stages`. */
  depth: number | null;
  /** The form: d2l's or torchvision's (rows saved before the field: d2l's). */
  arch?: Arch;
  /** The residual block (rows saved before the field: basic). */
  block?: BlockKind;
  /** Groups of the bottleneck's 3x3 conv (rows saved before the field: 1). */
  groups?: number;
  /** torchvision's width_per_group (rows saved before the field: 64). */
  width_per_group?: number;
  /**
   * The stem: d2l's (7x7/2 conv, max pool) or the 3x3/1 `cifar` one of `deno task train --recipe
   * fast` (rows saved before the field: d2l's).
   */
  stem?: Stem;
  /** Residual blocks per stage. */
  stages: number[];
  /** Channels of the first stage (64 in d2l). */
  width: number;
  size: number;
  batch: number;
  /**
   * Images per second over the measured steps (or eval batches), d2l's "examples/sec"; null when
   * none finished. Rows saved before 2026-12-06 called it `img_per_s` (renamed in the files).
   */
  examples_per_sec: number | null;
  /** GFLOP per image of this task, network and size (bench/flops.ts). */
  gflop_per_image: number;
  /**
   * `examples_per_sec` x `gflop_per_image` / the FMA peak GFLOP/s measured in the same invocation
   * on the same threads (bench/fma_peak.ts); null without a peak, for WebGPU (the peak is the
   * CPU's), or when the run did not finish. Rows saved before 2026-12-06 divided by the sgemm
   * rate here.
   */
  peak_fraction: number | null;
  /** The same over the sgemm rate of the same invocation (bench/peak.ts), or null. */
  sgemm_fraction: number | null;
  /**
   * Seconds of the first step (graph set-up, allocations, shader compilation), after the
   * compile-ahead warm-up when there was one.
   */
  first_step_s: number | null;
  /** WebGPU: "on" when lib/backends/warmup.ts compiled the pipelines first; else null. */
  compile_ahead: "off" | "on" | null;
  /** Seconds of that warm-up (null when there was none). */
  warmup_s: number | null;
  /** Warm-up plus first step: the time from a built network to its first result. */
  first_result_s: number | null;
  /** WebGPU: tfjs' WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE in effect (dispatches per submit). */
  submit_batch: number | null;
  /** The measured steps read the loss back every this many steps (tfjs training). */
  read_every: number | null;
  /** Where the steps' batches came from (tfjs training; torch: one fixed batch; eval: null). */
  batches: BatchSource | null;
  /** Measured steps and their seconds. */
  steps: number;
  seconds: number;
  /**
   * Trainable parameters of the network the process built (its own count: `countParams` here,
   * `sum(p.numel())` in PyTorch), so that rows compared side by side show the same network; null
   * when the process did not say.
   */
  params?: number | null;
  /** Peak resident memory of the process, MiB. */
  peak_rss_mb: number | null;
  /** "ok", or why not: "unavailable: ...", "did not finish N steps in X s", "failed: ...". */
  status: string;
  /** What ran (backend summary or PyTorch version). */
  detail?: string;
  /** The per-kernel profile of one step (with --profile, tfjs backends). */
  profile?: KernelTime[];
  /** Where one profiled step's wall time went (with --profile, tfjs backends). */
  profile_split?: StepSplit;
}

/**
 * One step's wall time split by where it ran, milliseconds: inside oneDNN's primitives, inside
 * BLAS' sgemm, in the kernels' own JavaScript (tfjs' CPU kernels, the native backend's typed-array
 * loops and the glue around the library calls: the kernels' time less the two libraries'), and
 * between kernels (tfjs' engine, the tape, allocation and disposal, the model's JavaScript, and
 * `tf.profile`'s own bookkeeping: the step's wall time less the kernels' time). The four add up
 * to `wall_ms`. `unprofiled_ms` is the wall time of the same step without `tf.profile`, run just
 * before it: the difference is what profiling itself cost.
 */
export interface StepSplit {
  wall_ms: number;
  unprofiled_ms: number;
  dnnl_ms: number;
  blas_ms: number;
  kernel_js_ms: number;
  between_ms: number;
  /** Library calls during the profiled step. */
  dnnl_calls: number;
  blas_calls: number;
  /** Kernels the step ran. */
  kernels: number;
  /** WebGPU: the work asked of the GPU per measured step (lib/backends/webgpu_counts.ts). */
  gpu?: GpuCounts;
}

/**
 * The profile entry of the time spent inside oneDNN's primitives during the step: a part of the
 * kernels' times, not one more kernel.
 */
export const INSIDE_DNNL = "(inside oneDNN)";

/** Time spent in one kernel during one profiled step. */
export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
}

/**
 * A row before its run: nothing measured yet, status "ok", the training GFLOP per image of its
 * network and size (bench/flops.ts).
 *
 * @example
 * ```ts
 * import { newRow } from "./row.ts";
 * const net = { depth: 18, stages: null, width: 64 };
 * newRow("torch", net, { size: 96, batch: 64 }).read_every; // null
 * ```
 */
export function newRow(
  impl: Impl,
  net: NetShape,
  run: {
    size: number;
    batch: number;
    task?: Task;
    compileAhead?: "off" | "on";
    readEvery?: number;
    batches?: BatchSource;
  },
): BenchRow {
  const torch = isTorch(impl), task = run.task ?? "train";
  const c = resolveConfig(modelOf(net));
  return {
    impl,
    task,
    depth: c.depth,
    arch: c.arch,
    block: c.block,
    groups: c.groups,
    width_per_group: c.widthPerGroup,
    stem: c.stem,
    stages: [...c.stages],
    width: net.width,
    size: run.size,
    batch: run.batch,
    examples_per_sec: null,
    gflop_per_image: gflopPerImage(modelOf(net), run.size, task),
    peak_fraction: null,
    sgemm_fraction: null,
    first_step_s: null,
    compile_ahead: impl === "webgpu" ? run.compileAhead ?? "off" : null,
    warmup_s: null,
    first_result_s: null,
    submit_batch: null,
    // The test pass reads every batch back and makes its own batches (lib/run/evaluate.ts).
    read_every: torch || task === "eval" ? null : run.readEvery ?? 1,
    batches: torch || task === "eval" ? null : run.batches ?? "fixed",
    steps: 0,
    seconds: 0,
    params: null,
    peak_rss_mb: null,
    status: "ok",
  };
}
