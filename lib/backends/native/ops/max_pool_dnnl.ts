/**
 * `MaxPool` and its gradient on oneDNN (../dnnl/max_pool.ts); beside ./max_pool.ts, the same op as
 * typed-array loops. The gradient finds the forward pass' argmax (oneDNN's workspace) by the
 * output tensor tfjs hands it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { openDnnl } from "../dnnl/mod.ts";
 * import { dnnlMaxPool } from "./max_pool_dnnl.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const info = tf.backend_util.computePool2DInfo([1, 2, 2, 1], 2, 2, 1, "valid");
 *   assert.deepEqual([...dnnlMaxPool(dnnl, info, new Float32Array([1, 4, 2, 3]))!], [4]);
 * }
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Dnnl } from "../dnnl/ffi.ts";
import { type PoolGeometry, poolGeometry } from "../dnnl/geometry.ts";
import { maxPoolBackward, maxPoolForward, maxPoolWorkspaceBytes } from "../dnnl/max_pool.ts";
import { pool, workspaceBuffer } from "../buffers.ts";

type ConvInfo = tf.backend_util.Conv2DInfo;

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

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

/**
 * Training-mode max pooling: `y` and oneDNN's argmax as a float32 buffer of its own (for a
 * tensor), which is all {@linkcode dnnlMaxPoolTrainGrad} needs; null where oneDNN has no such
 * pooling.
 */
export function dnnlMaxPoolTrain(
  dnnl: Dnnl,
  c: ConvInfo,
  x: Float32Array,
): { y: Float32Array; workspace: Float32Array } | null {
  const g = poolOf(c);
  if (!g) return null;
  const y = pool.alloc(size(c.outShape));
  const ws = workspaceBuffer(maxPoolWorkspaceBytes(dnnl, g));
  maxPoolForward(dnnl, g, x, y, ws.bytes);
  return { y, workspace: ws.values };
}

/** The input gradient of {@linkcode dnnlMaxPoolTrain} from `dy` and its workspace. */
export function dnnlMaxPoolTrainGrad(
  dnnl: Dnnl,
  c: ConvInfo,
  dy: Float32Array,
  workspace: Float32Array,
): Float32Array | null {
  const g = poolOf(c);
  if (!g) return null;
  const ws = new Uint8Array(workspace.buffer, workspace.byteOffset, maxPoolWorkspaceBytes(dnnl, g));
  const dx = pool.alloc(size(c.inShape));
  maxPoolBackward(dnnl, g, dy, ws, dx);
  return dx;
}
