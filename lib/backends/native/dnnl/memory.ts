/**
 * Memory descriptors (`dnnl_memory_desc_t`, 696 bytes) held in `Uint8Array`s, and typed-array
 * pointers for `dnnl_memory_set_data_handle`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDnnl } from "./ffi.ts";
 * import { ENUM } from "./abi.ts";
 * import { mdByTag, mdBytes } from "./memory.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const x = mdByTag(dnnl, [2, 3, 8, 8], ENUM.dnnl_nhwc); // logical NCHW dims, nhwc layout
 *   assert.equal(mdBytes(dnnl, x), 1536);
 * }
 * ```
 * @module
 */

import { DNNL_MAX_NDIMS, ENUM, OFFSET, SIZEOF } from "./abi.ts";
import { check, type Dnnl } from "./ffi.ts";

/** A `dnnl_memory_desc_t` in JavaScript memory (so it can be passed as a "buffer" argument). */
export type Md = Uint8Array;

/**
 * A `dnnl_dims_t` (int64[12]) holding `values`; unused trailing entries are 0.
 *
 * @example
 * ```ts
 * import { dims } from "./memory.ts";
 * const strides = dims([2, 2]);
 * ```
 */
export function dims(values: readonly number[]): BigInt64Array {
  if (values.length > DNNL_MAX_NDIMS) throw new Error(`dims: ${values.length} > DNNL_MAX_NDIMS`);
  const out = new BigInt64Array(DNNL_MAX_NDIMS);
  values.forEach((v, i) => out[i] = BigInt(v));
  return out;
}

/**
 * A memory descriptor for an f32 tensor with logical `shape` (CNN order: N, C, H, W for
 * activations; O, I, KH, KW for weights) and format tag `tag` (`dnnl_format_tag_any` lets a
 * primitive choose).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { ENUM } from "./abi.ts";
 * import { mdByTag } from "./memory.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const w = mdByTag(dnnl, [64, 3, 7, 7], ENUM.dnnl_hwio); // tfjs [7, 7, 3, 64]
 * ```
 */
export function mdByTag(
  dnnl: Dnnl,
  shape: readonly number[],
  tag: number,
  dataType: number = ENUM.dnnl_f32,
): Md {
  const md = new Uint8Array(SIZEOF.dnnl_memory_desc_t);
  const status = dnnl.lib.symbols.dnnl_memory_desc_init_by_tag(
    md,
    shape.length,
    dims(shape),
    dataType,
    tag,
  );
  check(`dnnl_memory_desc_init_by_tag([${shape}], tag ${tag})`, status);
  return md;
}

/**
 * A memory descriptor for a plain f32 tensor with logical `shape` and the element `strides` of
 * each dimension: for layouts no format tag names, such as tfjs' grouped filter `[kh, kw, in /
 * groups, out]` seen as oneDNN's `G x OC/G x IC/G x KH x KW`.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { mdByStrides } from "./memory.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const w = mdByStrides(dnnl, [2, 3, 4], [12, 4, 1]); // row-major 2 x 3 x 4
 * ```
 */
export function mdByStrides(dnnl: Dnnl, shape: readonly number[], strides: readonly number[]): Md {
  const md = new Uint8Array(SIZEOF.dnnl_memory_desc_t);
  const status = dnnl.lib.symbols.dnnl_memory_desc_init_by_strides(
    md,
    shape.length,
    dims(shape),
    ENUM.dnnl_f32,
    dims(strides),
  );
  check(`dnnl_memory_desc_init_by_strides([${shape}], [${strides}])`, status);
  return md;
}

/**
 * Bytes a tensor with this descriptor occupies (0 for a zero descriptor).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { mdBytes } from "./memory.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const md: Uint8Array;
 * const n = mdBytes(dnnl, md);
 * ```
 */
export function mdBytes(dnnl: Dnnl, md: Md): number {
  return Number(dnnl.lib.symbols.dnnl_memory_desc_get_size(md));
}

/**
 * Whether two descriptors describe the same layout (`dnnl_memory_desc_equal`).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { mdEqual } from "./memory.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const a: Uint8Array, b: Uint8Array;
 * if (mdEqual(dnnl, a, b)) assert.ok(mdEqual(dnnl, b, a)); // no reorder needed
 * ```
 */
