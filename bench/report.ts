/**
 * What the bench shows and keeps: the table of runs (images/s, % of the FMA peak and of the sgemm
 * rate, first step, peak RSS, ratio to the faster PyTorch reference; a row above the FMA peak
 * flagged), the notes under it, a per-kernel profile and where a step's time went, and the
 * results file, to which every invocation appends its rows with the environment record.
 *
 * @example
 * ```ts
 * import { appendResults, formatTable } from "./report.ts";
 * import type { Environment } from "./environment.ts";
 * import type { BenchRow } from "./row.ts";
 * declare const env: Environment;
 * declare const rows: BenchRow[];
 * console.log(formatTable(rows));
 * await appendResults("bench/results/local.jsonl", env, rows, "deno task bench");
 * ```
 * @module
 */
import { dirname } from "node:path";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { errorText, UserError } from "../lib/errors.ts";
import type { Environment } from "./environment.ts";
import type { FmaPeak } from "./fma_peak.ts";
import { DEPTH_BLOCKS } from "../lib/model/resnet.ts";
import { type BenchRow, INSIDE_DNNL, isTorch, type KernelTime, type StepSplit } from "./row.ts";

/**
 * Where rows go without `--save`: git-ignored, so a bench leaves a clone clean. The tracked
 * `bench/results/results.jsonl` is the historical record.
 */
export const DEFAULT_RESULTS: string = new URL("results/local.jsonl", import.meta.url).pathname;

function fmtNum(v: number | null, digits = 1): string {
  return v === null ? "-" : v.toFixed(digits);
}

const secs = (v: number | null) => v === null ? "-" : `${v.toFixed(2)} s`;

/**
 * The network of a row: its depth, or its stages and width (e.g. "1,1,1,1 w8"); then a block the
 * depth does not imply, ResNeXt's groups x width per group ("32x4d"), "cifar" for the 3x3/1 stem
 * without max pool, and "tv" for torchvision's form (rows saved before these fields are d2l's basic
 * ResNets with d2l's stem).
 *
 * @example
 * ```ts
 * import { netLabel } from "./report.ts";
 * netLabel({ depth: 34, stages: [3, 4, 6, 3], width: 64 }); // "34"
 * netLabel({ depth: 50, stages: [3, 4, 6, 3], width: 64, arch: "torchvision" }); // "50 tv"
 * netLabel({ depth: 18, stages: [2, 2, 2, 2], width: 16, stem: "cifar" }); // "18 w16 cifar"
 * ```
 */
export function netLabel(
  r: Pick<
    BenchRow,
    "depth" | "stages" | "width" | "arch" | "block" | "groups" | "width_per_group" | "stem"
  >,
): string {
  const parts = [
    r.depth !== null && r.width === 64
      ? `${r.depth}`
      : `${r.depth ?? r.stages.join(",")} w${r.width}`,
  ];
  const implied = r.depth === null ? "basic" : DEPTH_BLOCKS[r.depth] ?? "basic";
  if (r.block && r.block !== implied) parts.push(r.block);
  const groups = r.groups ?? 1, perGroup = r.width_per_group ?? 64;
  if (groups !== 1 || perGroup !== 64) parts.push(`${groups}x${perGroup}d`);
  // A different stem is a different network: "vs torch" and DIFFERENT NETWORKS match on the label.
  if (r.stem === "cifar") parts.push("cifar");
  if (r.arch === "torchvision") parts.push("tv");
  return parts.join(" ");
}

/**
 * How a run was driven, for the table's note column (only what differs between rows).
 *
 * @example
 * ```ts
 * import { runNote } from "./report.ts";
 * import { newRow } from "./row.ts";
 * const row = newRow("native", { depth: 18, stages: null, width: 64 }, { size: 28, batch: 64 });
 * runNote({ ...row, read_every: 10 }); // "read every 10"
 * ```
 */
export function runNote(r: BenchRow): string {
  const parts: string[] = [];
  if (r.compile_ahead) parts.push(`compile-ahead ${r.compile_ahead}`);
  if (r.submit_batch !== null) parts.push(`submit ${r.submit_batch}`);
  if (r.read_every !== null && r.read_every !== 1) parts.push(`read every ${r.read_every}`);
  if (r.batches !== null && r.batches !== "fixed") parts.push(`batches ${r.batches}`);
  if (aboveFmaPeak(r)) parts.push("ABOVE THE FMA PEAK: a FLOP count or a timing is wrong");
  if (r.status !== "ok") parts.push(r.status);
  return parts.join(", ");
}

