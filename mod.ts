/**
 * The library of the d2l ResNet tool: its headline, what building, training and evaluating a
 * network takes. The rest is reachable by folder, as Deno std's packages do it (deno.json's
 * `exports`): `./model` (lib/model/mod.ts: layers, blocks, fused ops, steps, shapes), `./data`
 * (IDX, downloads, batches, augmentation), `./run` (plans, epochs, recipes, checkpoints,
 * metrics), `./io` (safetensors, state_dicts, the layers format, images), `./viz` (curves,
 * pictures, the report, the live page) and `./backends` (WebGPU, the native backend, limits).
 * It never prints or parses flags; the command line (`main.ts`, `cli/`) is a thin shell over it.
 * ARCHITECTURE.md maps the folders.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import assert from "node:assert/strict";
 * import { initBackend, ResNet, shapeTable } from "./mod.ts";
 * await initBackend("cpu");
 * const net = new ResNet({ depth: 18 });
 * const logits = tf.tidy(() => net.apply(tf.zeros([1, 96, 96, 1]), { training: false }));
 * assert.deepEqual(logits.shape, [1, 10]);
 * assert.equal(shapeTable({ depth: 18 }, { size: 96 }).params, 11178378);
 * tf.dispose(logits);
 * net.dispose();
 * ```
 * @module
 */

// Errors (lib/errors.ts): one-line messages; the caller decides how to show them.
export { ConfigError, errorText, InputError, UserError } from "./lib/errors.ts";
// Numbers typed by people (lib/parse_number.ts): the one parser of flags, the web form and bench.
export { parseNumber } from "./lib/parse_number.ts";
export type { NumberKind } from "./lib/parse_number.ts";

// Building the model: d2l's ResNet (or torchvision's form, or a deeper relative).
export { DEPTHS, ResNet, resolveConfig } from "./lib/model/resnet.ts";
export type { ResNetConfig, ResNetOptions } from "./lib/model/resnet.ts";
export { shapeTable } from "./lib/model/shapes.ts";

// Loading data: Fashion-MNIST, downloaded once and checked.
export { CLASS_NAMES, loadFashionMnist } from "./lib/data/fashion_mnist.ts";
export type { LoadOptions, Split } from "./lib/data/fashion_mnist.ts";

// Backends: which one runs the computation.
export { backendSummary, initBackend } from "./lib/backends/choose.ts";
export type { BackendInfo, BackendName } from "./lib/backends/choose.ts";

// Training: a run directory that can be resumed, exported and reported.
export { DivergedError, train } from "./lib/run/train.ts";
export type { TrainData, TrainOptions, TrainResult } from "./lib/run/train.ts";
export { RECIPES, resolveSettings } from "./lib/run/recipe.ts";
export type { RecipeName, TrainSettings } from "./lib/run/recipe.ts";
export { loadCheckpoint } from "./lib/run/checkpoint.ts";
export { readHistory } from "./lib/run/metrics.ts";
export type { EpochRecord, History } from "./lib/run/metrics.ts";

// Evaluating and predicting.
export { evaluate } from "./lib/run/evaluate.ts";
export type { EvaluateOptions, Evaluation } from "./lib/run/evaluate.ts";
export { predict } from "./lib/run/predict.ts";
export type { PredictOptions } from "./lib/run/predict.ts";

// Weights shared with d2l's PyTorch code (safetensors of its state_dict).
export { loadTorchWeights, saveTorchWeights } from "./lib/io/torch_weights.ts";
