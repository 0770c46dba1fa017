/**
 * Deno's WebGPU for tfjs: finds the adapter, says what it is (a real GPU, or a CPU emulating one),
 * and registers tfjs' `WebGPUBackend` under the name "webgpu" with a device this module requests.
 *
 * tfjs' own registration reads `adapter.info` after `requestDevice()` (Deno invalidates the
 * adapter then, tfjs issue 8518), passes a nested array as a feature name and expects number
 * limits; some Deno versions reject each of these. Here the adapter is read before the device is
 * requested, features are plain strings and limits are clamped numbers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { probeAdapter, registerWebGPU } from "./webgpu.ts";
 * const probe = await probeAdapter();
 * if (probe.adapter) {
 *   registerWebGPU(probe);
 *   await tf.setBackend("webgpu");
 *   assert.equal(tf.getBackend(), "webgpu");
 *   assert.equal(typeof probe.adapter.description, "string");
 *   assert.equal(typeof probe.adapter.software, "boolean");
 * } else {
 *   assert.match(probe.reason, /\S/);
 * }
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { errorText, InputError } from "../errors.ts";
import { parseNumber } from "../parse_number.ts";

/**
 * tfjs-webgpu's flag: how many compute dispatches are encoded into one command buffer before it
 * is submitted (tfjs 4.22's default is 15). Fewer means the GPU starts sooner and idles less;
 * more means fewer submits (each costs the driver a little).
 */
export const SUBMIT_BATCH_FLAG = "WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE";

/**
 * Our value of {@linkcode SUBMIT_BATCH_FLAG}: tfjs' 15, kept by measurement. On the software
 * adapter, 1 was the slowest and 15, 30 and 60 were within the noise of each other
 * (`deno task bench --submit-batch`, bench/README.md "WebGPU"); a real GPU may choose otherwise.
 */
export const DEFAULT_SUBMIT_BATCH = 15;

/** Environment variable that overrides {@linkcode DEFAULT_SUBMIT_BATCH}. */
export const SUBMIT_BATCH_ENV = "RESNET_WEBGPU_SUBMIT_BATCH";

/**
 * The deferred-submit batch size to use: `RESNET_WEBGPU_SUBMIT_BATCH` when set, else
 * {@linkcode DEFAULT_SUBMIT_BATCH}. Throws an {@linkcode InputError} for a bad value.
 *
 * @example
 * ```ts
 * Deno.env.set("RESNET_WEBGPU_SUBMIT_BATCH", "30");
 * submitBatchSize(); // 30
 * ```
 */
export function submitBatchSize(): number {
  const v = Deno.env.get(SUBMIT_BATCH_ENV);
  if (v === undefined || v === "") return DEFAULT_SUBMIT_BATCH;
  try {
    return parseNumber(v, "integer", 1, false, `${SUBMIT_BATCH_ENV}=${v}`);
  } catch (e) {
    throw new InputError(
      `${
        errorText(e)
      } (dispatches per submit), or unset it for the default ${DEFAULT_SUBMIT_BATCH}`,
    );
  }
}

/** The adapter limits that decide which tensors fit and how kernels tile. */
export interface AdapterLimits {
  /** Largest GPU buffer in bytes: the largest tensor. */
  maxBufferSize: number;
  /** Largest buffer one kernel can bind for storage, in bytes. */
  maxStorageBufferBindingSize: number;
  /** Shared memory per workgroup in bytes (tiles of matmul and conv). */
  maxComputeWorkgroupStorageSize: number;
  /** Threads per workgroup. */
  maxComputeInvocationsPerWorkgroup: number;
  /** Workgroups per dispatch dimension. */
  maxComputeWorkgroupsPerDimension: number;
}

/** What the WebGPU adapter is, for the user and for run records. */
export interface AdapterDetails {
  /** PCI vendor or vendor name as the driver reports it (e.g. "nvidia", "65541" for Mesa). */
  vendor: string;
  /** GPU family when known (e.g. "ampere"); often empty. */
  architecture: string;
  /** Driver's description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)", "NVIDIA H100"). */
  description: string;
  /** True for a CPU emulating a GPU (llvmpipe, lavapipe, SwiftShader, WARP, fallback adapters). */
  software: boolean;
  /** The graphics API Deno was told to use (`DENO_WEBGPU_BACKEND`), or "default". */
  api: string;
  /** Limits that matter for tensors and kernels. */
  limits: AdapterLimits;
  /** Optional features the adapter offers (e.g. "timestamp-query", "shader-f16"). */
  features: string[];
}

