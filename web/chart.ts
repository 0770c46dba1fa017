/**
 * d2l's training plot (its `Animator`) on the page: the running train loss and accuracy at every
 * read-back (at fractional epochs) and the test accuracy of every finished epoch, drawn by the
 * library's chart (lib/viz/chart.ts), the picture of report.html and `train --serve`'s live page.
 * Plain SVG text: nothing fetched, the page works offline.
 *
 * @example
 * ```ts
 * import { PageCurves } from "./chart.ts";
 * const curves = new PageCurves();
 * curves.progress({ epoch: 1, step: 5, steps: 10, loss: 1.2, acc: 0.6 });
 * const svg = curves.svg(2); // x axis from 0 to 2 epochs
 * ```
 * @module
 */
import type { EpochRecord } from "../lib/run/metrics.ts";
import { animatorSeries, lineChart, type LivePoint } from "../lib/viz/chart.ts";

/** The curves of one network's training so far. */
export class PageCurves {
  /** The running loss and accuracy at each read-back. */
  readonly live: LivePoint[] = [];
  /** The finished epochs (their test accuracy). */
  readonly records: EpochRecord[] = [];

  /** Adds a read-back: step `step` of `steps` in 1-based epoch `epoch`. */
  progress(p: { epoch: number; step: number; steps: number; loss: number; acc: number }): void {
    this.live.push({ x: p.epoch - 1 + p.step / p.steps, loss: p.loss, acc: p.acc });
  }

  /** Adds a finished epoch. */
  epoch(r: EpochRecord): void {
    this.records.push(r);
  }

  /** The plot over epochs 0..`epochs` as an `<svg>` element's markup. */
  svg(epochs: number): string {
    return lineChart(animatorSeries(this.records, this.live), { xlim: [0, Math.max(1, epochs)] });
  }
}
