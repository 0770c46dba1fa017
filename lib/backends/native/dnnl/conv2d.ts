/**
 * 2-D convolution forward, backward-data and backward-weights on channels-last (`nhwc`) tensors,
 * with weights as tfjs holds them (HWIO: `[kh, kw, in, out]`); grouped convolutions (the
 * geometry's `groups`) with weights `[kh, kw, in / groups, out]` through oneDNN's own groups.
 *
 * Weights are described to oneDNN with format tag `any`; the layout each primitive then asks for
 * (`dnnl_primitive_desc_query_md` with weights_md / diff_weights_md) is reached with a cached
 * reorder primitive into (or out of) a staging buffer shared by all convolutions
 * (`dnnl.scratch.weights`). When the chosen layout is HWIO itself no reorder runs.
 *
 * @example
 * ```ts
 * import { openDnnl } from "./ffi.ts";
 * import { convForward, convGeometry } from "./conv2d.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const g = convGeometry({ batch: 2, inHeight: 8, inWidth: 8, inChannels: 3, outChannels: 8,
 *     kernel: 3, stride: 1, pad: 1 });
 *   const x = new Float32Array(2 * 8 * 8 * 3), w = new Float32Array(3 * 3 * 3 * 8);
 *   const y = new Float32Array(2 * g.outHeight * g.outWidth * 8);
 *   convForward(dnnl, g, x, w, null, y);
 * }
 * ```
 * @module
 */

import { ENUM, SIZEOF } from "./abi.ts";
import { check, type Disposable, type Dnnl } from "./ffi.ts";
import { dims, type Md, mdByStrides, mdByTag, mdEqual, mdKey } from "./memory.ts";
import { type ArgName, cached, growScratch, HintPd, Primitive, queryMd } from "./primitive.ts";
import { cachedReorder, reorderPrimitive } from "./reorder.ts";
import {
  im2colBackwardWeights,
  type Im2colPlan,
  im2colPlan,
  preferIm2col,
} from "./conv2d_im2col.ts";
import { preferTaps, tapsBackwardData, tapsForward } from "./conv2d_taps.ts";
import type { ConvGeometry } from "./geometry.ts";

export { type ConvGeometry, convGeometry } from "./geometry.ts";

/** Which convolution pass a plan runs. */
export type ConvPass = "forward" | "backward_data" | "backward_weights";

/**
 * Layout choices for a plan. The public functions use the defaults (`weights: "any"`,
 * `activations: "nhwc"`); the probe benchmark compares the others.
 */
export interface ConvLayout {
  /**
   * "any": the primitive picks, HWIO is reordered to it; "hwio": the primitive must take HWIO; a
   * descriptor: the primitive must take weights in that layout (forward only).
   */
  weights?: "any" | "hwio" | Md;
  /** "nhwc" (tfjs' layout) or "any" (the primitive picks; only for measurements). */
  activations?: "nhwc" | "any";
  /** With a bias (forward) or a bias gradient (backward weights). */
  bias?: boolean;
  /** Forward only: a ReLU post-op on the output (in oneDNN's kernel, not a pass of its own). */
  relu?: boolean;
  /**
   * Backward weights only: "auto" replaces oneDNN's slow GEMM fallback for inputs smaller than
   * the kernel by `conv2d_im2col.ts`; "off" always runs oneDNN's primitive (for comparisons).
   */
  im2col?: "auto" | "off";
}

/**
 * A cached convolution primitive with its weights reorder (null when none is needed).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { convPlan } from "./conv2d.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./conv2d.ts").ConvGeometry;
 * assert.match(convPlan(dnnl, g, "backward_weights").conv.impl, /^\S+$/);
 * ```
 */
export interface ConvPlan extends Disposable {
  /** The convolution primitive. */
  conv: Primitive;
  /**
   * What runs: `conv.impl`, or "im2col+sgemm (oneDNN: <impl>)" for a backward-weights pass that
   * uses {@link im2colBackwardWeights} instead (see `conv2d_im2col.ts` for when and why).
   */
  impl: string;
  /** The GEMM plan when the backward-weights pass bypasses the primitive, else null. */
  im2col: Im2colPlan | null;
  /** HWIO -> primitive layout (forward, backward data) or back (backward weights), or null. */
  reorder: Primitive | null;
  /** Bytes of the weights in the primitive's layout (what the staging buffer must hold). */
  weightsBytes: number;
  /** tfjs' HWIO weights as oneDNN sees them (the plain layout the reorder goes from or to). */
  hwio: Md;
}

