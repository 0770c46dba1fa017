/**
 * The library of the d2l ResNet tool: the model, the data pipeline, training runs, weight
 * interchange with d2l's PyTorch code, and the backends. It never prints or parses flags; the
 * command line (`main.ts`, `cli/`) is a thin shell over it. ARCHITECTURE.md maps the folders.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend, ResNet, shapeTable } from "./mod.ts";
 * await initBackend("cpu");
 * const net = new ResNet({ depth: 18 });
 * const logits = tf.tidy(() => net.apply(tf.zeros([1, 96, 96, 1]), { training: false }));
 * console.log(logits.shape, shapeTable({ depth: 18 }, { size: 96 }).params); // [1, 10] 11178378
 * net.dispose();
 * ```
 * @module
 */

// Errors (lib/errors.ts): one-line messages; the caller decides how to show them.
export { ConfigError, errorText, InputError, UserError } from "./lib/errors.ts";
// Numbers typed by people (lib/parse_number.ts): the one parser of flags, the web form and bench.
export { parseNumber } from "./lib/parse_number.ts";
export type { NumberKind } from "./lib/parse_number.ts";

// Model (lib/model/): d2l's layers, its Residual, the bottleneck and pre-activation blocks,
// resnet_block and the five-stage ResNet in d2l's form or torchvision's.
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
} from "./lib/model/fused.ts";
export type { BatchNormTrainResult, ConvPad, SGDOptions } from "./lib/model/fused.ts";
export { BatchNorm2d, BN_EPS, BN_MOMENTUM, Conv2d, Linear } from "./lib/model/layers.ts";
export type {
  BatchNorm2dOptions,
  BatchNormApplyOptions,
  Conv2dOptions,
  ConvApplyOptions,
  LayerOptions,
  LinearOptions,
  ParamStore,
} from "./lib/model/layers.ts";
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
} from "./lib/model/resnet.ts";
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
} from "./lib/model/resnet.ts";
export {
  archNote,
  convShapes,
  countParams,
  formatShapeTable,
  SHAPE_TABLE_DEFAULTS,
  shapeTable,
} from "./lib/model/shapes.ts";
export type { ConvShape, ShapeRow, ShapeTable } from "./lib/model/shapes.ts";
export { evalStep, trainStep } from "./lib/model/step.ts";
export type { StepOptions, StepResult } from "./lib/model/step.ts";

// Data (lib/data/): IDX files, downloads, Fashion-MNIST, batches, the seeded RNG.
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
export {
  download,
  DOWNLOAD_DEFAULTS,
  DownloadError,
  removeStaleTemps,
} from "./lib/data/download.ts";
export type { DownloadOptions, DownloadProgress, DownloadResult } from "./lib/data/download.ts";
export {
  CLASS_NAMES,
  dataReport,
  defaultDataDir,
  FASHION_MNIST,
  formatDataReport,
  loadFashionMnist,
} from "./lib/data/fashion_mnist.ts";
export type {
  DataReport,
  FileReport,
  IdxDatasetSpec,
  IdxFileSpec,
  LoadedDataset,
  LoadOptions,
  Split,
} from "./lib/data/fashion_mnist.ts";
export { decodeSplits, idxBytes, sha256Hex, tableFiles } from "./lib/data/idx_dataset.ts";
export { batchCount, batches, epochOrder } from "./lib/data/batches.ts";
export type { Batch, BatchOptions } from "./lib/data/batches.ts";
export { mixSeed, mulberry32 } from "./lib/rng.ts";
export {
  AUGMENTATIONS,
  augmentBatch,
  augmentDraws,
  cropPadding,
  ERASE,
} from "./lib/data/augment.ts";
export type { Augmentation, AugmentDraws, AugmentOptions, EraseBox } from "./lib/data/augment.ts";

