/**
 * Our {@linkcode ResNet} as a standard tfjs-layers graph, stored in the tfjs layers format
 * (`model.json` + `weights.bin`) that `tf.loadLayersModel` reads in a browser, and read back by
 * weight name into a ResNet.
 *
 * PyTorch's symmetric padding becomes ZeroPadding2D + a "valid" Conv2D; the max pool of b1 is
 * ZeroPadding2D + MaxPooling2D, which is exact there because its input is post-ReLU (>= 0).
 * Layer names are our parameter prefixes (`b2.0.conv1`, `b1.1`, `fc`), so a weight
 * `b2.0.conv1/kernel` is our `b2.0.conv1.weight`. Every block kind of ../model/resnet.ts has its
 * graph; Conv2D has no groups in tfjs-layers, so a grouped convolution is stored as the full
 * convolution it equals, its filter block-diagonal (zeros between the groups: the file is larger
 * by the groups' factor for those filters), and read back by taking the diagonal blocks.
 *
 * @example
 * ```ts
 * import "../backends/setup.ts"; // the cpu backend
 * import { ResNet } from "../model/resnet.ts";
 * import { loadLayersWeights, saveLayersModel } from "./layers_model.ts";
 * const dir = `${await Deno.makeTempDir()}/layers`;
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * await saveLayersModel(net, 28, dir); // dir/model.json + weights.bin
 * const copy = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 7 });
 * await loadLayersWeights(copy, dir); // copy now computes what net computes
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { Bottleneck, PreActBlock, type ResidualBlock, type ResNet } from "../model/resnet.ts";
import type { BatchNorm2d, Conv2d, Linear } from "../model/layers.ts";
import { errorText, UserError } from "../errors.ts";
import { replaceDirAtomic, writeFilesAtomic } from "./atomic.ts";
import { LAYERS_FILES } from "./layers_files.ts";
import { join } from "node:path";

type Sym = tfl.SymbolicTensor;

/** tfjs-layers weight suffix -> our parameter suffix. */
const SUFFIX: Readonly<Record<string, string>> = {
  kernel: "weight",
  bias: "bias",
  gamma: "weight",
  beta: "bias",
  moving_mean: "running_mean",
  moving_variance: "running_var",
};

/** Maps a tfjs-layers weight name (`b2.0.bn1/moving_mean`) to our parameter name, or null. */
export function paramNameOf(layersWeight: string): string | null {
  const i = layersWeight.lastIndexOf("/");
  if (i < 0) return null;
  const suffix = SUFFIX[layersWeight.slice(i + 1)];
  return suffix ? `${layersWeight.slice(0, i)}.${suffix}` : null;
}

function conv(c: Conv2d, x: Sym): Sym {
  if (c.padding > 0) {
    x = tfl.layers.zeroPadding2d({ padding: c.padding, name: `${c.name}.pad` }).apply(x) as Sym;
  }
  return tfl.layers.conv2d({
    filters: c.outChannels,
    kernelSize: c.kernel,
    strides: c.stride,
    padding: "valid",
    useBias: c.bias !== null,
    name: c.name,
  }).apply(x) as Sym;
}

function bn(b: BatchNorm2d, x: Sym): Sym {
  // Keras' momentum is the weight of the old value: PyTorch's 0.1 is Keras' 0.9.
  return tfl.layers.batchNormalization({ epsilon: b.eps, momentum: 1 - b.momentum, name: b.name })
    .apply(x) as Sym;
}

function dense(l: Linear, x: Sym): Sym {
  return tfl.layers.dense({ units: l.outFeatures, name: l.name }).apply(x) as Sym;
}

const relu = (name: string, x: Sym) => tfl.layers.reLU({ name }).apply(x) as Sym;
const add = (name: string, a: Sym, b: Sym) => tfl.layers.add({ name }).apply([a, b]) as Sym;