/**
 * The cached plan for one pass, geometry and layout, created on first use.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { convGeometry, convPlan } from "./conv2d.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const g = convGeometry({ batch: 2, inHeight: 8, inWidth: 8, inChannels: 8, outChannels: 8,
 *   kernel: 1 });
 * const plan = convPlan(dnnl, g, "forward", { bias: true });
 * ```
 */
export function convPlan(
  dnnl: Dnnl,
  g: ConvGeometry,
  pass: ConvPass,
  layout: ConvLayout = {},
): ConvPlan {
  const l = {
    weights: "any",
    activations: "nhwc",
    bias: false,
    relu: false,
    im2col: "auto",
    ...layout,
  } as const;
  const variant = `w=${weightsKey(l.weights)}:a=${l.activations}:b=${l.bias}:im2col=${l.im2col}` +
    (l.relu ? ":relu" : "");
  const key = `conv:${pass}:${geometryKey(g)}:${variant}`;
  return cached(dnnl, key, () => makePlan(dnnl, g, pass, l));
}

const weightsKey = (w: "any" | "hwio" | Md) => typeof w === "string" ? w : mdKey(w);

function geometryKey(g: ConvGeometry): string {
  const pads = [g.padTop, g.padBottom, g.padLeft, g.padRight].join(",");
  const input = `${g.batch}x${g.inHeight}x${g.inWidth}x${g.inChannels}`;
  const kernel = `${g.kernelHeight}x${g.kernelWidth}`;
  const groups = g.groups > 1 ? `:g${g.groups}` : "";
  return `${input}>${g.outChannels}:k${kernel}:s${g.strideHeight}x${g.strideWidth}:p${pads}${groups}`;
}

interface ConvMds {
  src: Md;
  dst: Md;
  weights: Md;
  bias: Md | null;
  hwio: Md;
}

function convMds(dnnl: Dnnl, g: ConvGeometry, l: Required<ConvLayout>): ConvMds {
  const act = l.activations === "nhwc" ? ENUM.dnnl_nhwc : ENUM.dnnl_format_tag_any;
  const hwio = hwioMd(dnnl, g);
  const wShape = weightsShape(g);
  return {
    src: mdByTag(dnnl, [g.batch, g.inChannels, g.inHeight, g.inWidth], act),
    dst: mdByTag(dnnl, [g.batch, g.outChannels, g.outHeight, g.outWidth], act),
    weights: l.weights === "hwio"
      ? hwio
      : l.weights === "any"
      ? mdByTag(dnnl, wShape, ENUM.dnnl_format_tag_any)
      : l.weights,
    bias: l.bias ? mdByTag(dnnl, [g.outChannels], ENUM.dnnl_x) : null,
    hwio,
  };
}

/** oneDNN's logical weights shape: `O x I x KH x KW`, or `G x O/G x I/G x KH x KW` with groups. */
function weightsShape(g: ConvGeometry): number[] {
  const k = [g.kernelHeight, g.kernelWidth];
  if (g.groups === 1) return [g.outChannels, g.inChannels, ...k];
  return [g.groups, g.outChannels / g.groups, g.inChannels / g.groups, ...k];
}

/**
 * tfjs' weights `[kh, kw, in / groups, out]` as oneDNN sees them: the `hwio` tag, or with groups
 * the same bytes as `G x O/G x I/G x KH x KW` by strides (output channel `g * O/G + o` is column
 * `g * O/G + o`, so G steps by O/G columns).
 */
function hwioMd(dnnl: Dnnl, g: ConvGeometry): Md {
  const shape = weightsShape(g);
  if (g.groups === 1) return mdByTag(dnnl, shape, ENUM.dnnl_hwio);
  const og = g.outChannels / g.groups, ig = g.inChannels / g.groups, oc = g.outChannels;
  return mdByStrides(dnnl, shape, [og, 1, oc, g.kernelWidth * ig * oc, ig * oc]);
}

