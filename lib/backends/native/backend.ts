/**
 * The `native` tfjs backend: tfjs' CPU backend with its hot kernels (convolutions and matrix
 * products through BLAS, BatchNorm, reductions, broadcasting arithmetic and pooling as tight
 * typed-array loops) replaced. Every other kernel is the CPU backend's own.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { registerNativeBackend } from "./backend.ts";
 * const r = await registerNativeBackend();
 * if (r.ok) await tf.setBackend("native");
 * else console.error(r.reason);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { openBlas } from "./blas.ts";
import { nativeKernels } from "./kernels/registry.ts";
import { installNativeGradients } from "./gradients.ts";
import { pool } from "./buffers.ts";

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
    pool.retain(values);
  }
  /** The tensor's values; their buffer has left the backend, so the pool never reuses it. */
  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    if (this.data.has(dataId)) pool.escape(this.data.get(dataId).values);
    return super.readSync(dataId);
  }
  /** Like {@linkcode NativeBackend.readSync}, as a promise (the CPU backend's `read`). */
  override read(dataId: tf.DataId): Promise<tf.backend_util.BackendValues> {
    if (this.data.has(dataId)) pool.escape(this.data.get(dataId).values);
    return super.read(dataId);
  }
  /** Deletes the tensor's data; a pooled buffer no tensor holds any more becomes free again. */
  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : null;
    const deleted = super.disposeData(dataId, force);
    if (deleted && values) pool.release(values);
    return deleted;
  }
}

/** What {@linkcode registerNativeBackend} found. */
export interface NativeRegistration {
  /** Whether the `native` backend is registered and usable. */
  ok: boolean;
  /** The BLAS library that was opened. */
  library?: string;
  /** Why not, in one line, when `ok` is false. */
  reason?: string;
}

let registered: NativeRegistration | null = null;

/**
 * Opens BLAS and registers the `native` backend (priority 0: never chosen by tfjs on its own;
 * call `tf.setBackend("native")`). Idempotent. Returns `{ok: false, reason}` when no BLAS
 * library can be opened; never throws for that.
 */
export function registerNativeBackend(): Promise<NativeRegistration> {
  if (registered) return Promise.resolve(registered);
  const blas = openBlas();
  if (!blas.ok) return Promise.resolve({ ok: false, reason: blas.reason });
  const overrides = nativeKernels({ sgemm: blas.sgemm });
  const overridden = new Set(overrides.map((k) => k.kernelName));
  for (const k of tf.getKernelsForBackend("cpu")) {
    if (!overridden.has(k.kernelName)) tf.registerKernel({ ...k, backendName: NATIVE_BACKEND });
  }
  for (const k of overrides) tf.registerKernel({ ...k, backendName: NATIVE_BACKEND });
  installNativeGradients();
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 0);
  registered = { ok: true, library: blas.library };
  return Promise.resolve(registered);
}
