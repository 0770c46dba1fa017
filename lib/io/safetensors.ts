/**
 * safetensors files on disk: {@linkcode readSafetensors} and {@linkcode writeSafetensors} (atomic),
 * over the byte codec of ./safetensors_codec.ts, whose exports this module re-exports.
 *
 * @example
 * ```ts
 * import { readSafetensors, toFloat32, writeSafetensors } from "./safetensors.ts";
 * await writeSafetensors("/tmp/w.safetensors", [
 *   { name: "w", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
 * ]);
 * const file = await readSafetensors("/tmp/w.safetensors");
 * toFloat32(file.tensors.get("w")!, "w"); // Float32Array [1, 2]
 * ```
 * @module
 */
import { writeFileAtomic } from "./atomic.ts";
import { errorText } from "../errors.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type SafetensorsFile,
  type SafetensorsInput,
} from "./safetensors_codec.ts";

export * from "./safetensors_codec.ts";

/**
 * Reads and validates a safetensors file; a missing or unreadable file is a
 * {@linkcode SafetensorsError} too.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : errorText(e);
    throw new SafetensorsError(`${path}: cannot read weights file: ${why}`);
  }
  return decodeSafetensors(bytes, path);
}

/**
 * Encodes and writes a safetensors file atomically: to a temporary file beside `path`, then
 * renamed over it, so readers never see a half-written file.
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsInput[],
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
