/**
 * Every command-line flag, declared once: its spelling, help text and parser. A subcommand lists
 * the flags it takes with a note on each (its default, said in one style: `(default 18)`), and
 * the type of its parsed options is derived from that list ({@linkcode OptionsOf}). Values are
 * checked by one number parser, so `--lr 1e-2` and `--epochs 1e2` follow the same rules everywhere.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { addFlags, parseNumber } from "./options.ts";
 * parseNumber("256", "integer", 1); // 256
 * const cmd = addFlags(new Command("shapes"), { depth: "default 18", json: "" });
 * console.log(cmd.options.map((o) => o.long)); // ["--depth", "--json"]
 * ```
 * @module
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  type Arch,
  ARCHS,
  type BlockKind,
  BLOCKS,
  DEPTHS,
  type Stem,
  STEMS,
} from "../lib/model/resnet.ts";
import { type BackendName, BACKENDS } from "../lib/backends/choose.ts";
import { RECIPE_NAMES, type RecipeName } from "../lib/run/recipe.ts";
import { type Schedule, SCHEDULES } from "../lib/run/schedule.ts";
import { ALL_AUGMENTATIONS, type Augmentation, AUGMENTATIONS } from "../lib/data/augment.ts";
import { type NumberKind, parseNumber as libParseNumber } from "../lib/parse_number.ts";
import { InputError } from "../lib/errors.ts";
import { DOWNLOAD_DEFAULTS } from "../lib/data/download.ts";
import { isAbsolute, resolve } from "node:path";

/** A bad command-line value or combination; the CLI prints the message and exits 2. */
export class UsageError extends Error {
  /** Always `"UsageError"`. */
  override name = "UsageError";
}

/**
 * The one number parser ({@linkcode libParseNumber}, lib/parse_number.ts) for commander: its
 * {@linkcode InputError} becomes commander's `InvalidArgumentError`, which the CLI prints as one
 * line naming the flag.
 *
 * @example
 * ```ts
 * import { parseNumber } from "./options.ts";
 * parseNumber("0.05", "number", 0, true); // 0.05
 * parseNumber("7", "integer", 0); // 7
 * ```
 */
export function parseNumber(v: string, kind: NumberKind, min: number, exclusive = false): number {
  try {
    return libParseNumber(v, kind, min, exclusive);
  } catch (e) {
    if (e instanceof InputError) throw new InvalidArgumentError(`${e.message}.`);
    throw e;
  }
}

const positiveInt = (v: string) => parseNumber(v, "integer", 1);
const nonNegativeInt = (v: string) => parseNumber(v, "integer", 0);
const positiveFloat = (v: string) => parseNumber(v, "number", 0, true);
const nonNegativeFloat = (v: string) => parseNumber(v, "number", 0);

/** Parses a number in [0, 1) (momentum, label smoothing). */
function parseFraction(v: string): number {
  const n = parseNumber(v, "number", 0);
  if (n >= 1) throw new InvalidArgumentError("give a number in [0, 1), e.g. 0.1.");
  return n;
}

/** Parses a comma-separated list of augmentations; `all` is the random ones, `none` none. */
function parseAugment(v: string): Augmentation[] {
  const parts = v.split(",").map((s) => s.trim());
  if (parts.length === 1 && parts[0] === "all") return [...ALL_AUGMENTATIONS];
  if (parts.length === 1 && parts[0] === "none") return [];
  const bad = parts.filter((p) => !(AUGMENTATIONS as readonly string[]).includes(p));
  if (bad.length) {
    throw new InvalidArgumentError(
      `unknown ${bad.join(", ")}: give a comma-separated list of ${AUGMENTATIONS.join(", ")} ` +
        "(or all, or none).",
    );
  }
  return AUGMENTATIONS.filter((a) => parts.includes(a));
}

/** Parses `a,b,c,d`: four positive integers, residual blocks per stage. */
function parseStages(v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  // The page's stages field reads each part with the same parser (web/form.ts).
  const stages = parts.map((s) => {
    try {
      return libParseNumber(s, "integer", 1);
    } catch {
      return NaN;
    }
  });
  if (stages.length !== 4 || stages.some(Number.isNaN)) {
    throw new InvalidArgumentError(
      "give four positive integers separated by commas, e.g. 2,2,2,2.",
    );
  }
  return stages;
}

/** Parses a depth from the model's depth table (digits only: `0x12` is not 18). */
function parseDepth(v: string): number {
  const allowed = Object.keys(DEPTHS).map(Number);
  let n = NaN;
  try {
    n = libParseNumber(v, "integer", 1);
  } catch { /* not an integer: refused below with the depths there are */ }
  if (!allowed.includes(n)) {
    throw new InvalidArgumentError(
      `allowed are ${allowed.join(", ")} (or any four stage depths with --stages a,b,c,d).`,
    );
  }
  return n;
}

