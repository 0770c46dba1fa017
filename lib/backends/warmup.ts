/**
 * Compiles the WebGPU pipelines of a training step (and of evaluation) before the first step, so
 * that step runs at the speed of every later one.
 *
 * How: one pass of the exact step in tfjs-webgpu's compile-only mode
 * (`WEBGPU_ENGINE_COMPILE_ONLY`: kernels create pipelines, nothing is dispatched) collects the
 * WGSL of every pipeline. Deno's `createComputePipelineAsync` compiles on the calling thread, so
 * for parallelism the sources go to worker threads with their own devices, which fill the
 * driver's on-disk shader cache (Mesa's, NVIDIA's) side by side; the main device then creates
 * its pipelines from that cache. The weights, BatchNorm statistics and optimizer are restored,
 * so warming up changes nothing the user can see. On other backends it does nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "./choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { warmup } from "./warmup.ts";
 * await initBackend("webgpu");
 * const net = new ResNet({ depth: 18 });
 * const r = await warmup(net, { batch: 64, size: 28 });
 * assert.equal(r.backend, "webgpu");
 * assert.ok(r.pipelines > 0 && r.ms > 0, `compiled ${r.pipelines} pipelines in ${(r.ms / 1000).toFixed(1)} s`);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ResNet } from "../model/resnet.ts";
import { evalStep, trainStep } from "../model/step.ts";
import { SGD } from "../model/fused.ts";

/** What to compile. */
export interface WarmupOptions {
  /** Training batch size (the exact shape matters: pipelines are specialised on it). */
  batch: number;
  /** Input height and width. */
  size: number;
  /** Compile the training step (default true). */
  train?: boolean;
  /** Also compile inference at this batch size (default: none). */
  evalBatch?: number;
  /** An optimizer like the trainer's; made fresh and thrown away (default `new SGD(0.1)`). */
  optimizer?: () => tf.Optimizer;
  /** Worker threads that compile side by side; 0 compiles on the main thread only. */
  workers?: number;
}

/** What the warm-up did. */
export interface WarmupReport {
  /** The backend it ran on; nothing is compiled off WebGPU. */
  backend: string;
  /** Pipelines newly compiled. */
  pipelines: number;
  /** Worker threads used. */
  workers: number;
  /** Wall time in milliseconds. */
  ms: number;
}

interface Pending {
  descriptor: GPUComputePipelineDescriptor;
  code: string;
  resolve: (p: GPUComputePipeline) => void;
  reject: (e: unknown) => void;
}

/** The parts of tfjs' WebGPUBackend used here. */
interface WebGPUBackendLike {
  device: GPUDevice;
  pipelineCache: Record<string, unknown>;
  checkCompileCompletionAsync(): Promise<void>;
}

/**
 * Compiles every pipeline the given step shapes need, in parallel where it can. Safe to call
 * more than once; later calls only compile what is new.
 */
export async function warmup(net: ResNet, opts: WarmupOptions): Promise<WarmupReport> {
  const t0 = performance.now();
  const backend = tf.getBackend();
  if (backend !== "webgpu") return { backend, pipelines: 0, workers: 0, ms: 0 };
  const be = tf.backend() as unknown as WebGPUBackendLike;
  const device = be.device;
  const pending: Pending[] = [];
  const codes = new WeakMap<GPUShaderModule, string>();

  // Intercept pipeline creation for the compile-only pass: record, compile later.
  const realModule = device.createShaderModule;
  const realAsync = device.createComputePipelineAsync;
  // Whatever the device had as its own (a counter's wrappers, lib/backends/webgpu_counts.ts)
  // comes back afterwards.
  const NAMES = ["createShaderModule", "createComputePipelineAsync"] as const;
  const own = NAMES.map((name) => Object.getOwnPropertyDescriptor(device, name));
  Object.defineProperty(device, "createShaderModule", {
    configurable: true,
    value: (d: GPUShaderModuleDescriptor) => {
      const m = realModule.call(device, d);
      codes.set(m, d.code);
      return m;
    },
  });
  Object.defineProperty(device, "createComputePipelineAsync", {
    configurable: true,
    value: (d: GPUComputePipelineDescriptor) =>
      new Promise<GPUComputePipeline>((resolve, reject) => {
        pending.push({ descriptor: d, code: codes.get(d.compute.module) ?? "", resolve, reject });
      }),
  });

  const saved = [...net.params.values()].map((v) => [v, tf.clone(v)] as const);
  const tracked = net.numBatchesTracked;
  tf.env().set("WEBGPU_ENGINE_COMPILE_ONLY", true);
  try {
    const c = net.config.inChannels;
    if (opts.train ?? true) {
      const optimizer = (opts.optimizer ?? (() => new SGD(0.1)))();
      const { x, y } = fakeBatch(opts.batch, opts.size, c);
      const r = trainStep(net, optimizer, x, y);
      tf.dispose([x, y, r.loss, r.correct]);
      optimizer.dispose();
    }
    if (opts.evalBatch) {
      const { x, y } = fakeBatch(opts.evalBatch, opts.size, c);
      tf.dispose([x, y, evalStep(net, x, y)]);
    }
  } finally {
    tf.env().set("WEBGPU_ENGINE_COMPILE_ONLY", false);
    NAMES.forEach((name, i) => {
      const d = own[i];
      if (d) Object.defineProperty(device, name, d);
      else delete (device as unknown as Record<string, unknown>)[name];
    });
  }

  const workers = Math.min(pending.length, opts.workers ?? defaultWorkers());
  if (workers > 0) await compileInWorkers(pending.map((p) => p.code), workers);
  for (const p of pending) {
    try {
      p.resolve(await realAsync.call(device, p.descriptor));
    } catch (e) {
      p.reject(e);
    }
  }
  await be.checkCompileCompletionAsync();
  for (const [v, copy] of saved) {
    v.assign(copy);
    copy.dispose();
  }
  net.numBatchesTracked = tracked;
  return { backend, pipelines: pending.length, workers, ms: performance.now() - t0 };
}