/**
 * Whether a row claims more arithmetic per second than the CPU's FMA peak allows: more than 100%
 * of it. Impossible for a real run, so the row's FLOP count (bench/flops.ts) or its timing is
 * wrong; the table and the notes flag it.
 *
 * @example
 * ```ts
 * import { aboveFmaPeak } from "./report.ts";
 * import { newRow } from "./row.ts";
 * const row = newRow("native", { depth: 18, stages: null, width: 64 }, { size: 28, batch: 64 });
 * aboveFmaPeak({ ...row, peak_fraction: 1.02 }); // true
 * aboveFmaPeak({ ...row, peak_fraction: 0.62 }); // false
 * ```
 */
export function aboveFmaPeak(r: Pick<BenchRow, "peak_fraction">): boolean {
  return r.peak_fraction !== null && r.peak_fraction > 1;
}

const pct = (v: number | null) => v === null ? "-" : `${(100 * v).toFixed(1)}%`;

/**
 * The faster PyTorch reference (torch or torch-cl) of `r`'s shape (net, task, size, batch) in `rows`,
 * or undefined when none finished.
 *
 * @example
 * ```ts
 * import { fastestTorch } from "./report.ts";
 * import type { BenchRow } from "./row.ts";
 * declare const rows: BenchRow[];
 * fastestTorch(rows, rows[0])?.impl; // "torch-cl" when it had more images/s
 * ```
 */
export function fastestTorch(rows: BenchRow[], r: BenchRow): BenchRow | undefined {
  return rows.filter((q) =>
    isTorch(q.impl) && q.examples_per_sec && q.size === r.size && q.batch === r.batch &&
    netLabel(q) === netLabel(r) && q.task === r.task
  ).sort((p, q) => q.examples_per_sec! - p.examples_per_sec!)[0];
}

/**
 * The human table: one row per run, with its fractions of the FMA peak ("!" above 100%) and of
 * the sgemm rate, and its ratio to the faster PyTorch reference of the same shape and task. With WebGPU rows it also has the warm-up and the
 * first result (warm-up plus first step).
 *
 * @example
 * ```ts
 * import { formatTable } from "./report.ts";
 * import type { BenchRow } from "./row.ts";
 * declare const rows: BenchRow[];
 * formatTable(rows).split("\n")[0]; // "impl  depth  task  size  batch  img/s  % peak  % sgemm ..."
 * ```
 */
