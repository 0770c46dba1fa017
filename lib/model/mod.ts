/**
 * The model (`@resnet-d2l/model`, lib/model/): d2l's layers (`Conv2d`, `BatchNorm2d`, `Linear`),
 * its `Residual`, the bottleneck and pre-activation blocks, `resnet_block` and the five-stage
 * `ResNet` in d2l's form or torchvision's, the ops a backend may fuse, the training and evaluation
 * steps (in parts of the batch where a device needs it) and the shape table of every form.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import assert from "node:assert/strict";
 * import "../backends/setup.ts"; // the cpu backend and every gradient
 * import { ResNet, shapeTable } from "./mod.ts";
 * const net = new ResNet({ depth: 18 });
 * const logits = tf.tidy(() => net.apply(tf.zeros([1, 96, 96, 1]), { training: false }));
 * assert.deepEqual(logits.shape, [1, 10]);
 * assert.equal(shapeTable({ depth: 18 }, { size: 96 }).params, 11178378);
 * tf.dispose(logits);
 * net.dispose();
 * ```
 * @module
 */
export {
  ADD_RELU,
  addRelu,
  BATCH_NORM_TRAIN,
  batchNormTrain,
  CONV2D_BIAS,
  conv2dBias,
  GROUPED_CONV2D,
  groupedConv2d,
  SGD,
  SGD_UPDATE,
} from "./fused.ts";
export type { BatchNormTrainResult, ConvPad, SGDOptions } from "./fused.ts";
export { BatchNorm2d, BN_EPS, BN_MOMENTUM, Conv2d, Linear } from "./layers.ts";
export type {
  BatchNorm2dOptions,
  BatchNormApplyOptions,
  Conv2dOptions,
  ConvApplyOptions,
  LayerOptions,
  LinearOptions,
  ParamStore,
} from "./layers.ts";
export {
  ARCHS,
  BLOCKS,
  blockSpecs,
  Bottleneck,
  DEPTH_BLOCKS,
  DEPTHS,
  EXPANSION,
  fromTorchKey,
  keyMap,
  MODEL_DEFAULTS,
  outputSizes,
  PreActBlock,
  Residual,
  ResNet,
  resnetBlock,
  resolveConfig,
  STEMS,
  torchKey,
} from "./resnet.ts";
export type {
  ApplyOptions,
  Arch,
  BlockKind,
  BlockOptions,
  BlockSpec,
  BottleneckOptions,
  KeyForm,
  KeyMap,
  PreActOptions,
  ResidualBlock,
  ResidualOptions,
  ResNetConfig,
  ResNetOptions,
  Stages,
  Stem,
} from "./resnet.ts";
export {
  archNote,
  convShapes,
  countParams,
  formatShapeTable,
  SHAPE_TABLE_DEFAULTS,
  shapeTable,
} from "./shapes.ts";
export type { ConvShape, ShapeRow, ShapeTable } from "./shapes.ts";
export { evalStep, trainStep } from "./step.ts";
export type { StepOptions, StepResult } from "./step.ts";
export { applyFitting } from "./chunked.ts";
export type { FittingOptions } from "./chunked.ts";
