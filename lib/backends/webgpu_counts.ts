/**
 * The work a WebGPU device is asked to do, counted where tfjs-webgpu asks for it: compute
 * dispatches, command-buffer submits, buffers created, uploads (and their bytes), read-backs and
 * pipelines compiled. These carry from a software adapter to a GPU (unlike its speed): a buffer
 * creation or a pipeline compilation inside the training loop is a stall, and every read-back
 * waits for the queue to drain (5-15 ms in browsers' WebGPU).
 *
 * The counter wraps the methods of one `GPUDevice` (and of its queue, its command encoders'
 * compute passes and the buffers it creates) on those objects themselves, so it works on any
 * WebGPU implementation (Deno's wgpu, a browser's Dawn) and needs no Deno API.
 *
 * What tfjs-webgpu 4.22 does with each: a tensor's buffer comes from its buffer manager's pool
 * (created only when no released buffer of that size and usage is free); every kernel writes its
 * uniforms with one `queue.writeBuffer`; a tensor made from JavaScript values (a scalar constant,
 * a batch) is uploaded through a staging buffer that is created for it and destroyed after the
 * submit; reading a tensor maps a pooled staging buffer with `mapAsync`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countGpuWork, NO_WORK } from "./webgpu_counts.ts";
 * const adapter = await navigator.gpu?.requestAdapter();
 * if (adapter) {
 *   const device = await adapter.requestDevice();
 *   const counter = countGpuWork(device);
 *   device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
 *   assert.equal(counter.counts().buffersCreated, 1);
 *   assert.equal(counter.counts().dispatches, NO_WORK.dispatches);
 *   device.destroy();
 * }
 * ```
 * @module
 */

/** Work asked of a device, counted since the counter was installed (or per step). */
export interface GpuCounts {
  /** Compute dispatches (`dispatchWorkgroups`): one per tfjs kernel that runs on the GPU. */
  dispatches: number;
  /** Command buffers submitted (`queue.submit`). */
  submits: number;
  /** Buffers created (`createBuffer`): the buffer pool's misses, and every upload's staging. */
  buffersCreated: number;
  /** Bytes of the buffers created. */
  bytesCreated: number;
  /**
   * Uploads from the host: `queue.writeBuffer` calls (tfjs: each kernel's uniforms) and buffers
   * created mapped (tfjs: a tensor's values, through a staging buffer).
   */
  uploads: number;
  /** Bytes uploaded. */
  bytesUploaded: number;
  /** Read-backs: buffers mapped for reading (`mapAsync` with `GPUMapMode.READ`). */
  readbacks: number;
  /** Compute pipelines compiled (`createComputePipeline` and `createComputePipelineAsync`). */
  pipelines: number;
}

/** Counts of no work: every field 0. */
export const NO_WORK: Readonly<GpuCounts> = Object.freeze({
  dispatches: 0,
  submits: 0,
  buffersCreated: 0,
  bytesCreated: 0,
  uploads: 0,
  bytesUploaded: 0,
  readbacks: 0,
  pipelines: 0,
});

/** The counts of one device, live ({@linkcode countGpuWork}). */
export interface GpuCounter {
  /** A copy of the counts so far. */
  counts(): GpuCounts;
}

const counters = new WeakMap<object, GpuCounter>();

/** Replaces `obj[name]` by a function that calls `count` with the arguments, then the original. */
function wrap<T extends object>(obj: T, name: keyof T & string, count: (args: unknown[]) => void) {
  const original = obj[name] as unknown as (...args: unknown[]) => unknown;
  Object.defineProperty(obj, name, {
    configurable: true,
    writable: true,
    value: function (this: unknown, ...args: unknown[]) {
      count(args);
      return original.apply(this, args);
    },
  });
}

const MAP_READ = 1; // GPUMapMode.READ

/**
 * Starts counting the work asked of `device` (once per device: a second call returns the same
 * counter). Install it before the device's first buffer: the read-backs of a buffer created
 * earlier (tfjs pools its staging buffers) are not seen. The wrappers cost a function call each.
 */
export function countGpuWork(device: GPUDevice): GpuCounter {
  const known = counters.get(device);
  if (known) return known;
  const c: GpuCounts = { ...NO_WORK };
  const byteLength = (data: unknown, size?: unknown) =>
    typeof size === "number" ? size : (data as ArrayBufferLike | ArrayBufferView).byteLength ?? 0;
  // Read-backs: the mapAsync of each buffer, wrapped as the buffer is created.
  const createBuffer = device.createBuffer;
  device.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor) {
    c.buffersCreated++;
    c.bytesCreated += Number(desc.size);
    if (desc.mappedAtCreation) {
      c.uploads++;
      c.bytesUploaded += Number(desc.size);
    }
    const buffer = createBuffer.call(this, desc);
    wrap(buffer, "mapAsync", ([mode]) => {
      if ((Number(mode) & MAP_READ) !== 0) c.readbacks++;
    });
    return buffer;
  };
  wrap(device, "createComputePipeline", () => c.pipelines++);
  wrap(device, "createComputePipelineAsync", () => c.pipelines++);
  wrap(device.queue, "submit", () => c.submits++);
  wrap(device.queue, "writeBuffer", ([, , data, , size]) => {
    c.uploads++;
    c.bytesUploaded += byteLength(data, size);
  });
  const createCommandEncoder = device.createCommandEncoder;
  device.createCommandEncoder = function (this: GPUDevice, desc?: GPUCommandEncoderDescriptor) {
    const encoder = createCommandEncoder.call(this, desc);
    const beginComputePass = encoder.beginComputePass;
    encoder.beginComputePass = function (this: GPUCommandEncoder, d?: GPUComputePassDescriptor) {
      const pass = beginComputePass.call(this, d);
      wrap(pass, "dispatchWorkgroups", () => c.dispatches++);
      return pass;
    };
    return encoder;
  };
  const counter = { counts: () => ({ ...c }) };
  counters.set(device, counter);
  return counter;
}

/**
 * The work between two snapshots, divided by `steps` (per step; 1: the total).
 *
 * @example
 * ```ts
 * import { NO_WORK, workBetween } from "./webgpu_counts.ts";
 * const after = { ...NO_WORK, dispatches: 300, readbacks: 3 };
 * workBetween(NO_WORK, after, 30).dispatches; // 10
 * ```
 */
export function workBetween(before: GpuCounts, after: GpuCounts, steps = 1): GpuCounts {
  const out = { ...NO_WORK };
  for (const k of Object.keys(out) as (keyof GpuCounts)[]) out[k] = (after[k] - before[k]) / steps;
  return out;
}