/** The result of looking for an adapter: the adapter, or why there is none. */
export type AdapterProbe =
  | { adapter: AdapterDetails; gpu: GPUAdapter; reason?: undefined }
  | { adapter: null; gpu: null; reason: string };

/** How to get an adapter when there is none; printed with the "no adapter" error. */
export const NO_ADAPTER_FIX: string =
  "install the GPU's driver (on Linux without a GPU: Debian's mesa-vulkan-drivers and libvulkan1), " +
  "or pick the graphics API with DENO_WEBGPU_BACKEND=vulkan or DENO_WEBGPU_BACKEND=gl";

/**
 * Said whenever a software adapter is in use: the "GPU" is the CPU. No figure: one machine's
 * speed would read as every machine's (`info` says what the bench measured here, if it ran).
 */
export const SOFTWARE_ADAPTER_NOTE: string =
  "a software adapter: the CPU emulating a GPU, far slower at training than the native " +
  "backend on the same CPU";

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render|\bwarp\b/i;

/** Whether adapter info describes a software rasterizer rather than a GPU. */
export function isSoftwareAdapter(
  info: { vendor?: string; architecture?: string; description?: string; device?: string },
  isFallback = false,
): boolean {
  if (isFallback) return true;
  const text = [info.vendor, info.architecture, info.description, info.device].join(" ");
  return SOFTWARE_NAMES.test(text);
}

/** Limits read as numbers: some Deno versions report them as BigInt (tfjs issue 8518). */
function readLimits(l: GPUSupportedLimits): AdapterLimits {
  const n = (v: unknown) => Number(v ?? 0);
  return {
    maxBufferSize: n(l.maxBufferSize),
    maxStorageBufferBindingSize: n(l.maxStorageBufferBindingSize),
    maxComputeWorkgroupStorageSize: n(l.maxComputeWorkgroupStorageSize),
    maxComputeInvocationsPerWorkgroup: n(l.maxComputeInvocationsPerWorkgroup),
    maxComputeWorkgroupsPerDimension: n(l.maxComputeWorkgroupsPerDimension),
  };
}

function describe(gpu: GPUAdapter): AdapterDetails {
  // `info` is only readable before a device is requested from this adapter (Deno).
  const info = gpu.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const fallback = Boolean(
    info?.isFallbackAdapter ?? (gpu as GPUAdapter & { isFallbackAdapter?: boolean })
      .isFallbackAdapter,
  );
  return {
    vendor: info?.vendor ?? "",
    architecture: info?.architecture ?? "",
    description: info?.description || info?.device || "",
    software: isSoftwareAdapter(info ?? {}, fallback),
    api: Deno.env.get("DENO_WEBGPU_BACKEND") || "default",
    limits: readLimits(gpu.limits),
    features: [...gpu.features].map(String).sort(),
  };
}

/**
 * Mesa prints "XDG_RUNTIME_DIR is invalid or not set" on every adapter request without it; give
 * the process a private one (as a login session would) when the environment has none.
 */
function ensureRuntimeDir(): void {
  if (Deno.env.get("XDG_RUNTIME_DIR")) return;
  try {
    const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/xdg-runtime-${Deno.uid() ?? "user"}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // Only cosmetic: Mesa then prints its warning and works all the same.
  }
}

async function requestGpuAdapter(): Promise<GPUAdapter | null> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) return null;
  ensureRuntimeDir();
  return await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
}

/**
 * Asks for a high-performance adapter and describes it. Never throws: without WebGPU (no
 * `--unstable-webgpu`, no driver) it returns `adapter: null` and the reason.
 */
export async function probeAdapter(): Promise<AdapterProbe> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    return {
      adapter: null,
      gpu: null,
      reason: "this Deno has no navigator.gpu (run with --unstable-webgpu, or deno.json's " +
        '"unstable": ["webgpu"])',
    };
  }
  let gpu: GPUAdapter | null;
  try {
    gpu = await requestGpuAdapter();
  } catch (e) {
    return { adapter: null, gpu: null, reason: `requesting an adapter failed: ${errorText(e)}` };
  }
  if (!gpu) {
    const api = Deno.env.get("DENO_WEBGPU_BACKEND");
    const reason = `no WebGPU adapter was found${api ? ` with DENO_WEBGPU_BACKEND=${api}` : ""}`;
    return { adapter: null, gpu: null, reason };
  }
  return { adapter: describe(gpu), gpu };
}

/** One line naming the adapter, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) [vendor 65541, vulkan]`. */
export function formatAdapter(a: AdapterDetails): string {
  const parts = [`vendor ${a.vendor || "?"}`];
  if (a.architecture) parts.push(`architecture ${a.architecture}`);
  if (a.api !== "default") parts.push(`api ${a.api}`);
  return `${a.description || "unnamed adapter"} [${parts.join(", ")}]`;
}

