/**
 * Atomic file writes: data goes to a unique temporary file beside the target, which is then
 * renamed over it, so a reader (or a run killed half-way) sees the old file or the whole new one,
 * never a torn one; two processes writing at once never share a temporary file.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/note.txt`, "hello");
 * ```
 * @module
 */
import { basename, dirname, join } from "node:path";
import { errorText, UserError } from "../errors.ts";

/** A unique temporary name beside `dest` (`.NAME.PID-RAND.tmp`, what stale-temp cleanup clears). */
export function tempPathFor(dest: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return join(dirname(dest), `.${basename(dest)}.${Deno.pid}-${rand}.tmp`);
}

/**
 * The names {@linkcode tempPathFor} makes: `.NAME.PID-RAND.tmp`.
 *
 * @example
 * ```ts
 * import { TEMP_NAME } from "./atomic.ts";
 * TEMP_NAME.test(".weights.bin.1234-k3x9.tmp"); // true
 * ```
 */
export const TEMP_NAME: RegExp = /^\..+\.\d+-[0-9a-z]+\.tmp$/;

/**
 * Deletes temporary files and directories left in `dir` by killed processes
 * (`.NAME.PID-RAND.tmp`) that are older than `maxAgeMs` (default one hour, so that a concurrent
 * process's live download is left alone; 0 where the caller holds the directory's lock).
 * Returns how many it removed.
 *
 * @example
 * ```ts
 * import { removeStaleTemps } from "./atomic.ts";
 * await removeStaleTemps(await Deno.makeTempDir()); // 0: nothing left there
 * ```
 */
export async function removeStaleTemps(dir: string, maxAgeMs = 3_600_000): Promise<number> {
  let removed = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isSymlink || !TEMP_NAME.test(e.name)) continue;
      const path = join(dir, e.name);
      const info = await Deno.stat(path).catch(() => null);
      if (info?.mtime && Date.now() - info.mtime.getTime() >= maxAgeMs) {
        await Deno.remove(path, { recursive: true }).then(() => removed++, () => {});
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed;
}

/** Whether process `pid` runs (Linux's /proc; elsewhere, unknown: assumed to run). */
async function running(pid: number): Promise<boolean> {
  if (pid === Deno.pid) return true;
  if (!(await Deno.stat("/proc/self").catch(() => null))) return true;
  return (await Deno.stat(`/proc/${pid}`).catch(() => null)) !== null;
}

/**
 * Deletes the temporary files (and directories) that {@linkcode tempPathFor} made for `dest` and
 * that a killed process left: those whose process no longer runs, or older than an hour. Every
 * atomic write calls it, so the next command that writes a file clears what a killed one left.
 * Returns how many it removed.
 *
 * @example
 * ```ts
 * import { removeDeadTemps } from "./atomic.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/.out.png.999999999-x.tmp`, "half"); // no such process
 * assert.equal(await removeDeadTemps(`${dir}/out.png`), 1);
 * ```
 */
