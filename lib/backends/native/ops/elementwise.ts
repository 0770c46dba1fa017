/**
 * Element-wise float32 arithmetic with NumPy broadcasting, as loops over collapsed dimensions
 * (tfjs' CPU backend computes an index array per element when shapes differ, which dominated its
 * training step), plus ReLU, its gradient and its step function.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { binary } from "./elementwise.ts";
 * const r = binary("add", new Float32Array([1, 2, 3, 4]), [2, 2], new Float32Array([10, 20]), [2]);
 * assert.deepEqual([...r.values], [11, 22, 13, 24]);
 * assert.deepEqual(r.shape, [2, 2]);
 * ```
 * @module
 */
import { pool } from "../buffers.ts";

/** The binary operations implemented here. */
export type BinaryOp = "add" | "sub" | "mul" | "div" | "sqdiff" | "max" | "min";

type Inner = (
  a: Float32Array,
  ia: number,
  sa: number,
  b: Float32Array,
  ib: number,
  sb: number,
  o: Float32Array,
  io: number,
  n: number,
) => void;

// One loop per operation, so that each stays monomorphic.
const INNER: Record<BinaryOp, Inner> = {
  add: (a, ia, sa, b, ib, sb, o, io, n) => {
    for (let j = 0; j < n; j++) o[io + j] = a[ia + j * sa] + b[ib + j * sb];
  },
  sub: (a, ia, sa, b, ib, sb, o, io, n) => {
    for (let j = 0; j < n; j++) o[io + j] = a[ia + j * sa] - b[ib + j * sb];
  },
  mul: (a, ia, sa, b, ib, sb, o, io, n) => {
    for (let j = 0; j < n; j++) o[io + j] = a[ia + j * sa] * b[ib + j * sb];
  },
  div: (a, ia, sa, b, ib, sb, o, io, n) => {
    for (let j = 0; j < n; j++) o[io + j] = a[ia + j * sa] / b[ib + j * sb];
  },
  sqdiff: (a, ia, sa, b, ib, sb, o, io, n) => {
    for (let j = 0; j < n; j++) {
      const d = a[ia + j * sa] - b[ib + j * sb];
      o[io + j] = d * d;
    }
  },
  max: (a, ia, sa, b, ib, sb, o, io, n) => {
    for (let j = 0; j < n; j++) o[io + j] = Math.max(a[ia + j * sa], b[ib + j * sb]);
  },
  min: (a, ia, sa, b, ib, sb, o, io, n) => {
    for (let j = 0; j < n; j++) o[io + j] = Math.min(a[ia + j * sa], b[ib + j * sb]);
  },
};

/** The broadcast shape of two shapes, or null when they do not broadcast. */
export function broadcastShape(aShape: number[], bShape: number[]): number[] | null {
  const r = Math.max(aShape.length, bShape.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = aShape[aShape.length - r + i] ?? 1, db = bShape[bShape.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` read as `out` (rank-aligned on the right; 0 where broadcast). */
function broadcastStrides(shape: number[], out: number[]): number[] {
  const r = out.length, s = new Array<number>(r).fill(0);
  let stride = 1;
  for (let i = r - 1; i >= 0; i--) {
    const d = shape[shape.length - r + i] ?? 1;
    s[i] = d === 1 ? 0 : stride;
    stride *= d;
  }
  return s;
}

/**
 * `a op b` with broadcasting; returns the values and the broadcast shape. Throws on shapes that do
 * not broadcast (the kernels check that first).
 */
export function binary(
  op: BinaryOp,
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
): { values: Float32Array; shape: number[] } {
  const shape = broadcastShape(aShape, bShape);
  if (!shape) throw new Error(`shapes [${aShape}] and [${bShape}] do not broadcast`);
  const size = shape.reduce((p, d) => p * d, 1);
  const o = pool.alloc(size);
  if (size === 0) return { values: o, shape };
  const f = INNER[op];
  // Collapse adjacent dimensions that both operands traverse the same way.
  const sa0 = broadcastStrides(aShape, shape), sb0 = broadcastStrides(bShape, shape);
  const dims: number[] = [], sa: number[] = [], sb: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const k = dims.length - 1;
    if (
      k >= 0 && sa[k] === sa0[i] * shape[i] && sb[k] === sb0[i] * shape[i]
    ) {
      dims[k] *= shape[i];
      sa[k] = sa0[i];
      sb[k] = sb0[i];
    } else {
      dims.push(shape[i]);
      sa.push(sa0[i]);
      sb.push(sb0[i]);
    }
  }
  if (dims.length === 0) {
    f(a, 0, 0, b, 0, 0, o, 0, 1);
    return { values: o, shape };
  }
  const k = dims.length - 1, n = dims[k];
  const outer = size / n;
  const idx = new Array<number>(k).fill(0);
  let ia = 0, ib = 0;
  for (let r = 0, io = 0; r < outer; r++, io += n) {
    f(a, ia, sa[k], b, ib, sb[k], o, io, n);
    // Advance the outer multi-index like an odometer.
    for (let d = k - 1; d >= 0; d--) {
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < dims[d]) break;
      ia -= sa[d] * dims[d];
      ib -= sb[d] * dims[d];
      idx[d] = 0;
    }
  }
  return { values: o, shape };
}

/** `max(x, 0)`, keeping NaN. */
export function relu(x: Float32Array, into: Float32Array | null = null): Float32Array {
  const y = into ?? pool.alloc(x.length); // into may be x: each element is read, then written
  // Branch-free ((v + |v|) / 2 is exact): with about half the values negative, a compare-and-branch
  // mispredicts so often that it measured 3-4x slower here. NaN stays NaN; -Infinity becomes NaN.
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = (v + Math.abs(v)) * 0.5;
  }
  return y;
}

/** tfjs' `step`: 1 where `x > 0`, `alpha` elsewhere, NaN for NaN. */
export function step(x: Float32Array, alpha: number): Float32Array {
  const y = pool.alloc(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = v > 0 ? 1 : v !== v ? NaN : alpha;
  }
  return y;
}

/**
 * ReLU's gradient in one pass: `dy` where `x > 0`, 0 elsewhere, NaN where `x` is NaN; into `into`
 * (which may be `dy`: each element is read before it is written) when given.
 */
export function reluGrad(
  dy: Float32Array,
  x: Float32Array,
  into: Float32Array | null = null,
): Float32Array {
  const dx = into ?? pool.alloc(dy.length);
  for (let i = 0; i < dy.length; i++) {
    const v = x[i];
    // Mask arithmetic, not a branch on the sign (unpredictable: 3-5x slower); `/ +(v === v)` makes
    // NaN for NaN (a NaN test as a ternary measured slower still).
    dx[i] = dy[i] * +(v > 0) / +(v === v);
  }
  return dx;
}
