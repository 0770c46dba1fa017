/**
 * Where `eval` and `export` take the network from: a run directory (`--run`), or d2l weights
 * (`--weights`), at the architecture and input size the run or the file records (a flag that
 * contradicts them is refused; `--depth`/`--stages`/`--width`/`--size` fill in what a file of
 * d2l's notebook does not record); and the early check that an output path can be written
 * before any slow work starts.
 *
 * @example
 * ```ts ignore
 * // not run: it needs a trained run directory (tests/cli/ train one first)
 * import { loadNet } from "./net_source.ts";
 * const { net, size } = await loadNet({ run: "runs/demo" }, "eval");
 * console.log(net.config.stages, size);
 * net.dispose();
 * ```
 * @module
 */
import {
  DEPTH_BLOCKS,
  DEPTHS,
  MODEL_DEFAULTS,
  ResNet,
  type ResNetConfig,
  type ResNetOptions,
  resolveConfig,
} from "../lib/model/resnet.ts";
import { archNote } from "../lib/model/shapes.ts";
import { loadCheckpoint } from "../lib/run/checkpoint.ts";
import { D2L_DEFAULTS } from "../lib/run/recipe.ts";
import { readSafetensors, type SafetensorsFile } from "../lib/io/safetensors.ts";
import { architectureOf, assignTorchStateDict, recordedSize } from "../lib/io/torch_weights.ts";
import { errorText, UserError } from "../lib/errors.ts";
import { tempPathFor } from "../lib/io/atomic.ts";
import { type OptionsOf, UsageError } from "./options.ts";
import { join } from "node:path";

/** The flags that say where the network comes from. */
export const NET_SOURCE_FLAGS = {
  run: "",
  weights: "instead of --run; architecture and size as the file records",
  depth: `with --weights, where the file does not say; default ${MODEL_DEFAULTS.depth}`,
  stages: "",
  width: `with --weights, where the file does not say; default ${MODEL_DEFAULTS.width}`,
  arch: `with --weights: the file's state_dict names; default ${MODEL_DEFAULTS.arch}`,
  block: "with --weights, where the file does not say",
  groups: "with --weights, where the file does not say; default 1",
  widthPerGroup: "with --weights, where the file does not say; default 64",
  stem: `with --weights, where the file does not say; default ${MODEL_DEFAULTS.stem}`,
} as const;

/** Parsed {@linkcode NET_SOURCE_FLAGS}. */
export type NetSourceOptions = OptionsOf<typeof NET_SOURCE_FLAGS>;

/** A loaded network, the input size it is used at and where that size came from. */
export interface LoadedNet {
  /** The network; the caller disposes it. */
  net: ResNet;
  /** The input size to use: the run's, the file's, `--size`, or d2l's 96 when none says. */
  size: number;
  /** Whether `size` is known (the run's, the file's, or `--size`) rather than d2l's default. */
  sizeKnown: boolean;
  /** The run's batch size, or null. */
  batchSize: number | null;
}

/**
 * Checks the flags that say where the network comes from (exactly one of `--run` or `--weights`;
 * no architecture flags with `--run`): usage errors, before any backend starts.
 */
export function checkNetSource(o: NetSourceOptions, command: string): void {
  if ((o.run === undefined) === (o.weights === undefined)) {
    throw new UsageError(
      `${command} needs exactly one of --run DIR (a train run) or --weights FILE.safetensors`,
    );
  }
  if (o.run !== undefined) {
    const arch = [
      ["depth", "--depth"],
      ["stages", "--stages"],
      ["width", "--width"],
      ["arch", "--arch"],
      ["block", "--block"],
      ["groups", "--groups"],
      ["widthPerGroup", "--width-per-group"],
      ["stem", "--stem"],
    ] as const;
    const given = arch.filter(([k]) => o[k] !== undefined).map(([, f]) => f);
    if (given.length) {
      throw new UsageError(
        `${given.join(", ")} cannot be combined with --run (the run has its own)`,
      );
    }
  }
}

/** Flags that may name the architecture and input size beside a weights file. */
export interface RecordFlags
  extends Pick<ResNetOptions, "arch" | "block" | "groups" | "widthPerGroup" | "stem"> {
  /** `--depth`. */
  depth?: number;
  /** `--stages`. */
  stages?: readonly number[];
  /** `--width`. */
  width?: number;
  /** `--size`. */
  size?: number;
}

/** The architecture flags besides depth and stages, by option name, as a user types them. */
const ARCH_FLAGS = [
  ["width", "--width"],
  ["arch", "--arch"],
  ["block", "--block"],
  ["groups", "--groups"],
  ["widthPerGroup", "--width-per-group"],
  ["stem", "--stem"],
] as const;

/**
 * The architecture options the flags give (undefined where a flag is absent); `train` and
 * `shapes` add their own.
 */
export function flaggedModel(o: RecordFlags): ResNetOptions {
  return {
    depth: o.depth,
    stages: o.stages,
    width: o.width,
    arch: o.arch,
    block: o.block,
    groups: o.groups,
    widthPerGroup: o.widthPerGroup,
    stem: o.stem,
  };
}

/** What a weights file records, checked against the flags. */
export interface WeightsPlan {
  /** The architecture: the file's (metadata or tensor shapes), else the flags'. */
  model: ResNetOptions;
  /** The input size: recorded in the file, else `--size`, else null (unknown). */
  size: number | null;
  /** Where the size came from, for the line that says what was used. */
  sizeFrom: "file" | "flag" | null;
}

/**
 * The architecture and input size for weights `file` at `path`: what the file records wins, and
 * a flag that contradicts it is a {@linkcode UsageError} naming both (one line, before any work).
 */
