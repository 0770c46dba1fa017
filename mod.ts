/**
 * The library surface of the d2l ResNet tool: the model, its shape table, the data pipeline, the
 * backends, training, evaluation and weight interchange with d2l's PyTorch code.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend, ResNet, shapeTable } from "./mod.ts";
 * await initBackend("cpu");
 * const net = new ResNet({ depth: 18 });
 * const logits = tf.tidy(() => net.apply(tf.zeros([1, 96, 96, 1]), { training: false }));
 * console.log(logits.shape, shapeTable({ depth: 18 }, { size: 96 }).params); // [1, 10] 11178378
 * ```
 * @module
 */

// Model (lib/model.ts): d2l's Residual, resnet_block and the five-stage ResNet.
export {
  BatchNorm2d,
  BN_EPS,
  BN_MOMENTUM,
  ConfigError,
  Conv2d,
  DEPTHS,
  fromTorchKey,
  Linear,
  outputSizes,
  Residual,
  ResNet,
  resnetBlock,
  resolveConfig,
  torchKey,
} from "./lib/model.ts";
export type {
  ApplyOptions,
  ParamStore,
  ResidualOptions,
  ResNetConfig,
  ResNetOptions,
  Stages,
} from "./lib/model.ts";
// Shape table (lib/shapes.ts).
export { formatShapeTable, shapeTable } from "./lib/shapes.ts";
export type { ShapeRow, ShapeTable } from "./lib/shapes.ts";
// Backends (lib/backend.ts).
export { BACKENDS, initBackend } from "./lib/backend.ts";
export type { BackendInfo, BackendName } from "./lib/backend.ts";
// Data (lib/idx.ts, lib/download.ts, lib/fashion_mnist.ts, lib/batches.ts): Fashion-MNIST.
export {
  checkPair,
  decodeIdxImages,
  decodeIdxLabels,
  encodeIdxImages,
  encodeIdxLabels,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  IdxError,
} from "./lib/idx.ts";
export type { IdxImageExpect, IdxImages, IdxLabels } from "./lib/idx.ts";
export { download, DownloadError, removeStaleTemps } from "./lib/download.ts";
// Atomic writes (lib/atomic.ts): temp file + rename, used for every file the tool saves.
export { errorText, tempPathFor, writeFileAtomic, writeFilesAtomic } from "./lib/atomic.ts";
export type { DownloadOptions, DownloadResult } from "./lib/download.ts";
export {
  CLASS_NAMES,
  cliLoadOptions,
  dataOptions,
  dataReport,
  defaultDataDir,
  FASHION_MNIST,
  formatDataReport,
  loadFashionMnist,
} from "./lib/fashion_mnist.ts";
export type {
  DataCliOptions,
  DataReport,
  FileReport,
  IdxDatasetSpec,
  IdxFileSpec,
  LoadedDataset,
  LoadOptions,
  Split,
} from "./lib/fashion_mnist.ts";
export { batchCount, batches, epochOrder } from "./lib/batches.ts";
export type { Batch, BatchOptions } from "./lib/batches.ts";
// Training runs (lib/train.ts, lib/checkpoint.ts, lib/layers_model.ts, lib/metrics.ts,
// lib/evaluate.ts, lib/plot.ts, lib/run_dir.ts, lib/progress.ts, lib/train_cli.ts).
export { D2L_DEFAULTS, DivergedError, train } from "./lib/train.ts";
export type { TrainData, TrainOptions, TrainResult } from "./lib/train.ts";
export { loadCheckpoint, readCheckpoint, saveCheckpoint } from "./lib/checkpoint.ts";
export type { Checkpoint, CheckpointPosition, PartialEpoch } from "./lib/checkpoint.ts";
export {
  encodeLayersModel,
  layersModelHandler,
  loadLayersWeights,
  paramNameOf,
  readLayersArtifacts,
  saveLayersModel,
  toLayersModel,
} from "./lib/layers_model.ts";
export type { LayersFiles } from "./lib/layers_model.ts";
export {
  formatEpoch,
  METRICS_COLUMNS,
  metricsCsv,
  readHistory,
  writeHistory,
} from "./lib/metrics.ts";
export type { EpochRecord, History, TrainSettings } from "./lib/metrics.ts";
export { confusionCsv, evaluate, formatEvaluation } from "./lib/evaluate.ts";
export type { ClassAccuracy, EvaluateOptions, Evaluation } from "./lib/evaluate.ts";
export { curvesSpec, curvesSvg, writeCurves } from "./lib/plot.ts";
export {
  defaultRunDir,
  ensureNewRunDir,
  ensureWritableDir,
  requireRunDir,
  RUN_FILES,
  runPath,
} from "./lib/run_dir.ts";
export { EpochProgress, SILENT_PROGRESS } from "./lib/progress.ts";
export type { ProgressSink, ProgressStats } from "./lib/progress.ts";
export {
  backendWhat,
  EXIT_INTERRUPTED,
  EXPORT_FORMATS,
  Interrupted,
  runEval,
  runExport,
  runTrain,
} from "./lib/train_cli.ts";
export type {
  EvalCliOptions,
  ExportCliOptions,
  NetSourceOptions,
  TrainCliOptions,
} from "./lib/train_cli.ts";
// Weights interchange with d2l's PyTorch code (lib/safetensors.ts, lib/torch_weights.ts).
export {
  decodeSafetensors,
  DTYPE_SIZES,
  encodeSafetensors,
  readSafetensors,
  SafetensorsError,
  toFloat32,
  toIntegers,
  writeSafetensors,
} from "./lib/safetensors.ts";
export type {
  Dtype,
  SafetensorsFile,
  SafetensorsInput,
  SafetensorsTensor,
} from "./lib/safetensors.ts";
export {
  assignTorchStateDict,
  checkTorchWeights,
  decodeTorchStateDict,
  encodeTorchStateDict,
  loadTorchWeights,
  saveTorchWeights,
  torchLayout,
  torchStateDict,
} from "./lib/torch_weights.ts";
export type { TorchEntry, TorchWeightsSummary } from "./lib/torch_weights.ts";
export { NATIVE_BACKEND, NativeBackend, registerNativeBackend } from "./lib/native/backend.ts";
export type { NativeRegistration } from "./lib/native/backend.ts";
// WebGPU adapter handling, machine info and pipeline warm-up (lib/webgpu.ts, lib/info.ts,
// lib/warmup.ts); initBackend/BACKENDS above also export loadNative.
export { loadNative } from "./lib/backend.ts";
export type { InitOptions, NativeStatus } from "./lib/backend.ts";
export {
  currentDevice,
  deviceLostInfo,
  formatAdapter,
  isSoftwareAdapter,
  NO_ADAPTER_FIX,
  onDeviceLost,
  probeAdapter,
  registerWebGPU,
  releaseWebGPU,
  SOFTWARE_ADAPTER_NOTE,
} from "./lib/webgpu.ts";
export type { AdapterDetails, AdapterLimits, AdapterProbe } from "./lib/webgpu.ts";
export { collectInfo, formatInfo } from "./lib/info.ts";
export type { BackendAvailability, MachineInfo } from "./lib/info.ts";
export { warmup } from "./lib/warmup.ts";
export type { WarmupOptions, WarmupReport } from "./lib/warmup.ts";
// Ops a backend may fuse (lib/fused.ts): training-mode BatchNorm(+ReLU) and the SGD update.
export { BATCH_NORM_TRAIN, batchNormTrain, SGD, SGD_UPDATE } from "./lib/fused.ts";
export type { BatchNormTrainResult } from "./lib/fused.ts";
// WebGPU's deferred-submit batch size (lib/webgpu.ts; issue 8).
export {
  DEFAULT_SUBMIT_BATCH,
  SUBMIT_BATCH_ENV,
  SUBMIT_BATCH_FLAG,
  submitBatchSize,
} from "./lib/webgpu.ts";
