/**
 * Sums, means and maxima over a contiguous run of axes (`[outer, reduced, inner]` after
 * collapsing), accumulated in double precision, and tiling; tfjs' CPU backend transposes the
 * reduced axes to the end first, which dominated BatchNorm's gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reduce } from "./reduce.ts";
 * // Sum an NHWC [1, 2, 1, 2] tensor over axes [0, 1, 2]: per-channel sums.
 * const r = reduce("sum", new Float32Array([1, 2, 3, 4]), [1, 2, 1, 2], [0, 1, 2], false);
 * assert.ok(r);
 * assert.deepEqual([...r.values], [4, 6]);
 * assert.deepEqual(r.shape, [2]);
 * ```
 * @module
 */
import { pool } from "../buffers.ts";

/** The reductions implemented here. */
export type ReduceOp = "sum" | "mean" | "max";

/**
 * Reduces `x` over `axes` (non-negative, any order); null when the axes are not contiguous once
 * size-1 dimensions are ignored (the caller falls back to tfjs' kernel).
 */
export function reduce(
  op: ReduceOp,
  x: Float32Array,
  shape: number[],
  axes: number[],
  keepDims: boolean,
): { values: Float32Array; shape: number[] } | null {
  const ax = [...new Set(axes)].sort((p, q) => p - q);
  if (ax.length === 0) return null;
  const isReduced = (i: number) => ax.includes(i);
  // The reduced axes of size > 1 must be one contiguous run.
  const big = shape.map((d, i) => (d > 1 ? i : -1)).filter((i) => i >= 0);
  const bigReduced = big.filter(isReduced);
  if (bigReduced.length > 0) {
    const first = big.indexOf(bigReduced[0]);
    for (let j = 0; j < bigReduced.length; j++) {
      if (big[first + j] !== bigReduced[j]) return null;
    }
  }
  let outer = 1, red = 1, inner = 1;
  const lo = bigReduced[0] ?? shape.length;
  shape.forEach((d, i) => {
    if (isReduced(i)) red *= d;
    else if (i < lo) outer *= d;
    else inner *= d;
  });
  const outShape = keepDims
    ? shape.map((d, i) => (isReduced(i) ? 1 : d))
    : shape.filter((_, i) => !isReduced(i));
  const y = pool.alloc(outer * inner);
  if (red === 0) {
    if (op === "max") y.fill(-Infinity);
    else if (op === "mean") y.fill(NaN);
    return { values: y, shape: outShape };
  }
  const scale = op === "mean" ? 1 / red : 1;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = o * red;
      if (op === "max") {
        let m = -Infinity;
        for (let r = 0; r < red; r++) {
          const v = x[base + r];
          if (v > m || v !== v) m = v;
          if (m !== m) break;
        }
        y[o] = m;
      } else {
        let s = 0;
        for (let r = 0; r < red; r++) s += x[base + r];
        y[o] = s * scale;
      }
    }
    return { values: y, shape: outShape };
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * red * inner;
    acc.fill(op === "max" ? -Infinity : 0);
    for (let r = 0; r < red; r++) {
      const row = base + r * inner;
      if (op === "max") {
        for (let i = 0; i < inner; i++) {
          const v = x[row + i];
          if (v > acc[i] || v !== v) acc[i] = v;
        }
      } else {
        for (let i = 0; i < inner; i++) acc[i] += x[row + i];
      }
    }
    const out = o * inner;
    for (let i = 0; i < inner; i++) y[out + i] = acc[i] * scale;
  }
  return { values: y, shape: outShape };
}

/** tfjs' `tile`: repeats `x` `reps[i]` times along axis `i`. */
export function tile(x: Float32Array, shape: number[], reps: number[]): {
  values: Float32Array;
  shape: number[];
} {
  const outShape = shape.map((d, i) => d * reps[i]);
  const y = pool.alloc(outShape.reduce((p, d) => p * d, 1));
  if (y.length === 0) return { values: y, shape: outShape };
  // inStride[i]/outStride[i]: elements of one block below axis i.
  const r = shape.length;
  const inStride = new Array<number>(r + 1).fill(1), outStride = new Array<number>(r + 1).fill(1);
  for (let i = r - 1; i >= 0; i--) {
    inStride[i] = inStride[i + 1] * shape[i];
    outStride[i] = outStride[i + 1] * outShape[i];
  }
  // Copies input block (axis i, offset src) into output at dst, then repeats it reps[i] times.
  const fill = (i: number, src: number, dst: number) => {
    if (i === r) {
      y[dst] = x[src];
      return;
    }
    const d = shape[i], inner = outStride[i + 1];
    if (i === r - 1) {
      for (let j = 0; j < d; j++) y[dst + j] = x[src + j];
    } else {
      for (let j = 0; j < d; j++) fill(i + 1, src + j * inStride[i + 1], dst + j * inner);
    }
    const block = d * inner;
    for (let t = 1; t < reps[i]; t++) y.copyWithin(dst + t * block, dst, dst + block);
  };
  fill(0, 0, 0);
  return { values: y, shape: outShape };
}
