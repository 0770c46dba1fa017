/**
 * What every backend needs before the first op, in one place: tfjs' cpu backend (the fallback,
 * and what `native` builds on) and the gradients of tfjs' kernels. tfjs-core's node build, which
 * Deno loads, registers no gradients, and its ESM build, which carries them one file each, does
 * not load under Deno (its imports name no extensions); the union package's node build registers
 * them all on the same tfjs-core instance (it pins @tensorflow/tfjs-core 4.22.0 as we do). So the
 * union package is imported here and nowhere else in lib/: ./choose.ts imports this module, and a
 * model module imports tfjs-core only. The web page imports it too (web/device.ts), since its
 * module also runs under Deno in tests; a browser-only entry could bundle tfjs-core's ESM
 * gradients instead (measured: 0.69 MB against 1.30 MB for web/main.ts' bundle).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import assert from "node:assert/strict";
 * import { TFJS_VERSIONS } from "./setup.ts";
 * await tf.setBackend("cpu");
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.relu(x)))(tf.tensor1d([-1, 2]));
 * assert.deepEqual(Array.from(await g.data()), [0, 1]);
 * assert.equal(TFJS_VERSIONS["tfjs-core"], tf.version_core);
 * ```
 * @module
 */
import "@tensorflow/tfjs-backend-cpu";
import { version } from "@tensorflow/tfjs";

/** The versions of the tfjs packages loaded (`tfjs-core`, `tfjs-backend-cpu`, `tfjs-layers`...). */
export const TFJS_VERSIONS: Readonly<Record<string, string>> = version;
