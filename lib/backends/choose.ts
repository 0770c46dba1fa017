/**
 * Chooses and initialises the tfjs backend every computing subcommand runs on, and says which in
 * one line on stderr: WebGPU (Deno's native WebGPU), native (BLAS-backed kernels) or cpu (tfjs'
 * pure-JS kernels). `auto` takes WebGPU on a hardware adapter, else native when its library
 * loads, else WebGPU on a software adapter, else cpu.
 *
 * @example
 * ```ts
 * import { initBackend } from "./choose.ts";
 * const info = await initBackend("cpu", { announce: false });
 * console.log(info.summary); // "backend: cpu (tfjs pure-JS kernels); requested"
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { UserError } from "../../cli/options.ts";
import {
  type AdapterDetails,
  formatAdapter,
  NO_ADAPTER_FIX,
  probeAdapter,
  registerWebGPU,
  SOFTWARE_ADAPTER_NOTE,
} from "./webgpu.ts";

/** Backends a user can ask for. */
export const BACKENDS = ["auto", "webgpu", "cpu", "native"] as const;
/** A backend a user can ask for. */
export type BackendName = typeof BACKENDS[number];

/** What runs, for the user and for run records. */
export interface BackendInfo {
  /** The tfjs backend name that is active: "webgpu", "native" or "cpu". */
  name: string;
  /** One line: the backend, its adapter or library, and why it was chosen. */
  summary: string;
  /** Why it was chosen ("requested", or why `auto` chose it). */
  reason: string;
  /** The WebGPU adapter when the backend is WebGPU, else null. */
  adapter: AdapterDetails | null;
  /** The BLAS library when the backend is native, else null. */
  library: string | null;
}

/** Options of {@linkcode initBackend}. */
export interface InitOptions {
  /** Print the one-line summary on stderr (default true). */
  announce?: boolean;
}

/** What the native backend module reports (lib/native/backend.ts). */
export interface NativeStatus {
  /** Whether the `native` backend is registered and usable. */
  ok: boolean;
  /** The BLAS library that was opened, when `ok`. */
  library?: string;
  /** Why the backend is unavailable, in one line, when not `ok`. */
  reason?: string;
}

let nativeStatus: Promise<NativeStatus> | null = null;

/**
 * Loads and registers the native BLAS backend once; never throws. The module is imported lazily
 * so that the cpu and WebGPU paths do not depend on it.
 */
export function loadNative(): Promise<NativeStatus> {
  nativeStatus ??= (async () => {
    try {
      const mod = await import("./native/backend.ts");
      return await mod.registerNativeBackend();
    } catch (e) {
      const m = e instanceof Error ? e.message.split("\n")[0] : String(e);
      return { ok: false, reason: `the native backend did not load: ${m}` };
    }
  })();
  return nativeStatus;
}

async function activate(name: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    ok = false;
    console.error(e);
  }
  if (!ok) throw new UserError(`the ${name} backend failed to start (see the line above)`);
  await tf.ready();
}

const CPU_SUMMARY = "cpu (tfjs pure-JS kernels)";

/**
 * Initialises the requested backend and returns what runs. Throws a {@linkcode UserError} with
 * exit code 2 and the fix when an explicitly requested backend cannot run here.
 */
export async function initBackend(
  requested: BackendName = "auto",
  opts: InitOptions = {},
): Promise<BackendInfo> {
  tf.enableProdMode(); // no debug checks, no "running in Node.js" banner
  if (!(BACKENDS as readonly string[]).includes(requested)) {
    throw new UserError(`unknown backend ${requested}: use one of ${BACKENDS.join(", ")}`, 2);
  }
  let info: BackendInfo;
  if (requested === "cpu") {
    await activate("cpu");
    info = make("cpu", CPU_SUMMARY, "requested");
  } else if (requested === "webgpu") {
    const probe = await probeAdapter();
    if (!probe.adapter) {
      throw new UserError(`--backend webgpu: ${probe.reason}; ${NO_ADAPTER_FIX}`, 2);
    }
    registerWebGPU(probe);
    await activate("webgpu");
    info = webgpuInfo(probe.adapter, "requested");
  } else if (requested === "native") {
    const st = await loadNative();
    if (!st.ok) {
      throw new UserError(
        `--backend native: ${st.reason ?? "unavailable"}; install Debian's ` +
          "libopenblas0-pthread, or use --backend cpu",
        2,
      );
    }
    await activate("native");
    info = nativeInfo(st, "requested");
  } else {
    info = await chooseAuto();
  }
  if (opts.announce ?? true) console.error(info.summary);
  return info;
}

async function chooseAuto(): Promise<BackendInfo> {
  const probe = await probeAdapter();
  if (probe.adapter && !probe.adapter.software) {
    registerWebGPU(probe);
    await activate("webgpu");
    return webgpuInfo(probe.adapter, "auto: a hardware WebGPU adapter is the fastest path");
  }
  const st = await loadNative();
  if (st.ok) {
    await activate("native");
    return nativeInfo(
      st,
      probe.adapter
        ? `auto: the WebGPU adapter is software (${probe.adapter.description}), slower than BLAS`
        : `auto: no WebGPU adapter (${probe.reason})`,
    );
  }
  if (probe.adapter) {
    // Measured: lavapipe runs ResNet training several times faster than tfjs' pure-JS kernels.
    registerWebGPU(probe);
    await activate("webgpu");
    return webgpuInfo(
      probe.adapter,
      `auto: native unavailable (${st.reason ?? "?"}); software WebGPU beats pure-JS cpu`,
    );
  }
  await activate("cpu");
  return make(
    "cpu",
    CPU_SUMMARY,
    `auto: no WebGPU adapter (${probe.reason}) and native unavailable (${st.reason ?? "?"})`,
  );
}

function make(
  name: string,
  what: string,
  reason: string,
  adapter: AdapterDetails | null = null,
  library: string | null = null,
): BackendInfo {
  return { name, summary: `backend: ${what}; ${reason}`, reason, adapter, library };
}

function webgpuInfo(a: AdapterDetails, reason: string): BackendInfo {
  const what = `webgpu on ${formatAdapter(a)}${a.software ? `, ${SOFTWARE_ADAPTER_NOTE}` : ""}`;
  return make("webgpu", what, reason, a);
}

function nativeInfo(st: NativeStatus, reason: string): BackendInfo {
  const lib = st.library ?? "BLAS";
  return make("native", `native (BLAS: ${lib})`, reason, null, lib);
}
