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
} from "./lib/model/resnet.ts";
export type {
  ApplyOptions,
  ParamStore,
  ResidualOptions,
  ResNetConfig,
  ResNetOptions,
  Stages,
} from "./lib/model/resnet.ts";
// Shape table (lib/shapes.ts).
export { formatShapeTable, shapeTable } from "./lib/model/shapes.ts";
export type { ShapeRow, ShapeTable } from "./lib/model/shapes.ts";
// Backends (lib/backend.ts).
export { BACKENDS, initBackend } from "./lib/backends/choose.ts";
export type { BackendInfo, BackendName } from "./lib/backends/choose.ts";
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
} from "./lib/data/idx.ts";
export type { IdxImageExpect, IdxImages, IdxLabels } from "./lib/data/idx.ts";
export { download, DownloadError, removeStaleTemps } from "./lib/data/download.ts";
// Atomic writes (lib/atomic.ts): temp file + rename, used for every file the tool saves.
export { errorText, tempPathFor, writeFileAtomic, writeFilesAtomic } from "./lib/io/atomic.ts";
export type { DownloadOptions, DownloadResult } from "./lib/data/download.ts";
export {
  CLASS_NAMES,
  cliLoadOptions,
  dataOptions,
  dataReport,
  defaultDataDir,
  FASHION_MNIST,
  formatDataReport,
  loadFashionMnist,
} from "./lib/data/fashion_mnist.ts";
export type {
  DataCliOptions,
  DataReport,
  FileReport,
  IdxDatasetSpec,
  IdxFileSpec,
  LoadedDataset,
  LoadOptions,
  Split,
} from "./lib/data/fashion_mnist.ts";
export { batchCount, batches, epochOrder } from "./lib/data/batches.ts";
export type { Batch, BatchOptions } from "./lib/data/batches.ts";
// Training runs (lib/train.ts, lib/checkpoint.ts, lib/layers_model.ts, lib/metrics.ts,
// lib/evaluate.ts, lib/plot.ts, lib/run_dir.ts, lib/progress.ts, lib/train_cli.ts).
export { D2L_DEFAULTS, DivergedError, train } from "./lib/run/train.ts";
export type { TrainData, TrainOptions, TrainResult } from "./lib/run/train.ts";
export { loadCheckpoint, readCheckpoint, saveCheckpoint } from "./lib/run/checkpoint.ts";
export type { Checkpoint, CheckpointPosition, PartialEpoch } from "./lib/run/checkpoint.ts";
export {
  encodeLayersModel,
  layersModelHandler,
  loadLayersWeights,
  paramNameOf,
  readLayersArtifacts,
  saveLayersModel,
  toLayersModel,
} from "./lib/io/layers_model.ts";
export type { LayersFiles } from "./lib/io/layers_model.ts";
export {
  formatEpoch,
  METRICS_COLUMNS,
  metricsCsv,
  readHistory,
  writeHistory,
} from "./lib/run/metrics.ts";
export type { EpochRecord, History, TrainSettings } from "./lib/run/metrics.ts";
export { confusionCsv, evaluate, formatEvaluation } from "./lib/run/evaluate.ts";
export type { ClassAccuracy, EvaluateOptions, Evaluation } from "./lib/run/evaluate.ts";
export { curvesSpec, curvesSvg, writeCurves } from "./lib/run/plot.ts";
export {
  defaultRunDir,
  ensureNewRunDir,
  ensureWritableDir,
  requireRunDir,
  RUN_FILES,
  runPath,
} from "./lib/run/run_dir.ts";
export { EpochProgress, SILENT_PROGRESS } from "./lib/run/progress.ts";
export type { ProgressSink, ProgressStats } from "./lib/run/progress.ts";
export {
  backendWhat,
  EXIT_INTERRUPTED,
  EXPORT_FORMATS,
  Interrupted,
  runEval,
  runExport,
  runTrain,
} from "./cli/train.ts";
export type {
  EvalCliOptions,
  ExportCliOptions,
  NetSourceOptions,
  TrainCliOptions,
} from "./cli/train.ts";
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
} from "./lib/io/safetensors.ts";
export type {
  Dtype,
  SafetensorsFile,
  SafetensorsInput,
  SafetensorsTensor,
} from "./lib/io/safetensors.ts";
export {
  assignTorchStateDict,
  checkTorchWeights,
  decodeTorchStateDict,
  encodeTorchStateDict,
  loadTorchWeights,
  saveTorchWeights,
  torchLayout,
  torchStateDict,
} from "./lib/io/torch_weights.ts";
export type { TorchEntry, TorchWeightsSummary } from "./lib/io/torch_weights.ts";
export { NATIVE_BACKEND, NativeBackend, registerNativeBackend } from "./lib/backends/native/backend.ts";
export type { NativeRegistration } from "./lib/backends/native/backend.ts";
// WebGPU adapter handling, machine info and pipeline warm-up (lib/webgpu.ts, lib/info.ts,
// lib/warmup.ts); initBackend/BACKENDS above also export loadNative.
export { loadNative } from "./lib/backends/choose.ts";
export type { InitOptions, NativeStatus } from "./lib/backends/choose.ts";
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
} from "./lib/backends/webgpu.ts";
export type { AdapterDetails, AdapterLimits, AdapterProbe } from "./lib/backends/webgpu.ts";
export { collectInfo, formatInfo } from "./lib/backends/info.ts";
export type { BackendAvailability, MachineInfo } from "./lib/backends/info.ts";
export { warmup } from "./lib/backends/warmup.ts";
export type { WarmupOptions, WarmupReport } from "./lib/backends/warmup.ts";
// Ops a backend may fuse (lib/fused.ts): training-mode BatchNorm(+ReLU) and the SGD update.
export { BATCH_NORM_TRAIN, batchNormTrain, SGD, SGD_UPDATE } from "./lib/model/fused.ts";
export type { BatchNormTrainResult } from "./lib/model/fused.ts";
// WebGPU's deferred-submit batch size (lib/webgpu.ts; issue 8).
export {
  DEFAULT_SUBMIT_BATCH,
  SUBMIT_BATCH_ENV,
  SUBMIT_BATCH_FLAG,
  submitBatchSize,
} from "./lib/backends/webgpu.ts";
