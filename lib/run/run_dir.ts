/**
 * The run directory of one training run: its file names, atomic writes, and the checks made
 * before any work starts (the directory can be written; a run to resume or evaluate exists).
 *
 * @example
 * ```ts
 * import { defaultRunDir, ensureWritableDir } from "./run_dir.ts";
 * import { writeFileAtomic } from "../io/atomic.ts";
 * const dir = defaultRunDir(18); // "runs/20260101-120000-resnet18"
 * await ensureWritableDir(dir);
 * await writeFileAtomic(`${dir}/note.txt`, "hello");
 * ```
 * @module
 */
import { errorText, UserError } from "../errors.ts";

/** File names inside a run directory. */
export const RUN_FILES: Readonly<{
  /** The tfjs layers model topology and weights manifest (in the checkpoint's `model-N`). */
  model: string;
  /** The weights referenced by model.json (beside it). */
  weights: string;
  /** SGD's momentum buffers by parameter name (beside model.json, in runs with momentum). */
  optimizer: string;
  /** What resuming needs: position, seed, options, the checkpoint's directory, checksums. */
  checkpoint: string;
  /** Config, versions, backend and one record per finished epoch. */
  history: string;
  /** One CSV row per finished epoch. */
  metrics: string;
  /** Loss and accuracy curves. */
  curves: string;
  /** Held by the run that trains into the directory (lock.ts). */
  lock: string;
}> = Object.freeze({
  model: "model.json",
  weights: "weights.bin",
  optimizer: "optimizer.safetensors",
  checkpoint: "checkpoint.json",
  history: "history.json",
  metrics: "metrics.csv",
  curves: "curves.svg",
  lock: "train.lock",
});

/** `runs/<yyyymmdd-hhmmss>-resnet<depth>`, in UTC; `depth` null gives `resnet-custom`. */
export function defaultRunDir(depth: number | null, now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-` +
    `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `runs/${stamp}-resnet${depth ?? "-custom"}`;
}

/** Joins a run directory and a file name. */
export function runPath(dir: string, file: string): string {
  return dir.endsWith("/") ? `${dir}${file}` : `${dir}/${file}`;
}

/**
 * Creates `dir` (and parents) and proves it writable by writing and removing a probe file, so
 * that a bad `--out` fails before training starts; throws {@linkcode UserError} otherwise.
 * Returns whether it created `dir` (a caller whose work then fails can remove it again).
 */
export async function ensureWritableDir(dir: string): Promise<boolean> {
  const st = await Deno.stat(dir).catch(() => null);
  if (st && !st.isDirectory) {
    throw new UserError(`${dir} is a file, not a directory: choose another --out`);
  }
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = runPath(dir, `.write-probe-${Deno.pid}`);
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    throw new UserError(
      `cannot write to output directory ${dir}: ${errorText(e)}; choose another --out`,
    );
  }
  return st === null;
}

/**
 * {@linkcode ensureWritableDir}, and refuses a directory that already holds a run, so a new run
 * never overwrites another one's checkpoint (check it again once the directory is locked).
 * Returns whether it created `dir`.
 */
export async function ensureNewRunDir(dir: string): Promise<boolean> {
  const created = await ensureWritableDir(dir);
  try {
    await Deno.stat(runPath(dir, RUN_FILES.checkpoint));
  } catch {
    return created;
  }
  throw new UserError(
    `${dir} already holds a run: resume it with --resume ${dir}, or choose another --out`,
  );
}

/**
 * Checks that `dir` is a run directory holding a checkpoint (its `checkpoint.json`; the files
 * that names are checked when it is loaded); throws {@linkcode UserError} naming what is missing.
 */
export async function requireRunDir(dir: string): Promise<void> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(dir);
  } catch {
    throw new UserError(`run directory ${dir} does not exist: give the --out of a train run`);
  }
  if (!st.isDirectory) throw new UserError(`${dir} is not a directory: give a run directory`);
  try {
    await Deno.stat(runPath(dir, RUN_FILES.checkpoint));
  } catch {
    throw new UserError(
      `${dir} holds no checkpoint (${RUN_FILES.checkpoint} is missing): train at least one ` +
        "epoch into it first",
    );
  }
}

/** Reads and parses a JSON file of a run; a missing or malformed file is a {@linkcode UserError}. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${errorText(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`${path} is corrupt (not valid JSON): re-run training or restore it`);
  }
}
