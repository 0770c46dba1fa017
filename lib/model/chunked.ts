/**
 * The network's forward pass in parts of the batch, where whole tensors would exceed a WebGPU
 * adapter's binding limit (../backends/tensor_limit.ts says where, and how many parts): b1 (and,
 * when needed, the first residual blocks) run once per part, each BatchNorm normalising every part
 * with the statistics of the whole batch (the parts' sums, then their squared deviations from that
 * mean, as `tf.moments` computes them) and updating its running statistics once; the parts are
 * joined where the rest fits. So the step equals the unsplit one up to float rounding, and tfjs'
 * autograd differentiates it as written; no tensor of it is larger than one part's.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import assert from "node:assert/strict";
 * import "../backends/setup.ts"; // the cpu backend
 * import { ResNet } from "./resnet.ts";
 * import { applyFitting } from "./chunked.ts";
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const x = tf.randomUniform([5, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
 * const whole = net.apply(x, { training: false });
 * const parts = applyFitting(net, x, { training: false, plan: { chunks: 2, blocks: 1 } });
 * const diff = tf.max(tf.abs(tf.sub(whole, parts)));
 * assert.ok((await diff.data())[0] < 1e-5);
 * tf.dispose([x, whole, parts, diff]);
 * net.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type ChunkPlan,
  chunkPlan,
  chunkSizes,
  type TensorLimit,
  tensorLimit,
} from "../backends/tensor_limit.ts";
import { addRelu } from "./fused.ts";
import type { BatchNorm2d, BatchNormApplyOptions, Conv2d } from "./layers.ts";
import { Bottleneck, PreActBlock, type ResidualBlock, type ResNet } from "./resnet.ts";

/** Options of {@linkcode applyFitting}. */
export interface FittingOptions {
  /** Training mode (batch statistics, running statistics updated) or inference. */
  training: boolean;
  /**
   * How to split the batch; null: whole. Default: {@linkcode chunkPlan} for the active backend's
   * {@linkcode tensorLimit} (WebGPU's binding limit; none elsewhere).
   */
  plan?: ChunkPlan | null;
}

/**
 * `net.apply(x, opts)`, in parts of the batch where the backend's limit needs it (see the
 * module's text); the logits are the same. Throws a `TensorLimitError` when not even one image
 * fits the limit.
 */
export function applyFitting(net: ResNet, x: tf.Tensor4D, opts: FittingOptions): tf.Tensor2D {
  const plan = opts.plan !== undefined ? opts.plan : planFor(net, x, tensorLimit());
  if (plan === null) return net.apply(x, { training: opts.training });
  if (opts.training) net.numBatchesTracked++;
  return tf.tidy(() => applyInParts(net, x, { training: opts.training, plan }));
}

const plans = new Map<string, ChunkPlan | null>();

/** {@linkcode chunkPlan}, remembered: a run asks for the same few shapes every step. */
function planFor(net: ResNet, x: tf.Tensor4D, limit: TensorLimit | null): ChunkPlan | null {
  if (limit === null) return null;
  const [batch, size] = x.shape;
  const key = `${limit.bytes} ${size} ${batch} ${JSON.stringify(net.config)}`;
  if (!plans.has(key)) {
    if (plans.size > 64) plans.clear();
    plans.set(key, chunkPlan(net.config, size, batch, limit));
  }
  return plans.get(key)!;
}

function applyInParts(net: ResNet, x: tf.Tensor4D, opts: { training: boolean; plan: ChunkPlan }) {
  const { training, plan } = opts;
  const blocks = net.stages.flat();
  let xs = tf.split(x, chunkSizes(x.shape[0], plan.chunks), 0) as tf.Tensor4D[];
  xs = xs.map((part) => net.conv.apply(part, { inputIsData: true }));
  xs = batchNormParts(net.bn, xs, { training, relu: true });
  // d2l's stem ends in a 3x3/2 max pool with padding 1 (resnet.ts), CIFAR's has none.
  if (net.config.stem === "d2l") xs = xs.map((part) => tf.maxPool(part, 3, 2, 1));
  for (const b of blocks.slice(0, plan.blocks)) xs = blockParts(b, xs, { training });
  const pool = (t: tf.Tensor4D) => tf.mean(t, [1, 2]) as tf.Tensor2D;
  if (plan.blocks === blocks.length) {
    // Every block in parts: joined after the global pool (the pre-activation net's last BN too).
    if (net.finalBn) xs = batchNormParts(net.finalBn, xs, { training, relu: true });
    return net.fc.apply(tf.concat(xs.map(pool), 0) as tf.Tensor2D);
  }
  let y = tf.concat(xs, 0) as tf.Tensor4D;
  for (const b of blocks.slice(plan.blocks)) y = b.apply(y, { training });
  if (net.finalBn) y = net.finalBn.apply(y, { training, relu: true });
  return net.fc.apply(pool(y));
}

