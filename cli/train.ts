/**
 * The command-line side of training runs: what `train`, `eval` and `export` do once their
 * arguments are parsed (checks before work starts, data loading, Ctrl-C, output on stdout and
 * stderr). `main.ts` only parses arguments and calls these.
 *
 * @example
 * ```ts
 * import { runExport } from "./train.ts";
 * await runExport({ run: "runs/20260101-120000-resnet18", format: "csv" }); // CSV on stdout
 * ```
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import { outputSizes, ResNet, resolveConfig } from "../lib/model/resnet.ts";
import { type BackendInfo, type BackendName, initBackend } from "../lib/backends/choose.ts";
import { UsageError, UserError } from "./options.ts";
import {
  CLASS_NAMES,
  cliLoadOptions,
  type DataCliOptions,
  loadFashionMnist,
} from "../lib/data/fashion_mnist.ts";
import { loadTorchWeights, saveTorchWeights } from "../lib/io/torch_weights.ts";
import { loadCheckpoint, readCheckpoint } from "../lib/run/checkpoint.ts";
import { D2L_DEFAULTS, train } from "../lib/run/train.ts";
import { formatEpoch, metricsCsv, readHistory, type TrainSettings } from "../lib/run/metrics.ts";
import { confusionCsv, evaluate, formatEvaluation } from "../lib/run/evaluate.ts";
import { writeCurves } from "../lib/run/plot.ts";
import { saveLayersModel } from "../lib/io/layers_model.ts";
import { defaultRunDir, ensureNewRunDir, ensureWritableDir, requireRunDir } from "../lib/run/run_dir.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { EpochProgress } from "../lib/run/progress.ts";

/** Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/** A run stopped by Ctrl-C after saving; the message says how to resume. */
export class Interrupted extends UserError {
  /** Always `"Interrupted"`. */
  override name = "Interrupted";
  /**
   * An error whose exit code is {@linkcode EXIT_INTERRUPTED}.
   *
   * @param message One line: what was saved where, and the command that resumes it.
   */
  constructor(message: string) {
    super(message, EXIT_INTERRUPTED);
  }
}

/** The backend and adapter without the "backend: " label and the reason, for d2l's summary. */
export function backendWhat(info: BackendInfo): string {
  let s = info.summary.replace(/^backend: /, "");
  const tail = `; ${info.reason}`;
  if (s.endsWith(tail)) s = s.slice(0, -tail.length);
  return s;
}

/** Parsed options of `train` (commander's camelCase names). */
export interface TrainCliOptions extends DataCliOptions {
  /** `--depth`: 18 or 34 (default 18); an alternative to `stages`. */
  depth?: number;
  /** `--stages a,b,c,d`: residual blocks per stage b2..b5; wins over `depth`. */
  stages?: number[];
  /** `--width`: channels of b1 and b2 (default 64). */
  width?: number;
  /** `--epochs`: epochs in total (default 10); may grow on `--resume`. */
  epochs?: number;
  /** `--batch-size`: images per SGD step (default 256). */
  batchSize?: number;
  /** `--lr`: SGD learning rate (default 0.05); may change on `--resume`. */
  lr?: number;
  /** `--size`: height and width in pixels the images are resized to (default 96). */
  size?: number;
  /** `--limit`: train on the first N training images only. */
  limit?: number;
  /** `--test-limit`: measure test accuracy on the first N test images only. */
  testLimit?: number;
  /** `--seed`: seed of the initialisation and shuffling (default 0). */
  seed?: number;
  /** `--backend`: which tfjs backend runs the computation (default `auto`). */
  backend?: BackendName;
  /** `--out`: the new run directory (default `runs/<timestamp>-resnet<depth>`). */
  out?: string;
  /** `--resume DIR`: continue the run in DIR from its checkpoint (its settings are kept). */
  resume?: string;
  /** `--init-from FILE`: start from d2l weights (a `.safetensors` state_dict). */
  initFrom?: string;
  /** `--json`: one JSON object per line on stdout instead of text. */
  json?: boolean;
}

