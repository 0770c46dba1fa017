/**
 * `data`: get, verify and cache Fashion-MNIST, then print where each file came from, the counts
 * per class and the pixel statistics. Also the mapping of the data flags every subcommand that
 * loads Fashion-MNIST takes ({@linkcode DATA_FLAGS}) onto the library's load options.
 *
 * @example
 * ```ts
 * import { dataLoadOptions } from "./data.ts";
 * dataLoadOptions({ sourceDir: ["/mnt/fm"], timeout: 5 }).timeoutMs; // 5000
 * ```
 * @module
 */
import { Command } from "commander";
import {
  type DataOption,
  dataReport,
  FASHION_MNIST,
  formatDataReport,
  type IdxDatasetSpec,
  loadFashionMnist,
  type LoadOptions,
} from "../lib/data/fashion_mnist.ts";
import { addFlags, DATA_FLAGS, type OptionsOf, userPath } from "./options.ts";
import { downloadBar } from "./progress.ts";

/** Parsed {@linkcode DATA_FLAGS}. */
export type DataOptions = OptionsOf<typeof DATA_FLAGS>;

/**
 * Maps the data flags to {@linkcode LoadOptions}: `--source-dir` adds to the table's directories,
 * `--mirror` replaces the table's mirrors; progress goes to stderr (a bar on a terminal) unless
 * `quiet`. Every subcommand that loads data uses this, so they agree.
 */
export function dataLoadOptions(
  o: DataOptions,
  quiet = false,
  table: IdxDatasetSpec = FASHION_MNIST,
): LoadOptions {
  return {
    dataDir: o.dataDir ?? envDataDir(),
    sourceDirs: [...table.sourceDirs, ...(o.sourceDir ?? [])],
    mirrors: o.mirror?.length ? [...o.mirror] : [...table.mirrors],
    timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000,
    retries: o.retries,
    table,
    quiet,
    log: (line) => console.error(line),
    onProgress: Deno.stderr.isTerminal() ? downloadBar() : undefined,
    name: (option) => DATA_OPTION_FLAGS[option],
  };
}

/** The flag of each data option a fix names. */
const DATA_OPTION_FLAGS: Record<DataOption, string> = {
  dataDir: "--data-dir",
  sourceDirs: "--source-dir",
  mirrors: "--mirror",
};

/**
 * `FASHION_MNIST_DIR`, when set, taken from where the user was, as a typed path is (under
 * `deno task` the library would take a relative one from the project root).
 */
function envDataDir(): string | undefined {
  const env = Deno.env.get("FASHION_MNIST_DIR");
  return env ? userPath(env) : undefined;
}

const FLAGS = { ...DATA_FLAGS, json: "one JSON document" } as const;

/** The `data` subcommand. */
export function dataCommand(): Command {
  return addFlags(
    new Command("data").description(
      "get, verify and cache Fashion-MNIST; print sources, counts and pixel statistics",
    ),
    FLAGS,
  ).action(async (o: OptionsOf<typeof FLAGS>) => {
    const r = dataReport(await loadFashionMnist(dataLoadOptions(o)));
    console.log(o.json ? JSON.stringify(r) : formatDataReport(r));
  });
}
