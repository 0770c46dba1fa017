/**
 * Fashion-MNIST, got like d2l's `load_data_fashion_mnist` but never trained on a broken file: each
 * of the four files comes from the first source that yields bytes whose decompressed IDX content
 * has the SHA-256 in the dataset table. Sources, in order: the cache directory, local directories
 * (Debian's `dataset-fashion-mnist` by default; copied into the cache), then the mirrors
 * (downloaded into the cache). The table ({@linkcode FASHION_MNIST}) holds file names, checksums,
 * mirrors and class names, so another IDX set (e.g. MNIST) is one more table.
 *
 * The default cache is `data/fashion-mnist` in the project, resolved from this module's location
 * (not the working directory); the environment variable `FASHION_MNIST_DIR` (relative paths
 * against the working directory) or {@linkcode LoadOptions.dataDir} override it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLASS_NAMES, loadFashionMnist } from "./fashion_mnist.ts";
 * const { train, test, cache } = await loadFashionMnist({ quiet: true });
 * assert.equal(train.count, 60000);
 * assert.equal(test.count, 10000);
 * assert.match(cache, /data[\\/]fashion-mnist$/);
 * assert.equal(CLASS_NAMES[test.labels[0]], "Ankle boot");
 * ```
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { errorText, UserError } from "../errors.ts";
import { download, DownloadError, type DownloadOptions, removeStaleTemps } from "./download.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import {
  CLASS_NAMES,
  decodeSplits,
  FASHION_MNIST,
  idxBytes,
  type IdxDatasetSpec,
  type IdxFileSpec,
  sha256Hex,
  type Split,
  tableFiles,
} from "./idx_dataset.ts";

// The table and the decoding are browser-safe and live in ./idx_dataset.ts (the web page uses
// them); re-exported here, where they have always been.
export { CLASS_NAMES, FASHION_MNIST } from "./idx_dataset.ts";
export type { IdxDatasetSpec, IdxFileSpec, Split } from "./idx_dataset.ts";

/** Where a verified file came from. */
export interface FileReport {
  /** The file name, e.g. `train-images-idx3-ubyte.gz`. */
  name: string;
  /** The path or URL its bytes were read from (the cache file itself on a cache hit). */
  source: string;
  /** What kind of source that was. */
  kind: "cache" | "dir" | "mirror";
  /** SHA-256 of the decompressed IDX bytes (equal to the table's). */
  sha256: string;
  /** Always true: unverified files are never returned. */
  verified: true;
}

/** Options of {@linkcode loadFashionMnist}. */
export interface LoadOptions {
  /** Cache directory (default {@linkcode defaultDataDir}: `FASHION_MNIST_DIR` or the project's). */
  dataDir?: string;
  /** Local directories to check, in order; REPLACES the table's list (Debian's directory). */
  sourceDirs?: string[];
  /** Mirror base URLs, in order; replaces the table's list. */
  mirrors?: string[];
  /** No progress or retry lines on stderr. */
  quiet?: boolean;
  /** Download inactivity timeout per attempt (ms). Default 30,000. */
  timeoutMs?: number;
  /** Retries per mirror after the first attempt. Default 2. */
  retries?: number;
  /** Backoff before the first retry (ms), doubled each time. Default 1,000. */
  backoffMs?: number;
  /** Per-chunk download reports (the CLI draws a bar with them). */
  onProgress?: DownloadOptions["onProgress"];
  /** Plain download progress and retry lines (default: none). */
  log?: (line: string) => void;
  /** The dataset table (default {@linkcode FASHION_MNIST}); tests pass their own. */
  table?: IdxDatasetSpec;
  /**
   * How messages name the options a fix may give (default: these options' own names; the CLI
   * names its flags).
   */
  name?: (option: DataOption) => string;
}

/** An option of {@linkcode LoadOptions} that an error's fix may tell the user to give. */
export type DataOption = "dataDir" | "sourceDirs" | "mirrors";

