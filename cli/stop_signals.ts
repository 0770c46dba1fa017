/**
 * Stop signals while a run trains: SIGINT (Ctrl-C), SIGTERM (`timeout`, Docker, systemd, Slurm)
 * and SIGHUP (a closed terminal) all finish the current step, save and end with 128 + the
 * signal's number (130, 143, 129), as shells report a process stopped by it. A worker thread
 * listens, so the notice appears the moment the signal arrives even when the main thread is
 * inside a step that takes minutes; a second signal ends the process at once (one more than a
 * second after the first: the copies one Ctrl-C under `deno task` delivers count as one). Before
 * training starts there is nothing to save, and a stop quits at once.
 *
 * @example
 * ```ts ignore
 * import { StopWatcher } from "./stop_signals.ts";
 * const stop = await StopWatcher.start();
 * try {
 *   while (!stop.signal.aborted) await step();
 * } finally {
 *   stop.close();
 * }
 * console.log(stop.stoppedBy); // "SIGTERM", or null when no signal came
 * ```
 * @module
 */

/** A signal that stops a run (after saving). */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/** POSIX signal numbers: the exit code of a process stopped by one is 128 + its number. */
export const SIGNAL_NUMBERS: Readonly<Record<StopSignal, number>> = Object.freeze({
  SIGHUP: 1,
  SIGINT: 2,
  SIGTERM: 15,
});

/**
 * The exit code a shell reports for a process stopped by `sig`: 128 + its number.
 *
 * @example
 * ```ts
 * import { exitCodeOf } from "./stop_signals.ts";
 * exitCodeOf("SIGTERM"); // 143
 * ```
 */
export function exitCodeOf(sig: StopSignal): number {
  return 128 + SIGNAL_NUMBERS[sig];
}

/** The worker's module; {@linkcode StopWatcher.start} takes another (tests: one that fails). */
const WATCHER_SCRIPT = new URL("./stop_signals_worker.ts", import.meta.url);

/** Listens for stop signals on a worker thread while a run trains; {@linkcode close} it after. */
export class StopWatcher {
  readonly #ctl = new AbortController();
  readonly #worker: Worker;
  #stoppedBy: StopSignal | null = null;
  /** Settings the worker has not yet confirmed, by message number. */
  readonly #pending = new Map<number, () => void>();
  #sent = 0;
  #closed = false;

  private constructor(worker: Worker, onStop?: (sig: StopSignal) => void) {
    this.#worker = worker;
    worker.onerror = (e) => {
      e.preventDefault(); // the run goes on without the watcher (signals act as by default)
      this.close();
    };
    worker.onmessage = (e: MessageEvent<{ signal?: StopSignal; applied?: number }>) => {
      if (e.data.applied !== undefined) {
        this.#pending.get(e.data.applied)?.();
        this.#pending.delete(e.data.applied);
      }
      const sig = e.data.signal;
      if (!sig || this.#stoppedBy) return;
      this.#stoppedBy = sig;
      onStop?.(sig);
      this.#ctl.abort();
    };
  }

  /**
   * Starts listening; resolves once the worker's listeners are in place. `onStop` runs on the
   * main thread when it next gets the chance (the notice itself is already printed by then).
   * A worker that fails to start is terminated and the promise rejects.
   */
  static async start(
    onStop?: (sig: StopSignal) => void,
    script: URL = WATCHER_SCRIPT,
  ): Promise<StopWatcher> {
    const worker = new Worker(script.href, { type: "module" });
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<{ ready?: boolean }>) => e.data.ready && resolve();
      worker.onerror = (e) => {
        e.preventDefault();
        worker.terminate(); // a worker that failed must not outlive the attempt
        reject(new Error(`the signal watcher did not start: ${e.message}`));
      };
    });
    return new StopWatcher(worker, onStop);
  }

  /** Aborted when the first stop signal arrives. */
  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  /** The signal that stopped the run, or null. */
  get stoppedBy(): StopSignal | null {
    return this.#stoppedBy;
  }

  /**
   * Has a quit without saving (a second signal) remove `path`, the run's lock file, first.
   * Resolves once the worker holds it.
   */
  removeOnQuit(path: string): Promise<void> {
    return this.#tell({ lockFile: path });
  }

  /**
   * While `on`, a stop quits at once, removing the lock file (before training starts there is
   * nothing to save, and loading may not be interruptible); off, it saves as usual. Resolves
   * once the worker acts on it: a signal that arrives later meets the new setting.
   */
  quitUntilTraining(on: boolean): Promise<void> {
    return this.#tell({ setup: on });
  }

  /**
   * Sends the worker a setting and waits for its word that it applied it. A signal and a
   * message reach the worker's event loop in no fixed order, so without the wait a stop right
   * after a setting could meet the old one (seen once in CI under load).
   */
  #tell(setting: { lockFile?: string; setup?: boolean }): Promise<void> {
    if (this.#closed) return Promise.resolve(); // nobody listens any more
    const id = ++this.#sent;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#worker.postMessage({ ...setting, id });
    });
  }

  /** Stops listening (signals then act as they do by default); no setting is awaited after. */
  close(): void {
    this.#closed = true;
    this.#worker.terminate();
    for (const settled of this.#pending.values()) settled();
    this.#pending.clear();
  }
}
