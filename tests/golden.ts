/**
 * Reads the PyTorch golden files in tests/golden/ (made by the scripts in tools/golden/ from d2l's
 * PyTorch code; tests/golden/README.md) and converts their NCHW / OIHW tensors to this project's
 * NHWC / HWIO layouts.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { Residual, ResNet, type ResNetOptions } from "../lib/model/resnet.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsInput,
  toFloat32,
  toIntegers,
} from "../lib/io/safetensors_codec.ts";
import {
  decodeTorchStateDict,
  torchLayout as stateDictLayout,
} from "../lib/io/torch_state_dict.ts";

/** The golden folder, tests/golden/. */
export const GOLDEN_DIR = new URL("./golden/", import.meta.url);

/** A tensor as the golden JSON stores it. */
export interface GoldenTensor {
  shape: number[];
  data: number[];
}

/** Parses one golden JSON file. */
export function readGolden<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(Deno.readTextFileSync(new URL(name, GOLDEN_DIR))) as T;
}

/** A golden tensor as is (row-major, its own layout). */
export function asTensor(t: GoldenTensor): tf.Tensor {
  return tf.tensor(t.data, t.shape, "float32");
}

/** NCHW activations -> NHWC. */
export function nchwToNhwc(t: GoldenTensor): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(asTensor(t), [0, 2, 3, 1]) as tf.Tensor4D);
}

/** OIHW conv weights -> HWIO. */
export function oihwToHwio(t: GoldenTensor): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(asTensor(t), [2, 3, 1, 0]) as tf.Tensor4D);
}

/** The largest absolute difference between two equally sized arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Asserts |a - b| <= atol + rtol |b| element-wise (numpy's allclose), naming the first offender.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol = 0,
  what = "tensor",
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    const tol = atol + rtol * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(
        `${what}[${i}]: ${actual[i]} vs ${expected[i]} (|diff| ${
          Math.abs(actual[i] - expected[i])
        } > ${tol}); max |diff| ${maxAbsDiff(actual, expected)}`,
      );
    }
  }
}

/** One golden Residual block file (`residual_a.json`, `residual_b.json`). */
export interface ResidualGolden {
  config: { input_channels: number; num_channels: number; use_1x1conv: boolean; strides: number };
  X: GoldenTensor;
  G: GoldenTensor;
  params: Record<string, GoldenTensor>;
  bn_train_stats: Record<string, Record<string, GoldenTensor>>;
  f64: {
    out_eval: GoldenTensor;
    out_train: GoldenTensor;
    grads_train: Record<string, GoldenTensor>;
  };
}

/** A tensor in PyTorch's layout (NHWC -> NCHW, HWIO -> OIHW, else as is), as a flat array. */
export async function torchLayout(
  t: tf.Tensor,
  layout: "nhwc" | "hwio" | "plain",
): Promise<Float32Array> {
  const perm = layout === "nhwc" ? [0, 3, 1, 2] : layout === "hwio" ? [3, 2, 0, 1] : null;
  const u = perm ? tf.transpose(t, perm) : t.clone();
  const d = (await u.data()) as Float32Array;
  u.dispose();
  return d;
}

/**
 * Checks d2l's Residual block on the active backend against a golden file, at the tolerances of
 * the golden README (float32 against PyTorch's float64: atol 1e-5 on outputs, rtol 1e-4 + atol
 * 1e-4 on gradients): the inference output (running statistics as given), the training output,
 * the gradients of `sum(out * G)` with respect to X and every parameter, and the running
 * statistics after that one training forward. Frees everything and asserts that nothing leaked.
 */
