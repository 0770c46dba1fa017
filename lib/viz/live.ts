/**
 * The live page of `train --serve`: d2l's `Animator` in the browser. A local HTTP server (on
 * 127.0.0.1 only) serves one page that follows the run over server-sent events: the curves
 * (./chart.ts) redrawn at every read-back of the running loss and accuracy (each a point at its
 * fractional epoch, as d2l's `train_ch6` adds them) and at every test pass, the current epoch's
 * progress, and the run's report.html once an epoch has ended.
 *
 * Training pays for it only while a page is connected, and then one chart (a few kB of SVG text,
 * about a millisecond) per read-back; the server runs on the same event loop, which the training
 * loop yields to after every step.
 *
 * @example
 * ```ts ignore
 * import { LiveBoard } from "./live.ts";
 * import assert from "node:assert/strict";
 * const board = LiveBoard.listen({ port: 0, runDir: "runs/demo" });
 * assert.match(board.url, /^http:\/\/127\.0\.0\.1:\d+\/$/); // http://127.0.0.1:PORT/
 * const progress = board.progress(); // pass to train() as its ProgressSink
 * // ... train({ progress, afterEpoch: (e) => board.epochEnded(e.history), ... })
 * await board.close("finished");
 * ```
 * @module
 */
import type { PassProgress, ProgressSink, ProgressStats } from "../run/progress.ts";
import { SILENT_PROGRESS } from "../run/progress.ts";
import type { History } from "../run/metrics.ts";
import { runPath } from "../run/run_dir.ts";
import { serveLocal } from "../io/serve.ts";
import { animatorSeries, lineChart, type LivePoint } from "./chart.ts";
import { REPORT_FILE } from "./report.ts";
import { LIVE_PAGE } from "./live_page.ts";

/** Options of {@linkcode LiveBoard.listen}. */
export interface LiveOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The interface to bind (default 127.0.0.1: the page is for this machine only). */
  hostname?: string;
  /**
   * Least milliseconds between two messages to a page (default 250): read-backs closer than
   * that go out together, so fast steps never make the server (or the page) redraw more than
   * 4 times a second.
   */
  minIntervalMs?: number;
  /** The run directory, whose report.html the page shows (or later: {@linkcode LiveBoard.follow}). */
  runDir?: string;
}

/** Where the run stands, as the page shows it. */
interface Phase {
  phase: "starting" | "train" | "test" | "finished" | "stopped";
  epoch: number;
  epochs: number;
  done: number;
  total: number;
  stats: ProgressStats | null;
}

const encoder = new TextEncoder();

/** The live page's server and the state it shows; {@linkcode LiveBoard.close} it when done. */
export class LiveBoard {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #points: LivePoint[] = [];
  #history: History | null = null;
  #phase: Phase = { phase: "starting", epoch: 0, epochs: 1, done: 0, total: 0, stats: null };
  /** The run's report.html as last written (null: none yet). */
  #report: string | null = null;
  #runDir: string | null = null;
  readonly #minInterval: number;
  #lastSent = -Infinity;
  #pending: ReturnType<typeof setTimeout> | null = null;

  private constructor(
    listen: (h: Deno.ServeHandler<Deno.NetAddr>) => Deno.HttpServer<Deno.NetAddr>,
    minIntervalMs: number,
  ) {
    this.#minInterval = minIntervalMs;
    this.#server = listen((req) => this.#route(req));
  }

  /** Shows the report.html of run directory `dir` (a resumed run's is there from the start). */
  follow(dir: string): void {
    this.#runDir = dir;
    try {
      this.#report = Deno.readTextFileSync(runPath(dir, REPORT_FILE));
    } catch { /* none yet */ }
  }

  /**
   * Starts the server; a port in use (or one that cannot be bound) is an `InputError`
   * naming it, thrown before anything else happens.
   */
  static listen(opts: LiveOptions): LiveBoard {
    const board = new LiveBoard(
      (handler) => serveLocal({ hostname: opts.hostname, port: opts.port }, handler),
      opts.minIntervalMs ?? 250,
    );
    if (opts.runDir !== undefined) board.follow(opts.runDir);
    return board;
  }

  /** The page's address, e.g. `http://127.0.0.1:8700/`. */
  get url(): string {
    const a = this.#server.addr;
    return `http://${a.hostname}:${a.port}/`;
  }