/** One residual block's graph, in the order of its `apply` (d2l's basic block's names kept). */
function block(b: ResidualBlock, x: Sym): Sym {
  if (b instanceof Bottleneck) {
    let z = relu(`${b.name}.relu1`, bn(b.bn1, conv(b.conv1, x)));
    z = relu(`${b.name}.relu2`, bn(b.bn2, conv(b.conv2, z)));
    z = bn(b.bn3, conv(b.conv3, z));
    const s = b.shortcut ? conv(b.shortcut, x) : x;
    return relu(`${b.name}.relu`, add(`${b.name}.add`, z, b.shortcutBn ? bn(b.shortcutBn, s) : s));
  }
  if (b instanceof PreActBlock) {
    const a = relu(`${b.name}.relu1`, bn(b.bn1, x));
    const s = b.conv3 ? conv(b.conv3, a) : x;
    const z = relu(`${b.name}.relu2`, bn(b.bn2, conv(b.conv1, a)));
    return add(`${b.name}.add`, conv(b.conv2, z), s);
  }
  let z = relu(`${b.name}.relu1`, bn(b.bn1, conv(b.conv1, x)));
  z = bn(b.bn2, conv(b.conv2, z));
  const s = b.conv3 ? conv(b.conv3, x) : x;
  return relu(`${b.name}.relu`, add(`${b.name}.add`, z, b.shortcutBn ? bn(b.shortcutBn, s) : s));
}

/** A grouped `[k, k, in / g, out]` filter as the block-diagonal `[k, k, in, out]` it equals. */
function expandGroups(w: tf.Tensor, inChannels: number): tf.Tensor {
  const [kh, kw, ipg, out] = w.shape, g = inChannels / ipg, opg = out / g;
  // tfjs-core's functions, not chained methods: those come only with the tfjs union package.
  return tf.tidy(() =>
    tf.reshape(
      tf.concat(
        tf.split(w, g, 3).map((part, i) =>
          tf.pad(part, [[0, 0], [0, 0], [i * ipg, inChannels - (i + 1) * ipg], [0, 0]])
        ),
        3,
      ),
      [kh, kw, inChannels, opg * g],
    )
  );
}

/** The diagonal blocks of a block-diagonal `[k, k, in, out]` filter: the grouped filter. */
function diagonalBlocks(t: tf.Tensor, ipg: number): tf.Tensor {
  const [kh, kw, inChannels, out] = t.shape, g = inChannels / ipg, opg = out / g;
  return tf.tidy(() =>
    tf.concat(
      Array.from(
        { length: g },
        (_, i) => tf.slice(t, [0, 0, i * ipg, i * opg], [kh, kw, ipg, opg]),
      ),
      3,
    )
  );
}

/**
 * Builds the tfjs-layers graph of `net` for `size`x`size` inputs and copies `net`'s weights
 * (BatchNorm running statistics included) into it. The caller disposes the returned model.
 */
export function toLayersModel(net: ResNet, size: number): tfl.LayersModel {
  const input = tfl.input({ shape: [size, size, net.config.inChannels], name: "image" });
  let y = relu("b1.2", bn(net.bn, conv(net.conv, input)));
  if (net.config.stem === "d2l") {
    y = tfl.layers.zeroPadding2d({ padding: 1, name: "b1.3.pad" }).apply(y) as Sym;
    y = tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid", name: "b1.3" })
      .apply(y) as Sym;
  }
  for (const stage of net.stages) for (const b of stage) y = block(b, y);
  if (net.finalBn) y = relu(`${net.finalBn.name}.relu`, bn(net.finalBn, y));
  y = tfl.layers.globalAveragePooling2d({ name: "pool" }).apply(y) as Sym;
  y = dense(net.fc, y);
  const model = tfl.model({ inputs: input, outputs: y, name: "resnet" });
  for (const w of model.weights) {
    const name = paramNameOf(w.originalName);
    const v = name === null ? undefined : net.params.get(name);
    if (!v) throw new Error(`no parameter for layers weight ${w.originalName}`);
    if (tf.util.arraysEqual(w.shape as number[], v.shape)) w.write(v);
    else {
      const full = expandGroups(v, w.shape[2]!);
      w.write(full);
      full.dispose();
    }
  }
  return model;
}

/** The two files of a tfjs layers model, in memory. */
export interface LayersFiles {
  /** The text of `model.json` (topology and a weights manifest naming `weights.bin`). */
  modelJson: string;
  /** The bytes of `weights.bin`. */
  weights: Uint8Array<ArrayBuffer>;
}

