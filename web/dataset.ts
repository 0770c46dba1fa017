/**
 * Fashion-MNIST for the page: the four .gz files, served beside the page (`deno task web --serve`
 * puts the CLI's verified cache under `data/`) or dropped on the page by the user, each
 * decompressed and accepted only when the SHA-256 of its IDX bytes is one in the dataset table:
 * the CLI's own verification and checksums (lib/data/idx_dataset.ts: `DecompressionStream`, Web
 * Crypto). Files are recognised by checksum, not by name, so a
 * renamed download still counts. Runs in Deno too (the tests use it there).
 *
 * @example
 * ```ts ignore
 * import { DatasetFiles, fetchServedFiles } from "./dataset.ts";
 * const files = new DatasetFiles();
 * for (const f of (await fetchServedFiles("data/")).files) files.add(f);
 * if (files.complete()) console.log(files.splits().train.count); // 60000
 * ```
 * @module
 */
import {
  decodeSplits,
  FASHION_MNIST,
  idxBytes,
  type IdxDatasetSpec,
  type IdxFileSpec,
  sha256Hex,
  type Split,
  tableFiles,
} from "../lib/data/idx_dataset.ts";
import { errorText, InputError } from "../lib/errors.ts";

/** A file whose IDX bytes have the table's checksum. */
export interface VerifiedFile {
  /** The table entry it is (its name on the mirrors, its checksum). */
  spec: IdxFileSpec;
  /** The decompressed IDX bytes. */
  idx: Uint8Array;
  /** Where it came from: a URL or the dropped file's name. */
  source: string;
}

/**
 * Decompresses `raw` and finds the table file whose checksum its IDX bytes have; throws an
 * {@linkcode InputError} naming `source` when there is none.
 */
export async function identifyFile(
  raw: Uint8Array,
  source: string,
  table: IdxDatasetSpec = FASHION_MNIST,
): Promise<VerifiedFile> {
  let idx: Uint8Array;
  try {
    idx = await idxBytes(raw, source);
  } catch (e) {
    throw new InputError(`${errorText(e)}; download the file again`);
  }
  const sha = await sha256Hex(idx);
  const spec = tableFiles(table).find((s) => s.sha256 === sha);
  if (!spec) {
    throw new InputError(
      `${source}: SHA-256 ${sha.slice(0, 12)}… of its IDX bytes is none of ${table.title}'s ` +
        `four files (${tableFiles(table).map((s) => s.name).join(", ")})`,
    );
  }
  return { spec, idx, source };
}

/** What {@linkcode fetchServedFiles} found beside the page. */
export interface ServedFiles {
  /** The files that were there and verified. */
  files: VerifiedFile[];
  /** Names of the files that were not served (HTTP error, or no server: a page opened as a file). */
  missing: string[];
  /** One line per file that was served but failed verification. */
  problems: string[];
}

/**
 * Fetches the table's four files from `base` (e.g. `data/`, relative to the page) and verifies
 * each; a missing or wrong file is reported, not thrown, so the page can ask for it instead.
 */
export async function fetchServedFiles(
  base: string | URL,
  table: IdxDatasetSpec = FASHION_MNIST,
): Promise<ServedFiles> {
  const out: ServedFiles = { files: [], missing: [], problems: [] };
  await Promise.all(
    tableFiles(table).map(async (spec) => {
      const url = new URL(spec.name, base).href;
      let res: Response;
      try {
        res = await fetch(url);
      } catch {
        out.missing.push(spec.name);
        return;
      }
      if (!res.ok) {
        await res.body?.cancel();
        out.missing.push(spec.name);
        return;
      }
      try {
        const f = await identifyFile(new Uint8Array(await res.arrayBuffer()), url, table);
        if (f.spec !== spec) out.problems.push(`${url}: holds ${f.spec.name}, not ${spec.name}`);
        else out.files.push(f);
      } catch (e) {
        out.problems.push(errorText(e));
      }
    }),
  );
  return out;
}

/** The verified files collected so far (served or dropped), by table entry. */
export class DatasetFiles {
  readonly #files = new Map<string, VerifiedFile>();

  /** @param table The dataset (default Fashion-MNIST). */
  constructor(readonly table: IdxDatasetSpec = FASHION_MNIST) {}

  /** Adds (or replaces) a verified file. */
  add(f: VerifiedFile): void {
    this.#files.set(f.spec.name, f);
  }

  /** The file of each table entry, or null where it is still missing, in table order. */
  status(): { spec: IdxFileSpec; file: VerifiedFile | null }[] {
    return tableFiles(this.table).map((spec) => ({
      spec,
      file: this.#files.get(spec.name) ?? null,
    }));
  }

  /** Whether all four files are here. */
  complete(): boolean {
    return this.status().every((s) => s.file !== null);
  }

  /** The training and test splits; throws an {@linkcode InputError} naming missing files. */
  splits(): { train: Split; test: Split } {
    const missing = this.status().filter((s) => !s.file).map((s) => s.spec.name);
    if (missing.length) throw new InputError(`still missing: ${missing.join(", ")}`);
    return decodeSplits(this.table, this.status().map((s) => s.file!.idx));
  }
}
