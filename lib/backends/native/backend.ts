/**
 * The `native` tfjs backend: tfjs' CPU backend with its hot kernels replaced: convolutions,
 * BatchNorm, pooling, ReLU and adds on oneDNN where it loads (on every core), else convolutions and
 * matrix products through BLAS and the rest as tight typed-array loops. Every other kernel is the
 * CPU backend's own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { registerNativeBackend } from "./backend.ts";
 * const r = await registerNativeBackend();
 * if (r.ok) await tf.setBackend("native");
 * else assert.match(r.reason ?? "", /\S/);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import {
  defaultThreads,
  dnnlLabel,
  type LibraryOptions,
  type OpenedLibraries,
  openKernelLibraries,
} from "./libraries.ts";
import { nativeGradients, nativeKernels } from "./kernels/registry.ts";
import { installNativeGradients } from "./gradients.ts";
import { pool } from "./buffers.ts";
import { forgetLayout, plainCopy, type WeightLayoutMode, withPlainInputs } from "./layouts.ts";
import { forgetWeightsCopy } from "./weights_copies.ts";

/** The tfjs backend name this module registers. */
export const NATIVE_BACKEND = "native";

/** tfjs' CPU backend under another name; its kernels are registered separately. */
export class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    // The CPU backend's first write prints "install tfjs-node to speed things up": not for us.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  // The buffer pool follows every tensor's values: stored, moved, read out, deleted.
  /** Stores `values` as the CPU backend does and marks their pooled buffer as in use. */
  override write(
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
  ): tf.DataId {
    const id = super.write(values, shape, dtype);
    pool.retain(values);
    return id;
  }
  /** Moves `values` under `dataId` as the CPU backend does; their pooled buffer is in use. */
  override move(
    dataId: tf.DataId,
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ) {
    super.move(dataId, values, shape, dtype, refCount);
    forgetLayout(dataId); // moved values are in tfjs' layout
    forgetWeightsCopy(dataId);
    pool.retain(values);
  }
  /**
   * The tensor's values; their buffer has left the backend, so the pool never reuses it. Values
   * stored in a oneDNN layout (./layouts.ts) are read as a copy in tfjs' layout.
   */
  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    if (!this.data.has(dataId)) return super.readSync(dataId);
    const plain = plainCopy(this, dataId);
    if (plain) return plain;
    pool.escape(this.data.get(dataId).values);
    return super.readSync(dataId);
  }
  /** Like {@linkcode NativeBackend.readSync}, as a promise (the CPU backend's `read`). */
  override read(dataId: tf.DataId): Promise<tf.backend_util.BackendValues> {
    if (!this.data.has(dataId)) return super.read(dataId);
    const plain = plainCopy(this, dataId);
    if (plain) return Promise.resolve(plain);
    pool.escape(this.data.get(dataId).values);
    return super.read(dataId);
  }
  /** Deletes the tensor's data; a pooled buffer no tensor holds any more becomes free again. */
  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : null;
    const deleted = super.disposeData(dataId, force);
    if (deleted) {
      forgetLayout(dataId);
      forgetWeightsCopy(dataId);
    }
    if (deleted && values) pool.release(values);
    return deleted;
  }
}

/** What {@linkcode registerNativeBackend} found. */
export interface NativeRegistration {
  /** Whether the backend is registered and usable. */
  ok: boolean;
  /** What the kernels run on, e.g. `oneDNN 2.6.3, 2 threads` or `BLAS: libopenblas.so.0`. */
  library?: string;
  /** How convolution weights are stored between steps (./layouts.ts); `plain` on BLAS. */
  weightLayout?: WeightLayoutMode;
  /** oneDNN's version, ISA and threads when the kernels run on it. */
  dnnl?: { version: string; isa: string; threads: number; path: string };
  /** Why oneDNN is not used, when it is not. */
  dnnlReason?: string;
  /** Why not, in one line, when `ok` is false. */
  reason?: string;
  /** True when the user's own setting (`RESNET_DNNL`) is what failed. */
  misconfigured?: boolean;
}