function geometryDims(g: ConvGeometry) {
  return {
    strides: dims([g.strideHeight, g.strideWidth]),
    padL: dims([g.padTop, g.padLeft]),
    padR: dims([g.padBottom, g.padRight]),
  };
}

function forwardDesc(dnnl: Dnnl, g: ConvGeometry, m: ConvMds): Uint8Array {
  const d = new Uint8Array(SIZEOF.dnnl_convolution_desc_t);
  const { strides, padL, padR } = geometryDims(g);
  const status = dnnl.lib.symbols.dnnl_convolution_forward_desc_init(
    d,
    ENUM.dnnl_forward_training,
    ENUM.dnnl_convolution_direct,
    m.src,
    m.weights,
    m.bias,
    m.dst,
    strides,
    padL,
    padR,
  );
  check("dnnl_convolution_forward_desc_init", status);
  return d;
}

function backwardDataDesc(dnnl: Dnnl, g: ConvGeometry, m: ConvMds): Uint8Array {
  const d = new Uint8Array(SIZEOF.dnnl_convolution_desc_t);
  const { strides, padL, padR } = geometryDims(g);
  const s = dnnl.lib.symbols;
  const alg = ENUM.dnnl_convolution_direct;
  const status = s.dnnl_convolution_backward_data_desc_init(
    d,
    alg,
    m.src,
    m.weights,
    m.dst,
    strides,
    padL,
    padR,
  );
  check("dnnl_convolution_backward_data_desc_init", status);
  return d;
}

function backwardWeightsDesc(dnnl: Dnnl, g: ConvGeometry, m: ConvMds): Uint8Array {
  const d = new Uint8Array(SIZEOF.dnnl_convolution_desc_t);
  const { strides, padL, padR } = geometryDims(g);
  const s = dnnl.lib.symbols;
  const alg = ENUM.dnnl_convolution_direct;
  const status = s.dnnl_convolution_backward_weights_desc_init(
    d,
    alg,
    m.src,
    m.weights,
    m.bias,
    m.dst,
    strides,
    padL,
    padR,
  );
  check("dnnl_convolution_backward_weights_desc_init", status);
  return d;
}

/** The exec args each pass binds (the bias ones only with a bias). */
const PASS_ARGS: Record<ConvPass, (bias: boolean) => ArgName[]> = {
  forward: (b) => ["src", "weights", "dst", ...(b ? ["bias" as const] : [])],
  backward_data: () => ["diff_dst", "weights", "diff_src"],
  backward_weights: (
    b,
  ) => ["src", "diff_dst", "diff_weights", ...(b ? ["diff_bias" as const] : [])],
};

function makePlan(dnnl: Dnnl, g: ConvGeometry, pass: ConvPass, l: Required<ConvLayout>): ConvPlan {
  const m = convMds(dnnl, g, l);
  const args = PASS_ARGS[pass](l.bias);
  const conv = convPrimitive(dnnl, g, pass, l, m, args);
  const useIm2col = pass === "backward_weights" && l.im2col === "auto" && g.groups === 1 &&
    l.activations === "nhwc" && preferIm2col(g, conv.impl);
  const reorder = useIm2col ? null : weightsReorder(dnnl, conv, pass, m.hwio);
  const weightsBytes = conv.bytesOf(pass === "backward_weights" ? "diff_weights" : "weights");
  if (reorder) growScratch(dnnl, "weights", weightsBytes);
  return {
    conv,
    impl: useIm2col ? `im2col+sgemm (oneDNN: ${conv.impl})` : conv.impl,
    im2col: useIm2col ? im2colPlan(g) : null,
    reorder,
    weightsBytes,
    hwio: m.hwio,
    dispose() {
      conv.dispose();
      reorder?.dispose();
    },
  };
}

function convPrimitive(
  dnnl: Dnnl,
  g: ConvGeometry,
  pass: ConvPass,
  l: Required<ConvLayout>,
  m: ConvMds,
  args: ArgName[],
): Primitive {
  if (pass === "forward") {
    return new Primitive(dnnl, forwardDesc(dnnl, g, m), { args, reluPostOp: l.relu });
  }
  const hint = forwardHint(dnnl, g, l);
  const desc = pass === "backward_data"
    ? backwardDataDesc(dnnl, g, m)
    : backwardWeightsDesc(dnnl, g, m);
  return new Primitive(dnnl, desc, { args, hint: hint.pd });
}

