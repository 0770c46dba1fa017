/**
 * BatchNorm on oneDNN (../dnnl/batch_norm.ts): training mode with the ReLU fused and its gradient,
 * and inference mode; beside ./batch_norm.ts, the same op as typed-array loops. Outputs come from
 * the buffer pool.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDnnl } from "../dnnl/mod.ts";
 * import { dnnlBatchNormTrain } from "./batch_norm_dnnl.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const x = new Float32Array([1, 2, 3, 4]);
 *   const r = dnnlBatchNormTrain(dnnl, [4, 1, 1, 1], x, new Float32Array([1]), new Float32Array([0]), 1e-5, false);
 *   assert.deepEqual([...r.mean, ...r.variance], [2.5, 1.25]);
 * }
 * ```
 * @module
 */
import {
  batchNormBackward,
  batchNormForwardInference,
  batchNormForwardTraining,
  batchNormWorkspaceBytes,
} from "../dnnl/batch_norm.ts";
import type { Dnnl } from "../dnnl/ffi.ts";
import type { NhwcShape } from "../dnnl/geometry.ts";
import { pool, workspaceBuffer } from "../buffers.ts";

/** The NHWC shape of a 4-D tensor shape. */
export function nhwc(shape: readonly number[]): NhwcShape {
  return { batch: shape[0], height: shape[1], width: shape[2], channels: shape[3] };
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
  into: Float32Array | null = null,
): { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array } {
  const s = nhwc(shape), o = { epsilon, relu: b.workspace !== null };
  const C = s.channels;
  // `into` may be dy itself: oneDNN's BatchNorm backward runs in place (diff_src = diff_dst).
  const dx = into ?? pool.alloc(b.x.length),
    dgamma = new Float32Array(C),
    dbeta = new Float32Array(C);
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