export function formatTable(rows: BenchRow[]): string {
  const start = rows.some((r) => r.compile_ahead !== null);
  const head = [
    ...["impl", "depth", "task", "size", "batch", "img/s", "% peak", "% sgemm"],
    ...(start ? ["warm-up"] : []),
    "first step",
    ...(start ? ["first result"] : []),
    ...["peak RSS", "params", "vs torch", "note"],
  ];
  const body = rows.map((r) => {
    const t = fastestTorch(rows, r);
    const ratio = r.examples_per_sec !== null && t
      ? `${(r.examples_per_sec / t.examples_per_sec!).toFixed(2)}x`
      : "-";
    return [
      ...[r.impl, netLabel(r), r.task, `${r.size}`, `${r.batch}`, fmtNum(r.examples_per_sec)],
      pct(r.peak_fraction) + (aboveFmaPeak(r) ? "!" : ""),
      pct(r.sgemm_fraction),
      ...(start ? [secs(r.warmup_s)] : []),
      secs(r.first_step_s),
      ...(start ? [secs(r.first_result_s)] : []),
      r.peak_rss_mb === null ? "-" : `${Math.round(r.peak_rss_mb)} MiB`,
      r.params == null ? "-" : r.params.toLocaleString("en-US"),
      ratio,
      runNote(r),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < head.length - 1 ? c.padEnd(widths[i]) : c)).join("  ").trimEnd();
  return [line(head), ...body.map(line)].join("\n");
}

/** The rates that the bench divides by, or why each is missing. */
export interface BenchRates {
  fma: FmaPeak | { error: string } | null;
  sgemm: Environment["sgemm"] | { error: string };
}

/**
 * The lines under the table: what "% peak", "% sgemm" and "vs torch" divide by, every row above
 * the FMA peak (a line starting "IMPLAUSIBLE"), and the implementations the default run left out
 * (`skipped`, from bench/impls.ts).
 *
 * @example
 * ```ts
 * import { formatNotes } from "./report.ts";
 * import type { BenchRow } from "./row.ts";
 * declare const rows: BenchRow[];
 * const rates = { fma: { error: "aarch64: the loop exists for x86-64 only" }, sgemm: null };
 * formatNotes(rows, rates, ["cpu (pure JS, ...; --impls cpu to run it)"]).at(-1);
 * // "skipped: cpu (pure JS, ...; --impls cpu to run it)"
 * ```
 */
export function formatNotes(rows: BenchRow[], rates: BenchRates, skipped: string[]): string[] {
  const shapes = [
    ...new Map(rows.map((r) => [`${netLabel(r)} ${r.task} ${r.size}`, r])).values(),
  ];
  const nets = new Set(shapes.map(netLabel)).size > 1;
  const per = shapes.map((r) =>
    `${r.gflop_per_image.toPrecision(3)} ${r.task} at ${r.size}x${r.size}` +
    (nets ? ` (${netLabel(r)})` : "")
  ).join(", ");
  const { fma, sgemm } = rates;
  const peak = fma && "gflops" in fma
    ? `% peak: img/s x GFLOP per image (${per}; bench/flops.ts) / the FMA peak, ` +
      `${fma.gflops.toFixed(1)} GFLOP/s on ${fma.threads} threads (${fma.isa}, ` +
      `${fma.accumulators} accumulators; one thread ${fma.gflops_1thread.toFixed(1)}; ` +
      `bench/fma_peak.ts; CPU rows only)`
    : `% peak: peak: not measured (${fma ? fma.error : "not asked for"})`;
  const ofSgemm = sgemm && "gflops" in sgemm
    ? `% sgemm: the same over sgemm ${sgemm.n}^3 on ${sgemm.threads ?? "default"} threads, ` +
      `${sgemm.gflops.toFixed(1)} GFLOP/s (bench/peak.ts)`
    : `% sgemm: no sgemm rate (${sgemm ? sgemm.error : "not measured"})`;
  const above = rows.filter(aboveFmaPeak).map((r) =>
    `IMPLAUSIBLE: ${r.impl} ResNet-${netLabel(r)} ${r.task} ${r.size}x${r.size} batch ${r.batch} ` +
    `at ${pct(r.peak_fraction)} of the measured FMA peak: a FLOP count or a timing is wrong`
  );
  return [
    peak,
    ofSgemm,
    ...above,
    ...differentNetworks(rows),
    "vs torch: img/s over the faster of torch and torch-cl (channels_last) of the same shape and task",
    ...(skipped.length ? [`skipped: ${skipped.join("; ")}`] : []),
  ];
}

/**
 * A line for every row whose parameter count differs from a PyTorch row it is compared with (same
 * network label, task, size and batch): the two processes did not build the same network, so
 * their ratio means nothing.
 *
 * @example
 * ```ts
 * import { differentNetworks } from "./report.ts";
 * import { newRow } from "./row.ts";
 * const net = { depth: 50, stages: null, width: 64, arch: "torchvision" as const };
 * const ours = { ...newRow("native", net, { size: 28, batch: 64 }), params: 23_522_250 };
 * const theirs = { ...newRow("torch", net, { size: 28, batch: 64 }), params: 23_522_251 };
 * differentNetworks([ours, theirs])[0].startsWith("DIFFERENT NETWORKS"); // true
 * ```
 */
export function differentNetworks(rows: BenchRow[]): string[] {
  return rows.filter((r) => !isTorch(r.impl) && r.params != null).flatMap((r) =>
    rows.filter((q) =>
      isTorch(q.impl) && q.params != null && q.params !== r.params && q.task === r.task &&
      q.size === r.size && q.batch === r.batch && netLabel(q) === netLabel(r)
    ).map((q) =>
      `DIFFERENT NETWORKS: ${r.impl} ResNet-${netLabel(r)} has ${
        r.params!.toLocaleString("en-US")
      } ` +
      `parameters, ${q.impl} ${q.params!.toLocaleString("en-US")}: the ratio compares unlike nets`
    )
  );
}

/**
 * A per-kernel profile as a table (ms per step, share, calls).
 *
 * @example
 * ```ts
 * import { formatProfile } from "./report.ts";
 * formatProfile([{ kernel: "Conv2D", ms: 3, calls: 1 }]).split("\n")[1]; // "total ...  3.0 ms"
 * ```
 */
export function formatProfile(p: KernelTime[], top = 15): string {
  const kernels = p.filter((k) => k.kernel !== INSIDE_DNNL);
  const total = kernels.reduce((s, k) => s + k.ms, 0);
  const w = Math.max(22, ...p.map((k) => k.kernel.length));
  const line = (k: KernelTime) =>
    `${k.kernel.padEnd(w)} ${k.ms.toFixed(1).padStart(8)} ms ${
      (100 * k.ms / total).toFixed(1).padStart(5)
    }% ${String(k.calls).padStart(5)} calls`;
  const lines = kernels.slice(0, top).map(line);
  lines.push(`${"total".padEnd(w)} ${total.toFixed(1).padStart(8)} ms`);
  const inside = p.find((k) => k.kernel === INSIDE_DNNL);
  if (inside) lines.push(`${line(inside)} (part of the kernels above)`);
  return lines.join("\n");
}

/**
 * Where one profiled step's wall time went, one line: inside oneDNN, inside BLAS, the kernels' own
 * JavaScript, between kernels, each with its share; and the same step's time without the profiler.
 *
 * @example
 * ```ts
 * import { formatSplit } from "./report.ts";
 * formatSplit({
 *   wall_ms: 100, unprofiled_ms: 95, dnnl_ms: 50, blas_ms: 10, kernel_js_ms: 20, between_ms: 20,
 *   dnnl_calls: 120, blas_calls: 4, kernels: 300,
 * });
 * // "step 100.0 ms (95.0 without tf.profile): oneDNN 50.0 ms 50.0% (120 calls), ..."
 * ```
 */
export function formatSplit(s: StepSplit): string {
  const part = (name: string, ms: number, extra = "") =>
    `${name} ${ms.toFixed(1)} ms ${(100 * ms / s.wall_ms).toFixed(1)}%${extra}`;
  return `step ${s.wall_ms.toFixed(1)} ms (${s.unprofiled_ms.toFixed(1)} without tf.profile): ` + [
    part("oneDNN", s.dnnl_ms, ` (${s.dnnl_calls} calls)`),
    part("BLAS sgemm", s.blas_ms, ` (${s.blas_calls} calls)`),
    part("kernels' JS", s.kernel_js_ms, ` (${s.kernels} kernels)`),
    part("between kernels", s.between_ms),
  ].join(", ");
}

/**
 * Reads the results file as it is now ("" when it does not exist yet), creating its folder:
 * called before the runs, so that a path that cannot be written fails before minutes of
 * measuring. Throws {@linkcode UserError} (one line) when it cannot.
 *
 * @example
 * ```ts
 * import { readResults } from "./report.ts";
 * const old = await readResults("bench/results/local.jsonl");
 * ```
 */
export async function readResults(file: string): Promise<string> {
  try {
    await Deno.mkdir(dirname(file), { recursive: true });
    return await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw new UserError(`cannot append to ${file}: ${errorText(e)}`);
  }
}

/**
 * Appends one JSON line per row (the environment, the command, the row without its profile) to
 * `file`, creating it and its folder; the old lines are kept whatever happens (the whole file is
 * rewritten through a temporary file and a rename). Throws {@linkcode UserError} (one line) when
 * it cannot.
 *
 * @example
 * ```ts
 * import { appendResults } from "./report.ts";
 * import type { Environment } from "./environment.ts";
 * import type { BenchRow } from "./row.ts";
 * declare const env: Environment;
 * declare const rows: BenchRow[];
 * await appendResults("/tmp/bench.jsonl", env, rows, "deno task bench --sizes 28");
 * ```
 */
export async function appendResults(
  file: string,
  env: Environment & { loadavg_at_end?: number[] },
  rows: BenchRow[],
  command: string,
): Promise<void> {
  // Read again: another bench may have appended while this one measured.
  const old = await readResults(file);
  const add = rows.map((r) => {
    const { profile: _, ...rest } = r;
    return JSON.stringify({ ...env, command, ...rest });
  }).join("\n");
  await writeFileAtomic(file, old + (old && !old.endsWith("\n") ? "\n" : "") + add + "\n");
}
