/**
 * The optimizer of a run and its state in checkpoints: {@linkcode SGD} with the run's momentum,
 * Nesterov and weight decay, and its momentum buffers by parameter name, which the checkpoint
 * saves as `optimizer.safetensors` (./checkpoint.ts) and a resumed run restores.
 *
 * @example
 * ```ts
 * import "../backends/setup.ts"; // the cpu backend
 * import { ResNet } from "../model/resnet.ts";
 * import { makeOptimizer, momentumState } from "./optimizer.ts";
 * import assert from "node:assert/strict";
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const opt = makeOptimizer(net, { lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 5e-4 }, null);
 * assert.equal((await momentumState(net, opt))?.length, 44); // one buffer per trainable parameter
 * opt.dispose();
 * net.dispose();
 * ```
 * @module
 */
import { SGD } from "../model/fused.ts";
import type { ResNet } from "../model/resnet.ts";
import type { SafetensorsInput } from "../io/safetensors.ts";
import { UserError } from "../errors.ts";
import type { OptimizerState } from "./checkpoint.ts";

/** What the optimizer is made from (a subset of the run's resolved settings). */
export interface OptimizerSettings {
  /** The learning rate to start with. */
  lr: number;
  /** SGD momentum (0: none). */
  momentum: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** Weight decay on convolution and dense weights. */
  weightDecay: number;
}

/**
 * The run's SGD for `net`; with momentum, every trainable parameter's buffer is made now, from
 * `saved` (a checkpoint's) or zeros for a new run, so that no step adds tensors.
 * A saved state that lacks a parameter or has the wrong size is a {@linkcode UserError}.
 */
export function makeOptimizer(
  net: ResNet,
  s: OptimizerSettings,
  saved: OptimizerState | null,
  where = "the checkpoint",
): SGD {
  const { momentum, nesterov, weightDecay } = s;
  const opt = new SGD(s.lr, { momentum, nesterov, weightDecay });
  if (momentum === 0) return opt;
  try {
    for (const [name, v] of net.params) {
      if (!v.trainable) continue;
      const values = saved ? saved.get(name) : null;
      if (saved && values?.length !== v.size) {
        throw new UserError(
          `${where} holds no momentum buffer of ${v.size} values for ${name}: it is corrupt; ` +
            "restore it or train again",
        );
      }
      opt.setMomentum(v, values ?? null);
    }
  } catch (e) {
    opt.dispose();
    throw e;
  }
  return opt;
}

/**
 * The momentum buffers of `net`'s trainable parameters, by parameter name, to save with a
 * checkpoint (null without momentum: nothing to save).
 */
export async function momentumState(
  net: ResNet,
  opt: SGD,
): Promise<SafetensorsInput[] | null> {
  if (opt.momentum === 0) return null;
  const out: SafetensorsInput[] = [];
  for (const [name, v] of net.params) {
    const b = v.trainable ? opt.momentumOf(v) : undefined;
    if (!b) continue;
    out.push({ name, dtype: "F32", shape: b.shape, data: (await b.data()) as Float32Array });
  }
  return out;
}
