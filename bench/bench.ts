/**
 * `deno task bench`: ResNet training and test-pass speed (images per second over at least 20 s
 * after warm-up, the fraction of the CPU's FMA peak and of its sgemm rate, first-step seconds,
 * peak RSS, the parameters each process built) of the tfjs backends and of d2l's PyTorch code, or
 * torchvision's ResNet class for `--arch torchvision` (`bench/torch_reference.py`, in NCHW and
 * channels_last) in the same invocation, with each row's ratio to the faster PyTorch reference.
 * Every run is its own process (bench/measure.ts: bench/worker.ts or PyTorch, a wall-clock cap
 * each); the steps are `trainStep` of lib/model/step.ts, the very step that
 * training runs, or batches of `evaluate` (lib/run/evaluate.ts), the test pass after every epoch.
 * Before the runs it measures the FMA peak (bench/fma_peak.ts) and the sgemm rate
 * (bench/peak.ts) on the runs' threads; a row above 100% of the FMA peak is flagged.
 *
 * Without `--impls` it measures what finishes in minutes here: native, torch and torch-cl (and
 * WebGPU on a hardware adapter), and says which it left out (bench/impls.ts). Rows are appended
 * to the git-ignored `bench/results/local.jsonl` (`--save FILE`, `--no-save`) with the date,
 * machine, versions, FMA peak and sgemm rate (bench/environment.ts).
 *
 * For WebGPU (issue 8) it also compares how the loop is driven: with and without compiling the
 * pipelines ahead (`--compile-ahead`, lib/backends/warmup.ts; each run starts with an empty
 * driver shader cache), tfjs' deferred-submit batch size (`--submit-batch`) and how often the
 * loss is read back (`--read-every`). Every combination is one run; its row says which.
 *
 * @example
 * ```sh
 * deno task bench                      # ResNet-18, 28 and 96 px, batch 64, train and eval
 * deno task bench --depth 34 --tasks train  # ResNet-34 training
 * deno task bench --depth 50 --arch torchvision --tasks train  # ResNet-50 beside torchvision's
 * deno task bench --stem cifar --width 16 --sizes 28 --batch 256  # train --recipe fast's network
 * deno task bench --quick --json       # a few seconds per run, one JSON object per line
 * deno task bench --impls native,torch,torch-cl --sizes 28 --batch 64,256 --profile
 * deno task bench --impls webgpu --stages 1,1,1,1 --width 8 --batch 16 --compile-ahead both
 * deno task bench --impls webgpu --stages 1,1,1,1 --width 8 --submit-batch 1,15 --read-every 1,10
 * ```
 * @module
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { probeAdapter } from "../lib/backends/webgpu.ts";
import { ConfigError, errorText } from "../lib/errors.ts";
import {
  type Arch,
  type BlockKind,
  DEPTHS,
  resolveConfig,
  type Stem,
} from "../lib/model/resnet.ts";
import { describeError } from "../cli/errors.ts";
import { addFlags, parseNumber, UsageError, userPath } from "../cli/options.ts";
import { environment, findTorchPython } from "./environment.ts";
import { defaultImpls, webgpuSkipReason } from "./impls.ts";
import { measure, type RunOptions } from "./measure.ts";
import { measureSgemm, peakFraction, type SgemmRate } from "./peak.ts";
import { type FmaPeak, measureFmaPeak } from "./fma_peak.ts";
import {
  appendResults,
  DEFAULT_RESULTS,
  formatNotes,
  formatProfile,
  formatSplit,
  formatTable,
  netLabel,
  readResults,
} from "./report.ts";
import {
  BATCH_SOURCES,
  type BatchSource,
  type BenchRow,
  COMPILE_AHEAD,
  type Impl,
  IMPLS,
  isTorch,
  modelOf,
  type NetShape,
  type Task,
  TASKS,
} from "./row.ts";

/** A comma-separated list, each element parsed by `parse` (an element's error names it). */
function list<T>(parse: (s: string) => T) {
  return (v: string): T[] =>
    v.split(",").filter((s) => s.trim()).map((s) => {
      try {
        return parse(s.trim());
      } catch (e) {
        throw new InvalidArgumentError(`${s.trim()}: ${errorText(e)}`);
      }
    });
}
const positiveInt = (v: string) => parseNumber(v, "integer", 1);
const positive = (v: string) => parseNumber(v, "number", 0, true);
function oneOf<T extends string>(what: string, names: readonly T[]) {
  return (v: string): T => {
    if ((names as readonly string[]).includes(v)) return v as T;
    throw new InvalidArgumentError(`unknown ${what} ${v}: use ${names.join(", ")}`);
  };
}

