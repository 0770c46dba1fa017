/**
 * Progress of a training epoch on stderr: a cli-progress bar on a terminal (images/s, ETA,
 * running loss and accuracy), plain lines at a modest rate otherwise (logs, CI, pipes).
 *
 * @example
 * ```ts
 * import { EpochProgress } from "./progress.ts";
 * const p = new EpochProgress();
 * p.start(1, 10, 60000);
 * p.update(2560, { loss: 1.2, acc: 0.55, imagesPerSec: 900 });
 * p.stop();
 * ```
 * @module
 */
import cliProgress from "cli-progress";
import process from "node:process";

/** Running statistics shown with the progress. */
export interface ProgressStats {
  /** Mean loss so far in the epoch. */
  loss: number;
  /** Training accuracy so far in the epoch. */
  acc: number;
  /** Training images per second so far in the epoch. */
  imagesPerSec: number;
}

/** Where progress goes; {@linkcode EpochProgress} or a silent stand-in. */
export interface ProgressSink {
  /** Begins 1-based epoch `epoch` of `epochs` over `total` images (`done` already, on resume). */
  start(epoch: number, epochs: number, total: number, done?: number): void;
  /** `done` images of the epoch are finished; `stats` are the running statistics. */
  update(done: number, stats: ProgressStats): void;
  /** Ends the epoch's display. */
  stop(): void;
}

/** Progress that prints nothing (for tests and `--quiet` uses). */
export const SILENT_PROGRESS: ProgressSink = { start() {}, update() {}, stop() {} };

/**
 * A per-epoch progress display on stderr. On a terminal it is a bar redrawn in place; without
 * one it prints a plain line at most every `plainEverySeconds` (default 10).
 */
export class EpochProgress implements ProgressSink {
  #bar: cliProgress.SingleBar | null = null;
  #tty: boolean;
  #every: number;
  #lastPrint = 0;
  #epoch = 0;
  #epochs = 0;
  #total = 0;

  /**
   * A display that shows nothing until {@linkcode EpochProgress.start}.
   *
   * @param opts `tty`: draw the bar (default: whether stderr is a terminal);
   * `plainEverySeconds`: least seconds between two plain lines (default 10).
   */
  constructor(opts: { tty?: boolean; plainEverySeconds?: number } = {}) {
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    this.#every = opts.plainEverySeconds ?? 10;
  }

  /** Begins epoch `epoch` of `epochs` over `total` images (`done` already, when resuming). */
  start(epoch: number, epochs: number, total: number, done = 0): void {
    this.#epoch = epoch;
    this.#epochs = epochs;
    this.#total = total;
    this.#lastPrint = performance.now();
    if (!this.#tty) return;
    this.#bar = new cliProgress.SingleBar({
      format:
        `epoch ${epoch}/${epochs} [{bar}] {value}/{total} | {ips} img/s | ETA {eta_formatted}` +
        " | loss {loss} | acc {acc}",
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
    this.#bar.start(total, done, { ips: "-", loss: "-", acc: "-" });
  }

  /** Reports `done` images of the epoch finished with the running statistics. */
  update(done: number, s: ProgressStats): void {
    const payload = {
      ips: s.imagesPerSec.toFixed(1),
      loss: s.loss.toFixed(4),
      acc: s.acc.toFixed(3),
    };
    if (this.#bar) {
      this.#bar.update(done, payload);
      return;
    }
    const now = performance.now();
    if (now - this.#lastPrint < this.#every * 1000) return;
    this.#lastPrint = now;
    const eta = s.imagesPerSec > 0 ? (this.#total - done) / s.imagesPerSec : NaN;
    console.error(
      `epoch ${this.#epoch}/${this.#epochs}: ${done}/${this.#total} images, ` +
        `${payload.ips} img/s, ETA ${Number.isFinite(eta) ? eta.toFixed(0) + " s" : "-"}, ` +
        `loss ${payload.loss}, acc ${payload.acc}`,
    );
  }

  /** Removes the bar (the epoch line is printed by the caller). */
  stop(): void {
    this.#bar?.stop();
    this.#bar = null;
  }
}
