/**
 * Opens a CBLAS library (OpenBLAS, Apple's Accelerate, any `libblas.so.3` with the CBLAS symbols)
 * through `Deno.dlopen` and exposes its single-precision matrix product.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBlas } from "./blas.ts";
 * const blas = openBlas();
 * if (blas.ok) {
 *   const c = new Float32Array(4);
 *   // C[2x2] = A[2x1] B[1x2]
 *   blas.sgemm(false, false, 2, 2, 1, 1, new Float32Array([1, 2]), 1, new Float32Array([3, 4]), 2, 0, c, 2);
 *   assert.deepEqual([...c], [3, 4, 6, 8]);
 * }
 * ```
 * @module
 */

/** `C = alpha op(A) op(B) + beta C`, row-major; see {@linkcode Blas.sgemm}. */
export type Sgemm = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

/** `y += alpha * x` over all of `y`, in float32 (CBLAS' `saxpy`, unit strides). */
export type Axpy = (alpha: number, x: Float32Array, y: Float32Array) => void;

/** An opened BLAS library. */
export interface Blas {
  ok: true;
  /** The name or path that was opened. */
  library: string;
  /** Row-major single-precision GEMM (`cblas_sgemm`). */
  sgemm: Sgemm;
  /** `cblas_saxpy`, vectorised (its time is not in {@linkcode BLAS_TIME}, which is sgemm's). */
  axpy: Axpy;
  /** Sets OpenBLAS' thread count for later calls; null in other libraries. */
  setThreads: ((n: number) => void) | null;
  /** OpenBLAS' thread count now; null in other libraries. */
  getThreads: (() => number) | null;
  /** OpenBLAS' threading: 0 none, 1 its own threads, 2 OpenMP's; null in other libraries. */
  parallel: number | null;
}

/** Why no BLAS library could be opened. */
export interface NoBlas {
  ok: false;
  /** One line: what was tried and how to fix it. */
  reason: string;
}

const SYMBOLS = {
  // OpenBLAS' own (absent elsewhere, e.g. in Accelerate): null when the library lacks it.
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
  openblas_get_parallel: { parameters: [], result: "i32", optional: true },
  cblas_saxpy: { parameters: ["i32", "f32", "buffer", "i32", "buffer", "i32"], result: "void" },
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // m
      "i32", // n
      "i32", // k
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "buffer", // B
      "i32", // ldb
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
} as const;

// CBLAS enum values.
const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

/** Library names tried in order, per operating system; `RESNET_BLAS` (a path) goes first. */
export function candidateLibraries(os: string = Deno.build.os): string[] {
  const fromEnv = envBlas();
  const names = os === "darwin"
    ? [
      "/System/Library/Frameworks/Accelerate.framework/Accelerate",
      "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
      "/usr/local/opt/openblas/lib/libopenblas.dylib",
      "libopenblas.dylib",
    ]
    : os === "windows"
    ? ["libopenblas.dll", "openblas.dll"]
    : [
      "libopenblas.so.0",
      "libopenblas.so",
      "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
      "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
      "/usr/lib64/libopenblas.so.0",
      "libblas.so.3",
      "libcblas.so.3",
    ];
  return fromEnv ? [fromEnv, ...names] : names;
}

function envBlas(): string | undefined {
  try {
    return Deno.env.get("RESNET_BLAS") || undefined;
  } catch {
    return undefined; // no --allow-env: just use the defaults
  }
}

/**
 * `blas.axpy` on the calling thread alone: OpenBLAS' thread count is 1 for the call and as it was
 * after it (one call with two threads made its threads spin afterwards and take the cores from
 * oneDNN's: a ResNet-18 28x28 batch-64 step went from 68.6 to 86.8 ms, measured). The count is the
 * process' own, so it is never left changed: the BLAS backend's sgemm keeps its threads (76 pairs
 * of set and restore cost 0.02 ms). Where OpenBLAS runs on OpenMP's threads (whose count oneDNN
 * shares, and which sleep between calls as oneDNN's do) and in other libraries, `axpy` as it is.
 *
 * @example
 * ```ts
 * import { oneThreadAxpy, openBlas } from "./blas.ts";
 * const blas = openBlas();
 * if (blas.ok) oneThreadAxpy(blas)(2, Float32Array.of(1), Float32Array.of(1)); // y = [3]
 * ```
 */
