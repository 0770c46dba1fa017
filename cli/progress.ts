/**
 * Progress of a training epoch on stderr: a cli-progress bar on a terminal (images/s, ETA,
 * running loss and accuracy), plain lines at a modest rate otherwise (logs, CI, pipes).
 *
 * @example
 * ```ts
 * import { EpochProgress } from "./progress.ts";
 * const p = new EpochProgress();
 * p.start(1, 10, 60000);
 * p.update(2560, { loss: 1.2, acc: 0.55, examplesPerSec: 900 });
 * p.stop();
 * ```
 * @module
 */
import cliProgress from "cli-progress";
import process from "node:process";
import type { PassProgress, ProgressSink, ProgressStats } from "../lib/run/progress.ts";
import type { DownloadProgress } from "../lib/data/download.ts";

/** Where a bar is drawn: stderr, or (in tests) anything that takes text and says it is a TTY. */
export type BarStream = { write(text: string): boolean; isTTY?: boolean };

/** Display options: `tty` draws a bar (default: whether stderr is a terminal); `stream`. */
export interface DisplayOptions {
  /** Draw a bar (default: whether stderr is a terminal). */
  tty?: boolean;
  /** Least seconds between two plain lines (default 10). */
  plainEverySeconds?: number;
  /** Where the bar goes (default stderr). */
  stream?: BarStream;
}

const encoder = new TextEncoder();

/**
 * stderr for the bars. A write that fails (the terminal was closed: EIO) is dropped: node's
 * `process.stderr` would report it as an uncaught 'error' event, which ends the process before
 * the SIGHUP that comes with it can save the run.
 */
const stderrStream = (): BarStream & { readonly columns?: number } => ({
  isTTY: Deno.stderr.isTerminal(),
  get columns() {
    try {
      return Deno.consoleSize().columns;
    } catch {
      return undefined;
    }
  },
  write(text: string): boolean {
    try {
      const bytes = encoder.encode(text);
      for (let done = 0; done < bytes.length;) done += Deno.stderr.writeSync(bytes.subarray(done));
    } catch {
      // Nobody is there to read it.
    }
    return true;
  },
});

/**
 * The bar's stream with a switch: once cut off, a bar's last redraw and its return to the line
 * it saved (cli-progress' `stop()` restores the cursor to where the bar started, and clears that
 * line) go nowhere. A stop notice is printed on that line from another thread; only this keeps
 * it from being wiped.
 */
class Gate implements BarStream {
  #open = true;
  constructor(readonly inner: BarStream) {}

  get isTTY(): boolean | undefined {
    return this.inner.isTTY;
  }

  /** The terminal's width, which the bar reads. */
  get columns(): number | undefined {
    return (this.inner as { columns?: number }).columns;
  }

  write(text: string): boolean {
    return this.#open ? this.inner.write(text) : true;
  }

