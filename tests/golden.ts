/**
 * Reads the PyTorch golden files in `../shared/golden` (beside the checkout) and converts their
 * NCHW / OIHW tensors to this project's NHWC / HWIO layouts.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** The golden folder, `../shared/golden` relative to the repository root. */
export const GOLDEN_DIR = new URL("../../shared/golden/", import.meta.url);

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