// Training runs (lib/run/): train, evaluate, checkpoints, metrics, curves, run directories.
export { DivergedError, train } from "./lib/run/train.ts";
export type { TrainData, TrainOptions, TrainResult } from "./lib/run/train.ts";
export { checkFits, planRun } from "./lib/run/plan.ts";
export type { RunPlan, RunRequest } from "./lib/run/plan.ts";
export { testEpoch, trainEpoch, warmupTraining } from "./lib/run/epoch.ts";
export type { EpochOptions, EpochTrained, TestEpochOptions, Trainee } from "./lib/run/epoch.ts";
export {
  checkSettings,
  D2L_DEFAULTS,
  RECIPE_NAMES,
  RECIPES,
  resolveSettings,
  RESUMABLE,
  resumeSettings,
  SETTING_CHECKS,
  SETTING_NAMES,
  SettingError,
  TRAIN_OPTIONS,
} from "./lib/run/recipe.ts";
export type {
  Namer,
  OptionSpec,
  Recipe,
  RecipeName,
  ResolvedSettings,
  SettingName,
  TrainSettings,
} from "./lib/run/recipe.ts";
export { lrAt, scheduleProblem, SCHEDULES, warmupOf } from "./lib/run/schedule.ts";
export type { Schedule, ScheduleSettings } from "./lib/run/schedule.ts";
export { makeOptimizer, momentumState } from "./lib/run/optimizer.ts";
export type { OptimizerSettings } from "./lib/run/optimizer.ts";
export {
  loadCheckpoint,
  pruneCheckpoints,
  readCheckpoint,
  saveCheckpoint,
} from "./lib/run/checkpoint.ts";
export { lockRunDir } from "./lib/run/lock.ts";
export type { RunLock } from "./lib/run/lock.ts";
export { Accumulator, EpochAccumulator, epochStats, READ_DEFAULTS } from "./lib/run/accumulator.ts";
export type { AccumulatedSums, EpochContext, ReadPolicy } from "./lib/run/accumulator.ts";
export type {
  Checkpoint,
  CheckpointPosition,
  OptimizerState,
  PartialEpoch,
} from "./lib/run/checkpoint.ts";
export {
  backendRecord,
  formatEpoch,
  METRICS_COLUMNS,
  metricsCsv,
  readHistory,
  readRunHistory,
  writeHistory,
} from "./lib/run/metrics.ts";
export type { BackendRecord, EpochRecord, History } from "./lib/run/metrics.ts";
export { evaluate, formatEvaluation } from "./lib/run/evaluate.ts";
export { confusionCsv } from "./lib/run/confusion_csv.ts";
export type { ClassAccuracy, EvaluateOptions, Evaluation } from "./lib/run/evaluate.ts";
export { curvesSvg, writeCurves } from "./lib/viz/curves.ts";
export { elapsedSeconds, TIME_TO_COLUMNS, timeTo, timeToCsv } from "./lib/run/time_to.ts";
export type { RunTimeTo, TimeToLevel } from "./lib/run/time_to.ts";
export { readEpochs } from "./lib/run/recorded.ts";
export {
  defaultRunDir,
  ensureNewRunDir,
  ensureWritableDir,
  readJsonFile,
  requireRunDir,
  RUN_FILES,
  RunDirError,
  runPath,
} from "./lib/run/run_dir.ts";
export type { RunDirProblem } from "./lib/run/run_dir.ts";
export { SILENT_PROGRESS } from "./lib/run/progress.ts";
export type { PassProgress, ProgressSink, ProgressStats } from "./lib/run/progress.ts";

// Files (lib/io/): atomic writes, safetensors, d2l's state_dict, the tfjs layers format, and the
// local HTTP servers of the live and web pages.
export { TEMP_NAME, tempPathFor, writeFileAtomic, writeFilesAtomic } from "./lib/io/atomic.ts";
export { fileResponse, serveLocal } from "./lib/io/serve.ts";
export type { ServeOptions } from "./lib/io/serve.ts";
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
  archFlags,
  architectureOf,
  assignTorchStateDict,
  checkTorchWeights,
  decodeTorchStateDict,
  describeArch,
  encodeTorchStateDict,
  inferArchitecture,
  loadTorchWeights,
  recordedSize,
  saveTorchWeights,
  torchLayout,
  torchStateDict,
} from "./lib/io/torch_weights.ts";
export type { TorchEntry, TorchWeightsSummary, WeightsRecord } from "./lib/io/torch_weights.ts";
export {
  encodeLayersModel,
  layersArtifacts,
  layersModelHandler,
  loadLayersWeights,
  paramNameOf,
  readLayersArtifacts,
  readLayersFiles,
  saveLayersModel,
  setLayersWeights,
  toLayersModel,
} from "./lib/io/layers_model.ts";
export type { LayersFiles } from "./lib/io/layers_model.ts";
export { LAYERS_FILES } from "./lib/io/layers_files.ts";

