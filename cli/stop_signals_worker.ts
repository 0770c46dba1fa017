/**
 * The thread behind {@linkcode StopWatcher} (./stop_signals.ts). It listens for SIGINT, SIGTERM
 * and SIGHUP on its own event loop, so it answers even while the main thread is busy in a long
 * step (a WebGPU step on a software adapter can hold the main thread for minutes). On the first
 * signal it clears the progress bar's line, prints the notice and tells the main thread; on a
 * second it gives the signal back to the system, which ends the process at once (exit 128 + n).
 * @module
 */

type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";
// Windows delivers only SIGINT (and SIGBREAK) to Deno.
const SIGNALS: readonly StopSignal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM", "SIGHUP"];

const port = self as unknown as { postMessage(message: unknown): void };
const encoder = new TextEncoder();
let first: StopSignal | null = null;

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
  Deno.kill(Deno.pid, sig);
  // Where the signal is ignored (e.g. SIGINT of a background job), end it all the same.
  setTimeout(() => Deno.kill(Deno.pid, "SIGKILL"), 500);
}

function onSignal(sig: StopSignal): void {
  if (first !== null) return quitNow(sig);
  first = sig;
  // "\r\x1b[2K" clears the line a progress bar (and the terminal's "^C") is drawn on.
  say(`${Deno.stderr.isTerminal() ? "\r\x1b[2K" : "\n"}${notice(sig)}`);
  port.postMessage({ signal: sig });
}

const handlers = Object.fromEntries(SIGNALS.map((s) => [s, () => onSignal(s)])) as Record<
  StopSignal,
  () => void
>;
for (const s of SIGNALS) Deno.addSignalListener(s, handlers[s]);
port.postMessage({ ready: true });
