/**
 * The backends (`@resnet-d2l/backends`, lib/backends/): the choice of backend, WebGPU and its
 * warm-up, what fits a device's limits, machine info, and the native backend (tfjs' CPU backend
 * with its hot kernels on oneDNN or BLAS).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backendSummary, initBackend } from "./mod.ts";
 * const info = await initBackend("cpu");
 * assert.equal(backendSummary(info), "backend: cpu (tfjs pure-JS kernels); requested");
 * ```
 * @module
 */
export {
  backendLabel,
  BACKENDS,
  backendSummary,
  BackendUnavailableError,
  initBackend,
  loadNative,
} from "./choose.ts";
export type { BackendInfo, BackendName, InitOptions } from "./choose.ts";
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
} from "./webgpu.ts";
export type { AdapterDetails, AdapterLimits, AdapterProbe } from "./webgpu.ts";
export { countGpuWork, NO_WORK, workBetween } from "./webgpu_counts.ts";
export type { GpuCounter, GpuCounts } from "./webgpu_counts.ts";
export {
  checkTrainingFits,
  chunkPlan,
  chunkSizes,
  evalBatchThatFits,
  fitProblem,
  INFERENCE_TENSOR_BYTES,
  inferenceBatch,
  largestBatchThatFits,
  largestTensor,
  limitOf,
  tensorLimit,
  TensorLimitError,
} from "./tensor_limit.ts";
export type { ChunkPlan, FitProblem, TensorLimit, TensorSize } from "./tensor_limit.ts";
export { warmup } from "./warmup.ts";
export type { WarmupOptions, WarmupReport } from "./warmup.ts";
export { collectInfo, formatInfo } from "./info.ts";
export type { BackendAvailability, MachineInfo } from "./info.ts";
export {
  dnnlTime,
  NATIVE_BACKEND,
  NativeBackend,
  registerNativeBackend,
  setNativeThreads,
} from "./native/backend.ts";
export type { NativeOptions, NativeRegistration } from "./native/backend.ts";
export type { LibraryChoice, LibraryOptions } from "./native/libraries.ts";
export { TFJS_VERSIONS } from "./setup.ts";