export async function removeDeadTemps(dest: string): Promise<number> {
  const base = basename(dest), prefix = `.${base}.`;
  let removed = 0;
  try {
    for await (const e of Deno.readDir(dirname(dest))) {
      if (e.isSymlink || !e.name.startsWith(prefix) || !TEMP_NAME.test(e.name)) continue;
      const m = /^(?:old\.)?(\d+)-[0-9a-z]+\.tmp$/.exec(e.name.slice(prefix.length));
      if (!m) continue;
      const path = join(dirname(dest), e.name);
      const info = await Deno.stat(path).catch(() => null);
      const old = info?.mtime && Date.now() - info.mtime.getTime() >= 3_600_000;
      if (old || !(await running(Number(m[1])))) {
        await Deno.remove(path, { recursive: true }).then(() => removed++, () => {});
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed;
}

/**
 * Writes text or bytes to `path` through a temporary file and a rename; throws
 * {@linkcode UserError} ("cannot write PATH: reason") when it cannot, leaving no temporary file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeFilesAtomic([[path, data]]);
}

/**
 * Writes several files so that they change together as closely as the file system allows: every
 * temporary file is written in full first, then all are renamed in the given order (put the file
 * that vouches for the others, such as a checksum, last).
 */
export async function writeFilesAtomic(
  files: readonly (readonly [string, string | Uint8Array])[],
): Promise<void> {
  const tmps: string[] = [];
  for (const [path] of files) await removeDeadTemps(path);
  try {
    for (const [path, data] of files) {
      const tmp = tempPathFor(path);
      tmps.push(tmp);
      if (typeof data === "string") await Deno.writeTextFile(tmp, data, { createNew: true });
      else await Deno.writeFile(tmp, data, { createNew: true });
    }
    for (const [i, [path]] of files.entries()) await Deno.rename(tmps[i], path);
  } catch (e) {
    for (const tmp of tmps) await Deno.remove(tmp).catch(() => {});
    throw new UserError(`cannot write ${files.map(([p]) => p).join(", ")}: ${errorText(e)}`, {
      cause: e,
    });
  }
}

/**
 * Replaces directory `dir` by one holding exactly `files` (name -> contents), so that a reader
 * never sees old and new files mixed: they are written into a temporary directory beside it,
 * which is renamed to `dir`. A `dir` already there is first renamed aside and removed after;
 * a kill between those two renames leaves it aside whole, and the next call puts it back
 * before anything else. A `dir` holding other files than `files` is refused (a UserError).
 */
export async function replaceDirAtomic(
  dir: string,
  files: Readonly<Record<string, string | Uint8Array>>,
): Promise<void> {
  await restoreAside(dir);
  await removeDeadTemps(dir);
  await checkReplaceableDir(dir, Object.keys(files));
  const tmp = tempPathFor(dir);
  const aside = join(dirname(dir), `.${basename(dir)}.old.${basename(tmp).split(".").at(-2)}.tmp`);
  let moved = false;
  try {
    await Deno.mkdir(dirname(dir), { recursive: true }); // an --out may name new folders
    await Deno.mkdir(tmp);
    for (const [name, data] of Object.entries(files)) {
      if (typeof data === "string") await Deno.writeTextFile(join(tmp, name), data);
      else await Deno.writeFile(join(tmp, name), data);
    }
    if (await Deno.stat(dir).catch(() => null)) {
      await Deno.rename(dir, aside);
      moved = true;
    }
    await Deno.rename(tmp, dir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (moved) await Deno.rename(aside, dir).catch(() => {});
    throw new UserError(`cannot write ${dir}: ${errorText(e)}`, { cause: e });
  }
  if (moved) await Deno.remove(aside, { recursive: true }).catch(() => {});
}

/** Puts back a directory a killed {@linkcode replaceDirAtomic} left renamed aside. */
async function restoreAside(dir: string): Promise<void> {
  if (await Deno.lstat(dir).catch(() => null)) return;
  const prefix = `.${basename(dir)}.old.`;
  const entries = await Array.fromAsync(Deno.readDir(dirname(dir))).catch(() => []);
  for (const e of entries) {
    const m = /^(\d+)-[0-9a-z]+\.tmp$/.exec(e.name.slice(prefix.length));
    if (!e.isDirectory || !e.name.startsWith(prefix) || !m || (await running(Number(m[1])))) {
      continue;
    }
    await Deno.rename(join(dirname(dir), e.name), dir);
    return;
  }
}

/**
 * Refuses (a UserError) an existing `dir` that holds anything but `names` and temporary files:
 * what {@linkcode replaceDirAtomic} refuses, for a check before any slow work.
 */
export async function checkReplaceableDir(dir: string, names: readonly string[]): Promise<void> {
  const st = await Deno.stat(dir).catch(() => null);
  if (!st) return;
  if (!st.isDirectory) throw new UserError(`${dir} is a file, not a directory: choose another`);
  const others: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!names.includes(e.name) && !TEMP_NAME.test(e.name)) others.push(e.name);
  }
  if (others.length) {
    throw new UserError(
      `${dir} holds other files (${others.slice(0, 3).join(", ")}${
        others.length > 3 ? ", ..." : ""
      }), which replacing it would lose: give a new or empty directory`,
    );
  }
}
