/**
 * Where `eval` and `export` take the network from: a run directory (`--run`), or d2l weights
 * (`--weights`) with the architecture from `--depth`/`--stages`/`--width`; and the early check
 * that an output path can be written before any slow work starts.
 *
 * @example
 * ```ts
 * import { loadNet } from "./net_source.ts";
 * const { net, size } = await loadNet({ run: "runs/demo" }, "eval");
 * console.log(net.config.stages, size);
 * net.dispose();
 * ```
 * @module
 */
import { MODEL_DEFAULTS, ResNet } from "../lib/model/resnet.ts";
import { loadCheckpoint } from "../lib/run/checkpoint.ts";
import { loadTorchWeights } from "../lib/io/torch_weights.ts";
import { errorText, UserError } from "../lib/errors.ts";
import { type OptionsOf, UsageError } from "./options.ts";
import { join } from "node:path";

/** The flags that say where the network comes from. */
export const NET_SOURCE_FLAGS = {
  run: "",
  weights: "instead of --run; with --depth etc.",
  depth: `with --weights; default ${MODEL_DEFAULTS.depth}`,
  stages: "",
  width: `with --weights; default ${MODEL_DEFAULTS.width}`,
} as const;

/** Parsed {@linkcode NET_SOURCE_FLAGS}. */
export type NetSourceOptions = OptionsOf<typeof NET_SOURCE_FLAGS>;

/** A loaded network and the run's own input size and batch size (null for `--weights`). */
export interface LoadedNet {
  /** The network; the caller disposes it. */
  net: ResNet;
  /** The run's input size, or null. */
  size: number | null;
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
    const arch = [["depth", "--depth"], ["stages", "--stages"], ["width", "--width"]] as const;
    const given = arch.filter(([k]) => o[k] !== undefined).map(([, f]) => f);
    if (given.length) {
      throw new UsageError(
        `${given.join(", ")} cannot be combined with --run (the run has its own)`,
      );
    }
  }
}

/** Loads the network of `--run DIR` or of `--weights FILE` (+ architecture flags). */
export async function loadNet(o: NetSourceOptions, command: string): Promise<LoadedNet> {
  checkNetSource(o, command);
  if (o.run !== undefined) {
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
  const probe = `${path}.probe-${Deno.pid}`;
  try {
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    throw new UserError(`${flag} ${path} cannot be written (${errorText(e)}): choose another path`);
  }
}
