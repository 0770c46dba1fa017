/**
 * The `native` backend on each of its kernel libraries, registered under its own name
 * (`native-dnnl`, `native-blas`), so that one test file checks both; a library that does not load
 * here is skipped with its reason printed.
 * @module
 */
import { registerNativeBackend } from "../../lib/backends/native/backend.ts";

/** A registered variant of the native backend. */
export interface NativeVariant {
  /** The tfjs backend name. */
  name: string;
  /** Whether it registered (its library loads here). */
  ok: boolean;
}

/** Registers `native-dnnl` (oneDNN) and `native-blas` (OpenBLAS). */
export async function nativeVariants(): Promise<NativeVariant[]> {
  const out: NativeVariant[] = [];
  for (const [name, choice] of [["native-dnnl", "dnnl"], ["native-blas", "blas"]] as const) {
    const r = await registerNativeBackend({ name, choice });
    if (!r.ok) console.log(`${name} tests skipped: ${r.reason}`);
    out.push({ name, ok: r.ok });
  }
  return out;
}

/** `Deno.test` for one variant: its name before each test's, skipped when it did not load. */
export function variantTest(v: NativeVariant) {
  return (def: Deno.TestDefinition | string, fn?: () => void | Promise<void>) => {
    const d: Deno.TestDefinition = typeof def === "string" ? { name: def, fn: fn! } : def;
    Deno.test({ ...d, name: `${v.name}: ${d.name}`, ignore: d.ignore || !v.ok });
  };
}
