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
import { LAYERS_FILES } from "../io/layers_files.ts";

/** What is wrong with a run directory ({@linkcode RunDirError}). */
export type RunDirProblem =
  | "not-a-directory"
  | "not-writable"
  | "holds-a-run"
  | "missing"
  | "no-checkpoint"
  | "in-use";

/**
 * A run directory that cannot be used as asked, as data: the problem, the directory, what is
 * wrong (`reason`) and how to fix it in library terms (`fix`); the message is `reason: fix`, or
 * `reason; fix` when the reason quotes an error's text. The CLI words the fix with its flags
 * (cli/train.ts).
 */
export class RunDirError extends UserError {
  /** Always `"RunDirError"`. */
  override name = "RunDirError";
  constructor(
    readonly problem: RunDirProblem,
    readonly dir: string,
    readonly reason: string,
    readonly fix: string,
  ) {
    super(`${reason}${reason.includes(": ") ? ";" : ":"} ${fix}`);
  }
}

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
  ...LAYERS_FILES,
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
 * that a bad output directory fails before training starts; throws {@linkcode RunDirError}
 * otherwise. Returns whether it created `dir` (a caller whose work then fails can remove it again).
 */
export async function ensureWritableDir(dir: string): Promise<boolean> {
  const st = await Deno.stat(dir).catch(() => null);
  const another = "choose another directory";
  if (st && !st.isDirectory) {
    throw new RunDirError("not-a-directory", dir, `${dir} is a file, not a directory`, another);
  }
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = runPath(dir, `.write-probe-${Deno.pid}`);
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    const reason = `cannot write to output directory ${dir}: ${errorText(e)}`;
    throw new RunDirError("not-writable", dir, reason, another);
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
  const fix = "resume it, or train into another directory";
  throw new RunDirError("holds-a-run", dir, `${dir} already holds a run`, fix);
}

/**
 * Checks that `dir` is a run directory holding a checkpoint (its `checkpoint.json`; the files
 * that names are checked when it is loaded); throws {@linkcode RunDirError} naming what is missing.
 */
export async function requireRunDir(dir: string): Promise<void> {
  let st: Deno.FileInfo;
  const give = "give the directory a training run wrote";
  try {
    st = await Deno.stat(dir);
  } catch {
    throw new RunDirError("missing", dir, `run directory ${dir} does not exist`, give);
  }
  if (!st.isDirectory) {
    throw new RunDirError("not-a-directory", dir, `${dir} is not a directory`, give);
  }
  try {
    await Deno.stat(runPath(dir, RUN_FILES.checkpoint));
  } catch {
    const reason = `${dir} holds no checkpoint (${RUN_FILES.checkpoint} is missing)`;
    throw new RunDirError("no-checkpoint", dir, reason, "train at least one epoch into it first");
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