/** HWIO -> the primitive's weights layout (or back for backward weights); null if equal. */
function weightsReorder(dnnl: Dnnl, conv: Primitive, pass: ConvPass, hwio: Md): Primitive | null {
  const backward = pass === "backward_weights";
  const query = backward ? ENUM.dnnl_query_diff_weights_md : ENUM.dnnl_query_weights_md;
  const wMd = queryMd(dnnl, conv.pd, query, 0);
  if (mdEqual(dnnl, wMd, hwio)) return null;
  return backward ? reorderPrimitive(dnnl, wMd, hwio) : reorderPrimitive(dnnl, hwio, wMd);
}

function forwardHint(dnnl: Dnnl, g: ConvGeometry, l: Required<ConvLayout>): HintPd {
  // Backward primitives need the forward descriptor they belong to; without bias, since the
  // bias does not change the layouts oneDNN picks.
  const key = `conv:hint:${geometryKey(g)}:w=${weightsKey(l.weights)}:a=${l.activations}`;
  return cached(dnnl, key, () => {
    const m = convMds(dnnl, g, { ...l, bias: false });
    return new HintPd(dnnl, forwardDesc(dnnl, g, m));
  });
}

/**
 * Where a convolution's weights come from when they are not tfjs' HWIO: weights kept between
 * steps in a layout oneDNN chose (the `native` backend keeps them in the layout the weight
 * gradient is written in, see {@linkcode convBackwardWeights}).
 */
export interface WeightsLayout {
  /** The layout of the weights buffer (null or absent: HWIO). */
  md?: Md | null;
  /**
   * Forward only: run a primitive made for `md` itself, so that nothing is reordered, where oneDNN
   * has a non-reference implementation for it; elsewhere the weights are reordered to its pick.
   */
  direct?: boolean;
  /** Forward only: ReLU on the output, as the primitive's post-op. */
  relu?: boolean;
  /**
   * Whether small maps run as GEMMs per pixel and tap where `conv2d_taps.ts` prefers them
   * (default true; false: always oneDNN's primitive, for comparisons).
   */
  taps?: boolean;
  /**
   * Forward only: a copy of these weights in the primitive's layout that the caller keeps while
   * the weights do not change (a test pass), so that they are reordered once, not every call.
   */
  copy?: WeightsCopy;
}

/**
 * A caller's slot for one weight tensor's copy in a forward primitive's layout (filled by
 * {@linkcode convForward}); `values` is null until a reorder is needed. The copy is a plain
 * array, left to the GC when the caller drops the slot.
 */
export interface WeightsCopy {
  /** The copy. */
  values: Float32Array | null;
  /** The layouts it was reordered between (`from>to`); other ones: reorder again. */
  by: string | null;
}

/**
 * `y = conv(x, w) + bias`: x `[n, h, w, in]`, w HWIO `[kh, kw, in, out]` (or as `layout` says),
 * bias `[out]` or null, y `[n, outH, outW, out]` (caller-provided, overwritten).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { convForward } from "./conv2d.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./conv2d.ts").ConvGeometry;
 * declare const x: Float32Array, w: Float32Array, y: Float32Array;
 * convForward(dnnl, g, x, w, null, y);
 * ```
 */
export function convForward(
  dnnl: Dnnl,
  g: ConvGeometry,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  y: Float32Array,
  layout: WeightsLayout = {},
): void {
  const md = layout.md ?? null, withBias = bias !== null, relu = layout.relu ?? false;
  if (layout.taps !== false && preferTaps(g, "forward")) {
    if (w === layout.copy?.values) throw new Error("convForward: a weights copy passed to taps");
    return tapsForward(dnnl, g, x, hwioWeights(dnnl, g, w, md), bias, y, relu);
  }
  const direct = md && layout.direct ? directPlan(dnnl, g, withBias, md, relu) : null;
  const plan = direct ?? convPlan(dnnl, g, "forward", { bias: withBias, relu });
  const weights = layout.copy
    ? copiedWeights(dnnl, plan, w, md, layout.copy)
    : stageWeights(dnnl, plan, w, md);
  plan.conv.run({ src: x, weights, bias, dst: y });
}

