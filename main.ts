/**
 * The command line: parses arguments and calls the library in `lib/`. Run `deno task <cmd> --help`.
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { ConfigError, DEPTHS } from "./lib/model/resnet.ts";
import { formatShapeTable, shapeTable } from "./lib/model/shapes.ts";
import { checkTorchWeights } from "./lib/io/torch_weights.ts";
import { BACKENDS, initBackend } from "./lib/backends/choose.ts";
import {
  cliLoadOptions,
  dataOptions,
  dataReport,
  formatDataReport,
  loadFashionMnist,
} from "./lib/data/fashion_mnist.ts";
import { parseDepth, parsePositiveInt, parseStages, UsageError, UserError } from "./cli/options.ts";
import { parseNonNegativeInt, parsePositiveFloat } from "./cli/options.ts";

/** `--depth`; `note` says what applies when it is not given (train keeps it unset for --resume). */
const depthOption = (note = "") =>
  new Option("--depth <n>", `ResNet depth: ${Object.keys(DEPTHS).join(" or ")}${note}`).argParser(
    parseDepth(Object.keys(DEPTHS).map(Number)),
  );
const stagesOption = () =>
  new Option("--stages <a,b,c,d>", "residual blocks per stage b2..b5 (overrides --depth)")
    .argParser(parseStages);
const widthOption = (note = "") =>
  new Option("--width <n>", `channels of b1/b2; later stages double it${note}`).argParser(
    parsePositiveInt,
  );
const backendOption = () =>
  new Option("--backend <name>", "tfjs backend").choices([...BACKENDS]).default("auto");

const program = new Command()
  .name("resnet")
  .description("d2l's ResNet on Fashion-MNIST with TensorFlow.js on Deno (WebGPU, BLAS or CPU)")
  .showHelpAfterError(false)
  .exitOverride();

program.command("shapes")
  .description("print d2l's per-stage output shapes and parameter counts")
  .addOption(depthOption().default(18))
  .addOption(stagesOption())
  .addOption(widthOption().default(64))
  .addOption(
    new Option("--size <px>", "input height and width").argParser(parsePositiveInt).default(224),
  )
  .addOption(
    new Option("--batch <n>", "batch size of the probe input").argParser(parsePositiveInt).default(
      1,
    ),
  )
  .addOption(backendOption().default("cpu"))
  .option("--json", "print one JSON document")
  .option("--weights <file>", "check that a d2l state_dict (.safetensors) fits this network")
  .action(async (o) => {
    await initBackend(o.backend);
    const model = { depth: o.depth, stages: o.stages, width: o.width };
    const w = o.weights ? await checkTorchWeights(model, o.weights) : null;
    const t = shapeTable(model, { size: o.size, batch: o.batch });
    if (o.json) console.log(JSON.stringify(w ? { ...t, weights: w } : t));
    else {
      console.log(formatShapeTable(t));
      if (w) console.log(`weights ${w.path}: all ${w.tensors} tensors fit`);
    }
  });

// Subcommands added by later modules register below this line.

// train, eval, export (lib/train_cli.ts, loaded on use: it pulls in vega and the data code).
const trainCommand = program.command("train")
  .description("train the ResNet on Fashion-MNIST as d2l's train_ch6; one run directory per run")
  .addOption(depthOption(" (default 18)"))
  .addOption(stagesOption())
  .addOption(widthOption(" (default 64)"))
  .addOption(new Option("--epochs <n>", "epochs (default 10)").argParser(parsePositiveInt))
  .addOption(
    new Option("--batch-size <n>", "images per SGD step (default 256)").argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--lr <x>", "SGD learning rate (default 0.05)").argParser(parsePositiveFloat),
  )
  .addOption(
    new Option("--size <px>", "resize inputs to this (default 96)").argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--limit <n>", "train on the first N training images").argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--test-limit <n>", "test on the first N test images").argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--seed <n>", "seed of the initialisation and shuffling (default 0)").argParser(
      parseNonNegativeInt,
    ),
  )
  .addOption(backendOption())
  .option("--out <dir>", "run directory (default runs/<timestamp>-resnet<depth>)")
  .option("--resume <dir>", "continue the run in DIR from its last checkpoint")
  .option("--init-from <file>", "start from d2l weights (.safetensors of the state_dict)")
  .option("--json", "one JSON object per line on stdout")
  .action(async (o) => (await import("./cli/train.ts")).runTrain(o));
for (const opt of dataOptions()) trainCommand.addOption(opt);

const evalCommand = program.command("eval")
  .description("test accuracy of a run (or of d2l weights), per class, with a confusion matrix")
  .option("--run <dir>", "run directory written by train")
  .option("--weights <file>", "d2l weights (.safetensors) instead of --run; with --depth etc.")
  .addOption(depthOption())
  .addOption(stagesOption())
  .addOption(widthOption())
  .addOption(
    new Option("--size <px>", "input size (default: the run's)").argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--limit <n>", "evaluate the first N test images").argParser(parsePositiveInt),
  )
  .addOption(
    new Option("--batch-size <n>", "images per forward pass (default: the run's)").argParser(
      parsePositiveInt,
    ),
  )
  .addOption(backendOption())
  .option("--json", "print one JSON document")
  .option("--confusion <file.csv>", "write the confusion matrix as CSV")
  .action(async (o) => (await import("./cli/train.ts")).runEval(o));
for (const opt of dataOptions()) evalCommand.addOption(opt);

program.command("export")
  .description("a run's metrics as CSV/JSON and curves as SVG, or its weights for d2l/browsers")
  .option("--run <dir>", "run directory written by train")
  .option("--weights <file>", "d2l weights (.safetensors) for --format layers; with --depth etc.")
  .addOption(depthOption())
  .addOption(stagesOption())
  .addOption(widthOption())
  .addOption(
    new Option("--format <f>", "csv|json (metrics), safetensors|layers (weights)")
      .choices(["csv", "json", "safetensors", "layers"]).default("csv"),
  )
  .option("--out <path>", "output file (directory for layers); metrics go to stdout without it")
  .option("--plot <file.svg>", "also draw the loss and accuracy curves")
  .addOption(
    new Option("--size <px>", "input size of a layers model (default: the run's)").argParser(
      parsePositiveInt,
    ),
  )
  .addOption(backendOption().default("cpu"))
  .action(async (o) => (await import("./cli/train.ts")).runExport(o));

const dataCommand = program.command("data")
  .description("get, verify and cache Fashion-MNIST; print sources, counts and pixel statistics")
  .option("--json", "print one JSON document")
  .action(async (o) => {
    const d = await loadFashionMnist(cliLoadOptions(o));
    const r = dataReport(d);
    console.log(o.json ? JSON.stringify(r) : formatDataReport(r, d.files.map((f) => f.kind)));
  });
for (const opt of dataOptions()) dataCommand.addOption(opt);

program.command("info")
  .description("versions, the backends that run here, and the WebGPU adapter with its limits")
  .option("--json", "print one JSON document")
  .action(async (o) => {
    const { collectInfo, formatInfo } = await import("./lib/backends/info.ts");
    const info = await collectInfo();
    console.log(o.json ? JSON.stringify(info) : formatInfo(info));
  });

/** Parses `args` and runs the command; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed its one-line message (or the help text).
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError || e instanceof ConfigError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    if (e instanceof UserError) {
      console.error(`error: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
