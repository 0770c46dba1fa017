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
