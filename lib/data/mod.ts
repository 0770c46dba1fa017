/**
 * The data (`@resnet-d2l/data`, lib/data/): IDX files, the dataset table and its downloads with
 * SHA-256 checks, Fashion-MNIST's cache, seeded batches resized on the device, augmentation,
 * a photo prepared as a Fashion-MNIST image, and the seeded random numbers they use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLASS_NAMES, decodeIdxLabels, encodeIdxLabels, epochOrder } from "./mod.ts";
 * const { labels } = decodeIdxLabels(encodeIdxLabels(new Uint8Array([0, 9])), "labels");
 * assert.deepEqual([...labels].map((l) => CLASS_NAMES[l]), ["T-shirt/top", "Ankle boot"]);
 * assert.deepEqual([...epochOrder(4, 0, 0)].sort(), [0, 1, 2, 3]); // a seeded shuffle
 * ```
 * @module
 */
export {
  checkPair,
  decodeIdxImages,
  decodeIdxLabels,
  encodeIdxImages,
  encodeIdxLabels,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  IdxError,
} from "./idx.ts";
export type { IdxImageExpect, IdxImages, IdxLabels } from "./idx.ts";
export { download, DOWNLOAD_DEFAULTS, DownloadError, removeStaleTemps } from "./download.ts";
export type { DownloadOptions, DownloadProgress, DownloadResult } from "./download.ts";
export {
  CLASS_NAMES,
  dataReport,
  defaultDataDir,
  FASHION_MNIST,
  formatDataReport,
  loadFashionMnist,
} from "./fashion_mnist.ts";
export type {
  DataReport,
  FileReport,
  IdxDatasetSpec,
  IdxFileSpec,
  LoadedDataset,
  LoadOptions,
  Split,
} from "./fashion_mnist.ts";
export { decodeSplits, idxBytes, sha256Hex, tableFiles } from "./idx_dataset.ts";
export { batchCount, batches, epochOrder } from "./batches.ts";
export type { Batch, BatchOptions } from "./batches.ts";
export { AUGMENTATIONS, augmentBatch, augmentDraws, cropPadding, ERASE } from "./augment.ts";
export type { Augmentation, AugmentDraws, AugmentOptions, EraseBox } from "./augment.ts";
export { borderMedian, FASHION_MNIST_SIZE, INVERT_MODES, toFashionMnist } from "./prepare_image.ts";
export type { InvertMode, PreparedImage } from "./prepare_image.ts";
export { mixSeed, mulberry32 } from "../rng.ts";
