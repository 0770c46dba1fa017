/**
 * What `deno task bench` measured on this machine, from its saved results (bench/results/), for
 * `info`: the latest d2l ResNet-18 training speed at 28x28 of each implementation, or nothing when
 * the bench never ran on a machine like this one (another machine's figures are not ours).
 *
 * @example
 * ```ts
 * import { benchLine } from "./bench_results.ts";
 * import assert from "node:assert/strict";
 * const machine = { cpu: "AMD EPYC", cores: 2, os: "linux" };
 * const row = { date: "2026-11-23", machine, impl: "native", depth: 18, size: 28, batch: 64,
 *   examples_per_sec: 196, status: "ok" };
 * assert.match(benchLine([row], machine)!, /native 196\.0 images\/s/);
 * assert.equal(benchLine([row], { ...machine, cores: 16 }), null);
 * assert.equal(benchLine([{ ...row, task: "eval" }], machine), null); // training speed only
 * const fma_peak = { gflops: 387, isa: "AVX-512", threads: 2 };
 * assert.match(benchLine([{ ...row, peak_fraction: 0.38, fma_peak }], machine)!,
 *   /native 196\.0 \(38% of the FMA peak, 387 GFLOP\/s AVX-512 on 2 threads\) images\/s/);
 * ```
 * @module
 */
import { cpuModel } from "../lib/backends/info.ts";

/** The results file the bench appends to. */
export const BENCH_RESULTS = new URL("../bench/results/results.jsonl", import.meta.url);

/** A machine as the results file records it. */
export interface BenchMachine {
  /** CPU model name. */
  cpu: string;
  /** Logical cores. */
  cores: number;
  /** Deno.build.os. */
  os: string;
}

/** The fields of a results row this module reads. */
export interface BenchRow {
  /** When the bench ran (ISO). */
  date: string;
  /** Where it ran. */
  machine: BenchMachine;
  /** native, torch, webgpu, cpu... */
  impl: string;
  /** "train" or "eval" (the test pass); rows saved before the field were training. */
  task?: string;
  /** ResNet depth. */
  depth: number | null;
  /** d2l's or torchvision's form (rows saved before the field: d2l's). */
  arch?: string;
  /** Channels of the first stage (rows saved before the field: 64). */
  width?: number;
  /** Input size. */
  size: number;
  /** Batch size. */
  batch: number;
  /** Training images per second, or null. */
  examples_per_sec: number | null;
  /** Fraction of `fma_peak` (rows without `fma_peak` divided by the sgemm rate: not shown). */
  peak_fraction?: number | null;
  /** The FMA peak measured in the same invocation, or why not (rows since 2026-12-06). */
  fma_peak?: { gflops: number; isa: string; threads: number } | { error: string } | null;
  /** "ok" when it measured. */
  status: string;
}

/** This machine, as the bench records it. */
export function thisMachine(): BenchMachine {
  return { cpu: cpuModel(), cores: navigator.hardwareConcurrency, os: Deno.build.os };
}

/** The line for `info`: the latest speed of each implementation measured here, or null. */
export function benchLine(rows: readonly BenchRow[], here: BenchMachine): string | null {
  const same = (m: BenchMachine) =>
    m.cpu === here.cpu && m.cores === here.cores && m.os === here.os;
  const latest = new Map<string, BenchRow>();
  for (const r of rows) {
    if (r.status !== "ok" || r.examples_per_sec === null || !same(r.machine)) continue;
    // d2l's ResNet-18 only: the bench also runs torchvision's form and other widths.
    const d2l18 = r.depth === 18 && (r.arch ?? "d2l") === "d2l" && (r.width ?? 64) === 64;
    if (!d2l18 || r.size !== 28 || r.batch !== 64 || (r.task ?? "train") !== "train") continue;
    const prev = latest.get(r.impl);
    if (!prev || r.date >= prev.date) latest.set(r.impl, r); // the file's later row wins a tie
  }
  if (!latest.size) return null;
  const when = [...latest.values()].map((r) => r.date.slice(0, 10)).sort().at(-1);
  const speeds = [...latest].map(([impl, r]) => {
    const peak = r.fma_peak && "gflops" in r.fma_peak && r.peak_fraction != null
      ? ` (${(100 * r.peak_fraction).toFixed(0)}% of the FMA peak, ${
        r.fma_peak.gflops.toFixed(0)
      } GFLOP/s ${r.fma_peak.isa} on ${r.fma_peak.threads} threads)`
      : "";
    return `${impl} ${r.examples_per_sec!.toFixed(1)}${peak}`;
  });
  return `bench here (${here.cpu}, ${here.cores} cores; latest ${when}): ResNet-18 training at ` +
    `28x28, batch 64: ${speeds.join(", ")} images/s`;
}

/** {@linkcode benchLine} of the saved results file (null when it is missing or unreadable). */
export async function savedBenchLine(): Promise<string | null> {
  const text = await Deno.readTextFile(BENCH_RESULTS).catch(() => "");
  const rows: BenchRow[] = [];
  for (const line of text.split("\n")) {
    try {
      if (line.trim()) rows.push(JSON.parse(line));
    } catch {
      // a torn last line of a killed bench: the others still count
    }
  }
  return benchLine(rows, thisMachine());
}