export function planWeights(file: SafetensorsFile, path: string, o: RecordFlags): WeightsPlan {
  const arch = architectureOf(file);
  const refuse = (flag: string, given: string, has: string): never => {
    throw new UsageError(
      `${flag} ${given} contradicts ${path}, which is for ${has}: leave ${flag} out`,
    );
  };
  let model = flaggedModel(o);
  if (arch) {
    const has: ResNetConfig = resolveConfig(arch);
    if (o.depth !== undefined || o.stages !== undefined) {
      const flagged = o.stages ?? DEPTHS[o.depth!];
      if (flagged.join(",") !== has.stages.join(",")) {
        const flag = o.stages !== undefined ? "--stages" : "--depth";
        refuse(flag, o.stages?.join(",") ?? String(o.depth), `stages ${has.stages.join(",")}`);
      }
      const implied = o.stages === undefined ? DEPTH_BLOCKS[o.depth!] : undefined;
      if (implied && (implied === "bottleneck") !== (has.block === "bottleneck")) {
        refuse("--depth", String(o.depth), `a ${has.block}-block ResNet`);
      }
    }
    for (const [k, flag] of ARCH_FLAGS) {
      if (o[k] !== undefined && o[k] !== has[k]) refuse(flag, String(o[k]), `${k} ${has[k]}`);
    }
    model = arch;
  }
  const recorded = recordedSize(file, path);
  if (recorded !== null && o.size !== undefined && o.size !== recorded) {
    refuse("--size", String(o.size), `${recorded}x${recorded} input (it was trained at that size)`);
  }
  const size = recorded ?? o.size ?? null;
  return {
    model,
    size,
    sizeFrom: recorded !== null ? "file" : o.size !== undefined ? "flag" : null,
  };
}

/** The line that says which network, architecture and input size a command uses. */
export function usedLine(source: string, net: ResNet, size: number, from: string): string {
  const c = net.config;
  return `network: ${source}: stages ${c.stages.join(",")}, width ${c.width}${archNote(c)}, ` +
    `input ${size}x${size} (${from})`;
}

/**
 * Loads the network of `--run DIR` or of `--weights FILE` (+ architecture flags), at the input
 * size the run or the file records; prints on stderr which network and size it uses.
 */
export async function loadNet(
  o: NetSourceOptions & { size?: number },
  command: string,
): Promise<LoadedNet> {
  checkNetSource(o, command);
  const loaded = o.run !== undefined ? await loadRun(o.run, o.size) : await loadWeights(o);
  console.error(loaded.line);
  return loaded;
}

async function loadRun(
  dir: string,
  flag: number | undefined,
): Promise<LoadedNet & { line: string }> {
  const { net, checkpoint } = await loadCheckpoint(dir);
  const { size, batchSize } = checkpoint.settings;
  if (flag !== undefined && flag !== size) {
    net.dispose();
    throw new UsageError(
      `--size ${flag} contradicts the run ${dir}, trained at ${size}x${size}: leave --size out`,
    );
  }
  const line = usedLine(`run ${dir}, epoch ${checkpoint.epoch}`, net, size, "the run's");
  return { net, size, sizeKnown: true, batchSize, line };
}

async function loadWeights(
  o: NetSourceOptions & { size?: number },
): Promise<LoadedNet & { line: string }> {
  const path = o.weights!;
  const file = await readSafetensors(path);
  const plan = planWeights(file, path, o);
  const net = new ResNet(plan.model);
  try {
    assignTorchStateDict(net, file, path);
  } catch (e) {
    net.dispose();
    throw e;
  }
  const size = plan.size ?? D2L_DEFAULTS.size;
  const from = plan.sizeFrom === "file"
    ? "recorded in the file"
    : plan.sizeFrom === "flag"
    ? "--size"
    : `not recorded in the file: d2l's ${size}; give --size N if it was trained at another`;
  const line = usedLine(`weights ${path}`, net, size, from);
  return { net, size, sizeKnown: plan.size !== null, batchSize: null, line };
}

/**
 * Fails early (before work) when `path` cannot be created or replaced: a directory there (the
 * message suggests `example` inside it), or a directory that cannot be written.
 */
export async function checkWritableFile(
  path: string,
  flag: string,
  example: string,
): Promise<void> {
  if ((await Deno.stat(path).catch(() => null))?.isDirectory) {
    throw new UserError(`${flag} ${path} is a directory: give a file, e.g. ${join(path, example)}`);
  }
  // Named as atomic writes' temporary files, so a kill right here leaves what the next write clears.
  const probe = tempPathFor(path);
  try {
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    throw new UserError(`${flag} ${path} cannot be written (${errorText(e)}): choose another path`);
  }
}

/**
 * `train --init-from FILE`: the architecture and input size the file records (flags fill in
 * what it does not, and one that contradicts it is refused), and the line that says so.
 */
export async function planInitFrom(
  path: string,
  o: RecordFlags,
): Promise<{ model: ResNetOptions; size: number | undefined; line: string }> {
  if (!(await Deno.stat(path).catch(() => null))) {
    throw new UsageError(`--init-from ${path}: no such file`);
  }
  const plan = planWeights(await readSafetensors(path), path, o);
  const c = resolveConfig(plan.model);
  const size = plan.size ?? undefined;
  const said = plan.sizeFrom === "file"
    ? `input ${size}x${size} as recorded`
    : "no input size recorded";
  const line = `--init-from ${path}: stages ${c.stages.join(",")}, width ${c.width}` +
    `${archNote(c)}, ${said}`;
  const { depth: _, inChannels: _i, numClasses: _n, zeroInitResidual: _z, ...model } = c;
  return { model, size, line };
}
