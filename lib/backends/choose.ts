/**
 * Chooses and initialises the tfjs backend every computing subcommand runs on: WebGPU (Deno's
 * native WebGPU), native (kernels on native CPU libraries) or cpu (tfjs' pure-JS kernels). `auto`
 * takes WebGPU on a hardware adapter, else native when its library loads, else WebGPU on a software
 * adapter, else cpu. The choice comes back as a structured {@linkcode BackendInfo};
 * {@linkcode backendSummary} is the one place that turns it into a line for people.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backendSummary, initBackend } from "./choose.ts";
 * const info = await initBackend("cpu");
 * assert.equal(backendSummary(info), "backend: cpu (tfjs pure-JS kernels); requested");
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "./setup.ts";
import { errorText, InputError, UserError } from "../errors.ts";
import type { ResNetConfig } from "../model/resnet.ts";
import type { NativeRegistration } from "./native/backend.ts";
import { fitProblem, limitOf } from "./tensor_limit.ts";
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
  name: "webgpu" | "native" | "cpu";
  /** What it runs on: the adapter (webgpu), the kernel libraries (native), the kernels (cpu). */
  detail: string;
  /** Why it was chosen ("requested", or why `auto` chose it). */
  reason: string;
  /** The WebGPU adapter when the backend is WebGPU, else null. */
  adapter: AdapterDetails | null;
  /** The native kernel library when the backend is native, else null. */
  library: string | null;
}

/**
 * The backend and what it runs on, e.g. `native (oneDNN 2.6.3, 2 threads)` or
 * `webgpu on llvmpipe (...) [vendor 65541]`: the words d2l's summary line ends with.
 *
 * @example
 * ```ts
 * import { backendLabel } from "./choose.ts";
 * backendLabel({ name: "cpu", detail: "tfjs pure-JS kernels", reason: "requested", adapter: null, library: null });
 * // "cpu (tfjs pure-JS kernels)"
 * ```
 */
export function backendLabel(info: BackendInfo): string {
  return info.name === "webgpu" ? `webgpu on ${info.detail}` : `${info.name} (${info.detail})`;
}

/**
 * The one line that says what runs and why: `backend: <label>; <reason>`.
 *
 * @example
 * ```ts
 * import { backendSummary } from "./choose.ts";
 * backendSummary({ name: "cpu", detail: "tfjs pure-JS kernels", reason: "requested", adapter: null, library: null });
 * // "backend: cpu (tfjs pure-JS kernels); requested"
 * ```
 */
export function backendSummary(info: BackendInfo): string {
  return `backend: ${backendLabel(info)}; ${info.reason}`;
}

let nativeStatus: Promise<NativeRegistration> | null = null;

/** Options of {@linkcode initBackend}. */
export interface InitOptions {
  /** Threads of the native backend's oneDNN (default: `OMP_NUM_THREADS`, else every core). */
  threads?: number;
  /**
   * The steps that will run: `auto` passes over a WebGPU adapter on which they cannot run, even
   * in parts of the batch (tensor_limit.ts `fitProblem`), instead of choosing it and refusing.
   */
  job?: { config: ResNetConfig; size: number; batch: number };
}

/**
 * An explicitly requested backend that cannot run here: which, why, and what to install or use
 * instead (data for a caller that words its own line, e.g. the CLI's flag).
 */
export class BackendUnavailableError extends InputError {
  /** Always `"BackendUnavailableError"`. */
  override name = "BackendUnavailableError";
  /**
   * @param backend The backend asked for.
   * @param reason Why it cannot run.
   * @param fix What makes it run, or what to use instead.
   */
  constructor(readonly backend: BackendName, readonly reason: string, readonly fix: string) {
    super(`the ${backend} backend cannot run here: ${reason}; ${fix}`);
  }
}

/**
 * Loads and registers the native backend once (oneDNN, else BLAS), and applies `threads` to its
 * oneDNN on every call (a later `initBackend` may ask for other threads); never throws. The
 * module is imported lazily so that the cpu and WebGPU paths do not depend on it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadNative } from "./choose.ts";
 * const st = await loadNative({ threads: 1 });
 * if (st.ok) assert.match(st.library ?? "", /^(oneDNN [\d.]+, 1 thread|BLAS: .+)$/); // e.g. "oneDNN 2.6.3, 1 thread"
 * else assert.match(st.reason ?? "", /\S/);
 * ```
 */
export async function loadNative(opts: InitOptions = {}): Promise<NativeRegistration> {
  nativeStatus ??= (async () => {
    try {
      const mod = await import("./native/backend.ts");
      return await mod.registerNativeBackend({ threads: opts.threads });
    } catch (e) {
      return { ok: false, reason: `the native backend did not load: ${errorText(e)}` };
    }
  })();
  const st = await nativeStatus;
  if (!st.dnnl) return st;
  const mod = await import("./native/backend.ts");
  return mod.setNativeThreads(opts.threads) ?? st;
}

