/**
 * Files (`@resnet-d2l/io`, lib/io/): atomic writes, safetensors, d2l's or torchvision's
 * state_dict, the tfjs layers format, PNG/JPEG images in, and the local HTTP servers of the live
 * and web pages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors, toFloat32 } from "./mod.ts";
 * const bytes = encodeSafetensors(
 *   [{ name: "w", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }],
 *   { format: "pt" },
 * );
 * const file = decodeSafetensors(bytes, "example.safetensors");
 * assert.deepEqual(Array.from(toFloat32(file.tensors.get("w")!, "w")), [1, 2]);
 * ```
 * @module
 */
export { TEMP_NAME, tempPathFor, writeFileAtomic, writeFilesAtomic } from "./atomic.ts";
export { fileResponse, PortError, serveLocal } from "./serve.ts";
export type { ServeOptions } from "./serve.ts";
export {
  decodeSafetensors,
  DTYPE_SIZES,
  encodeSafetensors,
  readSafetensors,
  SafetensorsError,
  toFloat32,
  toIntegers,
  writeSafetensors,
} from "./safetensors.ts";
export type { Dtype, SafetensorsFile, SafetensorsInput, SafetensorsTensor } from "./safetensors.ts";
export {
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
} from "./torch_weights.ts";
export type { TorchEntry, TorchWeightsSummary, WeightsRecord } from "./torch_weights.ts";
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
} from "./layers_model.ts";
export type { LayersFiles } from "./layers_model.ts";
export { LAYERS_FILES } from "./layers_files.ts";
export {
  decodeImage,
  encodeGrayPng,
  grayPngDataUri,
  ImageError,
  imageFormat,
  readImage,
} from "./image.ts";
export type { GrayImage, ImageFormat } from "./image.ts";