let lost: GPUDeviceLostInfo | null = null;
let device: GPUDevice | null = null;
let onLost: (info: GPUDeviceLostInfo) => void = () => {};

/**
 * Sets what happens when the GPU device is lost (by default nothing besides
 * {@linkcode deviceLostInfo}; the CLI prints one line and exits 1, and the trainer writes
 * checkpoints by rename, so the last one stays whole).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onDeviceLost } from "./webgpu.ts";
 * onDeviceLost((info) => assert.match(`GPU lost: ${info.reason}`, /^GPU lost: (unknown|destroyed)$/));
 * ```
 */
export function onDeviceLost(handler: (info: GPUDeviceLostInfo) => void): void {
  onLost = handler;
}

/** Why the device was lost, or null while it works (or before WebGPU is used). */
export function deviceLostInfo(): GPUDeviceLostInfo | null {
  return lost;
}

/** The GPU device of the registered backend, once tfjs has created it. */
export function currentDevice(): GPUDevice | null {
  return device;
}

/**
 * A device of `gpu` as tfjs' WebGPU backend wants it here, in Deno and on the web page alike: the
 * adapter's own limits for buffers, bindings and workgroups (a device gets WebGPU's defaults
 * otherwise, e.g. 128 MiB per binding where the adapter allows 1 GiB), and the optional features
 * tfjs uses when offered. Browser-safe. In Deno the adapter cannot make a second device.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestWebGPUDevice } from "./webgpu.ts";
 * const adapter = await navigator.gpu?.requestAdapter();
 * if (adapter) {
 *   const binding = Number(adapter.limits.maxStorageBufferBindingSize);
 *   const device = await requestWebGPUDevice(adapter);
 *   assert.equal(Number(device.limits.maxStorageBufferBindingSize), binding);
 *   device.destroy();
 * }
 * ```
 */
export async function requestWebGPUDevice(gpu: GPUAdapter): Promise<GPUDevice> {
  const want = ["timestamp-query", "bgra8unorm-storage"] as GPUFeatureName[];
  const limits = gpu.limits;
  return await gpu.requestDevice({
    requiredFeatures: want.filter((f) => gpu.features.has(f)),
    requiredLimits: {
      maxComputeWorkgroupStorageSize: Number(limits.maxComputeWorkgroupStorageSize),
      maxComputeWorkgroupsPerDimension: Number(limits.maxComputeWorkgroupsPerDimension),
      maxStorageBufferBindingSize: Number(limits.maxStorageBufferBindingSize),
      maxBufferSize: Number(limits.maxBufferSize),
      maxComputeWorkgroupSizeX: Number(limits.maxComputeWorkgroupSizeX),
      maxComputeInvocationsPerWorkgroup: Number(limits.maxComputeInvocationsPerWorkgroup),
    },
  });
}

/**
 * Registers tfjs' `WebGPUBackend` as "webgpu" (replacing tfjs' own factory) with a device from
 * this module: the probed adapter on first use, a fresh one afterwards (Deno does not let an
 * adapter create a second device). `tf.setBackend("webgpu")` then creates it.
 */
export function registerWebGPU(probe?: AdapterProbe): void {
  let first = probe?.gpu ?? null;
  const submitBatch = submitBatchSize(); // a bad value fails here, before any device exists
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", async () => {
    const gpu = first ?? await requestGpuAdapter();
    first = null;
    if (!gpu) throw new Error(`no WebGPU adapter: ${NO_ADAPTER_FIX}`);
    const info = gpu.info; // read before requestDevice invalidates the adapter
    const dev = await requestWebGPUDevice(gpu);
    device = dev;
    lost = null;
    if (!unloadHooked) {
      // An orderly device teardown before the process exits (drivers' threads may still run).
      globalThis.addEventListener("unload", () => device?.destroy());
      unloadHooked = true;
    }
    dev.lost.then((i) => {
      if (device !== dev) return;
      lost = i;
      if (i.reason !== "destroyed") onLost(i);
    });
    tf.env().set(SUBMIT_BATCH_FLAG, submitBatch);
    return webgpuBackendFor(dev, info);
  }, 2);
}

