/**
 * Batch normalization over channels-last (`nhwc`) tensors: training forward (batch mean and
 * BIASED variance as outputs), its backward (diff src, diff scale, diff shift), and inference
 * forward with given statistics; each optionally fused with ReLU.
 *
 * Scale (gamma) and shift (beta) are separate `[c]` arrays (flags `dnnl_use_scale |
 * dnnl_use_shift`), as tfjs keeps them. With `relu: true` training forward and backward need a
 * workspace (the ReLU mask): the caller allocates `batchNormWorkspaceBytes(...)` bytes, passes the
 * same buffer to the forward and its backward, and keeps it in between (a cached primitive is
 * shared by every layer of that shape, so it cannot own per-layer state).
 *
 * @example
 * ```ts
 * import { openDnnl } from "./ffi.ts";
 * import { batchNormForwardTraining, batchNormWorkspaceBytes } from "./batch_norm.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const shape = { batch: 2, height: 4, width: 4, channels: 8 };
 *   const opts = { epsilon: 1e-5, relu: true };
 *   const n = 2 * 4 * 4 * 8;
 *   const workspace = new Uint8Array(batchNormWorkspaceBytes(dnnl, shape, opts));
 *   batchNormForwardTraining(dnnl, shape, opts, {
 *     x: new Float32Array(n), gamma: new Float32Array(8).fill(1), beta: new Float32Array(8),
 *     y: new Float32Array(n), mean: new Float32Array(8), variance: new Float32Array(8), workspace,
 *   });
 * }
 * ```
 * @module
 */

import { ENUM, SIZEOF } from "./abi.ts";
import { check, type Dnnl } from "./ffi.ts";
import { type Md, mdByTag } from "./memory.ts";
import { type ArgName, cached, Primitive } from "./primitive.ts";
import type { NhwcShape } from "./geometry.ts";

export type { NhwcShape } from "./geometry.ts";

/** Batch-norm attributes. */
export interface BatchNormOptions {
  /** Added to the variance before the square root. */
  epsilon: number;
  /** Apply ReLU to the output (`dnnl_fuse_norm_relu`). */
  relu?: boolean;
}

/** Buffers of {@link batchNormForwardTraining}. */
export interface BatchNormForwardBuffers {
  /** Input `[n, h, w, c]`. */
  x: Float32Array;
  /** Scale `[c]`. */
  gamma: Float32Array;
  /** Shift `[c]`. */
  beta: Float32Array;
  /** Output `[n, h, w, c]` (written). */
  y: Float32Array;
  /** Batch mean `[c]` (written). */
  mean: Float32Array;
  /** Batch variance `[c]`, biased (divided by n*h*w) (written). */
  variance: Float32Array;
  /** ReLU mask for the backward pass; required when `relu`, else ignored. */
  workspace?: Uint8Array | null;
}

/** Buffers of {@link batchNormBackward}. */
export interface BatchNormBackwardBuffers {
  /** The forward input `[n, h, w, c]`. */
  x: Float32Array;
  /** Gradient of the output `[n, h, w, c]`. */
  dy: Float32Array;
  /** Scale `[c]`. */
  gamma: Float32Array;
  /**
   * Shift `[c]`: oneDNN declares it an input of the backward pass when `dnnl_use_shift` is set
   * (its `arg_usage`), so it is bound although the gradients do not depend on it.
   */
  beta: Float32Array;
  /** The batch mean the forward pass wrote. */
  mean: Float32Array;
  /** The batch variance the forward pass wrote. */
  variance: Float32Array;
  /** The workspace the forward pass filled (when `relu`). */
  workspace?: Uint8Array | null;
  /** Gradient of the input `[n, h, w, c]` (written). */
  dx: Float32Array;
  /** Gradient of the scale `[c]` (written). */
  dgamma: Float32Array;
  /** Gradient of the shift `[c]` (written). */
  dbeta: Float32Array;
}