/** A forward plan whose primitive takes weights in `md`; null where oneDNN has only `ref:`. */
function directPlan(
  dnnl: Dnnl,
  g: ConvGeometry,
  bias: boolean,
  md: Md,
  relu: boolean,
): ConvPlan | null {
  const key = `conv:direct:${geometryKey(g)}:b=${bias}:${mdKey(md)}${relu ? ":relu" : ""}`;
  return cached(dnnl, key, () => {
    let plan: ConvPlan | null = null;
    try {
      const l = { weights: md, activations: "nhwc", bias, relu, im2col: "auto" } as const;
      plan = makePlan(dnnl, g, "forward", l);
    } catch {
      plan = null; // no implementation takes these weights as they are
    }
    if (plan && plan.conv.impl.startsWith("ref")) {
      plan.dispose();
      plan = null;
    }
    const made = plan;
    return { plan: made, dispose: () => made?.dispose() };
  }).plan;
}

/**
 * `dx = conv_backward_data(dy, w)`: dy `[n, outH, outW, out]`, w HWIO (or as `layout` says), dx
 * `[n, h, w, in]` (caller-provided, overwritten).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { convBackwardData } from "./conv2d.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./conv2d.ts").ConvGeometry;
 * declare const dy: Float32Array, w: Float32Array, dx: Float32Array;
 * convBackwardData(dnnl, g, dy, w, dx);
 * ```
 */
export function convBackwardData(
  dnnl: Dnnl,
  g: ConvGeometry,
  dy: Float32Array,
  w: Float32Array,
  dx: Float32Array,
  layout: WeightsLayout = {},
): void {
  if (layout.taps !== false && preferTaps(g, "backward_data")) {
    return tapsBackwardData(dnnl, g, dy, hwioWeights(dnnl, g, w, layout.md ?? null), dx);
  }
  const plan = convPlan(dnnl, g, "backward_data");
  const weights = stageWeights(dnnl, plan, w, layout.md ?? null);
  plan.conv.run({ diff_dst: dy, weights, diff_src: dx });
}

/**
 * The layout the weight gradient of this geometry is written in when the caller keeps the
 * primitive's own (`convBackwardWeights(..., keep)`): its descriptor, tfjs' HWIO beside it, and
 * its bytes; null where it is written in HWIO anyway (im2col, or the primitive's pick is HWIO).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { convGradientLayout } from "./conv2d.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./conv2d.ts").ConvGeometry;
 * const kept = convGradientLayout(dnnl, g, false); // e.g. { md, hwio, bytes } (ABcd16b16a)
 * ```
 */
export function convGradientLayout(
  dnnl: Dnnl,
  g: ConvGeometry,
  bias: boolean,
): { md: Md; hwio: Md; bytes: number } | null {
  const plan = convPlan(dnnl, g, "backward_weights", { bias });
  if (plan.im2col || !plan.reorder) return null;
  return { md: plan.conv.md("diff_weights"), hwio: plan.hwio, bytes: plan.weightsBytes };
}

/**
 * `dw = conv_backward_weights(x, dy)` in HWIO, and `dbias = sum of dy over n, h, w` when `dbias`
 * is given; both caller-provided and overwritten (not accumulated). With `keep`, `dw` is written
 * in the primitive's own layout (no reorder; `dw` must hold {@linkcode convGradientLayout}'s
 * bytes). Returns the layout written: null for HWIO.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { convBackwardWeights } from "./conv2d.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./conv2d.ts").ConvGeometry;
 * declare const x: Float32Array, dy: Float32Array, dw: Float32Array;
 * convBackwardWeights(dnnl, g, x, dy, dw, null);
 * ```
 */
export function convBackwardWeights(
  dnnl: Dnnl,
  g: ConvGeometry,
  x: Float32Array,
  dy: Float32Array,
  dw: Float32Array,
  dbias: Float32Array | null,
  keep = false,
): Md | null {
  const plan = convPlan(dnnl, g, "backward_weights", { bias: dbias !== null });
  if (plan.im2col) {
    im2colBackwardWeights(dnnl, g, plan.im2col, x, dy, dw, dbias);
    return null;
  }
  const direct = keep || !plan.reorder;
  const target = direct ? dw : dnnl.scratch.weights;
  plan.conv.run({ src: x, diff_dst: dy, diff_weights: target, diff_bias: dbias });
  if (direct) return plan.reorder ? plan.conv.md("diff_weights") : null;
  plan.reorder!.run({ from: target, to: dw });
  return null;
}

