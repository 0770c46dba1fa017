/**
 * An IDX image-classification dataset as a table (file names, SHA-256 of each file's IDX bytes,
 * mirrors, class names, image size), Fashion-MNIST's table, the verification of a file's bytes
 * against it (gunzip with `DecompressionStream`, SHA-256 with Web Crypto: both in Deno and in
 * browsers) and the decoding of the four verified files into training and test
 * {@linkcode Split}s. Nothing here touches files or the network, so the CLI
 * (lib/data/fashion_mnist.ts) and the browser page (web/) share it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLASS_NAMES, decodeSplits, FASHION_MNIST } from "./idx_dataset.ts";
 * assert.equal(FASHION_MNIST.testLabels.name, "t10k-labels-idx1-ubyte.gz");
 * assert.equal(CLASS_NAMES[9], "Ankle boot");
 * // idx: the four decompressed, verified files in table order
 * // const { train, test } = decodeSplits(FASHION_MNIST, idx);
 * ```
 * @module
 */
import { checkPair, decodeIdxImages, decodeIdxLabels } from "./idx.ts";
import { errorText, InputError } from "../errors.ts";

/** One file of an IDX dataset: its name (as on the mirrors) and the SHA-256 of its IDX bytes. */
export interface IdxFileSpec {
  /** File name on mirrors and in directories, e.g. `train-images-idx3-ubyte.gz`. */
  name: string;
  /** Lower-case hex SHA-256 of the decompressed IDX bytes (independent of the gzip wrapper). */
  sha256: string;
}

/** The table describing an IDX image-classification dataset and where to get it. */
export interface IdxDatasetSpec {
  /** Human name, e.g. "Fashion-MNIST". */
  title: string;
  /** The training images (IDX3). */
  trainImages: IdxFileSpec;
  /** The training labels (IDX1). */
  trainLabels: IdxFileSpec;
  /** The test images (IDX3). */
  testImages: IdxFileSpec;
  /** The test labels (IDX1). */
  testLabels: IdxFileSpec;
  /** Base URLs tried in order; a file's URL is base + name. */
  mirrors: readonly string[];
  /** Local directories that may hold the files (checked in place, copied into the cache). */
  sourceDirs: readonly string[];
  /** Class names, index = label. */
  classNames: readonly string[];
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** How a user can install the files, for the error message. */
  installHint: string;
}

/** Fashion-MNIST's class names, index = label. */
export const CLASS_NAMES: readonly string[] = Object.freeze([
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
]);

/** Fashion-MNIST: files, checksums, the official mirrors and Debian's directory. */
export const FASHION_MNIST: IdxDatasetSpec = Object.freeze({
  title: "Fashion-MNIST",
  trainImages: {
    name: "train-images-idx3-ubyte.gz",
    sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
  },
  trainLabels: {
    name: "train-labels-idx1-ubyte.gz",
    sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
  },
  testImages: {
    name: "t10k-images-idx3-ubyte.gz",
    sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
  },
  testLabels: {
    name: "t10k-labels-idx1-ubyte.gz",
    sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
  },
  mirrors: Object.freeze([
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
  ]),
  sourceDirs: Object.freeze(["/usr/share/datasets/fashion-mnist"]),
  classNames: CLASS_NAMES,
  height: 28,
  width: 28,
  installHint: "apt-get install dataset-fashion-mnist",
});

/** One split: `count` images of `height` x `width` uint8 pixels (row-major) and their labels. */
export interface Split {
  /** `count * height * width` pixels 0-255, image after image, row-major. */
  images: Uint8Array;
  /** `count` labels 0-9. */
  labels: Uint8Array;
  /** Number of examples. */
  count: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
}

/**
 * Lower-case hex SHA-256 of `bytes` (Web Crypto).
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./idx_dataset.ts";
 * await sha256Hex(new TextEncoder().encode("abc")); // "ba7816bf8f01cfea414140de5dae2223b00361a3..."
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The IDX bytes of a file's contents: gunzipped (`DecompressionStream`) when gzip-wrapped, else as
 * they are. Corrupt or truncated gzip data is an {@linkcode InputError}: `bad gzip data (why)`,
 * after `source` and a colon when given.
 *
 * @example
 * ```ts
 * import { idxBytes } from "./idx_dataset.ts";
 * const idx = await idxBytes(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 0])); // not gzipped: as it is
 * ```
 */
export async function idxBytes(raw: Uint8Array, source?: string): Promise<Uint8Array> {
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  try {
    const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new InputError(`${source ? `${source}: ` : ""}bad gzip data (${errorText(e)})`);
  }
}

/** The four files of a table in order: train images, train labels, test images, test labels. */
export function tableFiles(table: IdxDatasetSpec): IdxFileSpec[] {
  return [table.trainImages, table.trainLabels, table.testImages, table.testLabels];
}

/**
 * Decodes the four verified IDX files (decompressed, in {@linkcode tableFiles} order) into the
 * training and test splits, checking sizes, labels and that images and labels pair up; a bad file
 * is an `IdxError` naming it.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * const { train, test } = decodeSplits(FASHION_MNIST, [trainImages, trainLabels, testImages, testLabels]);
 * assert.equal(train.count, 60000);
 * assert.equal(test.count, 10000);
 * ```
 */
export function decodeSplits(
  table: IdxDatasetSpec,
  idx: readonly Uint8Array[],
): { train: Split; test: Split } {
  const specs = tableFiles(table);
  const shape = { height: table.height, width: table.width };
  const n = table.classNames.length;
  const split = (i: number, l: number): Split => {
    const imgs = decodeIdxImages(idx[i], specs[i].name, shape);
    const labs = decodeIdxLabels(idx[l], specs[l].name, n);
    checkPair(imgs, labs, specs[i].name, specs[l].name);
    return { images: imgs.images, labels: labs.labels, ...shape, count: imgs.count };
  };
  return { train: split(0, 1), test: split(2, 3) };
}