/** A batch made as the data pipeline makes one: host arrays, uploaded when first used. */
function fakeBatch(n: number, size: number, c: number) {
  return {
    x: tf.tensor4d(new Float32Array(n * size * size * c), [n, size, size, c]),
    y: tf.tensor1d(new Int32Array(n), "int32"),
  };
}

/** One worker per core (the main thread waits meanwhile), at most 8. */
function defaultWorkers(): number {
  return Math.max(1, Math.min(8, navigator.hardwareConcurrency ?? 1));
}

// Runs in a worker: compiles the WGSL it is given on its own device and dispatches each pipeline
// once on scratch buffers (software drivers such as llvmpipe JIT-compile at the first dispatch,
// not at pipeline creation), which fills the driver's disk cache. Zero uniforms mean empty loops.
// Self-contained (a blob module), so it needs no file beside a compiled binary.
const WORKER_SOURCE = `
self.onmessage = async (e) => {
  try {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    // The same limits tfjs asks for, so every pipeline it made validates here too.
    const l = adapter.limits;
    const requiredLimits = {};
    for (const k of e.data.limits) requiredLimits[k] = Number(l[k]);
    const device = await adapter.requestDevice({ requiredLimits });
    const S = GPUBufferUsage.STORAGE, U = GPUBufferUsage.UNIFORM;
    const storage = Array.from({ length: 16 }, () => device.createBuffer({ size: 4096, usage: S }));
    const uniform = device.createBuffer({ size: 4096, usage: U });
    const binding = /@group\\(0\\)\\s*@binding\\((\\d+)\\)\\s*var<(storage|uniform)/g;
    let n = 0;
    for (const code of e.data.codes) {
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ code });
      const pipeline = device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "_start" },
      });
      const entries = [...code.matchAll(binding)].map((m) => ({
        binding: Number(m[1]),
        resource: { buffer: m[2] === "uniform" ? uniform : storage[Number(m[1]) % 16] },
      }));
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(1);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.popErrorScope();
      if (++n % 8 === 0) await device.queue.onSubmittedWorkDone();
    }
    await device.queue.onSubmittedWorkDone();
    device.destroy();
    self.postMessage({ ok: true });
  } catch (err) {
    self.postMessage({ ok: false, message: String(err) });
  }
};
`;

async function compileInWorkers(codes: string[], n: number): Promise<void> {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
  const limits = [
    "maxComputeWorkgroupStorageSize",
    "maxComputeWorkgroupsPerDimension",
    "maxStorageBufferBindingSize",
    "maxBufferSize",
    "maxComputeWorkgroupSizeX",
    "maxComputeInvocationsPerWorkgroup",
  ];
  try {
    await Promise.all(
      Array.from({ length: n }, (_, i) => {
        // Interleaved slices: neighbouring pipelines (similar cost) go to different workers.
        const slice = codes.filter((_, j) => j % n === i);
        return new Promise<void>((resolve) => {
          const w = new Worker(url, { type: "module" });
          w.onmessage = () => {
            w.terminate();
            resolve();
          };
          w.onerror = (e) => {
            e.preventDefault();
            w.terminate();
            resolve(); // the main thread compiles whatever a worker could not
          };
          w.postMessage({ codes: slice, limits });
        });
      }),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}
