/**
 * The page's diagnostics of the GPU's workload: the work a training step asks of the WebGPU
 * device (dispatches, buffers created, uploads, read-backs, pipelines compiled: the counter of
 * lib/backends/webgpu_counts.ts), measured between two read-backs of the metrics, per step. The
 * steps up to a training's first read-back are its warm-up (the buffer pool fills, the step's
 * pipelines compile): they are reported apart. After warm-up a step should create no buffer and
 * compile no pipeline, and read back only at the read-backs. No DOM here: the tests run it in Deno.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NO_WORK } from "../lib/backends/webgpu_counts.ts";
 * import { StepWorkMeter } from "./gpu_work.ts";
 * let counts = { ...NO_WORK };
 * const meter = new StepWorkMeter({ counts: () => ({ ...counts }) });
 * meter.restart();
 * counts = { ...counts, dispatches: 500, buffersCreated: 40, readbacks: 2 };
 * assert.equal(meter.mark(1, 2, 64, 32)?.warmup, true); // steps 1-2: the warm-up
 * counts = { ...counts, dispatches: 900, readbacks: 4 };
 * const w = meter.mark(1, 4, 128, 32)!; // steps 3-4
 * assert.deepEqual([w.warmup, w.first, w.last], [false, 3, 4]);
 * assert.deepEqual([w.perStep.dispatches, w.perStep.buffersCreated, w.perStep.readbacks], [200, 0, 1]);
 * ```
 * @module
 */
import { type GpuCounter, type GpuCounts, workBetween } from "../lib/backends/webgpu_counts.ts";

/** The GPU work of the steps between two read-backs of one epoch. */
export interface StepWork {
  /** True for a training's first steps (to its first read-back): the warm-up. */
  warmup: boolean;
  /** 1-based epoch, and its first and last step measured (1-based). */
  epoch: number;
  first: number;
  last: number;
  /** The work of those steps (read-backs included), in all and per step. */
  total: GpuCounts;
  perStep: GpuCounts;
  /** Training examples per second over those steps (the read-back included). */
  examplesPerSec: number;
}

interface Mark {
  epoch: number;
  step: number;
  counts: GpuCounts;
  at: number;
}

/** Measures {@linkcode StepWork} at each read-back of a training; see the module's doc. */
export class StepWorkMeter {
  #last: Mark | null = null;
  #warm = false;

  /**
   * @param counter The device's counter.
   * @param now The clock (milliseconds).
   */
  constructor(readonly counter: GpuCounter, readonly now: () => number = () => performance.now()) {}

  /**
   * A training starts (a new network, or Continue) at `epoch` (1-based) after `step` of its steps:
   * its steps to the first read-back warm up.
   */
  restart(epoch = 1, step = 0): void {
    this.#last = { epoch, step, counts: this.counter.counts(), at: this.now() };
    this.#warm = false;
  }

  /**
   * At a read-back after `step` steps (`examples` images) of `epoch` at `batchSize`: the work
   * since the previous read-back, or null where that is no measure of the step: none before (no
   * {@linkcode StepWorkMeter.restart}), another epoch (the test pass lies between), no step
   * between, or a last batch smaller than the others among the steps (a shape of its own).
   */
  mark(epoch: number, step: number, examples: number, batchSize: number): StepWork | null {
    const prev = this.#last;
    const m = { epoch, step, counts: this.counter.counts(), at: this.now() };
    this.#last = m;
    if (prev === null || prev.epoch !== epoch || step <= prev.step) return null;
    const warmup = !this.#warm;
    this.#warm = true;
    if (examples !== step * batchSize) return null;
    const first = prev.step + 1, n = step - prev.step;
    return {
      warmup,
      epoch,
      first,
      last: step,
      total: workBetween(prev.counts, m.counts),
      perStep: workBetween(prev.counts, m.counts, n),
      examplesPerSec: (n * batchSize * 1000) / Math.max(m.at - prev.at, 1e-9),
    };
  }
}
