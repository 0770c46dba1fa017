/**
 * Batched matrix products through BLAS' `sgemm`, with tfjs' broadcasting of a batch of one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBlas } from "../blas.ts";
 * import { batchMatMul } from "./matmul.ts";
 * const blas = openBlas();
 * if (blas.ok) {
 *   const c = batchMatMul(blas.sgemm, new Float32Array([1, 2]), [1, 1, 2], new Float32Array([3, 4]), [1, 2, 1], false, false);
 *   assert.ok(c);
 *   assert.deepEqual([...c.values], [11]);
 *   assert.deepEqual(c.shape, [1, 1, 1]);
 * }
 * ```
 * @module
 */
import type { Sgemm } from "../blas.ts";
import { pool } from "../buffers.ts";

/** The shape and values of a product. */
export interface Product {
  values: Float32Array;
  shape: number[];
}

/**
 * `op(a) op(b)` for `a` `[..., m, k]` and `b` `[..., k, n]` (or transposed); the batch dimensions
 * must be equal or one side's batch must be 1. Returns null for other broadcasts (the caller falls
 * back to tfjs' kernel).
 */
export function batchMatMul(
  sgemm: Sgemm,
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  transA: boolean,
  transB: boolean,
): Product | null {
  const ra = aShape.length, rb = bShape.length;
  const m = transA ? aShape[ra - 1] : aShape[ra - 2];
  const k = transA ? aShape[ra - 2] : aShape[ra - 1];
  const n = transB ? bShape[rb - 2] : bShape[rb - 1];
  const aOuter = aShape.slice(0, -2), bOuter = bShape.slice(0, -2);
  const prod = (s: number[]) => s.reduce((p, d) => p * d, 1);
  const batchA = prod(aOuter), batchB = prod(bOuter);
  let outer: number[];
  if (batchA === batchB && aOuter.length === bOuter.length) outer = aOuter;
  else if (batchB === 1) outer = aOuter.length >= bOuter.length ? aOuter : null!;
  else if (batchA === 1) outer = bOuter.length >= aOuter.length ? bOuter : null!;
  else return null;
  if (!outer) return null;
  const batch = Math.max(batchA, batchB);
  // BLAS may leave C untouched when k is 0.
  const values = k === 0 ? pool.zeros(batch * m * n) : pool.alloc(batch * m * n);
  const lda = aShape[ra - 1], ldb = bShape[rb - 1];
  for (let i = 0; i < batch; i++) {
    const ai = batchA === 1 ? 0 : i, bi = batchB === 1 ? 0 : i;
    sgemm(
      transA,
      transB,
      m,
      n,
      k,
      1,
      ai === 0 ? a : a.subarray(ai * m * k),
      lda,
      bi === 0 ? b : b.subarray(bi * k * n),
      ldb,
      0,
      i === 0 ? values : values.subarray(i * m * n),
      n,
    );
  }
  return { values, shape: [...outer, m, n] };
}