/** Options of {@linkcode registerNativeBackend}. */
export interface NativeOptions extends LibraryOptions {
  /** The tfjs backend name (default {@linkcode NATIVE_BACKEND}; tests register both libraries). */
  name?: string;
}

const registered = new Map<string, NativeRegistration>();
const opened = new Map<string, OpenedLibraries>();

/**
 * oneDNN's primitive executions so far and their milliseconds in the backend `name` (null when it
 * does not run on oneDNN): the share of a step that runs inside the library, for profiles; and
 * the reorders among them (`reorders`, `reorderMs`: the weights' layout changes, ./layouts.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dnnlTime } from "./backend.ts";
 * const t = dnnlTime(); // e.g. { calls: 0, ms: 0, reorders: 0, reorderMs: 0 }, or null
 * assert.ok(t === null || (t.calls >= t.reorders && t.ms >= t.reorderMs));
 * ```
 */
export function dnnlTime(
  name = NATIVE_BACKEND,
): { calls: number; ms: number; reorders: number; reorderMs: number } | null {
  const s = opened.get(name)?.dnnl?.stats;
  return s ? { ...s } : null;
}

/**
 * Opens the kernel libraries (oneDNN, else BLAS: ./libraries.ts) and registers the backend
 * (priority 0: never chosen by tfjs on its own; call `tf.setBackend("native")`). Idempotent per
 * name. Returns `{ok: false, reason}` when no library can be opened; never throws for that.
 */
export function registerNativeBackend(opts: NativeOptions = {}): Promise<NativeRegistration> {
  const name = opts.name ?? NATIVE_BACKEND;
  const known = registered.get(name);
  if (known) return Promise.resolve(known);
  const libs = openKernelLibraries(opts);
  if (!libs.ok) {
    return Promise.resolve({ ok: false, reason: libs.reason, misconfigured: libs.misconfigured });
  }
  opened.set(name, libs);
  const overrides = nativeKernels(libs.libs);
  const overridden = new Set(overrides.map((k) => k.kernelName));
  // Where weights may be kept in oneDNN's layout, every kernel sees tfjs' unless it knows better.
  const keeps = (libs.libs.weightLayout ?? "plain") !== "plain";
  const register = (k: tf.KernelConfig) => {
    const config = { ...k, backendName: name };
    tf.registerKernel(keeps ? withPlainInputs(config) : config);
  };
  for (const k of tf.getKernelsForBackend("cpu")) if (!overridden.has(k.kernelName)) register(k);
  for (const k of overrides) register(k);
  installNativeGradients(nativeGradients());
  tf.registerBackend(name, () => new NativeBackend(), 0);
  const d = libs.dnnl;
  const r: NativeRegistration = {
    ok: true,
    library: libs.label,
    dnnl: d ? { version: d.version, isa: d.isa, threads: d.getThreads(), path: d.path } : undefined,
    dnnlReason: libs.dnnlReason ?? undefined,
    weightLayout: libs.libs.weightLayout ?? "plain",
  };
  registered.set(name, r);
  return Promise.resolve(r);
}

/**
 * Sets the OpenMP threads of the oneDNN that the backend `name` runs on (default
 * `OMP_NUM_THREADS`, else every core) and returns its registration, whose `library` and
 * `dnnl.threads` now say so. The libraries are opened once per process, so this is how a later
 * `initBackend` with another `--threads` takes effect. A backend on BLAS is returned as it is;
 * null when `name` is not registered.
 *
 * @example
 * ```ts
 * import { registerNativeBackend, setNativeThreads } from "./backend.ts";
 * await registerNativeBackend({ threads: 2 });
 * setNativeThreads(1)?.library; // "oneDNN 2.6.3, 1 thread" (or BLAS: ...)
 * ```
 */
export function setNativeThreads(
  threads?: number,
  name = NATIVE_BACKEND,
): NativeRegistration | null {
  const r = registered.get(name), d = opened.get(name)?.dnnl;
  if (!r || !r.dnnl || !d) return r ?? null;
  const n = threads ?? defaultThreads();
  d.setThreads(n);
  const updated = { ...r, library: dnnlLabel(d, n), dnnl: { ...r.dnnl, threads: d.getThreads() } };
  registered.set(name, updated);
  return updated;
}
