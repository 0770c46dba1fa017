/**
 * Max pooling over channels-last (`nhwc`) tensors: training forward (which records the argmax of
 * each window in a workspace) and backward, any kernel, stride and padding (padded cells never
 * win, as in tfjs and PyTorch).
 *
 * Workspace: the caller allocates `maxPoolWorkspaceBytes(dnnl, g)` bytes, passes the buffer to
 * the forward and to its backward, and keeps it in between (the cached primitive is shared by
 * every layer of that shape).
 *
 * @example
 * ```ts
 * import { openDnnl } from "./ffi.ts";
 * import { maxPoolForward, maxPoolWorkspaceBytes, poolGeometry } from "./max_pool.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const g = poolGeometry({ batch: 2, inHeight: 8, inWidth: 8, channels: 16, kernel: 3,
 *     stride: 2, pad: 1 });
 *   const workspace = new Uint8Array(maxPoolWorkspaceBytes(dnnl, g));
 *   const x = new Float32Array(2 * 8 * 8 * 16);
 *   const y = new Float32Array(2 * g.outHeight * g.outWidth * 16);
 *   maxPoolForward(dnnl, g, x, y, workspace);
 * }
 * ```
 * @module
 */

import { ENUM, SIZEOF } from "./abi.ts";
import { check, type Dnnl } from "./ffi.ts";
import type { PoolGeometry } from "./geometry.ts";
import { dims, mdByTag } from "./memory.ts";
import { cached, Primitive } from "./primitive.ts";

export { type PoolGeometry, poolGeometry } from "./geometry.ts";

function poolKey(g: PoolGeometry): string {
  const pads = [g.padTop, g.padBottom, g.padLeft, g.padRight].join(",");
  const shape = `${g.batch}x${g.inHeight}x${g.inWidth}x${g.channels}`;
  return `${shape}:k${g.kernelHeight}x${g.kernelWidth}:s${g.strideHeight}x${g.strideWidth}:p${pads}`;
}

function poolDesc(dnnl: Dnnl, g: PoolGeometry, backward: boolean): Uint8Array {
  const d = new Uint8Array(SIZEOF.dnnl_pooling_desc_t);
  const src = mdByTag(dnnl, [g.batch, g.channels, g.inHeight, g.inWidth], ENUM.dnnl_nhwc);
  const dst = mdByTag(dnnl, [g.batch, g.channels, g.outHeight, g.outWidth], ENUM.dnnl_nhwc);
  const strides = dims([g.strideHeight, g.strideWidth]);
  const kernel = dims([g.kernelHeight, g.kernelWidth]);
  const padL = dims([g.padTop, g.padLeft]);
  const padR = dims([g.padBottom, g.padRight]);
  const s = dnnl.lib.symbols;
  const alg = ENUM.dnnl_pooling_max;
  if (backward) {
    const status = s.dnnl_pooling_backward_desc_init(d, alg, src, dst, strides, kernel, padL, padR);
    check("dnnl_pooling_backward_desc_init", status);
  } else {
    const prop = ENUM.dnnl_forward_training;
    const status = s.dnnl_pooling_forward_desc_init(
      d,
      prop,
      alg,
      src,
      dst,
      strides,
      kernel,
      padL,
      padR,
    );
    check("dnnl_pooling_forward_desc_init", status);
  }
  return d;
}

/**
 * The cached max-pool primitive for a pass and geometry (exposed for `impl` checks).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { maxPoolPrimitive, poolGeometry } from "./max_pool.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const g = poolGeometry({ batch: 2, inHeight: 8, inWidth: 8, channels: 16, kernel: 2 });
 * assert.match(maxPoolPrimitive(dnnl, g, "forward").impl, /^\S+$/); // e.g. "jit:avx2"
 * ```
 */
export function maxPoolPrimitive(
  dnnl: Dnnl,
  g: PoolGeometry,
  pass: "forward" | "backward",
): Primitive {
  return cached(dnnl, `maxpool:${pass}:${poolKey(g)}`, () => {
    if (pass === "forward") {
      const args = ["src", "dst", "workspace"] as const;
      return new Primitive(dnnl, poolDesc(dnnl, g, false), { args });
    }
    const hint = maxPoolPrimitive(dnnl, g, "forward").pd;
    const args = ["diff_dst", "workspace", "diff_src"] as const;
    return new Primitive(dnnl, poolDesc(dnnl, g, true), { args, hint });
  });
}

/**
 * Bytes of the workspace a max-pool forward/backward pair needs.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { maxPoolWorkspaceBytes } from "./max_pool.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./max_pool.ts").PoolGeometry;
 * const workspace = new Uint8Array(maxPoolWorkspaceBytes(dnnl, g));
 * ```
 */
export function maxPoolWorkspaceBytes(dnnl: Dnnl, g: PoolGeometry): number {
  const p = maxPoolPrimitive(dnnl, g, "forward");
  return p.bytesOf("workspace");
}

/**
 * `y = maxpool(x)`: x `[n, h, w, c]`, y `[n, outH, outW, c]` (written), and the argmax of each
 * window into `workspace` for {@link maxPoolBackward}.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { maxPoolForward } from "./max_pool.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./max_pool.ts").PoolGeometry;
 * declare const x: Float32Array, y: Float32Array, ws: Uint8Array;
 * maxPoolForward(dnnl, g, x, y, ws);
 * ```
 */
export function maxPoolForward(
  dnnl: Dnnl,
  g: PoolGeometry,
  x: Float32Array,
  y: Float32Array,
  workspace: Uint8Array,
): void {
  maxPoolPrimitive(dnnl, g, "forward").run({ src: x, dst: y, workspace });
}

/**
 * `dx` (written, `[n, h, w, c]`): each `dy` value goes to the input cell its window's forward
 * pass chose (recorded in `workspace`); cells chosen by several windows get the sum.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { maxPoolBackward } from "./max_pool.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./max_pool.ts").PoolGeometry;
 * declare const dy: Float32Array, dx: Float32Array, ws: Uint8Array;
 * maxPoolBackward(dnnl, g, dy, ws, dx);
 * ```
 */
export function maxPoolBackward(
  dnnl: Dnnl,
  g: PoolGeometry,
  dy: Float32Array,
  workspace: Uint8Array,
  dx: Float32Array,
): void {
  maxPoolPrimitive(dnnl, g, "backward").run({ diff_dst: dy, workspace, diff_src: dx });
}