export function mdEqual(dnnl: Dnnl, a: Md, b: Md): boolean {
  return dnnl.lib.symbols.dnnl_memory_desc_equal(a, b) !== 0;
}

const keys = new WeakMap<Md, string>();

/**
 * A string that names a descriptor exactly (its bytes in hex), computed once per descriptor
 * object: a cache key for primitives made for one layout (e.g. the reorder out of it).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { mdKey } from "./memory.ts";
 * declare const a: Uint8Array;
 * assert.equal(mdKey(a), mdKey(a.slice()));
 * ```
 */
export function mdKey(md: Md): string {
  let key = keys.get(md);
  if (key === undefined) {
    key = Array.from(md, (b) => b.toString(16).padStart(2, "0")).join("");
    keys.set(md, key);
  }
  return key;
}

/**
 * Copies a descriptor that C owns (e.g. from `dnnl_primitive_desc_query_md`) into JS memory.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { copyMd } from "./memory.ts";
 * declare const p: Deno.PointerObject;
 * const md = copyMd(p, "query");
 * ```
 */
export function copyMd(p: Deno.PointerValue, what: string): Md {
  if (p === null) throw new Error(`${what}: oneDNN returned no memory descriptor`);
  const md = new Uint8Array(SIZEOF.dnnl_memory_desc_t);
  new Deno.UnsafePointerView(p).copyInto(md);
  return md;
}

/**
 * The address of a typed array's first element (its byte offset included), for C to read or
 * write during the next synchronous call.
 *
 * @example
 * ```ts
 * import { pointerOf } from "./memory.ts";
 * const p = pointerOf(new Float32Array(16));
 * ```
 */
export function pointerOf(view: ArrayBufferView): Deno.PointerObject {
  const p = Deno.UnsafePointer.of(view as Uint8Array<ArrayBuffer>);
  if (p === null) throw new Error("pointerOf: empty or detached buffer");
  return p;
}

/**
 * A descriptor's layout as a oneDNN-style tag built from its blocking strides: letters a, b, c...
 * are the logical dims (N, C, H, W or O, I, H, W) from outermost to innermost, upper case when
 * blocked, then the inner blocks: "acdb" is nhwc, "aBcd8b" is nChw8c, "ABcd8b8a" is OIhw8i8o.
 * "any" or "undef" when the format is not yet chosen.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { ENUM } from "./abi.ts";
 * import { describeMd, mdByTag } from "./memory.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * assert.equal(describeMd(mdByTag(dnnl, [2, 3, 4, 5], ENUM.dnnl_nhwc)), "acdb");
 * ```
 */
export function describeMd(md: Md): string {
  const v = new DataView(md.buffer, md.byteOffset, md.byteLength);
  const kind = v.getInt32(OFFSET.dnnl_memory_desc_t_format_kind, true);
  if (kind === ENUM.dnnl_format_kind_any) return "any";
  if (kind !== ENUM.dnnl_blocked) return kind === 0 ? "undef" : `format_kind ${kind}`;
  const ndims = v.getInt32(OFFSET.dnnl_memory_desc_t_ndims, true);
  const base = OFFSET.dnnl_memory_desc_t_format_desc;
  const at = (field: number, i: number) => Number(v.getBigInt64(base + field + 8 * i, true));
  const strides = Array.from(
    { length: ndims },
    (_, i) => at(OFFSET.dnnl_blocking_desc_t_strides, i),
  );
  const nblks = v.getInt32(base + OFFSET.dnnl_blocking_desc_t_inner_nblks, true);
  const blocks = Array.from({ length: nblks }, (_, i) => ({
    size: at(OFFSET.dnnl_blocking_desc_t_inner_blks, i),
    dim: at(OFFSET.dnnl_blocking_desc_t_inner_idxs, i),
  }));
  const letter = (d: number) => String.fromCharCode(97 + d);
  const order = strides.map((s, d) => ({ s, d })).sort((a, b) => b.s - a.s || a.d - b.d);
  const outer = order.map(({ d }) =>
    blocks.some((b) => b.dim === d) ? letter(d).toUpperCase() : letter(d)
  );
  return outer.join("") + blocks.map((b) => `${b.size}${letter(b.dim)}`).join("");
}