/** A residual block over the parts: its own `apply`'s layers in its order (resnet.ts). */
function blockParts(
  b: ResidualBlock,
  xs: tf.Tensor4D[],
  { training }: { training: boolean },
): tf.Tensor4D[] {
  const conv = (c: Conv2d, ts: tf.Tensor4D[]) => ts.map((t) => c.apply(t));
  const bn = (n: BatchNorm2d, ts: tf.Tensor4D[], then?: { relu: boolean }) =>
    batchNormParts(n, ts, { training, relu: then?.relu });
  const relu = { relu: true };
  if (b instanceof PreActBlock) {
    const a = bn(b.bn1, xs, relu);
    const shortcut = b.conv3 ? conv(b.conv3, a) : xs;
    const y = conv(b.conv2, bn(b.bn2, conv(b.conv1, a), relu));
    return y.map((t, i) => tf.add(t, shortcut[i]));
  }
  let y: tf.Tensor4D[], shortcut = xs;
  if (b instanceof Bottleneck) {
    y = bn(b.bn2, conv(b.conv2, bn(b.bn1, conv(b.conv1, xs), relu)), relu);
    y = bn(b.bn3, conv(b.conv3, y));
    if (b.shortcut && b.shortcutBn) shortcut = bn(b.shortcutBn, conv(b.shortcut, xs));
  } else {
    y = bn(b.bn2, conv(b.conv2, bn(b.bn1, conv(b.conv1, xs), relu)));
    if (b.conv3) shortcut = conv(b.conv3, xs);
    if (b.conv3 && b.shortcutBn) shortcut = bn(b.shortcutBn, shortcut);
  }
  return y.map((t, i) => addRelu(t, shortcut[i]));
}

/**
 * BatchNorm (then ReLU when `opts.relu`) of the parts of one batch with the whole batch's
 * statistics; in training mode also the running statistics' update, once, as
 * {@linkcode BatchNorm2d.apply}.
 */
function batchNormParts(
  bn: BatchNorm2d,
  xs: tf.Tensor4D[],
  opts: BatchNormApplyOptions,
): tf.Tensor4D[] {
  const relu = opts.relu ?? false;
  if (!opts.training) return xs.map((x) => bn.apply(x, { training: false, relu }));
  const n = xs.reduce((a, x) => a + x.shape[0] * x.shape[1] * x.shape[2], 0);
  const sum = (ts: tf.Tensor[]) => tf.div(tf.addN(ts.map((t) => tf.sum(t, [0, 1, 2]))), n);
  const mean = sum(xs) as tf.Tensor1D;
  const variance = sum(xs.map((x) => tf.square(tf.sub(x, mean)))) as tf.Tensor1D;
  const m = bn.momentum;
  tf.tidy(() => {
    bn.runningMean.assign(tf.add(tf.mul(bn.runningMean, 1 - m), tf.mul(mean, m)));
    const unbiased = tf.mul(variance, n > 1 ? n / (n - 1) : 1);
    bn.runningVar.assign(tf.add(tf.mul(bn.runningVar, 1 - m), tf.mul(unbiased, m)));
  });
  return xs.map((x) => {
    const y = tf.batchNorm4d(
      x,
      mean,
      variance,
      bn.bias as tf.Tensor1D,
      bn.weight as tf.Tensor1D,
      bn.eps,
    );
    return relu ? tf.relu(y) : y;
  });
}