/**
 * tfjs' WebGPU backend on `device` as this project runs it: {@linkcode PooledUploadBackend}, and
 * the gradients that keep host-made tensors out of a step. Browser-safe: a page that requests its
 * own device registers it with `tf.registerBackend("webgpu", async () => webgpuBackendFor(...))`
 * (under that name: tfjs' WebGPU kernels are registered for it).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import assert from "node:assert/strict";
 * import { PooledUploadBackend, webgpuBackendFor } from "./webgpu.ts";
 * const adapter = await navigator.gpu?.requestAdapter();
 * if (adapter) {
 *   const info = adapter.info;
 *   const device = await adapter.requestDevice();
 *   // tfjs' WebGPU kernels are registered under the name "webgpu": the backend must carry it.
 *   if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
 *   tf.registerBackend("webgpu", async () => webgpuBackendFor(device, info));
 *   await tf.setBackend("webgpu");
 *   assert.ok(tf.backend() instanceof PooledUploadBackend);
 *   assert.deepEqual([...await tf.add(tf.ones([2]), 1).data()], [2, 2]);
 *   await tf.setBackend("cpu");
 * }
 * ```
 */
export function webgpuBackendFor(device: GPUDevice, info?: GPUAdapterInfo): WebGPUBackend {
  registerBroadcastGradients();
  return new PooledUploadBackend(device, info);
}

/**
 * tfjs' `WebGPUBackend`, uploading a tensor's values with `queue.writeBuffer` into a buffer from
 * its pool. tfjs 4.22 creates a staging buffer for every upload instead (or a new buffer), so
 * each constant and each batch cost a `createBuffer` per step: 122 of them in a step of the
 * width-8 network at batch 8 (tests/backends/webgpu_counts_test.ts counts them). Safe by tfjs'
 * own rule: a buffer is back in the pool only once the commands that used it are submitted, and
 * `writeBuffer` runs on the queue after those and before the commands recorded next.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import assert from "node:assert/strict";
 * import { initBackend } from "./choose.ts";
 * import { PooledUploadBackend } from "./webgpu.ts";
 * if ((await initBackend("auto")).name === "webgpu") {
 *   assert.ok(tf.backend() instanceof PooledUploadBackend);
 * }
 * await initBackend("cpu");
 * ```
 */
export class PooledUploadBackend extends WebGPUBackend {
  /** Puts a tensor's values on the GPU (tfjs calls it before a kernel reads the tensor). */
  override uploadToGPU(dataId: object): void {
    const d = this.tensorMap.get(dataId);
    const plain = d && d.values && d.resource == null &&
      (d.dtype === "float32" || d.dtype === "int32" || d.dtype === "bool");
    if (!plain) return super.uploadToGPU(dataId);
    const values = d.dtype === "float32"
      ? Float32Array.from(d.values as ArrayLike<number>)
      : Int32Array.from(d.values as ArrayLike<number>); // int32 and bool: 4 bytes on the GPU
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buffer = this.bufferManager.acquireBuffer(values.byteLength, usage);
    this.queue.writeBuffer(buffer, 0, values);
    d.values = null as unknown as typeof d.values; // on the GPU now, as tfjs does
    d.resource = buffer;
  }
}

let broadcastGradients = false;

/**
 * The gradients of `Sum` and `Mean` as a broadcast of `dy` (a Tile kernel on the GPU) where tfjs'
 * own multiply `dy` by `ones(x.shape)`: a tensor of the input's size made on the host and
 * uploaded every step (144 MiB per BatchNorm in the stem at 96x96, batch 256). The same numbers
 * (times 1); other backends keep tfjs' gradients.
 */
function registerBroadcastGradients(): void {
  if (broadcastGradients) return;
  broadcastGradients = true;
  for (const kernelName of ["Sum", "Mean"]) {
    const tfjs = tf.getGradient(kernelName);
    tf.registerGradient({
      ...tfjs,
      gradFunc: (dy, saved, attrs) => {
        if (!(tf.backend() instanceof WebGPUBackend)) return tfjs.gradFunc(dy, saved, attrs);
        const [x] = saved;
        const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
        const kept = x.shape.map((n, i) => (axes.includes(i) ? 1 : n));
        const size = axes.reduce((a, i) => a * x.shape[i], 1);
        const g = tf.reshape(dy as tf.Tensor, kept);
        return { x: () => tf.broadcastTo(kernelName === "Mean" ? tf.div(g, size) : g, x.shape) };
      },
    });
  }
}

let unloadHooked = false;

/**
 * Frees the WebGPU backend and destroys its device (after queued work finishes); switches to the
 * cpu backend if WebGPU was active. A later `tf.setBackend("webgpu")` creates a fresh device.
 */
export async function releaseWebGPU(): Promise<void> {
  const dev = device;
  if (tf.engine().backendName === "webgpu") await tf.setBackend("cpu");
  if (tf.findBackend("webgpu") || tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  device = null;
  if (dev) {
    await dev.queue.onSubmittedWorkDone();
    dev.destroy();
  }
  registerWebGPU();
}