export async function checkResidualGolden(file: string): Promise<void> {
  const g = readGolden<ResidualGolden>(file);
  const before = tf.memory().numTensors;
  const c = g.config;
  const blk = new Residual(c.input_channels, c.num_channels, {
    use1x1conv: c.use_1x1conv,
    strides: c.strides,
  });
  for (const [name, v] of blk.store) {
    const t = g.params[name];
    if (!t) throw new Error(`${file} lacks ${name}`);
    const value = t.shape.length === 4 ? oihwToHwio(t) : asTensor(t);
    v.assign(value);
    value.dispose();
  }
  const x = nchwToNhwc(g.X);
  const gOut = nchwToNhwc(g.G);

  const yEval = tf.tidy(() => blk.apply(x, { training: false }));
  assertClose(await torchLayout(yEval, "nhwc"), g.f64.out_eval.data, 1e-5, 0, "out_eval");

  const xVar = tf.variable(x);
  const trainable = [...blk.store.entries()].filter(([, v]) => v.trainable);
  let yTrain: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const y = blk.apply(xVar as tf.Tensor4D, { training: true });
    yTrain = tf.keep(y);
    return tf.sum(tf.mul(y, gOut)) as tf.Scalar;
  }, [xVar, ...trainable.map(([, v]) => v)]);
  assertClose(await torchLayout(yTrain!, "nhwc"), g.f64.out_train.data, 1e-5, 0, "out_train");

  const want = g.f64.grads_train;
  assertClose(await torchLayout(grads[xVar.name], "nhwc"), want.X.data, 1e-4, 1e-4, "grad X");
  for (const [name, v] of trainable) {
    const got = await torchLayout(grads[v.name], v.rank === 4 ? "hwio" : "plain");
    assertClose(got, want[name].data, 1e-4, 1e-4, `grad ${name}`);
  }
  for (const bn of ["bn1", "bn2"]) {
    const s = g.bn_train_stats[bn];
    for (const stat of ["running_mean", "running_var"]) {
      const got = await blk.store.get(`${bn}.${stat}`)!.data();
      assertClose(got, s[`${stat}_after`].data, 1e-6, 1e-5, `${bn}.${stat}`);
    }
  }

  tf.dispose([yEval, x, gOut, xVar, value, yTrain!, ...Object.values(grads)]);
  for (const v of blk.store.values()) v.dispose();
  if (tf.memory().numTensors !== before) {
    throw new Error(`${file}: ${tf.memory().numTensors - before} tensors leaked`);
  }
}

/** `small_w8_s1111.json`: 8 test images, their labels and PyTorch's logits (README of the golden set). */
export interface SmallGolden {
  input_28: GoldenTensor;
  labels: number[];
  logits_eval_28: GoldenTensor;
  logits_train_28: GoldenTensor;
  logits_eval_40: GoldenTensor;
  logits_train_40: GoldenTensor;
}

// Tolerances against PyTorch's float32 logits (|values| <= 3.2). Both sides round every op to
// float32, in different summation orders: eval mode is a few hundred accumulations deep, so a
// few 1e-7 relative errors per op stay well under 1e-5 (measured 2.3e-7). Training mode divides
// by batch standard deviations over as few as 8 values (b5 is 1x1 at 28x28, 2x2 at 40x40), which
// amplifies those rounding differences by 1/std; measured 3.5e-6, so 5e-5 leaves 10x headroom.
/** Absolute tolerance of the small network's inference-mode logits against PyTorch's. */
export const SMALL_ATOL_EVAL = 1e-5;
/** Absolute tolerance of the small network's training-mode logits against PyTorch's. */
export const SMALL_ATOL_TRAIN = 5e-5;

// ---- deeper and wider networks (tools/golden/deeper.py) ----

/**
 * The value of state_dict entry `j` (shape `shape`, PyTorch's layout) that tools/golden/deeper.py
 * sets instead of storing weights: u = sin(0.731 i + 1.37 j + 0.1) at flat index i (float64, then
 * float32); conv and linear weights u sqrt(3 / fan_in), their biases 0.1 u, BatchNorm weight
 * 1 + 0.3 u and bias 0.2 u, running mean 0.2 u, running variance 1 + 0.4 u.
 */
export function formulaValue(
  j: number,
  shape: number[],
  isBn: boolean,
  kind: string,
): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.sin(0.731 * i + 1.37 * j + 0.1);
    v[i] = kind === "running_mean"
      ? 0.2 * u
      : kind === "running_var"
      ? 1 + 0.4 * u
      : isBn
      ? (kind === "weight" ? 1 + 0.3 * u : 0.2 * u)
      : shape.length >= 2
      ? u * Math.sqrt(3 / (n / shape[0]))
      : 0.1 * u;
  }
  return v;
}

/** The state_dict deeper.py gives a network of these keys and shapes (its metadata's `keys`). */
export function formulaStateDict(keys: [string, number[]][]): SafetensorsInput[] {
  const bn = new Set(
    keys.filter(([k]) => k.endsWith("running_mean")).map(([k]) =>
      k.slice(0, -"running_mean".length)
    ),
  );
  return keys.map(([k, shape], j) => {
    if (k.endsWith("num_batches_tracked")) {
      return { name: k, dtype: "I64", shape, data: new BigInt64Array([7n]) };
    }
    const dot = k.lastIndexOf(".");
    const data = formulaValue(j, shape, bn.has(k.slice(0, dot + 1)), k.slice(dot + 1));
    return { name: k, dtype: "F32", shape, data };
  });
}