// Backends (lib/backends/): the choice, WebGPU, its warm-up, machine info, native kernels.
export {
  backendLabel,
  BACKENDS,
  backendSummary,
  BackendUnavailableError,
  initBackend,
  loadNative,
} from "./lib/backends/choose.ts";
export type { BackendInfo, BackendName, InitOptions } from "./lib/backends/choose.ts";
export {
  currentDevice,
  DEFAULT_SUBMIT_BATCH,
  deviceLostInfo,
  formatAdapter,
  isSoftwareAdapter,
  NO_ADAPTER_FIX,
  onDeviceLost,
  probeAdapter,
  registerWebGPU,
  releaseWebGPU,
  SOFTWARE_ADAPTER_NOTE,
  SUBMIT_BATCH_ENV,
  SUBMIT_BATCH_FLAG,
  submitBatchSize,
  webgpuBackendFor,
} from "./lib/backends/webgpu.ts";
export { countGpuWork, NO_WORK, workBetween } from "./lib/backends/webgpu_counts.ts";
export type { GpuCounter, GpuCounts } from "./lib/backends/webgpu_counts.ts";
export type { AdapterDetails, AdapterLimits, AdapterProbe } from "./lib/backends/webgpu.ts";
export {
  checkTrainingFits,
  chunkPlan,
  chunkSizes,
  evalBatchThatFits,
  fitProblem,
  largestBatchThatFits,
  largestTensor,
  limitOf,
  tensorLimit,
  TensorLimitError,
} from "./lib/backends/tensor_limit.ts";
export type {
  ChunkPlan,
  FitProblem,
  TensorLimit,
  TensorSize,
} from "./lib/backends/tensor_limit.ts";
export { applyFitting } from "./lib/model/chunked.ts";
export type { FittingOptions } from "./lib/model/chunked.ts";
export { warmup } from "./lib/backends/warmup.ts";
export type { WarmupOptions, WarmupReport } from "./lib/backends/warmup.ts";
export { collectInfo, formatInfo } from "./lib/backends/info.ts";
export type { BackendAvailability, MachineInfo } from "./lib/backends/info.ts";
export {
  dnnlTime,
  NATIVE_BACKEND,
  NativeBackend,
  registerNativeBackend,
  setNativeThreads,
} from "./lib/backends/native/backend.ts";
export type { NativeOptions, NativeRegistration } from "./lib/backends/native/backend.ts";
export type { LibraryChoice, LibraryOptions } from "./lib/backends/native/libraries.ts";

// Seeing what the network learned (lib/viz/, with lib/io/image.ts, lib/data/prepare_image.ts and
// lib/run/predict.ts): pictures of one's own, predictions, d2l's pictures, the report, the live page.
export {
  decodeImage,
  encodeGrayPng,
  grayPngDataUri,
  ImageError,
  imageFormat,
  readImage,
} from "./lib/io/image.ts";
export type { GrayImage, ImageFormat } from "./lib/io/image.ts";
export {
  borderMedian,
  FASHION_MNIST_SIZE,
  INVERT_MODES,
  toFashionMnist,
} from "./lib/data/prepare_image.ts";
export type { InvertMode, PreparedImage } from "./lib/data/prepare_image.ts";
export { argMax, findMistakes, pickImages, predict, topClasses } from "./lib/run/predict.ts";
export type { ClassProbability, Mistake, PredictOptions } from "./lib/run/predict.ts";
export type { EpochEnd } from "./lib/run/train.ts";
export { ANIMATOR_STYLES, animatorSeries, lineChart, niceTicks } from "./lib/viz/chart.ts";
export { accuracyTimeSvg } from "./lib/viz/time_chart.ts";
export type { RunCurve } from "./lib/viz/time_chart.ts";
export type { ChartOptions, ChartSeries, LivePoint } from "./lib/viz/chart.ts";
export { labelledImages, showImages } from "./lib/viz/grid.ts";
export type { GridImage, GridOptions } from "./lib/viz/grid.ts";
export { blues, confusionHeatmap } from "./lib/viz/heatmap.ts";
export { FONT_CANDIDATES, svgToPng } from "./lib/viz/png.ts";
export { escapeXml, FONT_FAMILY, num, svgDocument } from "./lib/viz/svg.ts";
export { writeFigure } from "./lib/viz/figure.ts";
export { REPORT_FILE, REPORT_MISTAKES, reportHtml, writeReport } from "./lib/viz/report.ts";
export type { ReportData } from "./lib/viz/report.ts";
export { LiveBoard } from "./lib/viz/live.ts";
export { LIVE_PAGE } from "./lib/viz/live_page.ts";
export type { LiveOptions } from "./lib/viz/live.ts";