async function activate(name: string): Promise<void> {
  let ok: boolean, why = "";
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    ok = false;
    why = `: ${errorText(e)}`;
  }
  if (!ok) throw new UserError(`the ${name} backend failed to start${why}`);
  await tf.ready();
}

const CPU_DETAIL = "tfjs pure-JS kernels";

/**
 * Initialises the requested backend and returns what runs. Throws an {@linkcode InputError} with
 * the fix when an explicitly requested backend cannot run here.
 *
 * @example
 * ```ts
 * import { initBackend } from "./choose.ts";
 * (await initBackend("cpu")).name; // "cpu"
 * ```
 */
export async function initBackend(
  requested: BackendName = "auto",
  opts: InitOptions = {},
): Promise<BackendInfo> {
  tf.enableProdMode(); // no debug checks, no "running in Node.js" banner
  if (!(BACKENDS as readonly string[]).includes(requested)) {
    throw new InputError(`unknown backend ${requested}: use one of ${BACKENDS.join(", ")}`);
  }
  if (requested === "cpu") {
    await activate("cpu");
    return make("cpu", CPU_DETAIL, "requested");
  }
  if (requested === "webgpu") {
    const probe = await probeAdapter();
    if (!probe.adapter) {
      throw new BackendUnavailableError("webgpu", probe.reason, NO_ADAPTER_FIX);
    }
    registerWebGPU(probe);
    await activate("webgpu");
    return webgpuInfo(probe.adapter, "requested");
  }
  if (requested === "native") {
    const st = await loadNativeOrThrow(opts);
    if (!st.ok) {
      const fix = "install Debian's libdnnl2 (or libopenblas0-pthread), or use the cpu backend";
      throw new BackendUnavailableError("native", st.reason ?? "unavailable", fix);
    }
    await activate("native");
    return nativeInfo(st, "requested");
  }
  return await chooseAuto(opts);
}

/** {@linkcode loadNative}, but a `RESNET_DNNL` that does not load is an {@linkcode InputError}. */
async function loadNativeOrThrow(opts: InitOptions): Promise<NativeRegistration> {
  const st = await loadNative(opts);
  if (st.misconfigured) throw new InputError(st.reason ?? "the native backend is misconfigured");
  return st;
}

async function chooseAuto(opts: InitOptions): Promise<BackendInfo> {
  const probe = await probeAdapter();
  const job = opts.job, a = probe.adapter;
  // An adapter on which the job cannot run even in parts is passed over, not chosen to refuse.
  const p = a && job ? fitProblem(job.config, job.size, job.batch, limitOf(a.limits)) : null;
  const adapter = p ? null : a;
  const noAdapter = p
    ? `the WebGPU adapter is too small (its ${p.limit.name} cannot hold one image's ` +
      `${p.tensor.name} [${p.tensor.shape.join(", ")}])`
    : `no WebGPU adapter (${probe.reason})`;
  if (adapter && !adapter.software) {
    registerWebGPU(probe);
    await activate("webgpu");
    return webgpuInfo(adapter, "auto: a hardware WebGPU adapter is the fastest path");
  }
  const st = await loadNativeOrThrow(opts);
  if (st.ok) {
    await activate("native");
    return nativeInfo(
      st,
      adapter
        ? `auto: the WebGPU adapter is software (${adapter.description}), slower than native`
        : `auto: ${noAdapter}`,
    );
  }
  if (adapter) {
    // Measured: lavapipe runs ResNet training several times faster than tfjs' pure-JS kernels.
    registerWebGPU(probe);
    await activate("webgpu");
    return webgpuInfo(
      adapter,
      `auto: native unavailable (${st.reason ?? "?"}); software WebGPU beats pure-JS cpu`,
    );
  }
  await activate("cpu");
  return make(
    "cpu",
    CPU_DETAIL,
    `auto: ${noAdapter} and native unavailable (${st.reason ?? "?"})`,
  );
}

function make(
  name: BackendInfo["name"],
  detail: string,
  reason: string,
  adapter: AdapterDetails | null = null,
  library: string | null = null,
): BackendInfo {
  return { name, detail, reason, adapter, library };
}

function webgpuInfo(a: AdapterDetails, reason: string): BackendInfo {
  const detail = `${formatAdapter(a)}${a.software ? `, ${SOFTWARE_ADAPTER_NOTE}` : ""}`;
  return make("webgpu", detail, reason, a);
}

function nativeInfo(st: NativeRegistration, reason: string): BackendInfo {
  const lib = st.library ?? "?";
  const why = st.dnnl ? "" : `; no oneDNN: ${st.dnnlReason ?? "?"}`;
  return make("native", `${lib}${why}`, reason, null, lib);
}
