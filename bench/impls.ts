/**
 * Which implementations a bench invocation measures. Named in `--impls`, each runs (one that
 * cannot, such as PyTorch without python3, gets a row that says why). Without `--impls`, the
 * default leaves out what cannot finish in time on a CPU-only machine and says so: tfjs' pure
 * JavaScript `cpu` backend (more than a minute per ResNet-18 step on our 2-core machine: it did
 * not finish one step in 150 s) and WebGPU on a software adapter (llvmpipe: about 90 s per step),
 * as well as what is not here (no WebGPU adapter, no PyTorch). So `deno task bench` with no flags
 * measures native, torch and torch-cl at 28 and 96 pixels: 249 s on our busy 2-core machine.
 *
 * @example
 * ```ts
 * import { defaultImpls } from "./impls.ts";
 * const { impls, skipped } = defaultImpls({ webgpu: "software adapter llvmpipe", torch: true });
 * impls; // ["native", "torch", "torch-cl"]
 * skipped[0]; // "cpu (pure JS, > 1 min per ResNet-18 step here; --impls cpu to run it)"
 * ```
 * @module
 */
import { type AdapterProbe, formatAdapter } from "../lib/backends/webgpu.ts";
import { type Impl, IMPLS, isTorch } from "./row.ts";

/** What the default run needs to know about this machine. */
export interface Availability {
  /** Why WebGPU is left out (a software adapter, no adapter), or null when it can run. */
  webgpu: string | null;
  /** Whether a python3 with PyTorch was found. */
  torch: boolean;
}

/** The default's implementations, and one line for each left out: what, why, how to ask. */
export interface ImplChoice {
  impls: Impl[];
  skipped: string[];
}

/**
 * Why the default run leaves WebGPU out, from an adapter probe (`probeAdapter()`), or null for a
 * hardware adapter.
 *
 * @example
 * ```ts
 * import { webgpuSkipReason } from "./impls.ts";
 * webgpuSkipReason({ adapter: null, gpu: null, reason: "no WebGPU adapter was found" });
 * // "no WebGPU adapter was found"
 * ```
 */
export function webgpuSkipReason(probe: AdapterProbe): string | null {
  if (!probe.adapter) return probe.reason;
  if (!probe.adapter.software) return null;
  return `software adapter ${formatAdapter(probe.adapter)}, about 90 s per ResNet-18 step here`;
}

/**
 * The implementations of a run without `--impls`, in {@linkcode IMPLS} order.
 *
 * @example
 * ```ts
 * import { defaultImpls } from "./impls.ts";
 * defaultImpls({ webgpu: null, torch: false }).impls; // ["native", "webgpu"]
 * ```
 */
export function defaultImpls(a: Availability): ImplChoice {
  const impls: Impl[] = [];
  const skipped: string[] = [];
  const hint = (i: Impl) => `--impls ${i} to run it`;
  for (const i of IMPLS) {
    if (i === "cpu") skipped.push(`cpu (pure JS, > 1 min per ResNet-18 step here; ${hint(i)})`);
    else if (i === "webgpu" && a.webgpu) skipped.push(`webgpu (${a.webgpu}; ${hint(i)})`);
    else if (isTorch(i) && !a.torch) {
      skipped.push(`${i} (no python3 with PyTorch: apt-get install python3-torch, or --python)`);
    } else impls.push(i);
  }
  return { impls, skipped };
}
