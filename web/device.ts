/**
 * The page's backend: tfjs' WebGPU backend on the browser's adapter, set up as Deno's is
 * (lib/backends/webgpu.ts: the adapter's own limits, uploads into pooled buffers, gradients that
 * keep host-made tensors out of a step) with the device's work counted
 * (lib/backends/webgpu_counts.ts), or tfjs' CPU backend when the browser has no WebGPU (the page
 * says which, and why). The adapter's identity and the limits that decide which batches fit are
 * read from the device tfjs itself uses, and
 * {@linkcode limitProblem} refuses a batch that cannot run within them even in parts (by the
 * library's own rule, lib/backends/tensor_limit.ts, which also counts tfjs-webgpu's im2col
 * matrices).
 *
 * @example
 * ```ts ignore
 * import { startBackend } from "./device.ts";
 * const d = await startBackend();
 * console.log(d.backend, d.reason, d.adapter?.description, d.limits?.maxBufferSize);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import "../lib/backends/setup.ts"; // the gradients of tfjs' kernels (see there)
import type { ResNetConfig } from "../lib/model/resnet.ts";
import { fitProblem, limitOf } from "../lib/backends/tensor_limit.ts";
import {
  DEFAULT_SUBMIT_BATCH,
  isSoftwareAdapter,
  requestWebGPUDevice,
  SUBMIT_BATCH_FLAG,
  webgpuBackendFor,
} from "../lib/backends/webgpu.ts";
import { countGpuWork, type GpuCounter } from "../lib/backends/webgpu_counts.ts";
import { errorText } from "../lib/errors.ts";

/** The device limits that decide whether a tensor fits (bytes). */
export interface DeviceLimits {
  /** Largest buffer: the largest tensor. */
  maxBufferSize: number;
  /** Largest buffer one kernel can bind for storage. */
  maxStorageBufferBindingSize: number;
  /** Shared memory per workgroup (tiles of matmul and conv). */
  maxComputeWorkgroupStorageSize: number;
  /** Threads per workgroup. */
  maxComputeInvocationsPerWorkgroup: number;
  /** Workgroups per dispatch dimension. */
  maxComputeWorkgroupsPerDimension: number;
}

/** What runs the page's tensors. */
export interface DeviceInfo {
  /** The tfjs backend. */
  backend: "webgpu" | "cpu";
  /** Why: the adapter was found, or why the CPU fallback runs. */
  reason: string;
  /** The WebGPU adapter, or null on the CPU backend. */
  adapter: {
    vendor: string;
    architecture: string;
    description: string;
    /** A CPU emulating a GPU (SwiftShader, llvmpipe, WARP, a fallback adapter). */
    software: boolean;
  } | null;
  /** The WebGPU device's limits, or null on the CPU backend. */
  limits: DeviceLimits | null;
  /** The work asked of the WebGPU device since it started, or null on the CPU backend. */
  counter: GpuCounter | null;
}

/** The parts of tfjs' WebGPUBackend read here. */
interface WebGPUBackendLike {
  device: GPUDevice;
  adapterInfo?: { vendor?: string; architecture?: string; description?: string } & {
    isFallbackAdapter?: boolean;
  };
}

/**
 * Starts tfjs' WebGPU backend, or its CPU backend when `prefer` is "cpu" or WebGPU cannot start.
 * Never throws for a missing GPU: the result says what runs and why.
 */
export async function startBackend(prefer: "webgpu" | "cpu" = "webgpu"): Promise<DeviceInfo> {
  let why = "requested";
  if (prefer === "webgpu") {
    const started = await startWebGPU();
    if (typeof started !== "string") return describeWebGPU(started);
    why = started;
  }
  if (!(await tf.setBackend("cpu"))) throw new Error("tfjs' CPU backend did not start");
  await tf.ready();
  return { backend: "cpu", reason: why, adapter: null, limits: null, counter: null };
}