/** Buffers of {@link batchNormForwardInference}. */
export interface BatchNormInferenceBuffers {
  /** Input `[n, h, w, c]`. */
  x: Float32Array;
  /** Scale `[c]`. */
  gamma: Float32Array;
  /** Shift `[c]`. */
  beta: Float32Array;
  /** Given mean `[c]` (e.g. the moving mean). */
  mean: Float32Array;
  /** Given variance `[c]` (e.g. the moving variance). */
  variance: Float32Array;
  /** Output (written). */
  y: Float32Array;
}

/** Which batch-norm primitive: training forward, its backward, or inference forward. */
export type BnMode = "training" | "backward" | "inference";

function shapeKey(s: NhwcShape): string {
  return `${s.batch}x${s.height}x${s.width}x${s.channels}`;
}

function dataMd(dnnl: Dnnl, s: NhwcShape): Md {
  return mdByTag(dnnl, [s.batch, s.channels, s.height, s.width], ENUM.dnnl_nhwc);
}

function bnFlags(mode: BnMode, o: BatchNormOptions): number {
  let flags = ENUM.dnnl_use_scale | ENUM.dnnl_use_shift;
  if (o.relu) flags |= ENUM.dnnl_fuse_norm_relu;
  if (mode === "inference") flags |= ENUM.dnnl_use_global_stats;
  return flags;
}

function forwardDesc(dnnl: Dnnl, s: NhwcShape, o: BatchNormOptions, mode: BnMode): Uint8Array {
  const d = new Uint8Array(SIZEOF.dnnl_batch_normalization_desc_t);
  const prop = mode === "inference" ? ENUM.dnnl_forward_inference : ENUM.dnnl_forward_training;
  const status = dnnl.lib.symbols.dnnl_batch_normalization_forward_desc_init(
    d,
    prop,
    dataMd(dnnl, s),
    o.epsilon,
    bnFlags(mode, o),
  );
  check("dnnl_batch_normalization_forward_desc_init", status);
  return d;
}

function backwardDesc(dnnl: Dnnl, s: NhwcShape, o: BatchNormOptions): Uint8Array {
  const d = new Uint8Array(SIZEOF.dnnl_batch_normalization_desc_t);
  const md = dataMd(dnnl, s);
  const status = dnnl.lib.symbols.dnnl_batch_normalization_backward_desc_init(
    d,
    ENUM.dnnl_backward,
    md,
    md,
    o.epsilon,
    bnFlags("backward", o),
  );
  check("dnnl_batch_normalization_backward_desc_init", status);
  return d;
}

const WS = (o: BatchNormOptions): ArgName[] => o.relu ? ["workspace"] : [];
/** The exec args each mode binds (the workspace only with ReLU). */
const BN_ARGS: Record<BnMode, (o: BatchNormOptions) => ArgName[]> = {
  training: (o) => ["src", "scale", "shift", "dst", "mean", "variance", ...WS(o)],
  backward: (o) => [
    "src",
    "diff_dst",
    "scale",
    "shift",
    "mean",
    "variance",
    ...WS(o),
    "diff_src",
    "diff_scale",
    "diff_shift",
  ],
  inference: () => ["src", "scale", "shift", "mean", "variance", "dst"],
};

/**
 * The cached batch-norm primitive for a mode, shape and options (exposed for `impl` checks).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { batchNormPrimitive } from "./batch_norm.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const p = batchNormPrimitive(dnnl, "backward", { batch: 2, height: 4, width: 4, channels: 8 },
 *   { epsilon: 1e-5, relu: true });
 * assert.match(p.impl, /^\S+$/); // e.g. "bnorm_jit:avx2"
 * ```
 */
export function batchNormPrimitive(
  dnnl: Dnnl,
  mode: BnMode,
  s: NhwcShape,
  o: BatchNormOptions,
): Primitive {
  const key = `bn:${mode}:${shapeKey(s)}:eps=${o.epsilon}:relu=${!!o.relu}`;
  return cached(dnnl, key, () => {
    const args = BN_ARGS[mode](o);
    if (mode !== "backward") return new Primitive(dnnl, forwardDesc(dnnl, s, o, mode), { args });
    const hint = batchNormPrimitive(dnnl, "training", s, o);
    return new Primitive(dnnl, backwardDesc(dnnl, s, o), { args, hint: hint.pd });
  });
}