  /** Pages connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /**
   * A {@linkcode ProgressSink} for `train` that records every read-back for the page and passes
   * everything on to `inner` (the terminal's display).
   */
  progress(inner: ProgressSink = SILENT_PROGRESS): ProgressSink {
    return {
      start: (epoch, epochs, total, done = 0) => {
        inner.start(epoch, epochs, total, done);
        this.#phase = { phase: "train", epoch, epochs, done, total, stats: null };
        this.#send();
      },
      update: (done, stats) => {
        inner.update(done, stats);
        const p = this.#phase;
        this.#phase = { ...p, done, stats };
        this.#points.push({ x: p.epoch - 1 + done / Math.max(1, p.total), ...stats });
        this.#send();
      },
      stop: () => inner.stop(),
      testPass: (epoch, epochs) => this.#testPass(inner.testPass?.(epoch, epochs), epoch, epochs),
    };
  }

  /** The test pass's progress for the page, passed on to `inner`. */
  #testPass(inner: PassProgress | undefined, epoch: number, epochs: number): PassProgress {
    const set = (done: number, total: number) => {
      this.#phase = { ...this.#phase, phase: "test", epoch, epochs, done, total };
      this.#send();
    };
    return {
      start: (total) => {
        inner?.start(total);
        set(0, total);
      },
      update: (done) => {
        inner?.update(done);
        set(done, this.#phase.total);
      },
      stop: () => inner?.stop(),
    };
  }

  /**
   * An epoch ended and its report.html was written: the page adds the test accuracy and shows
   * the report (sent whole, so it stays readable after the server has stopped).
   */
  async epochEnded(history: History): Promise<void> {
    this.#history = history;
    if (this.#runDir) {
      this.#report = await Deno.readTextFile(runPath(this.#runDir, REPORT_FILE)).catch(() => null);
      if (this.#report !== null) this.#broadcast(reportEvent(this.#report));
    }
    this.#send();
  }

  /** Tells the pages the run ended ("finished" or "stopped"), then stops the server. */
  async close(how: "finished" | "stopped" = "finished"): Promise<void> {
    this.#phase = { ...this.#phase, phase: how };
    this.#flush();
    for (const c of this.#clients) {
      try {
        c.close();
      } catch { /* the page went away meanwhile */ }
    }
    this.#clients.clear();
    await this.#server.shutdown();
  }

  /** What the page shows now, as one JSON text. */
  state(): string {
    const records = this.#history?.epochs ?? [];
    const epochs = Math.max(1, this.#phase.epochs, this.#history?.settings.epochs ?? 0);
    const chart = lineChart(animatorSeries(records, this.#points), { xlim: [0, epochs] });
    return JSON.stringify({ ...this.#phase, chart });
  }

  /** Sends the state now, or once `minIntervalMs` have passed since the last message. */
  #send(): void {
    if (this.#clients.size === 0 || this.#pending !== null) return;
    const wait = this.#lastSent + this.#minInterval - performance.now();
    if (wait <= 0) this.#flush();
    else this.#pending = setTimeout(() => this.#flush(), wait);
  }

  /** Sends the state to every page (nothing to do, and nothing drawn, when there is none). */
  #flush(): void {
    if (this.#pending !== null) clearTimeout(this.#pending);
    this.#pending = null;
    this.#lastSent = performance.now();
    if (this.#clients.size === 0) return;
    this.#broadcast(encoder.encode(`event: state\ndata: ${this.state()}\n\n`));
  }

  /** Sends one encoded message to every page. */
  #broadcast(msg: Uint8Array): void {
    for (const c of this.#clients) {
      try {
        c.enqueue(msg);
      } catch {
        this.#clients.delete(c);
      }
    }
  }

  /** `/` the page, `/events` its event stream, `/report.html` the run's report. */
  async #route(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (req.method !== "GET") return new Response("only GET\n", { status: 405 });
    if (path === "/") return html(LIVE_PAGE);
    if (path === "/events") return this.#events();
    if (path === "/report.html") {
      const dir = this.#runDir;
      const page = dir ? await Deno.readFile(runPath(dir, REPORT_FILE)).catch(() => null) : null;
      return page ? html(page) : new Response("no report yet\n", { status: 404 });
    }
    return new Response("not found\n", { status: 404 });
  }

  /** A server-sent event stream that starts with the current state. */
  #events(): Response {
    let ctl: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        ctl = c;
        this.#clients.add(c);
        c.enqueue(encoder.encode(`retry: 2000\nevent: state\ndata: ${this.state()}\n\n`));
        if (this.#report !== null) c.enqueue(reportEvent(this.#report));
      },
      cancel: () => void this.#clients.delete(ctl),
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
    });
  }
}

/** The server-sent event that carries the report page. */
function reportEvent(page: string): Uint8Array {
  return encoder.encode(`event: report\ndata: ${JSON.stringify(page)}\n\n`);
}

function html(body: string | Uint8Array<ArrayBuffer>): Response {
  return new Response(body, {
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });
}
