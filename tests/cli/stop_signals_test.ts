import assert from "node:assert/strict";
import { exitCodeOf, StopWatcher } from "../../cli/stop_signals.ts";

const BUSY = new URL("../fixtures/busy_step.ts", import.meta.url).pathname;

/** Reads a stream as text until `done(text)` holds or the stream ends; returns what it read. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: (text: string) => boolean,
  seen = "",
): Promise<string> {
  const dec = new TextDecoder();
  while (!done(seen)) {
    const { value, done: end } = await reader.read();
    if (end) break;
    seen += dec.decode(value, { stream: true });
  }
  return seen;
}

/**
 * Starts the busy fixture (with a stand-in lock file, and in the time before training, if given)
 * and waits for its "ready".
 */
async function startBusy(flag: string, lockFile?: string, setup = false) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BUSY, flag, ...(lockFile ? [lockFile] : []), ...(setup ? ["setup"] : [])],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const out = child.stdout.getReader(), err = child.stderr.getReader();
  await readUntil(out, (t) => t.includes("ready"));
  return { child, out, err };
}

Deno.test("a watcher whose worker fails to start: rejected, and the worker terminated", async () => {
  const terminate = Worker.prototype.terminate;
  let terminated = 0;
  Worker.prototype.terminate = function (this: Worker) {
    terminated++;
    terminate.call(this);
  };
  try {
    const failing = new URL("../fixtures/failing_worker.ts", import.meta.url);
    await assert.rejects(
      StopWatcher.start(undefined, failing),
      /^Error: the signal watcher did not start: .*this worker cannot start/,
    );
    assert.equal(terminated, 1);
  } finally {
    Worker.prototype.terminate = terminate;
  }
});

Deno.test("a setting the worker never confirms does not hang the run: close settles it", async () => {
  const stop = await StopWatcher.start();
  await stop.quitUntilTraining(true); // confirmed by the live worker
  const pending = stop.quitUntilTraining(false);
  stop.close(); // before the worker could answer
  assert.equal(await within(pending, 2000), "settled");
  // After close nothing is awaited at all.
  assert.equal(await within(stop.removeOnQuit("/nowhere"), 2000), "settled");
});

/** "settled" when `p` settles within `ms`, else "hung" (the timer is cleared either way). */
async function within(p: Promise<void>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((r) => timer = setTimeout(() => r("hung"), ms));
  try {
    return await Promise.race([p.then(() => "settled"), late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("exit codes are 128 + the signal's number", () => {
  assert.equal(exitCodeOf("SIGINT"), 130);
  assert.equal(exitCodeOf("SIGTERM"), 143);
  assert.equal(exitCodeOf("SIGHUP"), 129);
});

for (const sig of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
  Deno.test(`${sig}: the notice appears while the main thread is still busy in a step`, async () => {
    const flag = `${await Deno.makeTempDir()}/go`;
    const { child, out, err } = await startBusy(flag);
    child.kill(sig);
    // The fixture spins until the flag exists: the notice can only come from another thread.
    const stderr = await readUntil(err, (t) => t.includes("finishing the current step"));
    await Deno.writeTextFile(flag, "");
    const stdout = await readUntil(out, (t) => t.includes("stopped by"));
    const status = await child.status;
    assert.match(stderr, /finishing the current step and saving/, stderr);
    assert.match(stdout, new RegExp(`stopped by ${sig}`));
    assert.equal(status.code, exitCodeOf(sig));
    await err.cancel();
    await out.cancel();
    await Deno.remove(flag);
  });
}

Deno.test("a second SIGTERM ends the process at once, without waiting for the step, and removes the lock file", async () => {
  const dir = await Deno.makeTempDir();
  const { child, out, err } = await startBusy(`${dir}/never`, `${dir}/train.lock`);
  child.kill("SIGTERM");
  await readUntil(err, (t) => t.includes("finishing the current step"));
  // Past the window in which copies of the first signal count as the same stop.
  await new Promise((r) => setTimeout(r, 1200));
  child.kill("SIGTERM");
  const status = await child.status;
  assert.equal(status.code, 143);
  assert.equal(status.signal, "SIGTERM");
  await assert.rejects(Deno.stat(`${dir}/train.lock`), Deno.errors.NotFound);
  await err.cancel();
  await out.cancel();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("copies of one stop within a second (process group + deno task's forwarding) are one stop", async () => {
  const flag = `${await Deno.makeTempDir()}/go`;
  const { child, out, err } = await startBusy(flag);
  child.kill("SIGINT");
  child.kill("SIGINT");
  const stderr = await readUntil(err, (t) => t.includes("finishing the current step"));
  await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGHUP"); // a closed terminal's hang-up close behind a Ctrl-C: the same stop too
  await Deno.writeTextFile(flag, "");
  const stdout = await readUntil(out, (t) => t.includes("stopped by"));
  const status = await child.status;
  assert.match(stdout, /stopped by SIGINT/);
  assert.equal(status.code, 130, stderr);
  assert.equal(status.signal, null); // it saved and exited; the signal did not end it
  assert.equal(stderr.match(/finishing the current step/g)?.length, 1, stderr);
  await err.cancel();
  await out.cancel();
  await Deno.remove(flag);
});

Deno.test("before training starts a stop quits at once (nothing to save) and removes the lock file", async () => {
  const dir = await Deno.makeTempDir();
  const { child, out, err } = await startBusy(`${dir}/never`, `${dir}/train.lock`, true);
  child.kill("SIGINT");
  const stderr = await readUntil(err, (t) => t.includes("nothing was trained yet"));
  const status = await child.status;
  assert.match(stderr, /^interrupt: quitting; nothing was trained yet$/m);
  assert.equal(status.code, 130);
  assert.equal(status.signal, "SIGINT");
  await assert.rejects(Deno.stat(`${dir}/train.lock`), Deno.errors.NotFound);
  await err.cancel();
  await out.cancel();
  await Deno.remove(dir, { recursive: true });
});
