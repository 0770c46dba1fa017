/**
 * Weights kept in oneDNN's layout between training steps. A convolution's weight gradient comes
 * out of oneDNN in a blocked layout (e.g. `ABcd16b16a`); instead of reordering it to tfjs' HWIO,
 * and the weights back from HWIO on every pass, the `native` backend can keep a tensor's values in
 * such a layout and record which one beside them. Only the kernels that know layouts take such a
 * tensor as it is ({@linkcode LAYOUT_INPUTS}: the convolutions' filter, the SGD update, Identity);
 * every other kernel, every read (`data()`, `dataSync()`) and every move to another backend sees
 * tfjs' layout, converted here, so what anyone reads (checkpoints, exports) is unchanged.
 *
 * The mode ({@linkcode WeightLayoutMode}) is chosen when the backend registers:
 * `RESNET_DNNL_WEIGHTS=plain|kept|direct`, default `kept` (the same arithmetic as `plain`, fewer
 * reorders; `direct`'s forward kernel is slower on AVX-512: ./dnnl/README.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { weightLayoutMode } from "./layouts.ts";
 * assert.equal(weightLayoutMode(undefined), "kept");
 * assert.equal(weightLayoutMode("plain"), "plain");
 * assert.throws(() => weightLayoutMode("blocked"), /RESNET_DNNL_WEIGHTS/);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type { Dnnl } from "./dnnl/ffi.ts";
import { describeMd, type Md, mdBytes, mdEqual, mdKey } from "./dnnl/memory.ts";
import { cached } from "./dnnl/primitive.ts";
import { cachedReorder } from "./dnnl/reorder.ts";
import { SGD_UPDATE } from "../../model/fused.ts";
import { CONV2D_BIAS, CONV_BN } from "../../model/fused.ts";
import { pool } from "./buffers.ts";

/**
 * How convolution weights are stored between steps: `plain` (tfjs' HWIO; every pass reorders),
 * `kept` (the layout oneDNN writes the weight gradient in; the SGD update keeps it, forward and
 * backward data reorder from it), `direct` (as `kept`, and the forward pass runs a primitive made
 * for that layout, so that only backward data reorders).
 */
export type WeightLayoutMode = "plain" | "kept" | "direct";

const MODES: readonly WeightLayoutMode[] = ["plain", "kept", "direct"];

/**
 * The mode `value` names (`RESNET_DNNL_WEIGHTS`' value; undefined: `kept`); throws a one-line
 * error for anything else.
 */
export function weightLayoutMode(value: string | undefined): WeightLayoutMode {
  if (value === undefined || value === "") return "kept";
  if (!(MODES as readonly string[]).includes(value)) {
    throw new Error(`RESNET_DNNL_WEIGHTS=${value}: use one of ${MODES.join(", ")}`);
  }
  return value as WeightLayoutMode;
}

/** A layout a float32 tensor may be stored in, other than tfjs' own. One object per layout. */
export interface Layout {
  /** The oneDNN that made it (its reorders convert). */
  readonly dnnl: Dnnl;
  /** The stored values' descriptor. */
  readonly md: Md;
  /** The same logical tensor in tfjs' layout (HWIO for convolution weights). */
  readonly plain: Md;
  /** Its name, e.g. `ABcd16b16a`. */
  readonly name: string;
}

/**
 * The one {@linkcode Layout} object of `md` (tfjs' layout described by `plain`), so that layouts
 * compare with `===`; null when `md` is `plain` itself, or pads (then the values would not be one
 * float per element, and every elementwise loop would have to know it).
 */
export function layoutOf(dnnl: Dnnl, md: Md, plain: Md): Layout | null {
  const key = `layout:${mdKey(md)}>${mdKey(plain)}`;
  return cached(dnnl, key, () => {
    const kept = !mdEqual(dnnl, md, plain) && mdBytes(dnnl, md) === mdBytes(dnnl, plain);
    const layout = kept ? { dnnl, md, plain, name: describeMd(md) } : null;
    return { layout, dispose() {} };
  }).layout;
}

// The layout of each tensor's stored values, by data id (one lookup: every kernel input is
// checked). The backend forgets it when the values are deleted or replaced (./backend.ts).
const stored = new WeakMap<tf.DataId, Layout>();

type Backend = MathBackendCPU;

/** The layout `dataId`'s values are stored in; null: tfjs' own. */
export function storedLayout(dataId: tf.DataId): Layout | null {
  return stored.get(dataId) ?? null;
}

