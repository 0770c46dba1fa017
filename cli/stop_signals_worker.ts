/**
 * The thread behind {@linkcode StopWatcher} (./stop_signals.ts). It listens for SIGINT, SIGTERM
 * and SIGHUP on its own event loop, so it answers even while the main thread is busy in a long
 * step (a WebGPU step on a software adapter can hold the main thread for minutes). On the first
 * signal it clears the progress bar's line, prints the notice and tells the main thread; on a
 * second it removes the run's lock file and gives the signal back to the system, which ends the
 * process at once (exit 128 + n). One stop often arrives twice: Ctrl-C in a terminal (or a
 * scheduler) signals the whole process group, and `deno task` forwards its own copy to the
 * trainer; signals within {@linkcode SAME_STOP_MS} of the first are that same stop.
 * @module
 */

type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";
// Windows delivers only SIGINT (and SIGBREAK) to Deno.
const SIGNALS: readonly StopSignal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM", "SIGHUP"];

/** Signals this soon after the first are copies of it (group + `deno task`), not a second stop. */
const SAME_STOP_MS = 1000;

const port = self as unknown as {
  postMessage(message: unknown): void;
  onmessage:
    | ((e: MessageEvent<{ lockFile?: string; setup?: boolean; id: number }>) => void)
    | null;
};
const encoder = new TextEncoder();
let first: StopSignal | null = null;
let firstAt = 0;
/** The run's lock file, removed on a quit without saving (the main thread cannot do it then). */
let lockFile: string | null = null;
/** Before training starts: nothing to save, a stop quits at once. */
let setup = false;
port.onmessage = (e) => {
  if (e.data.lockFile) lockFile = e.data.lockFile;
  if (e.data.setup !== undefined) setup = e.data.setup;
  port.postMessage({ applied: e.data.id });
};

/** Writes to stderr; a closed terminal (SIGHUP) must not stop the save. */
function say(text: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(text));
  } catch {
    // Nobody is there to read it.
  }
}

function notice(sig: StopSignal): string {
  const again = sig === "SIGINT" ? "Ctrl-C" : sig;
  const what = sig === "SIGINT" ? "interrupt" : `stop requested (${sig})`;
  return `${what}: finishing the current step and saving (${again} again to quit now, ` +
    "without saving)\n";
}

/** The second signal: the system's default action, which ends the process with 128 + n. */
function quitNow(sig: StopSignal): void {
  for (const s of SIGNALS) Deno.removeSignalListener(s, handlers[s]);
  if (lockFile) {
    try {
      Deno.removeSync(lockFile); // the OS drops the flock itself as the process ends
    } catch {
      // Gone already.
    }
  }
  Deno.kill(Deno.pid, sig);
  // Where the signal is ignored (e.g. SIGINT of a background job), end it all the same.
  setTimeout(() => Deno.kill(Deno.pid, "SIGKILL"), 500);
}

function onSignal(sig: StopSignal): void {
  if (first !== null) {
    if (performance.now() - firstAt < SAME_STOP_MS) return; // the same stop, delivered twice
    return quitNow(sig);
  }
  first = sig;
  firstAt = performance.now();
  const clear = Deno.stderr.isTerminal() ? CLEAR_BAR : "\n";
  if (setup) {
    say(`${clear}${sig === "SIGINT" ? "interrupt" : sig}: quitting; nothing was trained yet\n`);
    return quitNow(sig);
  }
  say(`${clear}${notice(sig)}`);
  port.postMessage({ signal: sig });
}

/**
 * Clears the line a progress bar (and the terminal's "^C") is drawn on, and turns line wrapping
 * and the cursor back on, which the bar turned off: the notice must wrap, not be cut.
 */
const CLEAR_BAR = "\r\x1b[2K\x1b[?7h\x1b[?25h";

const handlers = Object.fromEntries(SIGNALS.map((s) => [s, () => onSignal(s)])) as Record<
  StopSignal,
  () => void
>;
for (const s of SIGNALS) Deno.addSignalListener(s, handlers[s]);
port.postMessage({ ready: true });