/** A file name; refuses a flag, which commander would otherwise take as the name. */
function fileName(v: string): string {
  if (v === "" || v.startsWith("-")) throw new InvalidArgumentError("give a file name");
  return userPath(v); // from where the user typed it, under `deno task` too
}

/** The parsed flags. */
interface BenchFlags {
  json?: boolean;
  quick?: boolean;
  depth: number[];
  tasks: Task[];
  stages?: number[];
  width?: number;
  arch?: Arch;
  block?: BlockKind;
  groups?: number;
  widthPerGroup?: number;
  stem?: Stem;
  sizes: number[];
  batch: number[];
  impls?: Impl[];
  seconds?: number;
  cap?: number;
  threads: number;
  compileAhead: (typeof COMPILE_AHEAD)[number];
  submitBatch?: number[];
  readEvery: number[];
  batches: BatchSource[];
  profile?: boolean;
  /** A file, false for `--no-save`, undefined for the default file. */
  save?: string | false;
  python?: string;
  warmup?: number;
}

/** An option with a parser and a default (commander's `Option`, built in one call). */
function opt(flags: string, help: string, parse?: (v: string) => unknown, dflt?: unknown): Option {
  const o = new Option(flags, help);
  if (parse) o.argParser(parse);
  return dflt === undefined ? o : o.default(dflt);
}

function program(): Command {
  const cmd = new Command()
    .name("bench")
    .description("ResNet training speed of each backend here and of d2l's PyTorch code")
    .showHelpAfterError(false)
    .exitOverride()
    .option("--quick", "short runs (3 s measured, 1 warm-up step, 90 s cap): a smoke test")
    .addOption(
      opt("--depth <list>", "ResNet depths (18, 34, 50, 101, 152)", list(positiveInt), [18]),
    )
    .addOption(opt(
      "--tasks <list>",
      "train (training steps), eval (the test pass after each epoch)",
      list(oneOf("task", TASKS)),
      ["train", "eval"],
    ));
  addFlags(cmd, {
    json: "one object per run instead of the table",
    stages: "",
    width: "default 64",
    arch: "default d2l; torch runs torchvision's own ResNet class with a 1-channel stem",
    block: "default the depth's; torch: not preact",
    groups: "default 1",
    widthPerGroup: "default 64",
    // train --recipe fast's network is --stem cifar --width 16: this benches it beside PyTorch.
    stem: "default d2l; train --recipe fast: cifar, with --width 16",
  });
  cmd
    .addOption(opt("--sizes <list>", "input sizes", list(positiveInt), [28, 96]))
    .addOption(opt("--batch <list>", "batch sizes", list(positiveInt), [64]))
    .addOption(opt(
      "--impls <list>",
      `implementations: ${IMPLS.join(",")} (default: all but cpu and WebGPU on a software ` +
        "adapter, which take minutes per ResNet-18 step here, and those not installed)",
      list(oneOf("implementation", IMPLS)),
    ))
    .addOption(opt("--seconds <s>", "measured seconds per run (default 20, --quick 3)", positive))
    .addOption(opt("--cap <s>", "wall-clock cap per run (default 240, --quick 90)", positive))
    .addOption(opt("--threads <n>", "threads of OpenBLAS, OpenMP and PyTorch", positiveInt, 2));
  return addLoopFlags(cmd)
    .option(
      "--profile",
      "tfjs backends: print a per-kernel profile of one step, and its wall time split into " +
        "oneDNN, BLAS, the kernels' JS and between kernels",
    )
    .addOption(opt(
      "--save <file>",
      "append the rows to FILE (default bench/results/local.jsonl, git-ignored)",
      fileName,
    ))
    .option("--no-save", "do not append the rows to any file")
    .addOption(opt(
      "--python <path>",
      "python3 with PyTorch (default: the first python3 that imports it)",
      // A path from where the user typed it; a bare command name is looked up on PATH.
      (v) => v.includes("/") ? userPath(v) : v,
    ))
    .addOption(opt("--warmup <n>", "", (v) => parseNumber(v, "integer", 0)).hideHelp());
}

