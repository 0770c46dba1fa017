/**
 * IDX decoding with validation: the file format of MNIST and Fashion-MNIST (Yann LeCun's "IDX":
 * a big-endian header of magic, dimensions, then unsigned bytes). Every failure is an
 * {@linkcode IdxError} whose one-line message names the file and what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeIdxImages, decodeIdxLabels } from "./idx.ts";
 * const img = new Uint8Array(16 + 2 * 28 * 28);
 * new DataView(img.buffer).setUint32(0, 2051); // magic, then count, rows, columns
 * new DataView(img.buffer).setUint32(4, 2);
 * new DataView(img.buffer).setUint32(8, 28);
 * new DataView(img.buffer).setUint32(12, 28);
 * const images = decodeIdxImages(img, "x-images-idx3-ubyte");
 * assert.deepEqual([images.count, images.height, images.width], [2, 28, 28]);
 * const lab = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 3, 9]);
 * assert.deepEqual([...decodeIdxLabels(lab, "x-labels-idx1-ubyte").labels], [3, 9]);
 * ```
 * @module
 */
import { UserError } from "../errors.ts";

/** Magic number of an IDX file of unsigned-byte images (3 dimensions). */
export const IDX_IMAGES_MAGIC = 2051;
/** Magic number of an IDX file of unsigned-byte labels (1 dimension). */
export const IDX_LABELS_MAGIC = 2049;

/** A malformed IDX file; the message is one line naming the file. Exit code 1. */
export class IdxError extends UserError {
  /** The error class name. */
  override name = "IdxError";
}

/** Decoded images: `count` images of `height` x `width` bytes, row-major, one after another. */
export interface IdxImages {
  /** The pixels, a view into the decoded bytes (no copy). */
  images: Uint8Array;
  /** Number of images. */
  count: number;
  /** Rows per image. */
  height: number;
  /** Columns per image. */
  width: number;
}

/** Decoded labels. */
export interface IdxLabels {
  /** The labels, a view into the decoded bytes (no copy). */
  labels: Uint8Array;
  /** Number of labels. */
  count: number;
}

/** What an image file must hold; the defaults are (Fashion-)MNIST's 28x28. */
export interface IdxImageExpect {
  /** Required rows per image (default 28). */
  height?: number;
  /** Required columns per image (default 28). */
  width?: number;
}

function header(bytes: Uint8Array, name: string, magic: number, dims: number): number[] {
  const size = 4 + 4 * dims;
  const short = () =>
    new IdxError(
      `${name}: ${bytes.length} bytes is shorter than the ${size}-byte IDX header; ` +
        "the file is truncated, delete it to fetch it again",
    );
  if (bytes.length < 4) throw short();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = view.getUint32(0); // DataView reads big-endian by default, as IDX is
  if (got !== magic) {
    throw new IdxError(
      `${name}: magic number ${got} (0x${got.toString(16).padStart(8, "0")}), expected ${magic}` +
        ` (${magic === IDX_IMAGES_MAGIC ? "unsigned-byte images" : "unsigned-byte labels"});` +
        " not an IDX file of that kind",
    );
  }
  if (bytes.length < size) throw short();
  return Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
}

function checkLength(name: string, have: number, count: number, itemBytes: number, what: string) {
  if (have !== count * itemBytes) {
    throw new IdxError(
      `${name}: header says ${count} ${what} (${count * itemBytes} bytes) but ${have} bytes ` +
        `follow the header (${have < count * itemBytes ? "truncated" : "padded"} file)`,
    );
  }
}

/**
 * Decodes an IDX3 unsigned-byte image file (magic 2051), checking the header, the image size
 * (28x28 unless told otherwise) and that the count equals what the length implies.
 *
 * @example
 * ```ts
 * const bytes = encodeIdxImages(new Uint8Array(2 * 28 * 28), 28, 28);
 * decodeIdxImages(bytes, "train-images-idx3-ubyte").count; // 2
 * ```
 */
export function decodeIdxImages(
  bytes: Uint8Array,
  name: string,
  expect: IdxImageExpect = {},
): IdxImages {
  const [count, height, width] = header(bytes, name, IDX_IMAGES_MAGIC, 3);
  const eh = expect.height ?? 28;
  const ew = expect.width ?? 28;
  if (height !== eh || width !== ew) {
    throw new IdxError(`${name}: images are ${height}x${width}, expected ${eh}x${ew}`);
  }
  checkLength(name, bytes.length - 16, count, height * width, "images");
  return { images: bytes.subarray(16), count, height, width };
}

/**
 * Decodes an IDX1 unsigned-byte label file (magic 2049), checking that the count equals what the
 * length implies and that every label is below `numClasses` (10 by default).
 *
 * @example
 * ```ts
 * const bytes = encodeIdxLabels(new Uint8Array([9, 2, 1]));
 * decodeIdxLabels(bytes, "t10k-labels-idx1-ubyte").count; // 3
 * ```
 */
export function decodeIdxLabels(bytes: Uint8Array, name: string, numClasses = 10): IdxLabels {
  const [count] = header(bytes, name, IDX_LABELS_MAGIC, 1);
  checkLength(name, bytes.length - 8, count, 1, "labels");
  const labels = bytes.subarray(8);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new IdxError(
        `${name}: label ${labels[i]} at index ${i} is outside 0-${numClasses - 1}`,
      );
    }
  }
  return { labels, count };
}

/**
 * Checks that an image file and a label file describe the same number of examples.
 *
 * @example
 * ```ts
 * const images = decodeIdxImages(encodeIdxImages(new Uint8Array(784), 28, 28), "images");
 * const labels = decodeIdxLabels(encodeIdxLabels(new Uint8Array([3])), "labels");
 * checkPair(images, labels, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
 * ```
 */
export function checkPair(
  images: IdxImages,
  labels: IdxLabels,
  imagesName: string,
  labelsName: string,
): void {
  if (images.count !== labels.count) {
    throw new IdxError(
      `${imagesName} has ${images.count} images but ${labelsName} has ${labels.count} labels; ` +
        "the two files belong to different sets",
    );
  }
}

/**
 * Encodes images as an IDX3 unsigned-byte file (for tests and for writing subsets).
 *
 * @example
 * ```ts
 * encodeIdxImages(new Uint8Array(2 * 28 * 28), 28, 28).length; // 16 + 1568
 * ```
 */
export function encodeIdxImages(pixels: Uint8Array, height: number, width: number): Uint8Array {
  const count = Math.floor(pixels.length / (height * width));
  const out = new Uint8Array(16 + pixels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, IDX_IMAGES_MAGIC);
  view.setUint32(4, count);
  view.setUint32(8, height);
  view.setUint32(12, width);
  out.set(pixels, 16);
  return out;
}

/**
 * Encodes labels as an IDX1 unsigned-byte file.
 *
 * @example
 * ```ts
 * encodeIdxLabels(new Uint8Array([3, 9])); // Uint8Array [0, 0, 8, 1, 0, 0, 0, 2, 3, 9]
 * ```
 */
export function encodeIdxLabels(labels: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + labels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, IDX_LABELS_MAGIC);
  view.setUint32(4, labels.length);
  out.set(labels, 8);
  return out;
}
