/**
 * What training reports while an epoch runs: a {@linkcode ProgressSink} receives the epoch's
 * start, the images done with running statistics, and its end; a {@linkcode PassProgress}
 * follows a pass over test images. The library never draws anything;
 * the CLI's sink (cli/progress.ts) draws a bar or prints lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProgressSink } from "./progress.ts";
 * const seen: number[] = [];
 * const sink: ProgressSink = { start() {}, update(done) { seen.push(done); }, stop() {} };
 * sink.update(256, { loss: 2.3, acc: 0.1, examplesPerSec: 200 });
 * assert.deepEqual(seen, [256]);
 * ```
 * @module
 */

/** Running statistics shown with the progress. */
export interface ProgressStats {
  /** Mean loss so far in the epoch. */
  loss: number;
  /** Training accuracy so far in the epoch. */
  acc: number;
  /** Training images per second so far in the epoch. */
  examplesPerSec: number;
}

/** Where progress goes: the CLI's display, or {@linkcode SILENT_PROGRESS}. */
export interface ProgressSink {
  /** Begins 1-based epoch `epoch` of `epochs` over `total` images (`done` already, on resume). */
  start(epoch: number, epochs: number, total: number, done?: number): void;
  /** `done` images of the epoch are finished; `stats` are the running statistics. */
  update(done: number, stats: ProgressStats): void;
  /** Ends the epoch's display. */
  stop(): void;
  /** The display of epoch `epoch`'s test pass (none when absent). */
  testPass?(epoch: number, epochs: number): PassProgress;
}

/** Progress of one pass over test images: the test pass after an epoch, or `eval`. */
export interface PassProgress {
  /** Begins a pass over `total` images. */
  start(total: number): void;
  /** `done` images are evaluated. */
  update(done: number): void;
  /** Ends the display. */
  stop(): void;
}

/** Progress that prints nothing (for tests and `--quiet` uses). */
export const SILENT_PROGRESS: ProgressSink = { start() {}, update() {}, stop() {} };