export function oneThreadAxpy(blas: Blas): Axpy {
  const { axpy, getThreads, setThreads } = blas;
  if (!getThreads || !setThreads || blas.parallel !== 1) return axpy;
  return (alpha, x, y) => {
    const threads = getThreads();
    setThreads(1);
    try {
      axpy(alpha, x, y);
    } finally {
      setThreads(threads);
    }
  };
}

let cached: Blas | NoBlas | null = null;

/**
 * sgemm calls and their milliseconds while `on` (bench --profile switches it on; off, the cost
 * is one test per call).
 *
 * @example
 * ```ts
 * import { BLAS_TIME } from "./blas.ts";
 * BLAS_TIME.on = true; // ... run a step, read BLAS_TIME.ms and .calls ...
 * BLAS_TIME.on = false;
 * ```
 */
export const BLAS_TIME: { on: boolean; calls: number; ms: number } = { on: false, calls: 0, ms: 0 };

/**
 * Opens the first library of {@linkcode candidateLibraries} that has `cblas_sgemm`; the result is
 * cached for the process. Never throws: without `--allow-ffi` or any library it returns
 * `{ok: false, reason}`.
 */
export function openBlas(): Blas | NoBlas {
  if (cached) return cached;
  const tried: string[] = [];
  for (const name of candidateLibraries()) {
    try {
      const lib = Deno.dlopen(name, SYMBOLS);
      const f = lib.symbols.cblas_sgemm;
      const sgemm: Sgemm = (ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
        if (m === 0 || n === 0) return;
        const t0 = BLAS_TIME.on ? performance.now() : 0;
        f(
          ROW_MAJOR,
          ta ? TRANS : NO_TRANS,
          tb ? TRANS : NO_TRANS,
          m,
          n,
          k,
          alpha,
          a,
          lda,
          b,
          ldb,
          beta,
          c,
          ldc,
        );
        if (BLAS_TIME.on) {
          BLAS_TIME.ms += performance.now() - t0;
          BLAS_TIME.calls++;
        }
      };
      const saxpy = lib.symbols.cblas_saxpy;
      const axpy: Axpy = (alpha, x, y) => {
        if (x.length < y.length) throw new Error(`axpy: ${x.length} < ${y.length} elements`);
        saxpy(y.length, alpha, x, 1, y, 1);
      };
      const set = lib.symbols.openblas_set_num_threads;
      const setThreads = set ? (n: number) => set(n) : null;
      const get = lib.symbols.openblas_get_num_threads;
      const getThreads = get ? () => get() : null;
      const parallel = lib.symbols.openblas_get_parallel?.() ?? null;
      cached = { ok: true, library: name, sgemm, axpy, setThreads, getThreads, parallel };
      return cached;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        cached = {
          ok: false,
          reason: "opening a BLAS library needs --allow-ffi: run with deno run --allow-ffi (or -A)",
        };
        return cached;
      }
      tried.push(name);
    }
  }
  const hint = Deno.build.os === "linux"
    ? "install one (Debian/Ubuntu: apt-get install libopenblas0-pthread)"
    : Deno.build.os === "darwin"
    ? "install OpenBLAS (brew install openblas)"
    : "install OpenBLAS (libopenblas.dll on the PATH)";
  cached = {
    ok: false,
    reason: `no BLAS library with cblas_sgemm found (tried ${
      tried.join(", ")
    }): ${hint} or set RESNET_BLAS to its path`,
  };
  return cached;
}