/** Parses `a,b,c`: accuracy levels in (0, 1], in the order given. */
function parseLevels(v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  const levels = parts.map((s) => /^(0?\.\d+|1(\.0*)?)$/.test(s) ? Number(s) : NaN);
  if (!levels.every((n) => n > 0 && n <= 1)) {
    throw new InvalidArgumentError("give accuracies in (0, 1] separated by commas, e.g. 0.9,0.93.");
  }
  return levels;
}

/** Parses a TCP port, 0 (any free port) to 65535. */
function parsePort(v: string): number {
  const n = parseNumber(v, "integer", 0);
  if (n > 65535) throw new InvalidArgumentError("give a port from 0 to 65535.");
  return n;
}

/** Parses an http(s) base URL. */
function parseMirror(v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new InvalidArgumentError("give an http:// or https:// base URL, e.g. http://host/data/.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`${url.protocol} is not supported: give an http(s) URL.`);
  }
  return url.href;
}

/** Parses `i,j,k`: test-set indices (non-negative integers). */
function parseIndices(v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  if (!parts.every((s) => /^\d+$/.test(s) && Number.isSafeInteger(Number(s)))) {
    throw new InvalidArgumentError("give test-set indices separated by commas, e.g. 0,7,42.");
  }
  return parts.map(Number);
}

/**
 * A path the user typed, taken from where they typed it. `deno task` runs every command in the
 * project root and says in `INIT_CWD` where the user was, so `deno task predict photo.jpg` from
 * another folder means that folder's photo.jpg; under `deno run` (INIT_CWD unset, or the working
 * directory itself) the path stays as typed. Every path flag and argument goes through here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { userPath } from "./options.ts";
 * assert.equal(userPath("photo.jpg", "/home/me/pictures"), "/home/me/pictures/photo.jpg");
 * assert.equal(userPath("/tmp/g.png", "/home/me"), "/tmp/g.png");
 * assert.equal(userPath("runs/a", Deno.cwd()), "runs/a");
 * ```
 */
export function userPath(path: string, initCwd = Deno.env.get("INIT_CWD")): string {
  if (!initCwd || path === "" || isAbsolute(path) || resolve(initCwd) === Deno.cwd()) return path;
  return resolve(initCwd, path);
}

/** A flag: how it is spelt, what it means, how its value is parsed (none: a boolean switch). */
interface Flag<T> {
  flags: string;
  help: string;
  parse?: (v: string) => T;
  choices?: readonly string[];
  /** Repeatable: every value is collected into an array. */
  repeat?: boolean;
}
const flag = <T = string>(f: Flag<T>): Flag<T> => f;
const on = (flags: string, help: string) => flag<boolean>({ flags, help });
/** A flag whose value is a path: relative to where the user typed it ({@linkcode userPath}). */
const pathFlag = (flags: string, help: string) =>
  flag<string>({ flags, help, parse: (v) => userPath(v) });