  /**
   * Cuts the stream off. The notice ended its line, so the bar can only have been redrawn on
   * the line below it: that line is cleared, and the cursor shown again.
   */
  cut(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.inner.isTTY) this.inner.write("\r\x1b[2K\x1b[?7h\x1b[?25h");
  }
}

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
  #halted = false;
  #pass: PassDisplay | null = null;
  #stream: Gate;

  /** A display that shows nothing until {@linkcode EpochProgress.start}. */
  constructor(opts: DisplayOptions = {}) {
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    this.#every = opts.plainEverySeconds ?? 10;
    this.#stream = new Gate(opts.stream ?? stderrStream());
  }

  /** Begins epoch `epoch` of `epochs` over `total` images (`done` already, when resuming). */
  start(epoch: number, epochs: number, total: number, done = 0): void {
    this.#epoch = epoch;
    this.#epochs = epochs;
    this.#total = total;
    this.#lastPrint = performance.now();
    if (!this.#tty || this.#halted) return;
    this.#bar = new cliProgress.SingleBar({
      format:
        `epoch ${epoch}/${epochs} [{bar}] {value}/{total} | {speed} | loss {loss} | acc {acc}`,
      stream: this.#stream as unknown as NodeJS.WritableStream,
      hideCursor: true,
      clearOnComplete: true,
    }, cliProgress.Presets.shades_classic);
    // No rate or ETA before the first read-back: "starting", not "- img/s | ETA 0s".
    this.#bar.start(total, done, { speed: "starting", loss: "-", acc: "-" });
  }

  /** Reports `done` images of the epoch finished with the running statistics. */
  update(done: number, s: ProgressStats): void {
    if (this.#halted) return;
    const ips = s.examplesPerSec.toFixed(1), loss = s.loss.toFixed(4), acc = s.acc.toFixed(3);
    const eta = s.examplesPerSec > 0 ? (this.#total - done) / s.examplesPerSec : NaN;
    if (this.#bar) {
      const speed = Number.isFinite(eta) ? `${ips} img/s | ETA ${formatEta(eta)}` : "starting";
      this.#bar.update(done, { speed, loss, acc });
      return;
    }
    const now = performance.now();
    if (now - this.#lastPrint < this.#every * 1000) return;
    this.#lastPrint = now;
    console.error(
      `epoch ${this.#epoch}/${this.#epochs}: ${done}/${this.#total} images, ` +
        `${ips} img/s, ETA ${Number.isFinite(eta) ? eta.toFixed(0) + " s" : "-"}, ` +
        `loss ${loss}, acc ${acc}`,
    );
  }

  /** Removes the bar (the epoch line is printed by the caller). */
  stop(): void {
    this.#bar?.stop();
    this.#bar = null;
  }

  /**
   * Removes the bar for good: a stop notice was printed (at the bar's line, which it ended), so
   * nothing may be drawn again, nor the cursor taken back up to it.
   */
  halt(): void {
    this.#stream.cut();
    this.stop();
    this.#pass?.halt();
    this.#halted = true;
  }

  /** The display of epoch `epoch`'s test pass: a bar or lines like the epoch's own. */
  testPass(epoch: number, epochs: number): PassProgress {
    this.#pass = new PassDisplay(`epoch ${epoch}/${epochs} test`, {
      tty: this.#tty,
      plainEverySeconds: this.#every,
      stream: this.#stream,
    });
    if (this.#halted) this.#pass.halt();
    return this.#pass;
  }
}

/**
 * Progress of a pass over test images on stderr (`eval`, and the test pass after each epoch):
 * a bar on a terminal, else a plain line at most every `plainEverySeconds` (default 10).
 *
 * @example
 * ```ts
 * import { PassDisplay } from "./progress.ts";
 * const p = new PassDisplay("eval", { tty: false, plainEverySeconds: 0 });
 * p.start(10000);
 * p.update(2560); // "eval: 2560/10000 images, ... img/s, ETA ... s"
 * p.stop();
 * ```
 */
export class PassDisplay implements PassProgress {
  #bar: cliProgress.SingleBar | null = null;
  #tty: boolean;
  #every: number;
  #total = 0;
  #t0 = 0;
  #lastPrint = 0;
  #halted = false;
  #stream: Gate;

  /** @param label What the pass is, e.g. `eval` or `epoch 2/10 test`. */
  constructor(readonly label: string, opts: DisplayOptions = {}) {
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    this.#every = opts.plainEverySeconds ?? 10;
    this.#stream = new Gate(opts.stream ?? stderrStream());
  }

  /** Begins a pass over `total` images. */
  start(total: number): void {
    this.#total = total;
    this.#t0 = this.#lastPrint = performance.now();
    if (!this.#tty || this.#halted) return;
    this.#bar = new cliProgress.SingleBar({
      format: `${this.label} [{bar}] {value}/{total} | {speed}`,
      stream: this.#stream as unknown as NodeJS.WritableStream,
      hideCursor: true,
      clearOnComplete: true,
    }, cliProgress.Presets.shades_classic);
    this.#bar.start(total, 0, { speed: "starting" });
  }

  /** `done` images are evaluated. */
  update(done: number): void {
    if (this.#halted) return;
    const seconds = (performance.now() - this.#t0) / 1000;
    const ips = done > 0 && seconds > 0 ? done / seconds : NaN;
    const eta = (this.#total - done) / ips;
    if (this.#bar) {
      const speed = Number.isFinite(eta)
        ? `${ips.toFixed(1)} img/s | ETA ${formatEta(eta)}`
        : "starting";
      this.#bar.update(done, { speed });
      return;
    }
    const now = performance.now();
    if (now - this.#lastPrint < this.#every * 1000 || done >= this.#total) return;
    this.#lastPrint = now;
    console.error(
      `${this.label}: ${done}/${this.#total} images, ${ips.toFixed(1)} img/s, ` +
        `ETA ${Number.isFinite(eta) ? eta.toFixed(0) + " s" : "-"}`,
    );
  }

  /** Removes the bar. */
  stop(): void {
    this.#bar?.stop();
    this.#bar = null;
  }

  /** Removes the bar for good, as {@linkcode EpochProgress.halt} does. */
  halt(): void {
    this.#stream.cut();
    this.stop();
    this.#halted = true;
  }
}

/**
 * Seconds as `1h 2m`, `3m 4s` or `5s` (an ETA).
 *
 * @example
 * ```ts
 * import { formatEta } from "./progress.ts";
 * formatEta(185); // "3m 5s"
 * ```
 */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}

/**
 * A download progress bar on stderr (bytes, rate, ETA), for `LoadOptions.onProgress`; one bar per
 * file, started at its first report and finished at its last.
 *
 * @example
 * ```ts
 * import { downloadBar } from "./progress.ts";
 * const report = downloadBar();
 * report({ label: "a.gz", got: 0, total: 100, done: false });
 * report({ label: "a.gz", got: 100, total: 100, done: true });
 * ```
 */
export function downloadBar(): (p: DownloadProgress) => void {
  let bar: cliProgress.SingleBar | null = null, start = 0;
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
  return (p) => {
    const payload = {
      got: mb(p.got),
      all: mb(p.total ?? 0),
      rate: `${mb(p.got / Math.max((performance.now() - start) / 1000, 1e-3))}/s`,
    };
    if (!bar) {
      start = performance.now();
      bar = new cliProgress.SingleBar({
        format: `${p.label} [{bar}] {percentage}% | {got} of {all} | {rate} | ETA {eta_formatted}`,
        hideCursor: false,
        clearOnComplete: false,
        stream: process.stderr,
      }, cliProgress.Presets.shades_classic);
      bar.start(p.total ?? 0, p.got, payload);
    } else bar.update(p.got, payload);
    if (p.done) {
      bar.stop();
      bar = null;
    }
  };
}
