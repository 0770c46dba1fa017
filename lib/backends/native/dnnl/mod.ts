/**
 * oneDNN 2.6 (`libdnnl.so.2`) through `Deno.dlopen`: convolution, batch normalization, max
 * pooling, ReLU and add on channels-last `Float32Array`s that the caller provides.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convForward, convGeometry, openDnnl } from "./mod.ts";
 * const dnnl = openDnnl();
 * if (!dnnl.ok) assert.match(dnnl.reason, /^.+$/); // oneDNN unavailable
 * else {
 *   dnnl.setThreads(2);
 *   const g = convGeometry({ batch: 1, inHeight: 4, inWidth: 4, inChannels: 1, outChannels: 2,
 *     kernel: 3, pad: 1 });
 *   convForward(dnnl, g, new Float32Array(16), new Float32Array(18), null, new Float32Array(32));
 *   dnnl.close();
 * }
 * ```
 * @module
 */

export * from "./abi.ts";
export * from "./ffi.ts";
export * from "./memory.ts";
export * from "./primitive.ts";
export * from "./reorder.ts";
export * from "./geometry.ts";
export * from "./conv2d.ts";
export * from "./conv2d_im2col.ts";
export * from "./conv2d_taps.ts";
export * from "./batch_norm.ts";
export * from "./max_pool.ts";
export * from "./elementwise.ts";
export * from "./sgemm.ts";
