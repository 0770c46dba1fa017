/**
 * `info`: versions, the backends that run here and the WebGPU adapter with its limits.
 *
 * @example
 * ```ts
 * import { infoCommand } from "./info.ts";
 * await infoCommand().parseAsync(["--json"], { from: "user" });
 * ```
 * @module
 */
import { Command } from "commander";
import { collectInfo, formatInfo } from "../lib/backends/info.ts";
import { addFlags, type OptionsOf } from "./options.ts";
import { savedBenchLine } from "./bench_results.ts";

const FLAGS = { json: "one JSON document" } as const;

/** The `info` subcommand. */
export function infoCommand(): Command {
  return addFlags(
    new Command("info").description(
      "versions, the backends that run here, and the WebGPU adapter with its limits",
    ),
    FLAGS,
  ).action(async (o: OptionsOf<typeof FLAGS>) => {
    const info = await collectInfo();
    const bench = await savedBenchLine(); // this machine's own measurements, or nothing
    if (o.json) console.log(JSON.stringify({ ...info, ...(bench ? { bench } : {}) }));
    else console.log(formatInfo(info) + (bench ? `\n${bench}` : ""));
  });
}