/** The flags of how tfjs' training loop is driven (issue 8); lists multiply the runs. */
function addLoopFlags(cmd: Command): Command {
  return cmd
    .addOption(
      opt(
        "--compile-ahead <mode>",
        "webgpu: compile pipelines before the first step (lib/backends/warmup.ts): off, on, or " +
          "both runs",
      ).choices(COMPILE_AHEAD).default("on"),
    )
    .addOption(opt(
      "--submit-batch <list>",
      "webgpu: tfjs' deferred-submit batch sizes to compare (default: lib/backends/webgpu.ts's)",
      list(positiveInt),
    ))
    .addOption(opt(
      "--read-every <list>",
      "tfjs backends: read the loss back every N measured steps (training reads every 10)",
      list(positiveInt),
      [1],
    ))
    .addOption(opt(
      "--batches <list>",
      "tfjs backends: one fixed batch, or a fresh one per step made inline or ahead of its step",
      list(oneOf("batch source", BATCH_SOURCES)),
      ["fixed"],
    ));
}

/** What every run of an invocation shares, from the flags. */
interface Settings {
  /** The networks: one per depth, or the one of --stages. */
  nets: NetShape[];
  seconds: number;
  warmup: number;
  cap: number;
}

/** Checks what commander cannot and fills in the defaults; throws {@linkcode UsageError}. */
function settings(o: BenchFlags): Settings {
  const bad = o.stages ? undefined : o.depth.find((d) => !DEPTHS[d]);
  if (bad !== undefined) {
    throw new UsageError(
      `--depth ${bad}: use ${Object.keys(DEPTHS).join(", ")} (or --stages a,b,c,d)`,
    );
  }
  const lists: [string, unknown[] | undefined][] = [
    ["--depth", o.depth],
    ["--tasks", o.tasks],
    ["--sizes", o.sizes],
    ["--batch", o.batch],
    ["--impls", o.impls],
    ["--read-every", o.readEvery],
    ["--batches", o.batches],
  ];
  for (const [flag, v] of lists) {
    if (v?.length === 0) throw new UsageError(`${flag} is empty: give at least one value`);
  }
  const quick = !!o.quick;
  const form = {
    width: o.width ?? 64,
    arch: o.arch,
    block: o.block,
    groups: o.groups,
    widthPerGroup: o.widthPerGroup,
    stem: o.stem,
  };
  const nets: NetShape[] = o.stages
    ? [{ depth: 18, stages: o.stages, ...form }]
    : [...new Set(o.depth)].map((depth) => ({ depth, stages: null, ...form }));
  for (const net of nets) {
    try {
      resolveConfig(modelOf(net));
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(errorText(e));
      throw e;
    }
  }
  return {
    nets,
    seconds: o.seconds ?? (quick ? 3 : 20),
    warmup: o.warmup ?? (quick ? 1 : 2),
    cap: o.cap ?? (quick ? 90 : 240),
  };
}

/** The implementations to run, the python3 with PyTorch, and what the default left out. */
async function chooseImpls(o: BenchFlags) {
  if (o.impls) {
    const python = o.impls.some(isTorch) ? await findTorchPython(o.python) : null;
    return { impls: o.impls, skipped: [] as string[], python };
  }
  const python = await findTorchPython(o.python);
  const webgpu = webgpuSkipReason(await probeAdapter());
  return { ...defaultImpls({ webgpu, torch: python !== null }), python };
}

