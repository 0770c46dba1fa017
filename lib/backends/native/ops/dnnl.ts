/**
 * The `native` backend's ops on oneDNN (./dnnl/, the library Debian's PyTorch runs its
 * convolutions on): convolutions with weights in the layout oneDNN's JIT kernels want, training
 * BatchNorm with the ReLU fused, max pooling, ReLU and same-shape add, all channels-last and on
 * every OpenMP thread. Outputs come from the buffer pool; tfjs' shapes are translated here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { openDnnl } from "../dnnl/mod.ts";
 * import { dnnlConv } from "./dnnl.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const info = tf.backend_util.computeConv2DInfo([1, 3, 3, 1], [3, 3, 1, 1], 1, 1, 1);
 *   const y = dnnlConv(dnnl).forward(info, new Float32Array(9).fill(1), new Float32Array(9).fill(1), { bias: null, relu: false });
 *   assert.equal(y?.[4], 9);
 * }
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import {
  add,
  batchNormBackward,
  batchNormForwardInference,
  batchNormForwardTraining,
  batchNormWorkspaceBytes,
  convBackwardData,
  convBackwardWeights,
  convForward,
  type ConvGeometry,
  convGeometry,
  type Dnnl,
  maxPoolBackward,
  maxPoolForward,
  maxPoolWorkspaceBytes,
  type NhwcShape,
  type PoolGeometry,
  poolGeometry,
  relu,
  reluBackward,
} from "../dnnl/mod.ts";
import { pool } from "../buffers.ts";
import type { ConvLibrary } from "./conv.ts";
import { applyEpilogue } from "./epilogue.ts";

type ConvInfo = tf.backend_util.Conv2DInfo;

/** oneDNN's geometry for tfjs' convolution (or pooling) info; null for dilated ones. */
export function geometryOf(c: ConvInfo): ConvGeometry | null {
  if (c.dilationHeight !== 1 || c.dilationWidth !== 1) return null;
  const p = c.padInfo;
  return convGeometry({
    batch: c.batchSize,
    inHeight: c.inHeight,
    inWidth: c.inWidth,
    inChannels: c.inChannels,
    outChannels: c.outChannels,
    kernel: [c.filterHeight, c.filterWidth],
    stride: [c.strideHeight, c.strideWidth],
    pad: [p.top, p.bottom, p.left, p.right],
  });
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** oneDNN's convolutions as the conv kernels' {@linkcode ConvLibrary}. */
export function dnnlConv(dnnl: Dnnl): ConvLibrary {
  return {
    forward(c, x, w, ep) {
      const g = geometryOf(c);
      if (!g) return null;
      const y = pool.alloc(size(c.outShape));
      convForward(dnnl, g, x, w, ep.bias, y);
      if (ep.relu) applyEpilogue(y, c.outChannels, { bias: null, relu: true });
      return y;
    },
    backpropInput(c, dy, w) {
      const g = geometryOf(c);
      if (!g) return null;
      const dx = pool.alloc(size(c.inShape));
      convBackwardData(dnnl, g, dy, w, dx);
      return dx;
    },
    backpropFilter(c, x, dy) {
      const g = geometryOf(c);
      if (!g) return null;
      const dw = pool.alloc(size(c.filterShape));
      convBackwardWeights(dnnl, g, x, dy, dw, null);
      return dw;
    },
    backpropFilterBias(c, x, dy) {
      const g = geometryOf(c);
      if (!g) return null;
      const dw = pool.alloc(size(c.filterShape)), db = new Float32Array(c.outChannels);
      convBackwardWeights(dnnl, g, x, dy, dw, db);
      return { dw, db };
    },
  };
}

/** The NHWC shape of a 4-D tensor shape. */
export function nhwc(shape: readonly number[]): NhwcShape {
  return { batch: shape[0], height: shape[1], width: shape[2], channels: shape[3] };
}

/** A float32 buffer that holds `bytes` bytes, and a byte view of it (for a oneDNN workspace). */
function workspaceBuffer(bytes: number): { values: Float32Array; bytes: Uint8Array } {
  const values = pool.alloc(Math.max(1, Math.ceil(bytes / 4)));
  return { values, bytes: new Uint8Array(values.buffer, values.byteOffset, bytes) };
}

/** What training-mode BatchNorm gives: `y`, the batch statistics and, with ReLU, its mask. */
export interface DnnlBatchNormTrain {
  y: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  /** oneDNN's ReLU mask, kept for the backward pass (null without ReLU). */
  workspace: Float32Array | null;
}

/** Training-mode BatchNorm (+ReLU) of an NHWC batch. */
export function dnnlBatchNormTrain(
  dnnl: Dnnl,
  shape: readonly number[],
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  epsilon: number,
  withRelu: boolean,
): DnnlBatchNormTrain {
  const s = nhwc(shape), o = { epsilon, relu: withRelu };
  const C = s.channels;
  const y = pool.alloc(x.length), mean = new Float32Array(C), variance = new Float32Array(C);
  const ws = withRelu ? workspaceBuffer(batchNormWorkspaceBytes(dnnl, s, o)) : null;
  batchNormForwardTraining(dnnl, s, o, { x, gamma, beta, y, mean, variance, workspace: ws?.bytes });
  return { y, mean, variance, workspace: ws?.values ?? null };
}

/** The gradients of {@linkcode dnnlBatchNormTrain}: `dx`, `dgamma`, `dbeta`. */
export function dnnlBatchNormTrainGrad(
  dnnl: Dnnl,
  shape: readonly number[],
  b: {
    dy: Float32Array;
    x: Float32Array;
    gamma: Float32Array;
    beta: Float32Array;
    mean: Float32Array;
    variance: Float32Array;
    workspace: Float32Array | null;
  },
  epsilon: number,
): { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array } {
  const s = nhwc(shape), o = { epsilon, relu: b.workspace !== null };
  const C = s.channels;
  const dx = pool.alloc(b.x.length), dgamma = new Float32Array(C), dbeta = new Float32Array(C);
  const ws = b.workspace;
  const workspace = ws
    ? new Uint8Array(ws.buffer, ws.byteOffset, batchNormWorkspaceBytes(dnnl, s, o))
    : null;
  batchNormBackward(dnnl, s, o, { ...b, workspace, dx, dgamma, dbeta });
  return { dx, dgamma, dbeta };
}

/** Inference-mode BatchNorm with given statistics (no ReLU). */
export function dnnlBatchNorm(
  dnnl: Dnnl,
  shape: readonly number[],
  b: {
    x: Float32Array;
    mean: Float32Array;
    variance: Float32Array;
    gamma: Float32Array;
    beta: Float32Array;
  },
  epsilon: number,
): Float32Array {
  const y = pool.alloc(b.x.length);
  batchNormForwardInference(dnnl, nhwc(shape), { epsilon }, { ...b, y });
  return y;
}

/** oneDNN's pooling geometry for tfjs' pooling info (max pooling, no dilation). */
function poolOf(c: ConvInfo): PoolGeometry | null {
  if (c.dilationHeight !== 1 || c.dilationWidth !== 1) return null;
  const p = c.padInfo;
  return poolGeometry({
    batch: c.batchSize,
    inHeight: c.inHeight,
    inWidth: c.inWidth,
    channels: c.inChannels,
    kernel: [c.filterHeight, c.filterWidth],
    stride: [c.strideHeight, c.strideWidth],
    pad: [p.top, p.bottom, p.left, p.right],
  });
}

/**
 * Max pooling's workspaces (each output's argmax), two per size handed out in turn, and which
 * output each belongs to: the gradient finds its forward pass' argmax by the output tensor tfjs
 * hands it. A record is valid while its slot has not been handed out again (ResNet pools once per
 * step; a stale or missing record only costs a second forward pass).
 */
interface Slot {
  bytes: Uint8Array;
  gen: number;
}
const rings = new Map<number, { slots: Slot[]; next: number }>();
const workspaceOf = new WeakMap<Float32Array, { slot: Slot; gen: number }>();

function takeSlot(bytes: number): Slot {
  let ring = rings.get(bytes);
  if (!ring) rings.set(bytes, ring = { slots: [], next: 0 });
  if (ring.slots.length < 2) ring.slots.push({ bytes: new Uint8Array(bytes), gen: 0 });
  const slot = ring.slots[ring.next];
  ring.next = (ring.next + 1) % 2;
  slot.gen++;
  return slot;
}

/** Max pooling forward; keeps its workspace for {@linkcode dnnlMaxPoolGrad}. */
export function dnnlMaxPool(dnnl: Dnnl, c: ConvInfo, x: Float32Array): Float32Array | null {
  const g = poolOf(c);
  if (!g) return null;
  const y = pool.alloc(size(c.outShape));
  const slot = takeSlot(maxPoolWorkspaceBytes(dnnl, g));
  maxPoolForward(dnnl, g, x, y, slot.bytes);
  workspaceOf.set(y, { slot, gen: slot.gen });
  return y;
}

/**
 * Max pooling's input gradient from the forward pass' workspace, found by its output `y`; when it
 * is gone, the argmax is found again by a forward pass.
 */
export function dnnlMaxPoolGrad(
  dnnl: Dnnl,
  c: ConvInfo,
  x: Float32Array,
  y: Float32Array,
  dy: Float32Array,
): Float32Array | null {
  const g = poolOf(c);
  if (!g) return null;
  const kept = workspaceOf.get(y);
  let ws: Uint8Array;
  if (kept && kept.gen === kept.slot.gen) ws = kept.slot.bytes;
  else {
    ws = takeSlot(maxPoolWorkspaceBytes(dnnl, g)).bytes;
    const again = pool.alloc(size(c.outShape));
    maxPoolForward(dnnl, g, x, again, ws);
    pool.release(again);
  }
  const dx = pool.alloc(x.length);
  maxPoolBackward(dnnl, g, dy, ws, dx);
  return dx;
}

/** `max(x, 0)` on every thread. */
export function dnnlRelu(dnnl: Dnnl, x: Float32Array): Float32Array {
  const y = pool.alloc(x.length);
  relu(dnnl, x, y);
  return y;
}

/** ReLU's gradient: `dy` where `x > 0`, else 0. */
export function dnnlReluGrad(dnnl: Dnnl, dy: Float32Array, x: Float32Array): Float32Array {
  const dx = pool.alloc(x.length);
  reluBackward(dnnl, x, dy, dx);
  return dx;
}

/** `a + b` (`relu(a + b)` with `withRelu`) for equal shapes, on every thread. */
export function dnnlAdd(
  dnnl: Dnnl,
  a: Float32Array,
  b: Float32Array,
  withRelu = false,
): Float32Array {
  const out = pool.alloc(a.length);
  add(dnnl, a, b, out, { relu: withRelu });
  return out;
}
