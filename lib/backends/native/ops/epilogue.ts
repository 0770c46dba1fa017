/**
 * The fused epilogue of tfjs' `fusedConv2d` and `fusedMatMul`: a per-channel bias and an optional
 * ReLU, applied in place to the product.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyEpilogue } from "./epilogue.ts";
 * const y = new Float32Array([-1, 2, -3, 4]);
 * applyEpilogue(y, 2, { bias: new Float32Array([0.5, -0.5]), relu: true });
 * assert.deepEqual([...y], [0, 1.5, 0, 3.5]);
 * ```
 * @module
 */

/** A bias (or none) and whether ReLU follows. */
export interface Epilogue {
  /** Per-channel bias, or null. */
  bias: Float32Array | null;
  /** Apply ReLU after the bias. */
  relu: boolean;
}

/** No bias, no ReLU. */
export const NO_EPILOGUE: Epilogue = Object.freeze({ bias: null, relu: false });

/** Adds a per-channel bias and applies relu in place. */
export function applyEpilogue(y: Float32Array, channels: number, ep: Epilogue): void {
  const bias = ep.bias;
  if (bias) {
    for (let i = 0; i < y.length; i += channels) {
      for (let c = 0; c < channels; c++) y[i + c] += bias[c];
    }
  }
  if (ep.relu) {
    for (let i = 0; i < y.length; i++) {
      const v = y[i];
      y[i] = (v + Math.abs(v)) * 0.5; // branch-free, see ./elementwise.ts
    }
  }
}
