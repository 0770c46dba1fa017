/**
 * What this machine can run: Deno, V8, TypeScript and tfjs versions, which backends work here, and
 * the WebGPU adapter (vendor, architecture, description, software or hardware, limits). Behind
 * `deno task info [--json]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectInfo, formatInfo } from "./info.ts";
 * const info = await collectInfo();
 * assert.match(formatInfo(info), /^deno .*\nbackends:\n  webgpu /s);
 * if (/llvmpipe/.test(info.adapter?.description ?? "")) assert.equal(info.adapter?.software, true);
 * ```
 * @module
 */
import { TFJS_VERSIONS as tfjsVersions } from "./setup.ts";
import { loadNative } from "./choose.ts";
import type { NativeRegistration } from "./native/backend.ts";
import {
  type AdapterDetails,
  formatAdapter,
  NO_ADAPTER_FIX,
  probeAdapter,
  SOFTWARE_ADAPTER_NOTE,
} from "./webgpu.ts";

/**
 * The CPU's model name (Linux's /proc/cpuinfo), else the architecture.
 *
 * @example
 * ```ts
 * import { cpuModel } from "./info.ts";
 * cpuModel(); // e.g. "AMD EPYC"
 * ```
 */
export function cpuModel(): string {
  try {
    const m = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return Deno.build.arch;
}

/** Whether one backend can run here, and what it runs on or why not. */
export interface BackendAvailability {
  /** The backend's name, as `--backend` takes it. */
  name: "webgpu" | "native" | "cpu";
  /** Whether the backend can run on this machine. */
  available: boolean;
  /** The adapter (webgpu), the kernel library: oneDNN or BLAS (native), or why it is unavailable. */
  detail: string;
}

/** Everything `deno task info` reports. */
export interface MachineInfo {
  /** Deno's version (`Deno.version.deno`). */
  deno: string;
  /** V8's version (`Deno.version.v8`). */
  v8: string;
  /** The TypeScript version built into Deno (`Deno.version.typescript`). */
  typescript: string;
  /** tfjs package versions. */
  tfjs: { core: string; cpu: string; webgpu: string; layers: string };
  /** One entry per backend: webgpu, native, cpu. */
  backends: BackendAvailability[];
  /** The WebGPU adapter, or null (see the webgpu entry of `backends` for why). */
  adapter: AdapterDetails | null;
  /** oneDNN as the native backend loaded it (version, ISA, threads, path), or null. */
  dnnl: { version: string; isa: string; threads: number; path: string } | null;
}

/** The version of an npm package from its resolved URL (e.g. `...webgpu@4.22.0/...`). */
function versionOf(specifier: string): string {
  try {
    const m = /tfjs-backend-webgpu[@/](\d+\.\d+\.\d+[^/]*)/.exec(import.meta.resolve(specifier));
    return m ? m[1] : "unknown";
  } catch {
    return "unknown";
  }
}

/** Probes the machine; never throws for a missing adapter or library. */
export async function collectInfo(): Promise<MachineInfo> {
  const probe = await probeAdapter();
  const native = await loadNative();
  const a = probe.adapter;
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    tfjs: {
      core: tfjsVersions["tfjs-core"],
      cpu: tfjsVersions["tfjs-backend-cpu"],
      webgpu: versionOf("@tensorflow/tfjs-backend-webgpu"),
      layers: tfjsVersions["tfjs-layers"],
    },
    backends: [
      {
        name: "webgpu",
        available: a !== null,
        detail: a
          ? `${formatAdapter(a)}${a.software ? `: ${SOFTWARE_ADAPTER_NOTE}` : ": a hardware GPU"}`
          : `${probe.reason}; ${NO_ADAPTER_FIX}`,
      },
      {
        name: "native",
        available: native.ok,
        detail: nativeDetail(native),
      },
      { name: "cpu", available: true, detail: "tfjs pure-JS kernels" },
    ],
    adapter: a,
    dnnl: native.dnnl ?? null,
  };
}

/** The native backend's libraries, or why it is unavailable. */
function nativeDetail(n: NativeRegistration): string {
  if (!n.ok) return n.reason ?? "unavailable";
  const d = n.dnnl;
  if (d) return `oneDNN ${d.version} (ISA ${d.isa}, ${d.threads} threads, ${d.path})`;
  return `${n.library ?? "?"}; no oneDNN: ${n.dnnlReason ?? "?"}`;
}

const MiB = 1024 * 1024;
function bytes(n: number): string {
  return n >= MiB ? `${Math.round(n / MiB)} MiB (${n} bytes)` : `${n} bytes`;
}

/** The human-readable report. */
export function formatInfo(i: MachineInfo): string {
  const lines = [
    `deno ${i.deno}, v8 ${i.v8}, typescript ${i.typescript}`,
    `tfjs-core ${i.tfjs.core}, tfjs-backend-cpu ${i.tfjs.cpu}, tfjs-backend-webgpu ${i.tfjs.webgpu}, ` +
    `tfjs-layers ${i.tfjs.layers}`,
    "backends:",
    ...i.backends.map((b) => `  ${b.name.padEnd(7)} ${b.available ? "yes" : "no "}  ${b.detail}`),
  ];
  const a = i.adapter;
  if (a) {
    lines.push(
      "webgpu adapter:",
      `  vendor         ${a.vendor || "(not reported)"}`,
      `  architecture   ${a.architecture || "(not reported)"}`,
      `  description    ${a.description || "(not reported)"}`,
      `  kind           ${a.software ? "software (a CPU emulating a GPU)" : "hardware"}`,
      `  api            ${a.api} (set DENO_WEBGPU_BACKEND=vulkan|gl to choose)`,
      `  max buffer size                    ${bytes(a.limits.maxBufferSize)}`,
      `  max storage buffer binding size    ${bytes(a.limits.maxStorageBufferBindingSize)}`,
      `  max workgroup storage              ${bytes(a.limits.maxComputeWorkgroupStorageSize)}`,
      `  max invocations per workgroup      ${a.limits.maxComputeInvocationsPerWorkgroup}`,
      `  max workgroups per dimension       ${a.limits.maxComputeWorkgroupsPerDimension}`,
      `  features       ${a.features.join(", ") || "(none)"}`,
    );
  }
  return lines.join("\n");
}
