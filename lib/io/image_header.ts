/**
 * What a PNG or JPEG file's header says before anything is decoded: its width and height (PNG's
 * IHDR, JPEG's SOF marker) and a JPEG's EXIF orientation, so that a picture too large to decode
 * is refused at once and a phone's sideways JPEG is turned upright. A header that cannot be read
 * gives null: the decoder then says what is wrong.
 *
 * @example
 * ```ts
 * import { encodeGrayPng } from "./image.ts";
 * import { pngSize } from "./image_header.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(pngSize(encodeGrayPng(new Uint8Array(6), 3, 2)), { width: 3, height: 2 });
 * ```
 * @module
 */

/** A picture's size as its header states it. */
export interface PixelSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Width and height from a PNG's IHDR chunk (bytes 16-23), or null when there is none. */
export function pngSize(bytes: Uint8Array): PixelSize | null {
  if (bytes.length < 24) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (new TextDecoder().decode(bytes.subarray(12, 16)) !== "IHDR") return null;
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

/** One JPEG marker segment: its marker byte and its payload (after the length field). */
interface Segment {
  marker: number;
  data: Uint8Array;
}

/** The marker segments before the first scan (SOS), where SOF and APP1 live. */
function* jpegSegments(bytes: Uint8Array): Generator<Segment> {
  let i = 2; // after SOI
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return;
    const marker = bytes[i + 1];
    if (marker === 0xff) { // fill byte
      i++;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return; // SOS, EOI
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    if (len < 2 || i + 2 + len > bytes.length) return;
    yield { marker, data: bytes.subarray(i + 4, i + 2 + len) };
    i += 2 + len;
  }
}

/** SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/**
 * Width and height from a JPEG's start-of-frame segment, or null when there is none before the
 * first scan.
 */
export function jpegSize(bytes: Uint8Array): PixelSize | null {
  for (const s of jpegSegments(bytes)) {
    if (isSof(s.marker) && s.data.length >= 5) {
      return { height: (s.data[1] << 8) | s.data[2], width: (s.data[3] << 8) | s.data[4] };
    }
  }
  return null;
}

/**
 * A JPEG's EXIF orientation (1-8; 1 upright), from tag 0x0112 of its APP1 segment's first IFD;
 * 1 when it has none or it cannot be read.
 */
export function jpegOrientation(bytes: Uint8Array): number {
  for (const s of jpegSegments(bytes)) {
    if (s.marker !== 0xe1 || new TextDecoder().decode(s.data.subarray(0, 6)) !== "Exif\0\0") {
      continue;
    }
    return tiffOrientation(s.data.subarray(6)) ?? 1;
  }
  return 1;
}

/** The orientation tag of a TIFF structure's first IFD, or null. */
function tiffOrientation(t: Uint8Array): number | null {
  if (t.length < 8) return null;
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return null;
  const ifd = v.getUint32(4, little);
  if (ifd + 2 > t.length) return null;
  const count = v.getUint16(ifd, little);
  for (let k = 0; k < count; k++) {
    const e = ifd + 2 + 12 * k;
    if (e + 12 > t.length) return null;
    if (v.getUint16(e, little) !== 0x0112) continue;
    const o = v.getUint16(e + 8, little);
    return o >= 1 && o <= 8 ? o : null;
  }
  return null;
}
