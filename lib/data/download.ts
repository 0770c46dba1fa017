/**
 * Streamed HTTP(S) downloads that never leave a half-written file under its final name: bytes go
 * to a temporary file in the destination's directory, an optional check runs on it, and only then
 * is it renamed into place (atomic on one file system, so concurrent runs cannot corrupt it).
 * Each attempt has an inactivity timeout; network errors, timeouts, HTTP 5xx/408/429 and short
 * bodies are retried with exponential backoff. Progress goes to the caller: a report per chunk
 * (`onProgress`, for a bar) or an occasional plain line (`log`); nothing is printed here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { download } from "./download.ts";
 * // A local server stands in for a mirror.
 * const server = Deno.serve({ port: 0, onListen() {} }, () => new Response("12345"));
 * const dir = await Deno.makeTempDir();
 * const { bytes } = await download(`http://127.0.0.1:${server.addr.port}/a.gz`, `${dir}/a.gz`, {
 *   timeoutMs: 30_000,
 *   retries: 2,
 * });
 * assert.equal(bytes, 5);
 * assert.equal(await Deno.readTextFile(`${dir}/a.gz`), "12345");
 * await server.shutdown();
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @module
 */
import { basename } from "node:path";
import { removeStaleTemps, tempPathFor } from "../io/atomic.ts";
import { errorText } from "../errors.ts";

/** What {@linkcode download} does when an option is not given. */
export const DOWNLOAD_DEFAULTS = Object.freeze({ timeoutMs: 30_000, retries: 2, backoffMs: 1000 });

/** Options of {@linkcode download}. */
export interface DownloadOptions<T = void> {
  /** Abort an attempt when no byte arrives for this long (ms). Default 30,000 (`DOWNLOAD_DEFAULTS`). */
  timeoutMs?: number;
  /** Further attempts after the first, for retryable failures. Default 2. */
  retries?: number;
  /** Wait before the first retry (ms), doubled for each next one. Default 1,000. */
  backoffMs?: number;
  /** No progress reports at all, whatever `onProgress` and `log` are. */
  quiet?: boolean;
  /** Called on every chunk when the length is known (the CLI draws a bar with it). */
  onProgress?: (p: DownloadProgress) => void;
  /** Plain progress and retry lines (start, every 5 s, retries, done); default: none. */
  log?: (line: string) => void;
  /** Name shown in progress output (default: the destination's file name). */
  label?: string;
  /**
   * Runs on the complete temporary file before it is renamed; throw to reject it (the file is
   * deleted and the failure is not retried). Its result is returned by {@linkcode download}.
   */
  check?: (tmpPath: string) => Promise<T>;
}

/** What {@linkcode download} did. */
export interface DownloadResult<T> {
  /** Bytes received in the successful attempt. */
  bytes: number;
  /** Attempts made, 1 when the first one succeeded. */
  attempts: number;
  /** What `check` returned. */
  result: T;
}

/** A failed download; `message` is one line, e.g. "HTTP 404 Not Found" or "no data for 30 s". */
export class DownloadError extends Error {
  /** The error class name. */
  override name = "DownloadError";
  /** Whether another attempt at the same URL could succeed (timeouts, 5xx, cut connections). */
  readonly retryable: boolean;
  /**
   * Whether writing the file here failed (a full disk, a read-only or unwritable directory), not
   * the network: every other mirror would fail alike.
   */
  readonly local: boolean;
  /** Makes an error with a one-line `message`. */
  constructor(message: string, retryable: boolean, local = false, options?: ErrorOptions) {
    super(message, options);
    this.retryable = retryable;
    this.local = local;
  }
}

/** A failure to write `path` on this machine, as a {@linkcode DownloadError} that stops there. */
function localFailure(path: string, e: unknown): DownloadError {
  return new DownloadError(`cannot write ${path}: ${errorText(e)}`, false, true, { cause: e });
}

const MB = 1024 * 1024;
const fmtMB = (n: number) => n < MB ? `${(n / 1024).toFixed(1)} kB` : `${(n / MB).toFixed(1)} MB`;
const fmtSeconds = (s: number) =>
  !Number.isFinite(s)
    ? "?"
    : s < 10
    ? `${s.toFixed(1)} s`
    : s < 60
    ? `${Math.round(s)} s`
    : `${Math.round(s / 60)} min`;

/** Stale-temp cleanup, re-exported where it began (the data cache uses it). */
export { removeStaleTemps };

/** One report of a download in flight: `got` of `total` bytes (null when the server said none). */
export interface DownloadProgress {
  /** The name shown for the file. */
  label: string;
  /** Bytes received so far in this attempt. */
  got: number;
  /** The announced length, or null. */
  total: number | null;
  /** True on the last report of a successful attempt. */
  done: boolean;
}

interface Progress {
  update(got: number): void;
  done(got: number): void;
}

const NO_PROGRESS: Progress = { update() {}, done() {} };