/** What {@linkcode loadFashionMnist} returns. */
export interface LoadedDataset {
  /** The training split (60,000 for Fashion-MNIST). */
  train: Split;
  /** The test split (10,000). */
  test: Split;
  /** The absolute cache directory. */
  cache: string;
  /** The four files in table order: train images, train labels, test images, test labels. */
  files: FileReport[];
}

/**
 * The default cache directory: `FASHION_MNIST_DIR` when set (resolved against the working
 * directory), else `data/fashion-mnist` in the project (resolved from this module's location; from
 * the working directory when the module is not a local file).
 *
 * @example
 * ```ts
 * defaultDataDir(); // "/work/main/data/fashion-mnist"
 * ```
 */
export function defaultDataDir(): string {
  const env = Deno.env.get("FASHION_MNIST_DIR");
  if (env) return resolve(env);
  const here = new URL("../../data/fashion-mnist", import.meta.url);
  return here.protocol === "file:" ? fileURLToPath(here) : resolve("data/fashion-mnist");
}

/**
 * Verifies raw file contents against the table (./idx_dataset.ts: gunzip and SHA-256, as the web
 * page does); returns the IDX bytes or throws a short reason.
 */
async function verify(raw: Uint8Array, spec: IdxFileSpec): Promise<Uint8Array> {
  const idx = await idxBytes(raw);
  const sha = await sha256Hex(idx);
  if (sha !== spec.sha256) {
    throw new Error(
      `SHA-256 ${sha.slice(0, 12)}… of the IDX bytes is not ${spec.sha256.slice(0, 12)}…`,
    );
  }
  return idx;
}

async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

type Got = { idx: Uint8Array; report: FileReport };

const report = (spec: IdxFileSpec, source: string, kind: FileReport["kind"]): FileReport => ({
  name: spec.name,
  source,
  kind,
  sha256: spec.sha256,
  verified: true,
});

/** How a message names an option. */
type Namer = (option: DataOption) => string;

/** The library's own names of the options. */
const ownName: Namer = (option) => option;

/** Reads and verifies a cached file; a corrupt one is deleted. Returns the file or why not. */
async function fromCache(
  spec: IdxFileSpec,
  cache: string,
  name: Namer,
): Promise<Got | string> {
  const cached = join(cache, spec.name);
  if ((await Deno.stat(cached).catch(() => null))?.isDirectory) {
    // No source can repair this, and removing a directory is the user's decision.
    throw new UserError(
      `${cached} is a directory where the cached file should be: remove it (rm -r ${cached}) ` +
        `or give ${name("dataDir")} DIR`,
    );
  }
  try {
    const raw = await readIfExists(cached);
    if (!raw) return `cache ${cached}: not there`;
    try {
      return { idx: await verify(raw, spec), report: report(spec, cached, "cache") };
    } catch (e) {
      // A corrupt cached file is discarded; a good copy from the next source replaces it.
      await Deno.remove(cached).catch(() => {});
      return `cache ${cached}: ${errorText(e)} (deleted)`;
    }
  } catch (e) {
    return `cache ${cached}: ${errorText(e)}`;
  }
}

/** A local file's bytes and verified IDX content, or why not. */
async function readVerified(path: string, spec: IdxFileSpec) {
  try {
    const raw = await readIfExists(path);
    return raw ? { raw, idx: await verify(raw, spec) } : "not there";
  } catch (e) {
    return errorText(e);
  }
}

/** The cache cannot be written: say why and where to put it instead, and go no further. */
function cacheWriteError(cached: string, e: unknown, name: Namer): UserError {
  const cause = (e as { cause?: { code?: string } }).cause;
  // The OS's reason without Deno's "writefile '<temporary path>'" tail.
  const why = errorText(cause ?? e).replace(/: \w+ '[^']*'$/, "");
  const full = cause?.code === "ENOSPC" || cause?.code === "EDQUOT";
  return new UserError(
    `cannot write ${cached}: ${why}; ${full ? "free space on that disk" : "make it writable"}, ` +
      `or give ${name("dataDir")} DIR (or set FASHION_MNIST_DIR) on another disk`,
  );
}

