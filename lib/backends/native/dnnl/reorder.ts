/**
 * Reorder primitives: copy a tensor from one layout to another (e.g. tfjs' HWIO weights to the
 * blocked layout a convolution asked for, and the weight gradient back).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { ENUM } from "./abi.ts";
 * import { mdByTag } from "./memory.ts";
 * import { reorderPrimitive } from "./reorder.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const hwio = mdByTag(dnnl, [8, 3, 3, 3], ENUM.dnnl_hwio);
 * const oihw = mdByTag(dnnl, [8, 3, 3, 3], ENUM.dnnl_oihw);
 * const r = reorderPrimitive(dnnl, hwio, oihw);
 * r.run({ from: new Float32Array(216), to: new Float32Array(216) });
 * ```
 * @module
 */

import type { Dnnl } from "./ffi.ts";
import { type Md, mdEqual, mdKey } from "./memory.ts";
import { cached, Primitive } from "./primitive.ts";

/**
 * A reorder primitive from `from` to `to` on the CPU engine; `run({ from, to })` executes it.
 * Callers cache it inside the object that needed it (e.g. a convolution plan).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { reorderPrimitive } from "./reorder.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const a: Uint8Array, b: Uint8Array;
 * const r = reorderPrimitive(dnnl, a, b);
 * assert.match(r.impl, /^\S+$/); // e.g. "jit:uni"
 * ```
 */
export function reorderPrimitive(dnnl: Dnnl, from: Md, to: Md): Primitive {
  const { engine, lib } = dnnl;
  const make = (out: BigUint64Array, attr: Deno.PointerObject) =>
    lib.symbols.dnnl_reorder_primitive_desc_create(out, from, engine, to, engine, attr);
  return new Primitive(dnnl, make, { args: ["from", "to"] });
}

/**
 * The reorder from `from` to `to`, created once per pair of layouts and kept in `dnnl.cache`; null
 * when the two are the same layout (nothing to copy).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { cachedReorder } from "./reorder.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const a: Uint8Array, b: Uint8Array, x: Float32Array, y: Float32Array;
 * cachedReorder(dnnl, a, b)?.run({ from: x, to: y });
 * ```
 */
export function cachedReorder(dnnl: Dnnl, from: Md, to: Md): Primitive | null {
  const entry = cached(dnnl, `reorder:${mdKey(from)}>${mdKey(to)}`, () => {
    const prim = mdEqual(dnnl, from, to) ? null : reorderPrimitive(dnnl, from, to);
    return { prim, dispose: () => prim?.dispose() };
  });
  return entry.prim;
}