/** Every flag of the CLI, keyed by commander's camelCase name. */
export const FLAGS = {
  depth: flag({
    flags: "--depth <n>",
    help: `ResNet depth: ${Object.keys(DEPTHS).join(" or ")}`,
    parse: parseDepth,
  }),
  stages: flag({
    flags: "--stages <a,b,c,d>",
    help: "residual blocks per stage b2..b5 (overrides --depth)",
    parse: parseStages,
  }),
  width: flag({
    flags: "--width <n>",
    help: "channels of b1/b2; later stages double it",
    parse: positiveInt,
  }),
  size: flag({ flags: "--size <px>", help: "input height and width", parse: positiveInt }),
  batch: flag({ flags: "--batch <n>", help: "batch size of the probe input", parse: positiveInt }),
  epochs: flag({ flags: "--epochs <n>", help: "epochs", parse: positiveInt }),
  batchSize: flag({ flags: "--batch-size <n>", help: "images per step", parse: positiveInt }),
  lr: flag({ flags: "--lr <x>", help: "SGD (base) learning rate", parse: positiveFloat }),
  recipe: flag<RecipeName>({
    flags: "--recipe <name>",
    help: "preset of epochs, batch size, lr and the options below; flags given override it " +
      "(fast also picks its network, a cifar stem of width 16, unless an architecture flag is given)",
    choices: RECIPE_NAMES,
  }),
  momentum: flag({
    flags: "--momentum <m>",
    help: "SGD momentum in [0, 1) (torch.optim.SGD's)",
    parse: parseFraction,
  }),
  nesterov: on("--nesterov", "Nesterov momentum"),
  weightDecay: flag({
    flags: "--weight-decay <w>",
    help: "L2 penalty on conv and dense weights (not biases, not BatchNorm), before momentum",
    parse: nonNegativeFloat,
  }),
  schedule: flag<Schedule>({
    flags: "--schedule <name>",
    help: "learning-rate schedule, per epoch (linear: per step, to 0) (README: accuracy)",
    choices: SCHEDULES,
  }),
  warmupEpochs: flag({
    flags: "--warmup-epochs <n>",
    help: "epochs of linear warm-up before the schedule",
    parse: nonNegativeInt,
  }),
  labelSmoothing: flag({
    flags: "--label-smoothing <e>",
    help: "label smoothing in [0, 1) (CrossEntropyLoss's label_smoothing)",
    parse: parseFraction,
  }),
  augment: flag<Augmentation[]>({
    flags: "--augment <list>",
    help: `training-image augmentations: ${AUGMENTATIONS.join(",")} (altflip: each image ` +
      `mirrored every other epoch), all (${ALL_AUGMENTATIONS.join(",")}) or none`,
    parse: parseAugment,
  }),
  tta: on("--tta", "average the predictions of each test image and of its mirror image"),
  force: on("--force", "write into a directory that holds other files"),
  limit: flag({ flags: "--limit <n>", help: "use the first N images", parse: positiveInt }),
  testLimit: flag({
    flags: "--test-limit <n>",
    help: "test on the first N test images",
    parse: positiveInt,
  }),
  seed: flag({
    flags: "--seed <n>",
    help: "seed of the initialisation and shuffling",
    parse: nonNegativeInt,
  }),
  backend: flag<BackendName>({
    flags: "--backend <name>",
    help: "tfjs backend",
    choices: BACKENDS,
  }),
  threads: flag({
    flags: "--threads <n>",
    help: "CPU threads of the native backend's oneDNN",
    parse: positiveInt,
  }),
  saveEvery: flag({
    flags: "--save-every <minutes>",
    help: "also checkpoint part-way through an epoch once this many minutes have passed since " +
      "the last checkpoint (0: only at the end of each epoch and when stopped)",
    parse: nonNegativeFloat,
  }),
  out: pathFlag("--out <path>", "output path"),
  resume: pathFlag("--resume <dir>", "continue the run in DIR from its last checkpoint"),
  initFrom: pathFlag(
    "--init-from <file>",
    "start from d2l weights (.safetensors of the state_dict)",
  ),
  run: pathFlag("--run <dir>", "run directory written by train"),
  weights: pathFlag("--weights <file>", "d2l weights (.safetensors of the state_dict)"),
  confusion: pathFlag("--confusion <file.csv>", "write the confusion matrix as CSV"),
  format: flag<"csv" | "json" | "safetensors" | "layers">({
    flags: "--format <f>",
    help: "csv|json (metrics), safetensors|layers (weights)",
    choices: ["csv", "json", "safetensors", "layers"],
  }),
  plot: pathFlag("--plot <file.svg>", "also draw the loss and accuracy curves"),
  timeTo: flag({
    flags: "--time-to <levels>",
    help: "when the test accuracy first reached each level, e.g. 0.90,0.93,0.94",
    parse: parseLevels,
  }),
  compare: flag<string[]>({
    flags: "--compare <dir>",
    help: "another run to set beside --run (repeatable)",
    parse: (v) => [userPath(v)],
    repeat: true,
  }),
  json: on("--json", "print JSON on stdout"),
  invert: flag<"auto" | "yes" | "no">({
    flags: "--invert <when>",
    help: "invert the pictures (Fashion-MNIST is light on black): auto|yes|no",
    choices: ["auto", "yes", "no"],
  }),
  test: flag({
    flags: "--test <i,j,k>",
    help: "also predict these test-set images (0-based indices)",
    parse: parseIndices,
  }),
  grid: pathFlag("--grid <file>", "draw the images with true / predicted labels (.svg or .png)"),
  wrong: on("--wrong", "the first misclassified test images instead of the first ones"),
  count: flag({
    flags: "--count <n>",
    help: "test images to predict and draw",
    parse: positiveInt,
  }),
  serve: flag<number | true>({
    flags: "--serve [port]",
    help: "serve a page on http://127.0.0.1:PORT/ (0: any free port)",
    parse: parsePort,
  }),
  dataDir: pathFlag("--data-dir <dir>", "cache directory of Fashion-MNIST"),
  sourceDir: flag<string[]>({
    flags: "--source-dir <dir>",
    help: "also look for the files in this directory (repeatable)",
    parse: (v) => [userPath(v)],
    repeat: true,
  }),
  mirror: flag<string[]>({
    flags: "--mirror <url>",
    help: "download from this base URL instead of the official mirrors (repeatable)",
    parse: (v) => [parseMirror(v)],
    repeat: true,
  }),
  timeout: flag({
    flags: "--timeout <s>",
    help: "abort a download attempt after this many seconds without data",
    parse: positiveFloat,
  }),
  retries: flag({
    flags: "--retries <n>",
    help: "retries per mirror, with exponential backoff",
    parse: nonNegativeInt,
  }),
  arch: flag<Arch>({
    flags: "--arch <form>",
    help: "d2l (conv bias, Xavier init, 1x1 shortcut without BN) or torchvision (no conv " +
      "bias, Kaiming init, 1x1 conv + BN downsample, stride on the bottleneck's 3x3); weights " +
      "files use that form's state_dict names",
    choices: ARCHS,
  }),
  block: flag<BlockKind>({
    flags: "--block <kind>",
    help: "residual block: basic, bottleneck (x4 expansion; --depth 50/101/152 imply it) or " +
      "preact (He et al. 2016b, BN-ReLU-conv)",
    choices: BLOCKS,
  }),
  groups: flag({
    flags: "--groups <g>",
    help: "groups of the bottleneck's 3x3 conv (ResNeXt), torchvision's meaning: the number of " +
      "groups (d2l's ResNeXtBlock(groups=...) is channels per group instead)",
    parse: positiveInt,
  }),
  widthPerGroup: flag({
    flags: "--width-per-group <w>",
    help: "torchvision's width_per_group: the bottleneck's inner width is " +
      "floor(planes * w / 64) * groups (resnext50_32x4d: --groups 32 --width-per-group 4)",
    parse: positiveInt,
  }),
  stem: flag<Stem>({
    flags: "--stem <kind>",
    help: "d2l (7x7/2 conv, 3x3/2 max pool) or cifar (3x3/1 conv, no max pool)",
    choices: STEMS,
  }),
  zeroInitResidual: on(
    "--zero-init-residual",
    "start the last BatchNorm scale of each residual branch at 0",
  ),
  inChannels: flag({
    flags: "--in-channels <n>",
    help: "input channels (1: Fashion-MNIST, 3: ImageNet)",
    parse: positiveInt,
  }),
  classes: flag({
    flags: "--classes <n>",
    help: "output classes (10: Fashion-MNIST, 1000: ImageNet)",
    parse: positiveInt,
  }),
};