/** Gets one verified file into the cache from a local directory or a mirror. */
async function fetchFile(
  spec: IdxFileSpec,
  cache: string,
  dirs: readonly string[],
  mirrors: readonly string[],
  opts: LoadOptions,
  fixHint: string,
  cacheFailure: string,
): Promise<Got> {
  const failures = [cacheFailure];
  const ok = (idx: Uint8Array, source: string, kind: FileReport["kind"]) => ({
    idx,
    report: report(spec, source, kind),
  });
  const cached = join(cache, spec.name);
  for (const dir of dirs) {
    const path = join(dir, spec.name);
    const got = await readVerified(path, spec);
    if (typeof got === "string") {
      failures.push(`${path}: ${got}`);
      continue;
    }
    // Writing the cache failed: a download would fail alike, so stop at the cause.
    await writeFileAtomic(cached, got.raw).catch((e) => {
      throw cacheWriteError(cached, e, opts.name ?? ownName);
    });
    return ok(got.idx, path, "dir");
  }
  for (const base of mirrors) {
    const url = new URL(spec.name, base.endsWith("/") ? base : `${base}/`).href;
    try {
      const { result } = await download(url, cached, {
        timeoutMs: opts.timeoutMs,
        retries: opts.retries,
        backoffMs: opts.backoffMs,
        quiet: opts.quiet,
        onProgress: opts.onProgress,
        log: opts.log,
        label: spec.name,
        check: async (tmp) => verify(await Deno.readFile(tmp), spec),
      });
      return ok(result, url, "mirror");
    } catch (e) {
      if (e instanceof DownloadError && e.local) {
        throw cacheWriteError(cached, e, opts.name ?? ownName);
      }
      failures.push(`${url}: ${errorText(e)}`);
    }
  }
  throw new UserError(
    `could not get a verified ${spec.name}: tried ${failures.join("; ")}. Fix: ${fixHint}`,
  );
}

/**
 * Gets the four files (cache, then local directories, then mirrors), verifies their SHA-256,
 * caches them, and decodes them with validation. Throws a {@linkcode UserError} (exit code 1)
 * whose one-line message lists every source tried and why it failed, or an `IdxError` naming a
 * malformed file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const { train } = await loadFashionMnist({ dataDir: "/tmp/fm", quiet: true });
 * assert.deepEqual([train.count, train.height, train.width], [60000, 28, 28]);
 * ```
 */
export async function loadFashionMnist(opts: LoadOptions = {}): Promise<LoadedDataset> {
  const table = opts.table ?? FASHION_MNIST;
  const cache = resolve(opts.dataDir ?? defaultDataDir());
  const name = opts.name ?? ownName;
  const dirs = opts.sourceDirs ?? table.sourceDirs;
  const mirrors = opts.mirrors ?? table.mirrors;
  try {
    await Deno.mkdir(cache, { recursive: true });
  } catch (e) {
    throw new UserError(
      `cannot create the cache directory ${cache}: ${errorText(e)}; give ${name("dataDir")} DIR ` +
        "(writable)",
    );
  }
  await removeStaleTemps(cache);
  const fixHint = `give ${name("dataDir")} DIR holding the files, ${name("sourceDirs")} DIR, ` +
    `or ${name("mirrors")} URL, ` +
    `or run ${table.installHint}`;
  const specs = tableFiles(table);
  // Cache hits are checked concurrently (gunzip runs off the main thread); other sources are
  // tried one file at a time so progress output and errors stay readable.
  const hits = await Promise.all(specs.map((spec) => fromCache(spec, cache, name)));
  const got: Got[] = [];
  for (const [i, spec] of specs.entries()) {
    const hit = hits[i];
    got.push(
      typeof hit !== "string"
        ? hit
        : await fetchFile(spec, cache, dirs, mirrors, opts, fixHint, hit),
    );
  }
  const { train, test } = decodeSplits(table, got.map((g) => g.idx));
  return { train, test, cache, files: got.map((g) => g.report) };
}

