/**
 * PNG and JPEG pictures as greyscale pixels, decoded by npm's `fast-png` and `jpeg-js` (not by
 * hand), and greyscale pixels encoded as PNG (for `data:` URIs in SVG and HTML). Any bit depth and
 * colour type: colour becomes luma (ITU-R BT.601, PIL's `convert("L")`), transparency is laid
 * over white, and a JPEG is turned upright by its EXIF orientation. A picture over
 * {@linkcode MAX_IMAGE_PIXELS} is refused from its header, before decoding. A file that is not a
 * whole PNG or JPEG (text, a truncated file, a 0x0 image, another format) is an
 * {@linkcode ImageError} whose one-line message names the file.
 *
 * @example
 * ```ts
 * import { decodeImage, encodeGrayPng } from "./image.ts";
 * import assert from "node:assert/strict";
 * const png = encodeGrayPng(new Uint8Array(28 * 28).fill(255), 28, 28);
 * const img = decodeImage(png, "white.png");
 * assert.deepEqual([img.width, img.height, img.pixels[0]], [28, 28, 255]);
 * ```
 * @module
 */
import { convertIndexedToRgb, decode as decodePng, encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { errorText, InputError } from "../errors.ts";
import { jpegOrientation, jpegSize, type PixelSize, pngSize } from "./image_header.ts";
import { orient } from "./orientation.ts";

/** A picture that cannot be read (not PNG or JPEG, truncated, no pixels); an {@linkcode InputError}. */
export class ImageError extends InputError {
  /** Always `"ImageError"`. */
  override name = "ImageError";
}

/**
 * The most pixels a picture may have: 50 MP, above a 48 MP phone's 8000x6000. Checked from the
 * header before decoding, so a small file that would decompress to gigabytes is refused at once.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

// jpeg-js' own cap (512 MB by default) refuses 48 MP. It counts 6 bytes a pixel per component
// (blocks, lines, samples) and 3 for the RGB output: 27 for CMYK, the most components.
const JPEG_MEMORY_MB = Math.ceil((MAX_IMAGE_PIXELS * 28) / 2 ** 20);

/** Refuses a picture whose header states more than {@linkcode MAX_IMAGE_PIXELS}. */
function checkPixels(size: PixelSize | null, name: string): void {
  if (!size || size.width * size.height <= MAX_IMAGE_PIXELS) return;
  const mp = (size.width * size.height / 1e6).toFixed(0);
  throw new ImageError(
    `${name} is ${size.width}x${size.height} (${mp} MP): pictures up to ` +
      `${MAX_IMAGE_PIXELS / 1e6} MP are read; scale it down`,
  );
}

/** A greyscale picture: `width * height` pixels 0-255, row after row. */
export interface GrayImage {
  /** Width in pixels (at least 1). */
  width: number;
  /** Height in pixels (at least 1). */
  height: number;
  /** Luma 0-255 (0 black), row-major. */
  pixels: Uint8Array;
}

/** Formats recognised by their first bytes; only "png" and "jpeg" are decoded. */
export type ImageFormat = "png" | "jpeg" | "gif" | "bmp" | "webp" | "tiff";

const SIGNATURES: [ImageFormat, number[]][] = [
  ["png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["jpeg", [0xff, 0xd8, 0xff]],
  ["gif", [0x47, 0x49, 0x46, 0x38]],
  ["bmp", [0x42, 0x4d]],
  ["tiff", [0x49, 0x49, 0x2a, 0x00]],
  ["tiff", [0x4d, 0x4d, 0x00, 0x2a]],
];

/**
 * The format of `bytes` by its signature, or null when it is none of {@linkcode ImageFormat}.
 *
 * @example
 * ```ts
 * import { imageFormat } from "./image.ts";
 * imageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // "jpeg"
 * ```
 */
export function imageFormat(bytes: Uint8Array): ImageFormat | null {
  const text = new TextDecoder().decode(bytes.subarray(0, 12));
  if (text.startsWith("RIFF") && text.slice(8, 12) === "WEBP") return "webp";
  const found = SIGNATURES.find(([, sig]) => sig.every((b, i) => bytes[i] === b));
  return found ? found[0] : null;
}

/** Luma of 0-255 colour components (BT.601, as PIL's `convert("L")`). */
const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

/**
 * Greyscale pixels of interleaved samples with `channels` per pixel (1 grey, 2 grey + alpha,
 * 3 RGB, 4 RGBA) whose largest value is `max`; alpha is laid over white.
 */
function toGray(data: ArrayLike<number>, n: number, channels: number, max: number): Uint8Array {
  const out = new Uint8Array(n), scale = 255 / max;
  for (let i = 0; i < n; i++) {
    const o = i * channels;
    const grey = channels >= 3 ? luma(data[o], data[o + 1], data[o + 2]) : data[o];
    const alpha = channels === 2 || channels === 4 ? data[o + channels - 1] / max : 1;
    out[i] = Math.round((grey * alpha + max * (1 - alpha)) * scale);
  }
  return out;
}

/** Samples of 1, 2 or 4 bits, packed from the high bit with each row starting on a byte, as bytes. */
function unpackBits(data: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height), rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth, byte = data[y * rowBytes + (bit >> 3)];
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/** Decodes a PNG of any colour type and bit depth. */
function pngToGray(bytes: Uint8Array, name: string): GrayImage {
  checkPixels(pngSize(bytes), name);
  let png;
  try {
    png = decodePng(bytes);
  } catch (e) {
    throw new ImageError(`${name} is a truncated or corrupt PNG (${detail(e)}): re-save it`);
  }
  const { width, height, depth } = png;
  if (!(width > 0 && height > 0)) throw noPixels(name, width, height);
  const n = width * height;
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    return { width, height, pixels: toGray(rgb, n, rgb.length / n, 255) };
  }
  const channels = png.channels;
  if (depth < 8) {
    const grey = unpackBits(png.data as Uint8Array, width, height, depth);
    return { width, height, pixels: toGray(grey, n, 1, (1 << depth) - 1) };
  }
  if (png.data.length < n * channels) {
    throw new ImageError(`${name} is a truncated or corrupt PNG (too few pixels): re-save it`);
  }
  return { width, height, pixels: toGray(png.data, n, channels, depth === 16 ? 65535 : 255) };
}

/** Decodes a baseline or progressive JPEG, turned upright by its EXIF orientation. */
function jpegToGray(bytes: Uint8Array, name: string): GrayImage {
  checkPixels(jpegSize(bytes), name);
  let img;
  try {
    img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: JPEG_MEMORY_MB,
    });
  } catch (e) {
    // A limit hit here is one the header did not show (a second frame): not a corrupt file.
    if (/limit exceeded/.test(errorText(e))) {
      throw new ImageError(
        `${name}: ${detail(e)} (pictures up to ${MAX_IMAGE_PIXELS / 1e6} MP are read): ` +
          "scale it down",
      );
    }
    throw new ImageError(`${name} is a truncated or corrupt JPEG (${detail(e)}): re-save it`);
  }
  if (!(img.width > 0 && img.height > 0)) throw noPixels(name, img.width, img.height);
  const n = img.width * img.height;
  const gray = { width: img.width, height: img.height, pixels: toGray(img.data, n, 3, 255) };
  return orient(gray, jpegOrientation(bytes));
}

