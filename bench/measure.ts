/**
 * One run, one process: a tfjs backend through bench/worker.ts, or d2l's PyTorch code through
 * bench/torch_reference.py (plain, or `--channels-last` for "torch-cl"), each killed after a
 * wall-clock cap, its JSON lines collected into a {@linkcode BenchRow}. A run that is killed
 * says how far it got ("did not finish its first step in 240 s").
 *
 * @example
 * ```ts
 * import { measure } from "./measure.ts";
 * const row = await measure("native", {
 *   net: { depth: 18, stages: null, width: 64 }, task: "train", size: 28, batch: 64, seconds: 20,
 *   warmup: 2,
 *   cap: 240, profile: false, python: null, threads: 2, compileAhead: "off", submitBatch: null,
 *   readEvery: 1, batches: "fixed",
 * });
 * console.log(row.examples_per_sec, row.status);
 * ```
 * @module
 */
import {
  type BenchRow,
  type Impl,
  isTorch,
  type KernelTime,
  newRow,
  type StepSplit,
  type TfjsImpl,
} from "./row.ts";
import { lastLine, spawnJson } from "./spawn.ts";
import { THREAD_VARS, type WorkerArgs, workerCommand } from "./worker.ts";

/** How to measure one run: the worker's configuration plus what the parent needs. */
export interface RunOptions extends Omit<WorkerArgs, "impl"> {
  /** Wall-clock cap of the process, seconds. */
  cap: number;
  /** python3 with PyTorch, or null. */
  python: string | null;
  /** Threads of OpenBLAS (and OpenMP) and of PyTorch. */
  threads: number;
}

const TORCH_REFERENCE = new URL("torch_reference.py", import.meta.url).pathname;

/**
 * Measures `impl` as `o` says and returns its row (status "ok", or why not: skipped, unavailable,
 * did not finish, failed).
 *
 * @example
 * ```ts
 * import { measure, type RunOptions } from "./measure.ts";
 * declare const options: RunOptions;
 * const row = await measure("torch-cl", { ...options, python: "/usr/bin/python3" });
 * ```
 */
export function measure(impl: Impl, o: RunOptions): Promise<BenchRow> {
  return isTorch(impl) ? measureTorch(impl, o) : measureTfjs(impl, o);
}

/**
 * The arguments of bench/torch_reference.py that build `row`'s network, or null when the script
 * cannot: d2l's code takes any stages, width and stem of its basic block (ResNet-18's stages with
 * the cifar stem and width 16 is `deno task train --recipe fast`'s network); torchvision's own
 * class takes any stages, width, stem, groups and width per group of the basic and bottleneck
 * blocks.
 *
 * @example
 * ```ts
 * import { torchNetArgs } from "./measure.ts";
 * import { newRow } from "./row.ts";
 * const net = { depth: 18, stages: null, width: 16, stem: "cifar" } as const;
 * torchNetArgs(newRow("torch", net, { size: 28, batch: 256 }));
 * // ["--stages", "2,2,2,2", "--width", "16", "--stem", "cifar"]
 * ```
 */
export function torchNetArgs(row: BenchRow): string[] | null {
  const grouped = (row.groups ?? 1) !== 1 || (row.width_per_group ?? 64) !== 64;
  const shape = ["--stages", row.stages.join(","), "--width", `${row.width}`];
  const stem = ["--stem", row.stem ?? "d2l"];
  if (row.arch !== "torchvision") {
    const d2l = (row.block ?? "basic") === "basic" && !grouped;
    return d2l ? [...shape, ...stem] : null;
  }
  if (row.block === "preact") return null;
  return [
    ...["--arch", "torchvision", ...shape, "--block", row.block ?? "basic", ...stem],
    ...["--groups", `${row.groups ?? 1}`, "--width-per-group", `${row.width_per_group ?? 64}`],
  ];
}

async function measureTorch(impl: "torch" | "torch-cl", o: RunOptions): Promise<BenchRow> {
  const row = newRow(impl, o.net, o);
  const net = torchNetArgs(row);
  if (!net) {
    row.status = "skipped: bench/torch_reference.py builds d2l's basic-block ResNets, " +
      "and torchvision's basic and bottleneck ResNets (--arch torchvision)";
    return row;
  }
  if (!o.python) {
    row.status = "skipped: no python3 with PyTorch (Debian: apt-get install python3-torch)";
    return row;
  }
  const r = await spawnJson(
    o.python,
    [
      TORCH_REFERENCE,
      ...net,
      ...["--size", `${o.size}`, "--batch", `${o.batch}`],
      ...["--seconds", `${o.seconds}`, "--warmup", `${o.warmup}`, "--threads", `${o.threads}`],
      ...(impl === "torch-cl" ? ["--channels-last"] : []),
      ...(o.task === "eval" ? ["--eval"] : []),
    ],
    o.cap,
    (j) => {
      row.examples_per_sec = j.examples_per_sec as number;
      row.first_step_s = j.first_step_s as number;
      row.first_result_s = row.first_step_s;
      row.steps = j.steps as number;
      row.seconds = j.seconds as number;
      row.peak_rss_mb = j.peak_rss_mb as number;
      row.params = (j.params as number | undefined) ?? null;
      row.detail = `${j.version}${
        impl === "torch-cl" ? ", channels_last" : ""
      }, ${j.threads} threads`;
    },
    { OMP_NUM_THREADS: `${o.threads}` },
  );
  if (r.timedOut) row.status = `did not finish in ${o.cap} s`;
  else if (r.code !== 0 || row.examples_per_sec === null) {
    row.status = `failed: ${lastLine(r.stderr)}`;
  }
  return row;
}

async function measureTfjs(impl: TfjsImpl, o: RunOptions): Promise<BenchRow> {
  const row = newRow(impl, o.net, o);
  let done = false, error: string | null = null;
  const { cap: _c, python: _p, threads: _t, ...args } = o;
  const w = await workerCommand({ ...args, impl });
  const r = await spawnJson(w.cmd, w.args, o.cap, (j) => {
    if (j.event === "error") error = j.message as string;
    if (j.event === "start") {
      const threads = Object.entries(j.threads as Record<string, string | null>)
        .map(([k, v]) => `${k}=${v ?? "unset"}`).join(" ");
      row.detail = `${j.detail}; ${threads}`;
      row.submit_batch = (j.submit_batch as number | null) ?? null;
      row.params = (j.params as number | undefined) ?? null;
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
      if (j.profile_split) row.profile_split = j.profile_split as StepSplit;
    }
  }, { ...Object.fromEntries(THREAD_VARS.map((v) => [v, `${o.threads}`])), ...w.env });
  await w.done();
  if (error) row.status = error;
  else if (r.timedOut && !done) row.status = `did not finish ${phase(row, o)} in ${o.cap} s`;
  else if (!done) row.status = `failed: ${lastLine(r.stderr)}`;
  if (row.steps > 0 && row.seconds > 0) row.examples_per_sec = row.steps * o.batch / row.seconds;
  if (!done && row.steps < 2) row.examples_per_sec = null;
  return row;
}

/** What a killed tfjs run was doing, from the last line it printed. */
function phase(row: BenchRow, o: RunOptions): string {
  if (row.first_step_s === null) {
    return row.compile_ahead === "on" ? "its warm-up and first step" : "its first step";
  }
  if (row.steps === 0) return `${o.warmup + 1} warm-up steps`;
  return `${o.seconds} s of steps (${row.steps} measured)`;
}