/** Per-split statistics printed by `deno task data`. */
export interface DataReport {
  /** The absolute cache directory. */
  cache: string;
  /** Each file, where it came from (and what kind of source that was) and its checksum. */
  files: FileReport[];
  /** Training count, count per class, and pixel mean and std after / 255. */
  train: { count: number; per_class: number[]; mean: number; std: number };
  /** Test count and count per class. */
  test: { count: number; per_class: number[] };
}

function perClass(labels: Uint8Array, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

/**
 * Counts per class and the training pixels' mean and (population) standard deviation after
 * dividing by 255 (Fashion-MNIST: 0.2860 and 0.3530), exactly, from a byte histogram.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const r = dataReport(await loadFashionMnist({ quiet: true }));
 * assert.equal(r.train.mean.toFixed(4), "0.2860");
 * assert.equal(r.train.std.toFixed(4), "0.3530");
 * ```
 */
export function dataReport(d: LoadedDataset, classes = CLASS_NAMES.length): DataReport {
  const hist = new Float64Array(256);
  const px = d.train.images;
  for (let i = 0; i < px.length; i++) hist[px[i]]++;
  let sum = 0;
  let sq = 0;
  for (let v = 0; v < 256; v++) {
    sum += hist[v] * v;
    sq += hist[v] * v * v;
  }
  const mean = px.length ? sum / px.length : 0;
  const variance = px.length ? Math.max(sq / px.length - mean * mean, 0) : 0;
  return {
    cache: d.cache,
    files: d.files.map((f) => ({ ...f })),
    train: {
      count: d.train.count,
      per_class: perClass(d.train.labels, classes),
      mean: mean / 255,
      std: Math.sqrt(variance) / 255,
    },
    test: { count: d.test.count, per_class: perClass(d.test.labels, classes) },
  };
}

/**
 * Formats a {@linkcode DataReport} as the text `deno task data` prints.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const text = formatDataReport(dataReport(await loadFashionMnist({ quiet: true })));
 * assert.match(text, /train pixels \/ 255: mean 0\.2860, std 0\.3530/);
 * ```
 */
export function formatDataReport(r: DataReport, names: readonly string[] = CLASS_NAMES): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const how = { cache: "cache", dir: "copied from", mirror: "downloaded from" };
  const nameW = Math.max(...r.files.map((f) => f.name.length), 4);
  const lines = ["file".padEnd(nameW) + "  sha256 (verified)  source"];
  r.files.forEach((f) => {
    const src = f.kind === "cache" ? "cache" : `${how[f.kind]} ${f.source}`;
    lines.push(`${f.name.padEnd(nameW)}  ${f.sha256.slice(0, 12)}…      ${src}`);
  });
  lines.push("");
  const classW = Math.max(...names.map((s) => s.length), 5);
  const numW = Math.max(n(r.train.count).length, 5);
  lines.push(`    ${"class".padEnd(classW)}  ${"train".padStart(numW)}  ${"test".padStart(numW)}`);
  r.train.per_class.forEach((c, i) => {
    const label = `${String(i).padStart(2)}  ${(names[i] ?? "?").padEnd(classW)}`;
    lines.push(`${label}  ${n(c).padStart(numW)}  ${n(r.test.per_class[i]).padStart(numW)}`);
  });
  lines.push(
    `    ${"total".padEnd(classW)}  ${n(r.train.count).padStart(numW)}  ${
      n(r.test.count).padStart(numW)
    }`,
  );
  lines.push("");
  lines.push(
    `train pixels / 255: mean ${r.train.mean.toFixed(4)}, std ${r.train.std.toFixed(4)}`,
  );
  lines.push(`cache: ${r.cache}`);
  return lines.join("\n");
}