/** The weights as the primitive takes them: `w` itself, or reordered (from HWIO or `md`). */
function stageWeights(dnnl: Dnnl, plan: ConvPlan, w: Float32Array, md: Md | null) {
  const reorder = reorderToPlan(dnnl, plan, md);
  if (!reorder) return w;
  const to = growScratch(dnnl, "weights", plan.weightsBytes);
  reorder.run({ from: w, to });
  return to;
}

/** The weights in HWIO: `w` itself, or reordered from `md` into the staging buffer. */
function hwioWeights(dnnl: Dnnl, g: ConvGeometry, w: Float32Array, md: Md | null): Float32Array {
  const reorder = md && cachedReorder(dnnl, md, hwioMd(dnnl, g));
  if (!reorder) return w;
  const n = g.kernelHeight * g.kernelWidth * g.inChannels * g.outChannels;
  const to = growScratch(dnnl, "weights", n * 4);
  reorder.run({ from: w, to });
  return new Float32Array(to.buffer, to.byteOffset, n);
}

/** The reorder from weights in `md` (null: HWIO) to the plan's layout; null when they match. */
function reorderToPlan(dnnl: Dnnl, plan: ConvPlan, md: Md | null) {
  return md ? cachedReorder(dnnl, md, plan.conv.md("weights")) : plan.reorder;
}

/**
 * The copy's key for weights in `md` (null: HWIO) reordered to the plan's layout: the two layouts
 * (a reorder primitive is made per plan, so its identity changes with the batch size when the
 * layout does not); null when the plan takes the weights as they are.
 */
function copyKey(dnnl: Dnnl, plan: ConvPlan, md: Md | null): string | null {
  if (!reorderToPlan(dnnl, plan, md)) return null;
  return `${mdKey(md ?? plan.hwio)}>${mdKey(plan.conv.md("weights"))}`;
}

/**
 * The weights in the plan's layout from the caller's copy, reordered into it only when the copy
 * is of other layouts (or not made yet). Measured on the Zen 5: the reorders were 5.8 of 24 ms
 * of oneDNN time in a 28x28 batch-64 test step of ResNet-18 (512x512x3x3 alone 0.7-1.0 ms).
 */
function copiedWeights(
  dnnl: Dnnl,
  plan: ConvPlan,
  w: Float32Array,
  md: Md | null,
  copy: WeightsCopy,
): Float32Array {
  const key = copyKey(dnnl, plan, md);
  // A caller may pass the copy itself while it fits (convCopyFits); never reorder from it.
  if (w === copy.values && (key === null || copy.by !== key)) {
    throw new Error("convForward: the weights copy was passed but does not fit this primitive");
  }
  if (key === null) return w;
  if (copy.by === key && copy.values) return copy.values;
  const n = Math.ceil(plan.weightsBytes / 4);
  if (copy.values?.length !== n) copy.values = new Float32Array(n);
  reorderToPlan(dnnl, plan, md)!.run({ from: w, to: copy.values });
  copy.by = key;
  return copy.values;
}

/**
 * Whether `copy` holds the weights (given in `md`, null: HWIO) in the layout the forward
 * primitive of this geometry takes, so that a caller may pass the copy itself for the weights.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers)
 * import { convCopyFits } from "./conv2d.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./conv2d.ts").ConvGeometry;
 * convCopyFits(dnnl, g, { bias: true, relu: false }, null, { values: null, by: null }); // false
 * ```
 */
export function convCopyFits(
  dnnl: Dnnl,
  g: ConvGeometry,
  l: { bias: boolean; relu: boolean },
  md: Md | null,
  copy: WeightsCopy,
): boolean {
  if (!copy.values || preferTaps(g, "forward")) return false;
  const key = copyKey(dnnl, convPlan(dnnl, g, "forward", l), md);
  return key !== null && copy.by === key;
}