/** Options that fix a run's identity; `--resume` takes them from the run instead. */
const FIXED_ON_RESUME = [
  ["depth", "--depth"],
  ["stages", "--stages"],
  ["width", "--width"],
  ["batchSize", "--batch-size"],
  ["size", "--size"],
  ["limit", "--limit"],
  ["testLimit", "--test-limit"],
  ["seed", "--seed"],
  ["out", "--out"],
  ["initFrom", "--init-from"],
] as const;

/**
 * `train`: checks the output directory (and a run to resume) before anything slow, initialises
 * the backend, loads the data, trains with a progress display on stderr and per-epoch lines on
 * stdout, and ends with d2l's summary. Ctrl-C saves and throws {@linkcode Interrupted}.
 */
export async function runTrain(o: TrainCliOptions): Promise<void> {
  let out: string;
  let settings: TrainSettings;
  let model: { stages: number[]; width: number } | undefined;
  if (o.resume !== undefined) {
    const given = FIXED_ON_RESUME.filter(([k]) => o[k] !== undefined).map(([, f]) => f);
    if (given.length) {
      throw new UsageError(
        `${given.join(", ")} cannot be combined with --resume: a resumed run keeps its own ` +
          "settings (only --epochs, --lr, --backend, the data options and --json may change)",
      );
    }
    out = o.resume;
    const ckpt = await readCheckpoint(out);
    settings = {
      ...ckpt.settings,
      epochs: o.epochs ?? ckpt.settings.epochs,
      lr: o.lr ?? ckpt.settings.lr,
    };
    if (settings.epochs < ckpt.epoch) {
      throw new UsageError(
        `--epochs ${settings.epochs} is fewer than the ${ckpt.epoch} epochs ${out} has finished`,
      );
    }
    if (settings.epochs === ckpt.epoch && ckpt.batch === 0) {
      throw new UserError(
        `${out} already finished its ${ckpt.epoch} epochs: give --epochs N (more than ` +
          `${ckpt.epoch}) with --resume to train further`,
      );
    }
    await ensureWritableDir(out);
  } else {
    const config = resolveConfig({ depth: o.depth, stages: o.stages, width: o.width });
    model = { stages: config.stages, width: config.width };
    settings = {
      epochs: o.epochs ?? D2L_DEFAULTS.epochs,
      batchSize: o.batchSize ?? D2L_DEFAULTS.batchSize,
      lr: o.lr ?? D2L_DEFAULTS.lr,
      size: o.size ?? D2L_DEFAULTS.size,
      seed: o.seed ?? D2L_DEFAULTS.seed,
      limit: o.limit ?? null,
      testLimit: o.testLimit ?? null,
    };
    outputSizes(settings.size); // too small an input is a ConfigError now, not after loading
    out = o.out ?? defaultRunDir(config.depth);
    // Before the backend, the data and the first epoch: a bad --out or --init-from fails in a
    // second, and the --init-from check comes first so a refused run leaves no empty directory.
    if (o.initFrom !== undefined) {
      try {
        await Deno.stat(o.initFrom);
      } catch {
        throw new UsageError(`--init-from ${o.initFrom}: no such file`);
      }
    }
    await ensureNewRunDir(out);
  }
  const backend = await initBackend(o.backend ?? "auto");
  const data = await loadFashionMnist({ ...cliLoadOptions(o), quiet: o.json });
  const initFrom = o.initFrom;
  const ctl = new AbortController();
  const onSigint = () => {
    if (ctl.signal.aborted) Deno.exit(EXIT_INTERRUPTED);
    console.error("\ninterrupt: finishing the current step and saving (Ctrl-C again to quit now)");
    ctl.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  let result;
  try {
    result = await train({
      data: { train: data.train, test: data.test },
      out,
      resume: o.resume !== undefined,
      model,
      settings,
      backend,
      initWeights: initFrom ? (net) => loadTorchWeights(net, initFrom) : undefined,
      signal: ctl.signal,
      progress: new EpochProgress(),
      versions: { "resnet-d2l": denoJson.version },
      onEpoch: (r, epochs) => {
        console.log(o.json ? JSON.stringify({ type: "epoch", ...r }) : formatEpoch(r, epochs));
      },
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
  const last = result.history.epochs.at(-1);
  if (result.status === "interrupted") {
    const c = result.checkpoint;
    throw new Interrupted(
      `interrupted; saved epoch ${c.epoch}${c.batch ? ` + ${c.batch} batches` : ""} to ${out}. ` +
        `Resume with: deno task train --resume ${out}` +
        (settings.epochs !== D2L_DEFAULTS.epochs ? ` --epochs ${settings.epochs}` : ""),
    );
  }
  if (!last) return;
  if (o.json) {
    console.log(JSON.stringify({
      type: "summary",
      loss: last.train_loss,
      train_acc: last.train_acc,
      test_acc: last.test_acc,
      examples_per_sec: result.examplesPerSec,
      backend: backendWhat(backend),
      out,
    }));
  } else {
    console.log(
      `loss ${last.train_loss.toFixed(3)}, train acc ${last.train_acc.toFixed(3)}, ` +
        `test acc ${last.test_acc.toFixed(3)}`,
    );
    console.log(`${result.examplesPerSec.toFixed(1)} examples/sec on ${backendWhat(backend)}`);
    console.error(`run saved in ${out}`);
  }
}

/**
 * Where `eval` and `export` take the network from: a run directory, or d2l weights with the
 * architecture given by `depth`/`stages`/`width`; `size` overrides the run's input size.
 */
export interface NetSourceOptions {
  /** `--run DIR`: a run directory written by `train` (its architecture and size). */
  run?: string;
  /** `--weights FILE`: d2l weights (`.safetensors`), instead of `run`. */
  weights?: string;
  /** `--depth` of the `weights` network (18 or 34; default 18); not with `run`. */
  depth?: number;
  /** `--stages a,b,c,d` of the `weights` network; wins over `depth`; not with `run`. */
  stages?: number[];
  /** `--width` of the `weights` network (default 64); not with `run`. */
  width?: number;
  /** `--size`: input height and width in pixels (default: the run's, else 96). */
  size?: number;
}

/** Parsed options of `eval`. */
export interface EvalCliOptions extends DataCliOptions, NetSourceOptions {
  /** `--limit`: evaluate the first N test images only. */
  limit?: number;
  /** `--batch-size`: images per forward pass (default: the run's, else 256). */
  batchSize?: number;
  /** `--backend`: which tfjs backend runs the computation (default `auto`). */
  backend?: BackendName;
  /** `--json`: print one JSON document instead of the table. */
  json?: boolean;
  /** `--confusion FILE`: also write the confusion matrix as CSV there. */
  confusion?: string;
}

/** Loads the network of `--run DIR` or of `--weights FILE` (+ architecture flags). */
async function loadNet(
  o: NetSourceOptions,
  command: string,
): Promise<{ net: ResNet; size: number | null; batchSize: number | null }> {
  if ((o.run === undefined) === (o.weights === undefined)) {
    throw new UsageError(
      `${command} needs exactly one of --run DIR (a train run) or --weights FILE.safetensors`,
    );
  }
  if (o.run !== undefined) {
    const arch = [["depth", "--depth"], ["stages", "--stages"], ["width", "--width"]] as const;
    const given = arch.filter(([k]) => o[k] !== undefined).map(([, f]) => f);
    if (given.length) {
      throw new UsageError(
        `${given.join(", ")} cannot be combined with --run (the run has its own)`,
      );
    }
    const { net, checkpoint } = await loadCheckpoint(o.run);
    return { net, size: checkpoint.settings.size, batchSize: checkpoint.settings.batchSize };
  }
  const net = new ResNet({ depth: o.depth, stages: o.stages, width: o.width });
  try {
    await loadTorchWeights(net, o.weights!);
  } catch (e) {
    net.dispose();
    throw e;
  }
  return { net, size: null, batchSize: null };
}

/**
 * `eval`: test accuracy of a run (or of d2l weights), a per-class table, optionally the
 * confusion matrix as CSV.
 */
export async function runEval(o: EvalCliOptions): Promise<void> {
  if (o.confusion !== undefined) await checkWritableFile(o.confusion, "--confusion");
  // A missing or broken run directory fails before the backend starts (one line, nothing else).
  if (o.run !== undefined) await requireRunDir(o.run);
  const backend = await initBackend(o.backend ?? "auto");
  const { net, size, batchSize } = await loadNet(o, "eval");
  try {
    const s = o.size ?? size ?? D2L_DEFAULTS.size;
    outputSizes(s);
    const { test } = await loadFashionMnist({ ...cliLoadOptions(o), quiet: o.json });
    const r = await evaluate(
      net,
      test,
      { size: s, batchSize: o.batchSize ?? batchSize ?? D2L_DEFAULTS.batchSize, limit: o.limit },
      CLASS_NAMES,
    );
    if (o.confusion !== undefined) await writeFileAtomic(o.confusion, confusionCsv(r));
    if (o.json) {
      console.log(JSON.stringify({
        accuracy: r.accuracy,
        correct: r.correct,
        n: r.n,
        per_class: r.perClass.map((c) => ({ class: c.class, name: c.name, accuracy: c.accuracy })),
        backend: backendWhat(backend),
      }));
    } else {
      console.log(formatEvaluation(r));
    }
  } finally {
    net.dispose();
  }
}

/** Export formats: metrics (`csv`, `json`) or weights (`safetensors`, `layers`). */
export const EXPORT_FORMATS = ["csv", "json", "safetensors", "layers"] as const;

/** Parsed options of `export`. */
export interface ExportCliOptions extends NetSourceOptions {
  /** `--format`: one of {@linkcode EXPORT_FORMATS} (default `csv`). */
  format?: typeof EXPORT_FORMATS[number];
  /** `--out`: output file (a directory for `layers`); metrics go to stdout without it. */
  out?: string;
  /** `--plot FILE`: also draw the run's loss and accuracy curves as SVG (metrics formats). */
  plot?: string;
  /** `--backend`: which tfjs backend loads and converts the weights (default `cpu`). */
  backend?: BackendName;
}

/**
 * `export`: a run's per-epoch metrics as CSV or JSON (stdout without `--out`), its curves as SVG
 * (`--plot`), or its weights as d2l safetensors / a tfjs layers model.
 */
export async function runExport(o: ExportCliOptions): Promise<void> {
  const format = o.format ?? "csv";
  if (format === "csv" || format === "json") {
    if (o.run === undefined) throw new UsageError(`export --format ${format} needs --run DIR`);
    if (o.weights !== undefined) {
      throw new UsageError(`--weights is for --format safetensors or layers, not ${format}`);
    }
    await readCheckpoint(o.run);
    const h = await readHistory(o.run);
    if (o.out !== undefined) await checkWritableFile(o.out, "--out");
    if (o.plot !== undefined) await checkWritableFile(o.plot, "--plot");
    const text = format === "csv" ? metricsCsv(h.epochs) : JSON.stringify(h.epochs, null, 2) + "\n";
    if (o.out !== undefined) await writeFileAtomic(o.out, text);
    else await Deno.stdout.write(new TextEncoder().encode(text));
    if (o.plot !== undefined) await writeCurves(o.plot, h.epochs);
    return;
  }
  if (o.out === undefined) throw new UsageError(`export --format ${format} needs --out`);
  if (o.plot !== undefined) throw new UsageError("--plot needs --run and --format csv or json");
  if (format === "safetensors") await checkWritableFile(o.out, "--out");
  else await ensureWritableDir(o.out);
  if (o.run !== undefined) await requireRunDir(o.run);
  await initBackend(o.backend ?? "cpu");
  const { net, size } = await loadNet(o, "export");
  try {
    if (format === "safetensors") {
      await saveTorchWeights(net, o.out);
    } else {
      const s = o.size ?? size ?? D2L_DEFAULTS.size;
      outputSizes(s);
      await saveLayersModel(net, s, o.out);
    }
    console.error(`wrote ${o.out}`);
  } finally {
    net.dispose();
  }
}

/** Fails early (before work) when `path` cannot be created or replaced. */
async function checkWritableFile(path: string, flag: string): Promise<void> {
  const probe = `${path}.probe-${Deno.pid}`;
  try {
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    throw new UserError(
      `${flag} ${path} cannot be written (${e instanceof Error ? e.message : e}): choose ` +
        "another path",
    );
  }
}
