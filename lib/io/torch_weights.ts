/**
 * d2l weights files on disk: {@linkcode saveTorchWeights} writes a {@linkcode ResNet} as d2l's
 * `state_dict()` in safetensors (atomically), {@linkcode loadTorchWeights} loads one, and
 * {@linkcode checkTorchWeights} says whether a file fits an architecture. The layout, the byte
 * encoding and the checks are ./torch_state_dict.ts, whose exports this module re-exports.
 *
 * @example
 * ```ts
 * import "../backends/setup.ts"; // the cpu backend
 * import { ResNet } from "../model/resnet.ts";
 * import { loadTorchWeights, saveTorchWeights } from "./torch_weights.ts";
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * await saveTorchWeights(net, "/tmp/net.safetensors");
 * const copy = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 7 });
 * await loadTorchWeights(copy, "/tmp/net.safetensors"); // copy now computes what net computes
 * ```
 * @module
 */
import { ResNet, type ResNetOptions } from "../model/resnet.ts";
import { readSafetensors } from "./safetensors.ts";
import { writeFileAtomic } from "./atomic.ts";
import {
  assignTorchStateDict,
  encodeTorchStateDict,
  type WeightsRecord,
} from "./torch_state_dict.ts";

export * from "./torch_state_dict.ts";

/**
 * Writes `net` atomically to `path` as a safetensors file of d2l's `state_dict()`, recording
 * `record`'s input size so that readers use it.
 */
export async function saveTorchWeights(
  net: ResNet,
  path: string,
  record: WeightsRecord = {},
): Promise<void> {
  await writeFileAtomic(path, await encodeTorchStateDict(net, record));
}

/**
 * Loads a safetensors file of d2l's `state_dict()` into `net`; every key, dtype and shape is
 * checked before anything is assigned. Errors are {@linkcode SafetensorsError}s (exit code 2).
 */
export async function loadTorchWeights(net: ResNet, path: string): Promise<void> {
  assignTorchStateDict(net, await readSafetensors(path), path);
}

/** What {@linkcode checkTorchWeights} found. */
export interface TorchWeightsSummary {
  /** The file that was checked. */
  path: string;
  /** Tensors in the file (including `num_batches_tracked`). */
  tensors: number;
  /** Training batches the file's BatchNorms have counted. */
  numBatchesTracked: number;
}

/**
 * Builds the network for `model`, loads `path` into it (validating everything) and frees it;
 * for `shapes --weights`, which shows whether a file fits an architecture.
 */
export async function checkTorchWeights(
  model: ResNetOptions,
  path: string,
): Promise<TorchWeightsSummary> {
  const file = await readSafetensors(path);
  const net = new ResNet(model);
  try {
    assignTorchStateDict(net, file, path);
    return { path, tensors: file.tensors.size, numBatchesTracked: net.numBatchesTracked };
  } finally {
    net.dispose();
  }
}