function layersFiles(art: tf.io.ModelArtifacts): LayersFiles {
  const json: tf.io.ModelJSON = {
    modelTopology: art.modelTopology as object,
    format: art.format ?? "layers-model",
    generatedBy: art.generatedBy ?? "TensorFlow.js tfjs-layers",
    convertedBy: null,
    weightsManifest: [{ paths: [LAYERS_FILES.weights], weights: art.weightSpecs ?? [] }],
  };
  return {
    modelJson: JSON.stringify(json),
    weights: new Uint8Array(tf.io.CompositeArrayBuffer.join(art.weightData)),
  };
}

/**
 * Whether every float32 value of `weights.bin` (the manifest says which bytes are float32) is
 * finite: no NaN, no infinity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { weightsFinite } from "./layers_model.ts";
 * const manifest = (n: number) => JSON.stringify({
 *   weightsManifest: [{ paths: ["weights.bin"], weights: [{ name: "w", shape: [n], dtype: "float32" }] }],
 * });
 * const bytes = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
 * assert.equal(weightsFinite({ modelJson: manifest(2), weights: bytes(1, -0) }), true);
 * assert.equal(weightsFinite({ modelJson: manifest(2), weights: bytes(1, NaN) }), false);
 * assert.equal(weightsFinite({ modelJson: manifest(1), weights: bytes(-Infinity) }), false);
 * ```
 */
export function weightsFinite(files: LayersFiles): boolean {
  const json = JSON.parse(files.modelJson) as tf.io.ModelJSON;
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const bytes = files.weights;
  let offset = bytes.byteOffset;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const size = spec.dtype === "float32" || spec.dtype === "int32" ? 4 : 1;
    if (spec.dtype === "float32") {
      // The bytes are a fresh buffer of 4-byte values from offset 0 (layersFiles), so aligned.
      const v = new Float32Array(bytes.buffer, offset, n);
      for (let i = 0; i < n; i++) if (!Number.isFinite(v[i])) return false;
    }
    offset += n * size;
  }
  return true;
}

function saveResult(files: LayersFiles): tf.io.SaveResult {
  return {
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: "JSON",
      weightDataBytes: files.weights.byteLength,
    },
  };
}

/**
 * Encodes `net` (for `size`x`size` inputs) as the two files of a tfjs layers model, without
 * writing them, so a caller can write them together with other files.
 */
export async function encodeLayersModel(net: ResNet, size: number): Promise<LayersFiles> {
  const model = toLayersModel(net, size);
  let files: LayersFiles | null = null;
  try {
    await model.save(tf.io.withSaveHandler((art) => {
      files = layersFiles(art);
      return Promise.resolve(saveResult(files));
    }));
  } finally {
    model.dispose();
  }
  return files!;
}

/**
 * An IOHandler over `model.json` + `weights.bin` in `dir`: `save` writes each file atomically,
 * `load` reads them back (for `tf.loadLayersModel` or {@linkcode loadLayersWeights}).
 */
export function layersModelHandler(dir: string): tf.io.IOHandler {
  return {
    save: async (art: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      const files = layersFiles(art);
      await writeFilesAtomic([
        [join(dir, LAYERS_FILES.weights), files.weights],
        [join(dir, LAYERS_FILES.model), files.modelJson],
      ]);
      return saveResult(files);
    },
    load: () => readLayersArtifacts(dir),
  };
}

/** Reads and validates `model.json` + `weights.bin`; corruption is a one-line {@linkcode UserError}. */
export async function readLayersArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const { modelJson, weights } = await readLayersFiles(dir);
  return layersArtifacts(modelJson, weights, dir);
}

/** The two files of `dir` as they are on disk; an unreadable one is a {@linkcode UserError}. */
export async function readLayersFiles(dir: string): Promise<LayersFiles> {
  const read = async <T>(file: string, how: (p: string) => Promise<T>) => {
    const path = join(dir, file);
    try {
      return await how(path);
    } catch (e) {
      // The cause tells a caller that knows why a file can vanish (a pruned checkpoint) to retry.
      throw new UserError(`cannot read ${path}: ${errorText(e)}`, { cause: e });
    }
  };
  return {
    modelJson: await read(LAYERS_FILES.model, Deno.readTextFile),
    weights: await read(LAYERS_FILES.weights, Deno.readFile),
  };
}

/**
 * Validates the contents of `model.json` and `weights.bin` (read from `dir`, which only names
 * them in messages) and returns them as model artifacts.
 */