/** The name of a flag in {@linkcode FLAGS}. */
export type FlagName = keyof typeof FLAGS;
/** Which flags a subcommand takes, each with a note for its help (`""` for none). */
export type FlagUses = Partial<Record<FlagName, string>>;
/** The parsed options of a subcommand that takes the flags `U`. */
export type OptionsOf<U extends FlagUses> = {
  [K in keyof U & FlagName]?: typeof FLAGS[K] extends Flag<infer T> ? T : never;
};

/** The data flags every subcommand that loads Fashion-MNIST takes. */
export const DATA_FLAGS = {
  dataDir: "default: $FASHION_MNIST_DIR or data/fashion-mnist",
  sourceDir: "",
  mirror: "",
  timeout: `default ${DOWNLOAD_DEFAULTS.timeoutMs / 1000}`,
  retries: `default ${DOWNLOAD_DEFAULTS.retries}`,
} as const satisfies FlagUses;

/** The backend flags every subcommand that computes with the network takes (not `export`). */
export const BACKEND_FLAGS = {
  backend: "default auto",
  threads: "default: $OMP_NUM_THREADS, else every core",
} as const satisfies FlagUses;

/**
 * Adds the flags of `uses` to `cmd`, each with its note in parentheses after the help text.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * import { addFlags } from "./options.ts";
 * addFlags(new Command("eval"), { run: "", limit: "" }).helpInformation().includes("--run <dir>"); // true
 * ```
 */
export function addFlags(cmd: Command, uses: FlagUses): Command {
  for (const [name, note] of Object.entries(uses) as [FlagName, string][]) {
    const f: Flag<unknown> = FLAGS[name];
    const help = note ? `${f.help} (${note})` : f.help;
    const opt = new Option(f.flags, help);
    if (f.choices) opt.choices(f.choices);
    const parse = f.parse;
    if (f.repeat) {
      opt.argParser((v: string, prev?: unknown[]) => [
        ...(prev ?? []),
        ...(parse ? parse(v) as unknown[] : [v]),
      ]);
    } else if (parse) opt.argParser(parse);
    cmd.addOption(opt);
  }
  return cmd;
}