// Tolerances of the deeper references against PyTorch's float32 (batch 4). A gradient is a sum
// over the batch and every position, so its float32 error scales with the tensor's largest
// value, not with each element: the absolute tolerance is taken times max(1, max |reference|).
// Measured (cpu, native-dnnl, native-blas): gradient |diff| up to 7.7e-5 of that scale
// (native-dnnl, d2l_resnext's stem: 4.1e-4 on values up to 15.2; cpu 3.8e-5 there), so 3e-4
// leaves 4x or more. Logits: eval within 2e-6 on every backend (bound 2e-5), training mode up to
// 1.05e-5 (d2l_resnext; bound 1e-4): BatchNorm over 4 values per channel in b5 amplifies rounding.
/** Absolute tolerance of inference-mode logits. */
export const DEEPER_ATOL_EVAL = 2e-5;
/** Absolute tolerance of training-mode logits and the loss. */
export const DEEPER_ATOL_TRAIN = 1e-4;
/** Tolerance of the gradients: absolute (times the tensor's scale, see above) and relative. */
export const DEEPER_TOL_GRAD = [3e-4, 1e-3] as const;

/**
 * Checks one deeper.py reference (`deeper_<name>.safetensors`) on the active backend: the state_dict
 * layout (keys, order, shapes), inference and training logits, the loss, every parameter's
 * gradient of the mean cross-entropy and the running statistics after the training pass. Frees
 * everything and asserts that nothing leaked.
 */
export async function checkDeeperGolden(name: string): Promise<void> {
  const path = new URL(`deeper_${name}.safetensors`, GOLDEN_DIR).pathname;
  const ref = decodeSafetensors(Deno.readFileSync(path), path);
  const f32 = (k: string) => toFloat32(ref.tensors.get(k)!, k, path);
  const keys = JSON.parse(ref.metadata!.keys) as [string, number[]][];
  const before = tf.memory().numTensors;
  const net = new ResNet(JSON.parse(ref.metadata!.config) as ResNetOptions);
  try {
    const layout = stateDictLayout(net);
    if (JSON.stringify(layout.map((e) => [e.key, e.shape])) !== JSON.stringify(keys)) {
      throw new Error(`${name}: our state_dict layout differs from PyTorch's`);
    }
    decodeTorchStateDict(net, encodeSafetensors(formulaStateDict(keys)), name);
    const input = ref.tensors.get("input")!;
    const x = tf.tidy(() =>
      tf.transpose(tf.tensor4d(f32("input"), input.shape as [number, number, number, number]), [
        0,
        2,
        3,
        1,
      ])
    );
    const labels = toIntegers(ref.tensors.get("labels")!, "labels", path);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), net.config.numClasses));
    const ev = tf.tidy(() => net.apply(x, { training: false }));
    assertClose(await ev.data(), f32("logits_eval"), DEEPER_ATOL_EVAL, 0, `${name} logits_eval`);
    let logits: tf.Tensor | null = null;
    const vars = net.trainableVariables();
    const { value, grads } = tf.variableGrads(() => {
      const l = net.apply(x, { training: true });
      logits = tf.keep(l);
      return tf.losses.softmaxCrossEntropy(y, l) as tf.Scalar;
    }, vars);
    const atol = DEEPER_ATOL_TRAIN;
    assertClose(await logits!.data(), f32("logits_train"), atol, 0, `${name} logits_train`);
    assertClose(await value.data(), f32("loss"), atol, 0, `${name} loss`);
    for (const e of layout) {
      if (e.param === null) continue;
      const v = net.params.get(e.param)!;
      if (v.trainable) {
        const g = tf.tidy(() =>
          e.perm ? tf.transpose(grads[v.name], e.perm) : grads[v.name].clone()
        );
        const [ga, gr] = DEEPER_TOL_GRAD;
        const want = f32(`grad/${e.key}`);
        const scale = Math.max(1, ...Array.from(want, Math.abs));
        assertClose(await g.data(), want, ga * scale, gr, `${name} grad ${e.key}`);
        g.dispose();
      } else {
        assertClose(await v.data(), f32(`after/${e.key}`), 1e-5, 1e-5, `${name} ${e.key}`);
      }
    }
    tf.dispose([x, y, ev, logits!, value, ...Object.values(grads)]);
  } finally {
    net.dispose();
  }
  if (tf.memory().numTensors !== before) {
    throw new Error(`${name}: ${tf.memory().numTensors - before} tensors leaked`);
  }
}