export function layersArtifacts(
  modelJson: string,
  data: Uint8Array<ArrayBuffer>,
  dir: string,
): tf.io.ModelArtifacts {
  const modelPath = join(dir, LAYERS_FILES.model);
  const corrupt = (why: string) =>
    new UserError(`${modelPath} is corrupt (${why}): restore it or train again`);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(modelJson);
  } catch {
    throw corrupt("not valid JSON");
  }
  const manifest = json?.weightsManifest;
  if (
    typeof json !== "object" || json === null || !json.modelTopology || !Array.isArray(manifest) ||
    manifest.length !== 1 || !Array.isArray(manifest[0].weights) ||
    JSON.stringify(manifest[0].paths) !== JSON.stringify([LAYERS_FILES.weights])
  ) {
    throw corrupt(`no modelTopology or no single weights manifest naming ${LAYERS_FILES.weights}`);
  }
  const specs = manifest[0].weights;
  const expected = specs.reduce(
    (a, s) => a + 4 * (s.shape ?? []).reduce((p: number, n: number) => p * n, 1),
    0,
  );
  if (specs.some((s) => s.dtype !== "float32" || s.quantization)) {
    throw corrupt("only unquantised float32 weights are supported");
  }
  if (data.byteLength !== expected) {
    throw new UserError(
      `${join(dir, LAYERS_FILES.weights)} is corrupt (${data.byteLength} bytes, model.json ` +
        `describes ${expected}): restore it or train again`,
    );
  }
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    weightSpecs: specs,
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
  };
}

/**
 * Saves `net` (for `size`x`size` inputs) as `dir/model.json` + `dir/weights.bin`, replacing `dir`
 * by one rename, so a reader (or a kill) never finds one file old and the other new; a `dir`
 * holding other files is refused.
 */
export async function saveLayersModel(net: ResNet, size: number, dir: string): Promise<void> {
  const files = await encodeLayersModel(net, size);
  await replaceDirAtomic(dir, {
    [LAYERS_FILES.weights]: files.weights,
    [LAYERS_FILES.model]: files.modelJson,
  });
}

/**
 * Loads the weights of `dir/model.json` + `dir/weights.bin` into `net` by name. Every parameter
 * of `net` must be present with its shape; a mismatch is a {@linkcode UserError}.
 */
export async function loadLayersWeights(net: ResNet, dir: string): Promise<void> {
  setLayersWeights(net, await readLayersArtifacts(dir), dir);
}

/**
 * Copies the weights of model artifacts (read from `dir`, named in messages) into `net` by
 * name, as {@linkcode loadLayersWeights} does.
 */
export function setLayersWeights(net: ResNet, art: tf.io.ModelArtifacts, dir: string): void {
  const tensors = tf.io.decodeWeights(art.weightData!, art.weightSpecs!);
  const made: tf.Tensor[] = []; // grouped filters taken from their block-diagonal form
  try {
    const byParam = new Map<string, tf.Tensor>();
    for (const [k, t] of Object.entries(tensors)) {
      const name = paramNameOf(k);
      if (name !== null) byParam.set(name, t);
    }
    for (const [name, v] of net.params) {
      const t = byParam.get(name);
      if (!t) {
        throw new UserError(
          `${join(dir, LAYERS_FILES.model)} has no weight for ${name}: ` +
            "it was saved for another architecture (check its depth, stages and width)",
        );
      }
      if (isGroupedOf(t.shape, v.shape)) {
        const grouped = diagonalBlocks(t, v.shape[2]!);
        made.push(grouped);
        byParam.set(name, grouped);
        continue;
      }
      if (!tf.util.arraysEqual(t.shape, v.shape)) {
        throw new UserError(
          `${join(dir, LAYERS_FILES.model)}: ${name} has shape [${t.shape}], the network ` +
            `expects [${v.shape}] (another architecture: check its depth, stages and width)`,
        );
      }
    }
    for (const [name, v] of net.params) v.assign(byParam.get(name)!);
  } finally {
    tf.dispose([...Object.values(tensors), ...made]);
  }
}

/** Whether a stored `[k, k, in, out]` filter is the block-diagonal form of a grouped `want`. */
function isGroupedOf(stored: number[], want: number[]): boolean {
  const [kh, kw, inChannels, out] = stored;
  return stored.length === 4 && want.length === 4 && kh === want[0] && kw === want[1] &&
    out === want[3] && want[2] < inChannels && inChannels % want[2] === 0 &&
    out % (inChannels / want[2]) === 0;
}
