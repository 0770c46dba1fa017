/**
 * Batched matrix products through BLAS' `sgemm`, with tfjs' broadcasting of a batch of one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBlas } from "../blas.ts";
 * import { batchMatMul } from "./mat_mul.ts";
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

/** The sizes of a batched product, from its operands' shapes. */
interface ProductGeometry {
  m: number;
  n: number;
  k: number;
  batchA: number;
  batchB: number;
  /** The output's batch dimensions. */
  outer: number[];
}

const prod = (s: number[]) => s.reduce((p, d) => p * d, 1);

/**
 * The geometry of `op(a) op(b)`, or null when the shapes do not multiply (rank under 2, inner
 * dimensions that differ) or need a broadcast other than equal batches or a batch of one. Checked
 * before any library call: a wrong `k` would read past an operand's end.
 */
export function productGeometry(
  aShape: number[],
  bShape: number[],
  transA: boolean,
  transB: boolean,
): ProductGeometry | null {
  const ra = aShape.length, rb = bShape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transA ? aShape[ra - 1] : aShape[ra - 2];
  const k = transA ? aShape[ra - 2] : aShape[ra - 1];
  const kb = transB ? bShape[rb - 1] : bShape[rb - 2];
  const n = transB ? bShape[rb - 2] : bShape[rb - 1];
  if (k !== kb) return null;
  const aOuter = aShape.slice(0, -2), bOuter = bShape.slice(0, -2);
  const batchA = prod(aOuter), batchB = prod(bOuter);
  const same = aOuter.length === bOuter.length && aOuter.every((d, i) => d === bOuter[i]);
  let outer: number[] | null = null;
  if (same) outer = aOuter;
  else if (batchB === 1 && aOuter.length >= bOuter.length) outer = aOuter;
  else if (batchA === 1 && bOuter.length >= aOuter.length) outer = bOuter;
  return outer && { m, n, k, batchA, batchB, outer };
}

/**
 * `op(a) op(b)` for `a` `[..., m, k]` and `b` `[..., k, n]` (or transposed); the batch dimensions
 * must be equal or one side's batch must be 1. Returns null for shapes that do not multiply and for
 * other broadcasts (the caller falls back to tfjs' kernel, which broadcasts, or says what is wrong).
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
  const g = productGeometry(aShape, bShape, transA, transB);
  if (!g) return null;
  const { m, n, k, batchA, batchB } = g;
  const batch = Math.max(batchA, batchB), size = batch * m * n;
  // An empty product, or a sum over nothing (zeros): no library call, which would reject the
  // zero sizes (oneDNN) or leave C untouched (BLAS).
  if (size === 0 || k === 0) return { values: pool.zeros(size), shape: [...g.outer, m, n] };
  const values = pool.alloc(size);
  const lda = aShape.at(-1)!, ldb = bShape.at(-1)!;
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
  return { values, shape: [...g.outer, m, n] };
}
