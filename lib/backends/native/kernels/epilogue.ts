/**
 * Reads the epilogue a fused kernel asks for (tfjs' `bias` input and `activation` attribute).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { epilogueOf } from "./epilogue.ts";
 * import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
 * assert.deepEqual(epilogueOf(new MathBackendCPU(), undefined, 4, { activation: "relu" }), { bias: null, relu: true });
 * ```
 * @module
 */
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type { Epilogue } from "../ops/epilogue.ts";
import { f32, type Info } from "./kernel.ts";

/** The epilogue a fused kernel's attributes ask for, or null when this backend has none for it. */
export function epilogueOf(
  backend: MathBackendCPU,
  bias: Info | undefined,
  channels: number,
  // deno-lint-ignore no-explicit-any
  attrs: any,
): Epilogue | null {
  if (!bias && !attrs.activation) return { bias: null, relu: false };
  const act = attrs.activation ?? "linear";
  if (act !== "linear" && act !== "relu") return null;
  let b: Float32Array | null = null;
  if (bias) {
    b = f32(backend, bias);
    if (!b || (b.length !== channels)) return null;
  }
  return { bias: b, relu: act === "relu" };
}