/** `dataId`'s values were deleted, or replaced by values in tfjs' layout. */
export function forgetLayout(dataId: tf.DataId): void {
  stored.delete(dataId);
}

/**
 * A new float32 tensor of `shape` whose values are stored in `layout` (null: tfjs' own), as a
 * kernel's output.
 */
export function laidOutTensor(
  backend: Backend,
  shape: number[],
  values: Float32Array,
  layout: Layout | null,
): tf.TensorInfo {
  const info = backend.makeTensorInfo(shape, "float32", values);
  if (layout) stored.set(info.dataId, layout);
  return info;
}

/** Reorders `values` (stored in `from`) into a new buffer in `to` (null: tfjs' layout). */
function convert(values: Float32Array, from: Layout | null, to: Layout | null): Float32Array {
  const any = (from ?? to)!;
  const src = from ? from.md : to!.plain, dst = to ? to.md : from!.plain;
  const out = pool.alloc(values.length);
  cachedReorder(any.dnnl, src, dst)!.run({ from: values, to: out });
  return out;
}

/**
 * Converts `dataId`'s stored values to tfjs' layout in place (the tensor's values are the same;
 * every tensor sharing the entry sees them so).
 */
export function storePlain(backend: Backend, dataId: tf.DataId): void {
  const layout = stored.get(dataId);
  if (!layout) return;
  const entry = backend.data.get(dataId);
  const old = entry.values as Float32Array;
  entry.values = convert(old, layout, null);
  stored.delete(dataId);
  pool.retain(entry.values);
  pool.release(old);
}

/** `dataId`'s values in tfjs' layout as a new array, or null when they are stored so already. */
export function plainCopy(backend: Backend, dataId: tf.DataId): Float32Array | null {
  const layout = stored.get(dataId);
  if (!layout) return null;
  const from = backend.data.get(dataId).values as Float32Array, out = new Float32Array(from.length);
  cachedReorder(layout.dnnl, layout.md, layout.plain)!.run({ from, to: out });
  return out;
}

/**
 * `t`'s float32 values stored in `layout` (null: tfjs' layout): its own when they are, else a
 * converted copy from the pool that the caller frees with `pool.release` (`copy` says which).
 */
export function valuesIn(
  backend: Backend,
  t: tf.TensorInfo,
  layout: Layout | null,
): { values: Float32Array; copy: boolean } {
  const raw = backend.data.get(t.dataId).values;
  // A float32 tensor cast from int32 keeps the Int32Array (tfjs' CPU cast): read it as floats.
  const values = raw instanceof Float32Array ? raw : Float32Array.from(raw as Int32Array);
  const from = storedLayout(t.dataId);
  if (from === layout) return { values, copy: false };
  return { values: convert(values, from, layout), copy: true };
}

/**
 * The inputs each layout-aware kernel takes in any stored layout; every other input of every
 * kernel is converted to tfjs' layout before the kernel runs. Identity shares its input's storage
 * (tfjs' gradient tape saves inputs through it), so the layout goes with it.
 */
export const LAYOUT_INPUTS: Readonly<Record<string, readonly string[]>> = {
  [tf.Identity]: ["x"],
  [tf.Conv2D]: ["filter"],
  [tf.FusedConv2D]: ["filter"],
  [tf.Conv2DBackpropInput]: ["filter"],
  [CONV2D_BIAS]: ["filter"],
  [CONV_BN]: ["filter"], // folded from a plain copy (kernels/conv_bn.ts)
  [SGD_UPDATE]: ["value", "gradient", "buffer"],
};

/**
 * `config` with every input that it does not take in any layout converted to tfjs' first (see
 * {@linkcode LAYOUT_INPUTS}).
 */
export function withPlainInputs(config: tf.KernelConfig): tf.KernelConfig {
  const keep = LAYOUT_INPUTS[config.kernelName] ?? [];
  const run = config.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => {
    const backend = args.backend as Backend;
    const inputs = args.inputs as Record<string, tf.TensorInfo | undefined>;
    for (const name in inputs) {
      const t = inputs[name];
      if (t && !keep.includes(name)) storePlain(backend, t.dataId);
    }
    return run(args);
  };
  return { ...config, kernelFunc };
}

/** Converts every input of a kernel call to tfjs' layout (before a CPU fallback reads them). */
export function plainInputs(backend: Backend, inputs: Record<string, tf.TensorInfo | undefined>) {
  for (const name in inputs) {
    const t = inputs[name];
    if (t) storePlain(backend, t.dataId);
  }
}
