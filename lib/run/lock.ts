/**
 * The lock of a run directory: one training run (new or resumed) at a time writes into it. The
 * lock is an exclusive `flock` on `train.lock`, which holds the owner's PID, host and start time
 * for the message a second run gets. The operating system drops the lock when its process dies
 * however it dies (kill -9 included), so a lock is never stale; a file left behind by a killed
 * run is taken over, and {@linkcode RunLock.previous} says whose it was.
 *
 * @example
 * ```ts
 * import { lockRunDir } from "./lock.ts";
 * const dir = await Deno.makeTempDir(); // a run directory
 * const lock = await lockRunDir(dir);
 * try {
 *   // ... train into it ...
 * } finally {
 *   await lock.release();
 * }
 * ```
 * @module
 */
import { errorText, UserError } from "../errors.ts";
import { RUN_FILES, RunDirError, runPath } from "./run_dir.ts";

/** A held lock of a run directory. */
export interface RunLock {
  /** The lock file. */
  readonly path: string;
  /** What the file said when it was taken over from a process that died holding it, or null. */
  readonly previous: string | null;
  /** Removes the lock file and unlocks; safe to call twice. */
  release(): Promise<void>;
}

/** What the lock file says: `pid 1234 on host since 2026-01-02T03:04:05.000Z`. */
function ownerLine(): string {
  return `pid ${Deno.pid} on ${Deno.hostname()} since ${new Date().toISOString()}`;
}

async function readOwner(path: string): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.trim() || "owner unknown";
}

/** Locks `file`, or returns false when another process holds it. */
async function tryLock(file: Deno.FsFile, path: string): Promise<boolean> {
  try {
    return await file.tryLock(true);
  } catch (e) {
    file.close();
    throw new UserError(
      `cannot lock ${path} (${errorText(e)}): the file system may not support locks; ` +
        "train into a directory on a local disk",
    );
  }
}

/** Whether `file` is still the one at `path` (not removed by a releasing owner meanwhile). */
async function stillThere(file: Deno.FsFile, path: string): Promise<boolean> {
  const [a, b] = [await file.stat(), await Deno.stat(path).catch(() => null)];
  return b !== null && (a.ino === null || a.ino === b.ino);
}

/**
 * Takes the lock of run directory `dir` (which must exist). Throws a one-line
 * {@linkcode UserError} naming the owner when another run holds it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lockRunDir } from "./lock.ts";
 * const lock = await lockRunDir(await Deno.makeTempDir());
 * assert.equal(lock.previous, null); // a fresh directory: no earlier lock to take over from
 * await lock.release();
 * ```
 */
export async function lockRunDir(dir: string): Promise<RunLock> {
  const path = runPath(dir, RUN_FILES.lock);
  for (;;) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (e) {
      const reason = `cannot create ${path}: ${errorText(e)}`;
      throw new RunDirError("not-writable", dir, reason, "choose another directory");
    }
    if (!await tryLock(file, path)) {
      file.close();
      const reason = `${dir} is in use by another train run (${await readOwner(path)})`;
      const fix = "wait for it to end or stop it, or choose another directory";
      throw new RunDirError("in-use", dir, reason, fix);
    }
    if (!await stillThere(file, path)) {
      file.close(); // its owner released it between our open and lock: try the new file
      continue;
    }
    return held(file, path, await writeOwner(file, dir, path));
  }
}

/**
 * Replaces what the held lock file says with this process' line; returns what it said before
 * (null: nothing). When that fails (a full disk), the file is closed, which drops the lock.
 */
async function writeOwner(file: Deno.FsFile, dir: string, path: string): Promise<string | null> {
  try {
    const left = (await Deno.readTextFile(path)).trim();
    await file.truncate(0);
    const line = new TextEncoder().encode(ownerLine() + "\n");
    for (let done = 0; done < line.length;) done += await file.write(line.subarray(done));
    return left || null;
  } catch (e) {
    // Unlocked before the close: a closed file's lock can outlive close() while an op still holds
    // the file (CI once saw the next lockRunDir in the same process find it held).
    await file.unlock().catch(() => {});
    file.close();
    const fix = "free some space or choose another directory";
    throw new RunDirError("not-writable", dir, `cannot write ${path}: ${errorText(e)}`, fix);
  }
}

function held(file: Deno.FsFile, path: string, previous: string | null): RunLock {
  let released = false;
  return {
    path,
    previous,
    release: async () => {
      if (released) return;
      released = true;
      // Removed while still locked: a process that opened it meanwhile sees it gone and retries.
      await Deno.remove(path).catch(() => {});
      file.close();
    },
  };
}