/** The network of the flags as the table names it: "18", "50 tv", or "1,1,1,1 w8". */
function netName(net: NetShape): string {
  const c = resolveConfig(modelOf(net));
  return netLabel({ ...c, width_per_group: c.widthPerGroup });
}

/** A run of one implementation: one combination of the flags that multiply runs. */
interface Variant {
  compileAhead: "off" | "on" | null;
  submitBatch: number | null;
  readEvery: number;
  batches: BatchSource;
}

/** The runs of one implementation: every combination of the flags that apply to it. */
function variants(impl: Impl, task: Task, o: BenchFlags): Variant[] {
  if (isTorch(impl)) {
    return [{ compileAhead: null, submitBatch: null, readEvery: 1, batches: "fixed" }];
  }
  const webgpu = impl === "webgpu";
  const modes = !webgpu
    ? [null]
    : o.compileAhead === "both"
    ? ["off", "on"] as const
    : [o.compileAhead];
  const submits = webgpu && o.submitBatch?.length ? o.submitBatch : [null];
  // The test pass reads every batch back and makes its own batches.
  const reads = task === "eval" ? [1] : o.readEvery;
  const sources = task === "eval" ? ["fixed" as const] : o.batches;
  return modes.flatMap((compileAhead) =>
    submits.flatMap((submitBatch) =>
      reads.flatMap((readEvery) =>
        sources.map((batches) => ({ compileAhead, submitBatch, readEvery, batches }))
      )
    )
  );
}

/** Says on stderr which run starts. */
function announce(impl: Impl, v: Variant, run: RunOptions): void {
  const what = [v.compileAhead && `compile-ahead ${v.compileAhead}`]
    .concat(v.submitBatch ? [`submit ${v.submitBatch}`] : [])
    .concat(
      !isTorch(impl) && run.task === "train"
        ? [`read every ${v.readEvery}`, `batches ${v.batches}`]
        : [],
    )
    .filter(Boolean).join(", ");
  console.error(
    `bench: ${impl}, ResNet ${
      netName(run.net)
    } ${run.task}, ${run.size}x${run.size}, batch ${run.batch}${what ? ` (${what})` : ""} ...`,
  );
}

/** The rates that the "% peak" and "% sgemm" columns divide by (null: not measured). */
interface Rates {
  fma: FmaPeak | null;
  sgemm: SgemmRate | null;
}

/** Every run: networks x tasks x sizes x batches x each implementation's variants, in order. */
function plan(o: BenchFlags, s: Settings, impls: Impl[], python: string | null) {
  return s.nets.flatMap((net) =>
    o.tasks.flatMap((task) =>
      o.sizes.flatMap((size) =>
        o.batch.flatMap((batch) =>
          impls.flatMap((impl) =>
            variants(impl, task, o).map((v) => {
              const run: RunOptions = {
                ...s,
                net,
                task,
                size,
                batch,
                profile: !!o.profile,
                python,
                threads: o.threads,
                compileAhead: v.compileAhead ?? "off",
                submitBatch: v.submitBatch,
                readEvery: v.readEvery,
                batches: v.batches,
              };
              return { impl, v, run };
            })
          )
        )
      )
    )
  );
}

/** Measures every run, printing JSON rows (`--json`) and profiles as they finish. */
async function runAll(
  o: BenchFlags,
  s: Settings,
  impls: Impl[],
  python: string | null,
  rates: Rates,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const { impl, v, run } of plan(o, s, impls, python)) {
    announce(impl, v, run);
    const row = await measure(impl, run);
    // The rates are the CPU's: no fraction for WebGPU.
    if (impl !== "webgpu") {
      const of = (gflops: number | null) =>
        peakFraction(row.examples_per_sec, row.gflop_per_image, gflops);
      row.peak_fraction = of(rates.fma?.gflops ?? null);
      row.sgemm_fraction = of(rates.sgemm?.gflops ?? null);
    }
    rows.push(row);
    if (o.json) {
      const { profile: _, ...rest } = row;
      console.log(JSON.stringify(rest));
    }
    if (row.profile && !o.json) {
      const { task, size, batch } = run;
      console.error(`profile of one ${task} step, ${impl} ${size}x${size} batch ${batch}:`);
      console.error(formatProfile(row.profile));
      if (row.profile_split) console.error(formatSplit(row.profile_split));
    }
  }
  return rows;
}