/**
 * Workspace bytes a fused BN+ReLU training forward/backward pair needs (0 without ReLU).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { batchNormWorkspaceBytes } from "./batch_norm.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const ws = new Uint8Array(batchNormWorkspaceBytes(dnnl,
 *   { batch: 64, height: 48, width: 48, channels: 64 }, { epsilon: 1e-5, relu: true }));
 * ```
 */
export function batchNormWorkspaceBytes(dnnl: Dnnl, s: NhwcShape, o: BatchNormOptions): number {
  if (!o.relu) return 0;
  const p = batchNormPrimitive(dnnl, "training", s, o);
  return p.bytesOf("workspace");
}

function workspaceOf(o: BatchNormOptions, ws: Uint8Array | null | undefined): Uint8Array | null {
  if (!o.relu) return null;
  if (!ws) throw new Error("batch norm with relu: a workspace buffer is required");
  return ws;
}

/**
 * Training-mode forward: normalizes with the batch statistics, writes `y`, `mean` and the biased
 * `variance` (and the ReLU mask into `workspace` when `relu`).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { batchNormForwardTraining } from "./batch_norm.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const b: import("./batch_norm.ts").BatchNormForwardBuffers;
 * batchNormForwardTraining(dnnl, { batch: 2, height: 4, width: 4, channels: 8 },
 *   { epsilon: 1e-5 }, b);
 * ```
 */
export function batchNormForwardTraining(
  dnnl: Dnnl,
  s: NhwcShape,
  o: BatchNormOptions,
  b: BatchNormForwardBuffers,
): void {
  const p = batchNormPrimitive(dnnl, "training", s, o);
  p.run({
    src: b.x,
    scale: b.gamma,
    shift: b.beta,
    dst: b.y,
    mean: b.mean,
    variance: b.variance,
    workspace: workspaceOf(o, b.workspace),
  });
}

/**
 * Backward of {@link batchNormForwardTraining} (full derivative through the batch statistics,
 * and through the ReLU when `relu`): writes `dx`, `dgamma`, `dbeta`.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { batchNormBackward } from "./batch_norm.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const b: import("./batch_norm.ts").BatchNormBackwardBuffers;
 * batchNormBackward(dnnl, { batch: 2, height: 4, width: 4, channels: 8 }, { epsilon: 1e-5 }, b);
 * ```
 */
export function batchNormBackward(
  dnnl: Dnnl,
  s: NhwcShape,
  o: BatchNormOptions,
  b: BatchNormBackwardBuffers,
): void {
  const p = batchNormPrimitive(dnnl, "backward", s, o);
  p.run({
    src: b.x,
    diff_dst: b.dy,
    scale: b.gamma,
    shift: b.beta,
    mean: b.mean,
    variance: b.variance,
    workspace: workspaceOf(o, b.workspace),
    diff_src: b.dx,
    diff_scale: b.dgamma,
    diff_shift: b.dbeta,
  });
}

/**
 * Inference-mode forward with given `mean` and `variance` (ReLU applied when `relu`).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { batchNormForwardInference } from "./batch_norm.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const b: import("./batch_norm.ts").BatchNormInferenceBuffers;
 * batchNormForwardInference(dnnl, { batch: 1, height: 4, width: 4, channels: 8 },
 *   { epsilon: 1e-5 }, b);
 * ```
 */
export function batchNormForwardInference(
  dnnl: Dnnl,
  s: NhwcShape,
  o: BatchNormOptions,
  b: BatchNormInferenceBuffers,
): void {
  const p = batchNormPrimitive(dnnl, "inference", s, o);
  p.run({
    src: b.x,
    scale: b.gamma,
    shift: b.beta,
    mean: b.mean,
    variance: b.variance,
    dst: b.y,
  });
}
