/**
 * oneDNN's single-precision GEMM (`dnnl_sgemm`, row-major), used by the probe benchmark as the
 * machine's practical peak.
 *
 * @example
 * ```ts
 * import { openDnnl } from "./ffi.ts";
 * import { sgemm } from "./sgemm.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const a = Float32Array.of(1, 2, 3, 4), b = Float32Array.of(1, 0, 0, 1);
 *   const c = new Float32Array(4);
 *   sgemm(dnnl, 2, 2, 2, a, b, c); // c = a
 * }
 * ```
 * @module
 */

import { check, type Dnnl } from "./ffi.ts";

const N = "N".charCodeAt(0);
const T = "T".charCodeAt(0);

/**
 * `c = alpha * op(a) @ op(b) + beta * c`, row-major: a `[m, k]` (or `[k, m]` with `transA`),
 * b `[k, n]` (or `[n, k]` with `transB`), c `[m, n]`.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { sgemm } from "./sgemm.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const a: Float32Array, b: Float32Array, c: Float32Array;
 * sgemm(dnnl, 64, 64, 64, a, b, c, { beta: 1 }); // c += a @ b
 * ```
 */
export function sgemm(
  dnnl: Dnnl,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  options: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {},
): void {
  if (a.length < m * k || b.length < k * n || c.length < m * n) {
    throw new Error(`sgemm: buffers too small for ${m}x${k} @ ${k}x${n}`);
  }
  const { transA = false, transB = false, alpha = 1, beta = 0 } = options;
  const lda = transA ? m : k, ldb = transB ? k : n;
  sgemmStrided(dnnl, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
}

/**
 * `C = alpha op(A) op(B) + beta C`, row-major, with leading dimensions: CBLAS' calling convention
 * (the native backend's matrix products use it whichever library runs them).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { sgemmStrided } from "./sgemm.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const c = new Float32Array(4);
 * sgemmStrided(dnnl, false, false, 2, 2, 1, 1, Float32Array.of(1, 2), 1, Float32Array.of(3, 4), 2, 0, c, 2);
 * // c = [3, 4, 6, 8]
 * ```
 */
export function sgemmStrided(
  dnnl: Dnnl,
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
): void {
  const status = dnnl.lib.symbols.dnnl_sgemm(
    transA ? T : N,
    transB ? T : N,
    BigInt(m),
    BigInt(n),
    BigInt(k),
    alpha,
    a,
    BigInt(lda),
    b,
    BigInt(ldb),
    beta,
    c,
    BigInt(ldc),
  );
  check("dnnl_sgemm", status);
}
