/**
 * The command line: one subcommand per module of `cli/`, each a thin shell over the library
 * (`mod.ts`). Errors become one line on stderr and an exit code (cli/errors.ts). Run
 * `deno task <cmd> --help`.
 * @module
 */
import { Command, CommanderError } from "commander";
import { onDeviceLost } from "./lib/backends/webgpu.ts";
import { errorText } from "./lib/errors.ts";
import { describeError } from "./cli/errors.ts";
import { shapesCommand } from "./cli/shapes.ts";
import { trainCommand } from "./cli/train.ts";
import { evalCommand } from "./cli/eval.ts";
import { exportCommand } from "./cli/export.ts";
import { dataCommand } from "./cli/data.ts";
import { infoCommand } from "./cli/info.ts";
import { predictCommand } from "./cli/predict.ts";
import { reportCommand } from "./cli/report.ts";
import denoJson from "./deno.json" with { type: "json" };
import { webCommand } from "./cli/web.ts";

/** The program with every subcommand; commander throws instead of exiting. */
function program(): Command {
  const p = new Command()
    .name("resnet")
    .description("d2l's ResNet on Fashion-MNIST with TensorFlow.js on Deno (WebGPU, BLAS or CPU)")
    .version(denoJson.version, "-V, --version", "print the version")
    .showHelpAfterError(false)
    .exitOverride()
    .addHelpText(
      "after",
      "\nBenchmarks (a script of their own, not a subcommand):\n" +
        "  deno task bench [options]  training speed of each backend here and of d2l's PyTorch " +
        "code;\n                             see deno task bench --help",
    );
  for (const c of [shapesCommand, trainCommand, evalCommand, exportCommand, dataCommand]) {
    p.addCommand(c().exitOverride());
  }
  p.addCommand(infoCommand().exitOverride());
  p.addCommand(webCommand().exitOverride());
  for (const c of [predictCommand, reportCommand]) p.addCommand(c().exitOverride());
  return p;
}

/** Parses `args` and runs the command; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  onDeviceLost((info) => {
    console.error(
      `error: the GPU device was lost (${info.reason}: ${errorText(info.message)}); ` +
        "files written so far, such as the last checkpoint, are kept; restart the command to go on",
    );
    Deno.exit(1);
  });
  try {
    await program().parseAsync(args, { from: "user" });
    return 0;
  } catch (e) {
    // Commander already printed its one-line message (or the help text).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const d = describeError(e);
    if (!d) throw e;
    try {
      if (d.line) console.error(d.line);
    } catch {
      // A closed terminal (SIGHUP): the exit code still says what happened.
    }
    return d.code;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