/** The FMA peak on the runs' threads, unless only WebGPU runs (it is not the CPU's). */
async function fmaPeak(impls: Impl[], threads: number) {
  if (impls.every((i) => i === "webgpu")) return { error: "only WebGPU runs" };
  const r = await measureFmaPeak({ threads });
  console.error(
    "gflops" in r
      ? `bench: FMA peak (${r.isa}, ${r.accumulators} accumulators) on ${threads} threads: ` +
        `${r.gflops.toFixed(1)} GFLOP/s (one thread: ${r.gflops_1thread.toFixed(1)})`
      : `bench: peak: not measured (${r.error}), so no % peak`,
  );
  return r;
}

/** The sgemm rate on the runs' threads, unless only WebGPU runs (its rate is not the CPU's). */
async function sgemmPeak(impls: Impl[], threads: number) {
  if (impls.every((i) => i === "webgpu")) return { error: "only WebGPU runs" };
  const r = await measureSgemm({ threads });
  console.error(
    "gflops" in r
      ? `bench: sgemm ${r.n}^3 on ${threads} threads: ${r.gflops.toFixed(1)} GFLOP/s (${r.library})`
      : `bench: no sgemm rate, so no % peak: ${r.error}`,
  );
  return r;
}

async function bench(args: string[], o: BenchFlags): Promise<void> {
  const s = settings(o);
  const file = o.save === false ? null : o.save ?? DEFAULT_RESULTS;
  if (file) await readResults(file); // a path that cannot be written fails now, not after the runs
  const { impls, skipped, python } = await chooseImpls(o);
  const env = await environment(python, null);
  const fma = await fmaPeak(impls, o.threads);
  env.fma_peak = fma;
  const sgemm = await sgemmPeak(impls, o.threads);
  if ("gflops" in sgemm) env.sgemm = sgemm;
  const rates = { fma: "gflops" in fma ? fma : null, sgemm: env.sgemm };
  const rows = await runAll(o, s, impls, python, rates);
  const load = Deno.loadavg();
  const notes = formatNotes(rows, { fma, sgemm }, skipped);
  if (o.json) {
    const loud = (n: string) => /^(skipped:|IMPLAUSIBLE|DIFFERENT NETWORKS)/.test(n);
    for (const n of notes.filter(loud)) console.error(`bench: ${n}`);
  } else {
    console.log(
      `ResNet ${s.nets.map(netName).join(" and ")} ${o.tasks.join(" and ")}, ` +
        `images/s after warm-up (${s.seconds} s measured per run, ` +
        `${o.threads} BLAS/PyTorch threads); ${env.machine.cpu}, ${env.machine.cores} cores; ` +
        `load average ${load.map((v) => v.toFixed(1)).join(" ")}`,
    );
    console.log(formatTable(rows));
    for (const n of notes) console.log(n);
  }
  if (file) {
    const command = `deno task bench ${args.join(" ")}`.trim();
    await appendResults(file, { ...env, loadavg_at_end: load }, rows, command);
    console.error(`bench: results appended to ${file}`);
  }
}

/**
 * Parses `args` and runs the benchmark; returns the exit code (2 for a bad flag, with one line on
 * stderr; 1 when the results cannot be written).
 *
 * @example
 * ```ts
 * import { main } from "./bench.ts";
 * Deno.exit(await main(["--impls", "native", "--sizes", "28", "--no-save"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  try {
    const cmd = program();
    cmd.parse(args, { from: "user" });
    await bench(args, cmd.opts<BenchFlags>());
    return 0;
  } catch (e) {
    // Commander already printed its one-line message (or the help text).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const d = describeError(e);
    if (!d) throw e;
    console.error(d.line);
    return d.code;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
