/**
 * The machine's practical matrix rate: the GFLOP/s of one large single-precision matrix product
 * (`cblas_sgemm`, 2048x2048x2048 by default, best of a few) through the project's OpenBLAS
 * binding (lib/backends/native/blas.ts), on the threads the benchmark runs with. It is the
 * denominator of the bench's "% sgemm" column (the FLOPs of a run's images per second,
 * bench/flops.ts, over this rate); "% peak" divides by the FMA peak (bench/fma_peak.ts). A
 * well-tuned convolution can beat sgemm, so "% sgemm" may exceed 100%.
 *
 * Measured in a process of its own (OpenBLAS reads `OPENBLAS_NUM_THREADS` when it is loaded):
 * bench/bench.ts calls {@linkcode measureSgemm}, which runs this file as a script.
 *
 * @example
 * ```sh
 * OPENBLAS_NUM_THREADS=2 deno run -A bench/peak.ts --n 2048 --repeats 3
 * # {"gflops":97.1,"n":2048,"repeats":3,"threads":2,"library":"libopenblas.so.0"}
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { openBlas } from "../lib/backends/native/blas.ts";
import { errorText, UserError } from "../lib/errors.ts";
import { describeError } from "../cli/errors.ts";
import { parseNumber } from "../lib/parse_number.ts";
import { lastLine, spawnJson } from "./spawn.ts";

/** A measured sgemm rate. */
export interface SgemmRate {
  /** Best GFLOP/s (2 n^3 FLOPs per product). */
  gflops: number;
  /** The product's size: n x n times n x n. */
  n: number;
  /** Timed products (after one untimed one that starts OpenBLAS' threads). */
  repeats: number;
  /** `OPENBLAS_NUM_THREADS` of the measuring process, or null when unset. */
  threads: number | null;
  /** The BLAS library that was opened. */
  library: string;
}

/**
 * Times `repeats` products of two `n`x`n` matrices in this process and returns the best rate;
 * throws {@linkcode UserError} when no BLAS library can be opened.
 *
 * @example
 * ```ts
 * import { sgemmRate } from "./peak.ts";
 * sgemmRate(256, 2).gflops > 0; // true
 * ```
 */
export function sgemmRate(n: number, repeats: number): SgemmRate {
  const blas = openBlas();
  if (!blas.ok) throw new UserError(blas.reason);
  // Values in [0.25, 1]: no denormals, no overflow.
  const a = Float32Array.from({ length: n * n }, (_, i) => 0.25 + (i % 7) / 8);
  const b = Float32Array.from({ length: n * n }, (_, i) => 0.25 + (i % 5) / 6);
  const c = new Float32Array(n * n);
  let best = Infinity;
  for (let r = 0; r <= repeats; r++) {
    const t = performance.now();
    blas.sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n);
    if (r > 0) best = Math.min(best, (performance.now() - t) / 1000);
  }
  const env = Deno.env.get("OPENBLAS_NUM_THREADS");
  return {
    gflops: 2 * n ** 3 / best / 1e9,
    n,
    repeats,
    threads: env ? Number(env) : null,
    library: blas.library,
  };
}

/**
 * Measures the sgemm rate in a new process with `OPENBLAS_NUM_THREADS=threads`, killed after
 * `cap` seconds; returns the rate, or why there is none (one line).
 *
 * @example
 * ```ts
 * import { measureSgemm } from "./peak.ts";
 * const r = await measureSgemm({ threads: 2 });
 * console.log("gflops" in r ? r.gflops : r.error);
 * ```
 */
export async function measureSgemm(
  o: { threads: number; n?: number; repeats?: number; cap?: number },
): Promise<SgemmRate | { error: string }> {
  let rate: SgemmRate | null = null;
  const r = await spawnJson(
    Deno.execPath(),
    [
      ...["run", "-A", new URL(import.meta.url).pathname],
      ...["--n", `${o.n ?? 2048}`, "--repeats", `${o.repeats ?? 3}`],
    ],
    o.cap ?? 60,
    (j) => rate = j as unknown as SgemmRate,
    { OPENBLAS_NUM_THREADS: `${o.threads}` },
  );
  if (rate) return rate;
  return { error: r.timedOut ? `did not finish in ${o.cap ?? 60} s` : lastLine(r.stderr) };
}

/**
 * The fraction of a rate (the FMA peak, the sgemm rate) that a run's arithmetic reaches:
 * images/s x GFLOP per image / the rate's GFLOP/s; null when either is missing.
 *
 * @example
 * ```ts
 * import { peakFraction } from "./peak.ts";
 * peakFraction(100, 0.5, 100); // 0.5
 * ```
 */
export function peakFraction(
  examplesPerSec: number | null,
  gflopPerImage: number,
  rateGflops: number | null,
): number | null {
  if (examplesPerSec === null || !rateGflops) return null;
  return examplesPerSec * gflopPerImage / rateGflops;
}

function main(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: { n: { type: "string", default: "2048" }, repeats: { type: "string", default: "3" } },
  });
  const int = (flag: string, v: string) => parseNumber(v, "integer", 1, false, `--${flag} ${v}`);
  console.log(JSON.stringify(sgemmRate(int("n", values.n), int("repeats", values.repeats))));
}

if (import.meta.main) {
  try {
    main(Deno.args);
  } catch (e) {
    // parseArgs' own errors (an unknown flag, a missing value) are usage errors too.
    const usage = String((e as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS");
    const d = usage ? { line: `error: ${errorText(e)}`, code: 2 } : describeError(e);
    if (!d) throw e;
    console.error(d.line);
    Deno.exit(d.code);
  }
}