/** Reports to `onProgress` on every chunk, or plain lines to `log` (start, every 5 s, done). */
function progressReporter(label: string, total: number | null, opts: DownloadOptions<unknown>) {
  if (opts.quiet) return NO_PROGRESS;
  const onProgress = opts.onProgress;
  if (onProgress && total !== null) {
    const report = (got: number, done: boolean) => onProgress({ label, got, total, done });
    report(0, false);
    return {
      update: (got: number) => report(got, false),
      done: (got: number) => report(got, true),
    };
  }
  const log = opts.log;
  if (!log) return NO_PROGRESS;
  const start = performance.now();
  const rate = (got: number) => got / Math.max((performance.now() - start) / 1000, 1e-3);
  let last = performance.now();
  const line = (got: number) => {
    const r = rate(got);
    const of = total === null ? "" : ` of ${fmtMB(total)} (${Math.floor((got / total) * 100)}%)`;
    const eta = total === null ? "" : `, ETA ${fmtSeconds((total - got) / r)}`;
    return `${label}: ${fmtMB(got)}${of}, ${fmtMB(r)}/s${eta}`;
  };
  log(`${label}: downloading${total === null ? "" : ` ${fmtMB(total)}`}`);
  return {
    update(got: number) {
      // Plain logs get a line every 5 s, not a line per chunk.
      if (performance.now() - last >= 5000) {
        last = performance.now();
        log(line(got));
      }
    },
    done(got: number) {
      log(`${label}: done, ${fmtMB(got)} in ${fmtSeconds((performance.now() - start) / 1000)}`);
    },
  };
}

/** Writes all of `data`; a failure (a full disk) is local, never retried. */
async function writeAll(file: Deno.FsFile, data: Uint8Array, path: string): Promise<void> {
  try {
    let off = 0;
    while (off < data.length) off += await file.write(data.subarray(off));
  } catch (e) {
    throw localFailure(path, e);
  }
}

async function attempt(
  url: string,
  tmp: string,
  label: string,
  opts: DownloadOptions<unknown>,
): Promise<number> {
  const timeoutMs = opts.timeoutMs ?? DOWNLOAD_DEFAULTS.timeoutMs;
  const ctl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(), timeoutMs);
  };
  const timeoutText = `no data for ${
    timeoutMs >= 1000 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`
  } (timeout)`;
  let file: Deno.FsFile | null = null;
  let progress: Progress | null = null;
  arm();
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: ctl.signal });
    } catch (e) {
      throw new DownloadError(ctl.signal.aborted ? timeoutText : errorText(e), true);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      const s = res.status;
      throw new DownloadError(
        `HTTP ${s}${res.statusText ? ` ${res.statusText}` : ""}`,
        s >= 500 || s === 408 || s === 429,
      );
    }
    const lengthHeader = res.headers.get("content-length");
    const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    try {
      file = await Deno.open(tmp, { write: true, createNew: true });
    } catch (e) {
      await res.body.cancel().catch(() => {});
      throw localFailure(tmp, e);
    }
    progress = progressReporter(label, total, opts);
    let got = 0;
    const reader = res.body.getReader();
    try {
      while (true) {
        arm();
        const { done, value } = await reader.read();
        if (done) break;
        await writeAll(file, value, tmp);
        got += value.length;
        progress.update(got);
      }
    } catch (e) {
      if (e instanceof DownloadError) {
        await reader.cancel().catch(() => {}); // the rest of the body is not wanted
        throw e;
      }
      throw new DownloadError(
        ctl.signal.aborted ? timeoutText : `connection failed after ${got} bytes: ${errorText(e)}`,
        true,
      );
    }
    if (total !== null && got !== total) {
      throw new DownloadError(`connection closed after ${got} of ${total} bytes`, true);
    }
    progress.done(got);
    return got;
  } finally {
    clearTimeout(timer);
    file?.close();
  }
}

/**
 * Downloads `url` to `dest` through a temporary file beside it, retrying retryable failures with
 * exponential backoff. Throws {@linkcode DownloadError} (one-line message) when every attempt
 * fails or `check` rejects the file; no file is ever left under `dest` in that case.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const server = Deno.serve({ port: 0, onListen() {} }, () => new Response(""));
 * const dir = await Deno.makeTempDir();
 * // An empty body fails the check: nothing is left under the final name.
 * await assert.rejects(
 *   download(`http://127.0.0.1:${server.addr.port}/x.gz`, `${dir}/x.gz`, {
 *     retries: 0,
 *     check: async (tmp) => {
 *       if ((await Deno.stat(tmp)).size === 0) throw new Error("empty file");
 *     },
 *   }),
 *   DownloadError,
 * );
 * await assert.rejects(Deno.stat(`${dir}/x.gz`), Deno.errors.NotFound);
 * await server.shutdown();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function download<T = void>(
  url: string,
  dest: string,
  opts: DownloadOptions<T> = {},
): Promise<DownloadResult<T>> {
  const retries = opts.retries ?? DOWNLOAD_DEFAULTS.retries;
  const backoffMs = opts.backoffMs ?? DOWNLOAD_DEFAULTS.backoffMs;
  const label = opts.label ?? basename(dest);
  for (let i = 0;; i++) {
    const tmp = tempPathFor(dest);
    try {
      const bytes = await attempt(url, tmp, label, opts);
      let result: T;
      try {
        result = opts.check ? await opts.check(tmp) : undefined as T;
      } catch (e) {
        throw new DownloadError(errorText(e), false);
      }
      await Deno.rename(tmp, dest).catch((e) => {
        throw localFailure(dest, e);
      });
      return { bytes, attempts: i + 1, result };
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      const err = e instanceof DownloadError ? e : new DownloadError(errorText(e), false);
      if (!err.retryable || i >= retries) {
        if (i > 0) err.message += ` (after ${i + 1} attempts)`;
        throw err;
      }
      const wait = backoffMs * 2 ** i;
      if (!opts.quiet) {
        opts.log?.(`${label}: ${err.message}; retrying in ${fmtSeconds(wait / 1000)}`);
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
