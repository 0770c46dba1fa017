/**
 * `eval`: test accuracy of a run (or of d2l weights), a per-class table, optionally the
 * confusion matrix as CSV.
 *
 * @example
 * ```ts ignore
 * // not run: it needs a trained run in runs/demo (tests/cli/ train one first)
 * import { evalCommand } from "./eval.ts";
 * await evalCommand().parseAsync(["--run", "runs/demo", "--limit", "1000", "--json"], { from: "user" });
 * ```
 * @module
 */
import { Command } from "commander";
import { outputSizes } from "../lib/model/resnet.ts";
import { backendLabel, backendSummary, initBackend } from "../lib/backends/choose.ts";
import { CLASS_NAMES, loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { evaluate, formatEvaluation } from "../lib/run/evaluate.ts";
import { confusionCsv } from "../lib/run/confusion_csv.ts";
import { D2L_DEFAULTS } from "../lib/run/recipe.ts";
import { requireRunDir } from "../lib/run/run_dir.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { addFlags, BACKEND_FLAGS, DATA_FLAGS, type OptionsOf } from "./options.ts";
import { dataLoadOptions } from "./data.ts";
import { checkNetSource, checkWritableFile, loadNet, NET_SOURCE_FLAGS } from "./net_source.ts";
import { PassDisplay } from "./progress.ts";

const FLAGS = {
  ...NET_SOURCE_FLAGS,
  size: "where the weights file does not record it (else refused if it differs)",
  limit: "of the test set",
  batchSize: "default: the run's",
  ...BACKEND_FLAGS,
  json: "one JSON document",
  confusion: "",
  tta: "two forward passes per image; default off",
  ...DATA_FLAGS,
} as const;

/** Parsed options of `eval`. */
export type EvalCliOptions = OptionsOf<typeof FLAGS>;

/** The `eval` subcommand. */
export function evalCommand(): Command {
  return addFlags(
    new Command("eval").description(
      "test accuracy of a run (or of d2l weights), per class, with a confusion matrix",
    ),
    FLAGS,
  ).action(runEval);
}

/** Runs `eval`: the flags, output paths and the run are checked before the backend starts. */
export async function runEval(o: EvalCliOptions): Promise<void> {
  checkNetSource(o, "eval");
  if (o.confusion !== undefined) {
    await checkWritableFile(o.confusion, "--confusion", "confusion.csv");
  }
  // A missing or broken run directory fails before the backend starts (one line, nothing else).
  if (o.run !== undefined) await requireRunDir(o.run);
  const backend = await initBackend(o.backend ?? "auto", { threads: o.threads });
  console.error(backendSummary(backend));
  const { net, size, batchSize } = await loadNet(o, "eval");
  try {
    const s = size;
    outputSizes(s);
    const { test } = await loadFashionMnist(dataLoadOptions(o, o.json));
    const r = await evaluate(
      net,
      test,
      {
        size: s,
        batchSize: o.batchSize ?? batchSize ?? D2L_DEFAULTS.batchSize,
        limit: o.limit,
        progress: new PassDisplay("eval"),
        tta: o.tta ?? false,
      },
      CLASS_NAMES,
    );
    if (o.confusion !== undefined) await writeFileAtomic(o.confusion, confusionCsv(r));
    if (o.json) {
      console.log(JSON.stringify({
        accuracy: r.accuracy,
        correct: r.correct,
        n: r.n,
        per_class: r.perClass.map((c) => ({ class: c.class, name: c.name, accuracy: c.accuracy })),
        backend: backendLabel(backend),
        ...(o.tta ? { tta: true } : {}), // the document stays as it was without --tta
      }));
    } else {
      console.log(formatEvaluation(r));
    }
  } finally {
    net.dispose();
  }
}