/** A decoder's message without trailing punctuation ("Error while decompressing the data:"). */
const detail = (e: unknown) => errorText(e).replace(/[\s:.]+$/, "");

const noPixels = (name: string, w: number, h: number) =>
  new ImageError(`${name} is a ${w}x${h} image: it has no pixels to predict on`);

/**
 * Decodes the bytes of a PNG or JPEG file to greyscale; `name` (the file) goes into the messages.
 * Throws {@linkcode ImageError} for anything else.
 *
 * @example
 * ```ts
 * import { decodeImage, encodeGrayPng } from "./image.ts";
 * import assert from "node:assert/strict";
 * const img = decodeImage(encodeGrayPng(new Uint8Array([0, 64, 128, 255]), 2, 2), "tiny.png");
 * assert.deepEqual([img.width, img.height, [...img.pixels]], [2, 2, [0, 64, 128, 255]]);
 * ```
 */
export function decodeImage(bytes: Uint8Array, name: string): GrayImage {
  const format = imageFormat(bytes);
  if (format === "png") return pngToGray(bytes, name);
  if (format === "jpeg") return jpegToGray(bytes, name);
  if (format) {
    throw new ImageError(
      `${name} is a ${format.toUpperCase()} image: only PNG and JPEG are read; convert it to PNG`,
    );
  }
  throw new ImageError(
    `${name} is not a PNG or JPEG image (${bytes.length ? "unknown format" : "empty file"}): ` +
      "give a .png or .jpg picture",
  );
}

/**
 * Reads and decodes the picture at `path`; a missing file, a directory or an unreadable file is an
 * {@linkcode ImageError} naming it.
 *
 * @example
 * ```ts ignore
 * import { readImage } from "./image.ts";
 * const img = await readImage("shirt.jpg");
 * ```
 */
export async function readImage(path: string): Promise<GrayImage> {
  const st = await Deno.stat(path).catch(() => null);
  if (!st) throw new ImageError(`${path}: no such file`);
  if (st.isDirectory) throw new ImageError(`${path} is a directory: give PNG or JPEG files`);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new ImageError(`${path} cannot be read: ${errorText(e)}`);
  }
  return decodeImage(bytes, path);
}

/**
 * Encodes 8-bit greyscale pixels (row-major) as a PNG file's bytes.
 *
 * @example
 * ```ts
 * import { encodeGrayPng } from "./image.ts";
 * encodeGrayPng(new Uint8Array(784), 28, 28).subarray(1, 4); // "PNG" in ASCII: [80, 78, 71]
 * ```
 */
export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng({ width, height, data: pixels, channels: 1, depth: 8 });
}

/**
 * A `data:image/png;base64,…` URI of greyscale pixels, for `<img>` and SVG `<image>`.
 *
 * @example
 * ```ts
 * import { grayPngDataUri } from "./image.ts";
 * grayPngDataUri(new Uint8Array(4), 2, 2).startsWith("data:image/png;base64,"); // true
 * ```
 */
export function grayPngDataUri(pixels: Uint8Array, width: number, height: number): string {
  const png = encodeGrayPng(pixels, width, height);
  let bin = "";
  for (let i = 0; i < png.length; i += 0x8000) {
    bin += String.fromCharCode(...png.subarray(i, i + 0x8000));
  }
  return `data:image/png;base64,${btoa(bin)}`;
}
