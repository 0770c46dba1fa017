/**
 * The safetensors file format (Hugging Face's, as written by `safetensors.torch.save_file`): an
 * 8-byte little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets}}`
 * with an optional `__metadata__` map of strings, then the raw little-endian tensor bytes.
 *
 * {@linkcode decodeSafetensors} validates everything before returning anything, so a damaged file
 * never loads in part: a truncated file, a header longer than the file, bad JSON, an unknown
 * dtype, a shape that disagrees with its byte range, and overlapping, out-of-range or
 * non-contiguous offsets each throw a {@linkcode SafetensorsError}, whose one-line message names
 * the file and the tensor. It is an {@linkcode InputError}, so the CLI prints the line and exits
 * 2.
 *
 * This module works on bytes only (no file IO), so the browser page uses it too; reading and
 * writing files is ./safetensors.ts, which re-exports everything here.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors, toFloat32 } from "./safetensors.ts";
 * const bytes = encodeSafetensors(
 *   [{ name: "w", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }],
 *   { format: "pt" },
 * );
 * const file = decodeSafetensors(bytes, "example.safetensors");
 * toFloat32(file.tensors.get("w")!, "w", "example.safetensors"); // Float32Array [1, 2]
 * ```
 * @module
 */
import { errorText, InputError } from "../errors.ts";

/** A malformed or unreadable safetensors file; an {@linkcode InputError}. */
export class SafetensorsError extends InputError {
  /** The error class name, for messages. */
  override name = "SafetensorsError";
}

/** A dtype name of the format, e.g. `F32` or `I64` (as the reference implementation names them). */
export type Dtype =
  | "BOOL"
  | "U8"
  | "I8"
  | "F8_E4M3"
  | "F8_E5M2"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "I64"
  | "U64"
  | "F64";

/** Bytes per element of each dtype the format defines. */
export const DTYPE_SIZES: Readonly<Record<Dtype, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
});

/** One tensor as stored: its dtype, its shape and its raw little-endian bytes. */
export interface SafetensorsTensor {
  /** The element type. */
  dtype: Dtype;
  /** The dimensions, row-major; `[]` for a scalar. */
  shape: number[];
  /** A view into the file's bytes (little-endian, row-major). */
  bytes: Uint8Array;
}

/** A decoded file: tensors in header order, and the optional string metadata. */
export interface SafetensorsFile {
  /** Tensors by name, in the header's order. */
  tensors: Map<string, SafetensorsTensor>;
  /** The header's `__metadata__`, or null when it has none. */
  metadata: Record<string, string> | null;
}

/** One tensor to write; `data` is a typed array in host order or raw little-endian bytes. */
export interface SafetensorsInput {
  /** The tensor's name (any string but `__metadata__`). */
  name: string;
  /** The element type `data` holds. */
  dtype: Dtype;
  /** The dimensions; their product times the dtype's size must be `data`'s byte length. */
  shape: readonly number[];
  /** The values (typed array) or their little-endian bytes (`Uint8Array`). */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

/** Headers larger than this are refused (the reference implementation's limit is 100 MB). */
const MAX_HEADER = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses each `size`-byte element in place (only needed on big-endian hosts). */
function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const HINT = "; is it a complete .safetensors file?";

/** A tensor's place in the data section, as the header gives it. */
interface Entry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses and validates a whole safetensors file held in memory. `source` names the file in error
 * messages. The returned tensors are views into `bytes`.
 */
export function decodeSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsFile {
  const fail = (what: string): never => {
    throw new SafetensorsError(`${source}: ${what}`);
  };
  const { header, dataStart } = readHeader(bytes, fail);
  const dataLen = bytes.length - dataStart;
  let metadata: Record<string, string> | null = null;
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name !== "__metadata__") {
      entries.push(readEntry(name, raw, dataLen, fail));
      continue;
    }
    if (
      typeof raw !== "object" || raw === null || Array.isArray(raw) ||
      !Object.values(raw).every((v) => typeof v === "string")
    ) {
      fail(`__metadata__ must be an object of strings`);
    }
    metadata = { ...(raw as Record<string, string>) };
  }
  checkTiling(entries, dataLen, fail);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      bytes: bytes.subarray(dataStart + e.begin, dataStart + e.end),
    });
  }
  return { tensors, metadata };
}