/** Starts WebGPU; returns its device's counter on success, else why not (for the page). */
async function startWebGPU(): Promise<GpuCounter | string> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    return "this browser has no WebGPU (navigator.gpu); Chrome, Edge or Safari 26 have it, " +
      "Firefox behind a setting; the page needs a secure context (https or localhost)";
  }
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return "the browser found no WebGPU adapter (is the GPU blocklisted?)";
    const info = adapter.info;
    const device = await requestWebGPUDevice(adapter);
    const counter = countGpuWork(device); // before the device's first buffer
    // Deno's backend, under tfjs' name "webgpu" (its WebGPU kernels are registered for that name).
    if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
    tf.registerBackend("webgpu", () => webgpuBackendFor(device, info), 3);
    tf.env().set(SUBMIT_BATCH_FLAG, DEFAULT_SUBMIT_BATCH);
    if (await tf.setBackend("webgpu")) {
      await tf.ready();
      return counter;
    }
    return "tfjs' WebGPU backend did not start";
  } catch (e) {
    return `WebGPU failed to start: ${errorText(e)}`;
  }
}

function describeWebGPU(counter: GpuCounter): DeviceInfo {
  const be = tf.backend() as unknown as WebGPUBackendLike;
  const info = be.adapterInfo ?? {};
  const l = be.device.limits;
  return {
    backend: "webgpu",
    reason: "WebGPU adapter found",
    adapter: {
      vendor: info.vendor ?? "",
      architecture: info.architecture ?? "",
      description: info.description ?? "",
      software: isSoftwareAdapter(info, Boolean(info.isFallbackAdapter)),
    },
    limits: {
      maxBufferSize: Number(l.maxBufferSize),
      maxStorageBufferBindingSize: Number(l.maxStorageBufferBindingSize),
      maxComputeWorkgroupStorageSize: Number(l.maxComputeWorkgroupStorageSize),
      maxComputeInvocationsPerWorkgroup: Number(l.maxComputeInvocationsPerWorkgroup),
      maxComputeWorkgroupsPerDimension: Number(l.maxComputeWorkgroupsPerDimension),
    },
    counter,
  };
}

/** Bytes as people read them: `1.50 GiB`, `256 MiB`, `12 KiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}

/**
 * Why a step of `config` at `batch` images of `size`x`size` cannot run on a device with `limits`
 * even in parts of the batch (the library's rule: the input batch, or one image's step, is over
 * them), with the largest batch that runs; null when it runs (or there are no limits: CPU).
 *
 * @example
 * ```ts
 * import { limitProblem } from "./device.ts";
 * import { resolveConfig } from "../lib/model/resnet.ts";
 * const limits = { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 };
 * limitProblem(resolveConfig({ stages: [1, 1, 1, 1], width: 8 }), 224, 8192, limits);
 * // "a batch of 8192 needs a 1.53 GiB tensor (the input batch, [8192, 224, 224, 1]) but this
 * //  device allows at most 1.00 GiB in one binding (maxStorageBufferBindingSize): use a batch
 * //  of at most 5349"
 * ```
 */
export function limitProblem(
  config: ResNetConfig,
  size: number,
  batch: number,
  limits: Pick<DeviceLimits, "maxBufferSize" | "maxStorageBufferBindingSize"> | null,
): string | null {
  const p = fitProblem(config, size, batch, limits && limitOf(limits));
  if (!p) return null;
  const { tensor: t, limit } = p;
  const what = limit.name === "maxStorageBufferBindingSize" ? "in one binding" : "in one buffer";
  const fix = p.fits >= 1
    ? `use a batch of at most ${p.fits}`
    : "even one image is too large: use a smaller input size or width";
  return `a batch of ${batch} needs a ${formatBytes(t.bytes)} tensor (${t.name}, ` +
    `[${t.shape.join(", ")}]) but this device allows at most ${formatBytes(limit.bytes)} ` +
    `${what} (${limit.name}): ${fix}`;
}
