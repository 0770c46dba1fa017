/**
 * ReLU, its gradient and same-shape add (+ReLU) on oneDNN (../dnnl/elementwise.ts), on every
 * thread; beside ./elementwise.ts, the same ops as typed-array loops. Outputs come from the buffer
 * pool.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDnnl } from "../dnnl/mod.ts";
 * import { dnnlAdd } from "./elementwise_dnnl.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) assert.deepEqual([...dnnlAdd(dnnl, Float32Array.of(-1, 2), Float32Array.of(3, -5), true)], [2, 0]);
 * ```
 * @module
 */
import type { Dnnl } from "../dnnl/ffi.ts";
import { add, relu, reluBackward } from "../dnnl/elementwise.ts";
import { pool } from "../buffers.ts";

/** `max(x, 0)` on every thread. */
export function dnnlRelu(
  dnnl: Dnnl,
  x: Float32Array,
  into: Float32Array | null = null,
): Float32Array {
  const y = into ?? pool.alloc(x.length); // into may be x: oneDNN's eltwise runs in place
  relu(dnnl, x, y);
  return y;
}

/** ReLU's gradient: `dy` where `x > 0`, else 0; into `into` (which may be `dy`) when given. */
export function dnnlReluGrad(
  dnnl: Dnnl,
  dy: Float32Array,
  x: Float32Array,
  into: Float32Array | null = null,
): Float32Array {
  // oneDNN's eltwise backward runs in place (diff_src = diff_dst).
  const dx = into ?? pool.alloc(x.length);
  reluBackward(dnnl, x, dy, dx);
  return dx;
}

/**
 * `a + b` (`relu(a + b)` with `withRelu`) for equal shapes, on every thread; into `into` (which
 * may be `a`: oneDNN's binary runs in place, dst = src0) when given.
 */
export function dnnlAdd(
  dnnl: Dnnl,
  a: Float32Array,
  b: Float32Array,
  withRelu = false,
  into: Float32Array | null = null,
): Float32Array {
  const out = into ?? pool.alloc(a.length);
  add(dnnl, a, b, out, { relu: withRelu });
  return out;
}