/** The 8-byte length and the JSON header after it. */
function readHeader(bytes: Uint8Array, fail: (what: string) => never) {
  if (bytes.length < 8) {
    fail(`truncated: ${bytes.length} bytes, shorter than the 8-byte header length${HINT}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    fail(`header length ${n} is longer than the ${bytes.length - 8} bytes after it${HINT}`);
  }
  const headerLen = Number(n);
  if (headerLen > MAX_HEADER) fail(`header length ${headerLen} exceeds ${MAX_HEADER} bytes`);
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLen),
    );
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${errorText(e)})${HINT}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail(`header is not a JSON object${HINT}`);
  }
  return { header: header as Record<string, unknown>, dataStart: 8 + headerLen };
}

/** One tensor's header entry, checked: dtype, shape, and offsets that fit the data and shape. */
function readEntry(name: string, raw: unknown, dataLen: number, fail: (w: string) => never) {
  const where = `tensor "${name}"`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    fail(`${where}: header entry is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_SIZES, dtype)) {
    const known = Object.keys(DTYPE_SIZES).join(", ");
    fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${known})`);
  }
  const isIndex = (v: unknown): v is number =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLen) {
    fail(
      `${where}: data_offsets [${begin}, ${end}] are out of range: the data is ${dataLen} bytes${HINT}`,
    );
  }
  const s = shape as number[];
  const want = numel(s) * DTYPE_SIZES[dtype as Dtype];
  if (end - begin !== want) {
    fail(
      `${where}: ${dtype} shape [${s.join(", ")}] needs ${want} bytes but data_offsets ` +
        `[${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype: dtype as Dtype, shape: s, begin, end };
}

/** The format requires the byte ranges to tile the data exactly: no overlap, no gap, no tail. */
function checkTiling(entries: Entry[], dataLen: number, fail: (what: string) => never): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0, prev = "";
  for (const e of sorted) {
    if (e.begin < pos) {
      fail(
        `tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] overlap those of "${prev}" ` +
          `(which end at ${pos})`,
      );
    }
    if (e.begin > pos) {
      fail(
        `tensor "${e.name}": data_offsets begin at ${e.begin} but the previous tensor ends at ` +
          `${pos}: the data is not contiguous`,
      );
    }
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataLen) {
    fail(`the tensors cover ${pos} bytes but ${dataLen} follow the header: trailing bytes`);
  }
}

/**
 * Encodes tensors (in the given order) and optional string metadata as a safetensors file. The
 * header is padded with spaces to a multiple of 8 bytes, as the reference writer does, so the
 * data stays aligned.
 */
export function encodeSafetensors(
  tensors: readonly SafetensorsInput[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (t.name === "__metadata__" || Object.hasOwn(header, t.name)) {
      throw new Error(`safetensors: duplicate or reserved tensor name ${t.name}`);
    }
    const size = DTYPE_SIZES[t.dtype];
    if (size === undefined) throw new Error(`safetensors: unknown dtype ${t.dtype}`);
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (raw.length !== numel(t.shape) * size) {
      throw new Error(
        `safetensors: ${t.name}: ${raw.length} bytes do not fit ${t.dtype} [${t.shape.join(", ")}]`,
      );
    }
    let le = raw;
    if (!LITTLE_ENDIAN && !(t.data instanceof Uint8Array)) {
      le = raw.slice();
      swapBytes(le, size);
    }
    header[t.name] = {
      dtype: t.dtype,
      shape: [...t.shape],
      data_offsets: [offset, offset + size * numel(t.shape)],
    };
    chunks.push(le);
    offset += le.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** Decodes an IEEE half (binary16) to a number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * The values of a floating-point tensor (F32, F64, F16 or BF16) as float32; another dtype is a
 * {@linkcode SafetensorsError} naming `name` in `source`.
 */
export function toFloat32(t: SafetensorsTensor, name: string, source = "<bytes>"): Float32Array {
  const n = numel(t.shape);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case "F32":
      if (LITTLE_ENDIAN) out.set(new Float32Array(t.bytes.slice().buffer));
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = halfToNumber(dv.getUint16(2 * i, true));
      return out;
    case "BF16": {
      // bfloat16 is the top half of a float32.
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      throw new SafetensorsError(
        `${source}: tensor "${name}" has dtype ${t.dtype}; expected a float dtype (F32)`,
      );
  }
}

/**
 * The values of an integer tensor (I64, I32, I16, I8, U8, U16, U32, U64) as numbers; a
 * non-integer dtype or a value beyond 2^53 is a {@linkcode SafetensorsError}.
 */
export function toIntegers(t: SafetensorsTensor, name: string, source = "<bytes>"): number[] {
  const size = DTYPE_SIZES[t.dtype];
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const read: Record<string, (i: number) => number | bigint> = {
    I64: (i) => dv.getBigInt64(i, true),
    U64: (i) => dv.getBigUint64(i, true),
    I32: (i) => dv.getInt32(i, true),
    U32: (i) => dv.getUint32(i, true),
    I16: (i) => dv.getInt16(i, true),
    U16: (i) => dv.getUint16(i, true),
    I8: (i) => dv.getInt8(i),
    U8: (i) => dv.getUint8(i),
  };
  const get = read[t.dtype];
  if (!get) {
    throw new SafetensorsError(
      `${source}: tensor "${name}" has dtype ${t.dtype}; expected an integer dtype (I64)`,
    );
  }
  const out: number[] = [];
  for (let i = 0; i < t.bytes.length; i += size) {
    const v = get(i);
    const x = Number(v);
    if (!Number.isSafeInteger(x)) {
      throw new SafetensorsError(`${source}: tensor "${name}" holds ${v}, beyond 2^53`);
    }
    out.push(x);
  }
  return out;
}
