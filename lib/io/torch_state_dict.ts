/**
 * Weights interchange with PyTorch: a {@linkcode ResNet} as the `state_dict()` of d2l's
 * `nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1,1)), nn.Flatten(), nn.Linear(...))`
 * (d2l's form: keys `0.0.weight`, `1.0.bn2.running_var`, `7.bias`) or of torchvision's
 * `ResNet` (torchvision's form: `conv1.weight`, `bn1.running_mean`, `layer1.0.conv1.weight`,
 * `layer1.0.downsample.1.weight`, `fc.weight`), stored as safetensors with PyTorch's layouts
 * (conv OIHW, linear `[out, in]`, F32; `num_batches_tracked` I64), in PyTorch's key order. Such a
 * file loads with a strict `load_state_dict` in PyTorch, and one saved there loads here.
 *
 * `num_batches_tracked`: written for every BatchNorm (all equal: every BN of the network counts
 * the same training batches). Read: the first one sets `net.numBatchesTracked`; d2l's form
 * requires them (d2l's notebook always saves them), torchvision's form accepts a file without
 * them (they only matter to `momentum=None` BatchNorm, which neither side uses; some converters
 * drop them). The architecture (form, stages and depth, block, groups, width per group, stem,
 * channels, classes) is written in the file's metadata; {@linkcode architectureOf} reads it back,
 * or infers it from the tensor names and shapes of a file PyTorch saved.
 *
 * Loading checks every key, dtype and shape before it assigns anything, so a file for another
 * architecture never half-loads: the first problem throws a {@linkcode SafetensorsError} (exit
 * code 2) whose one line names the key and both shapes.
 *
 * Everything here works on bytes (no file IO), so the browser page uses it too; files are
 * ./torch_weights.ts, which re-exports this module.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backends/choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { decodeTorchStateDict, encodeTorchStateDict } from "./torch_state_dict.ts";
 * await initBackend("cpu");
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const bytes = await encodeTorchStateDict(net); // what d2l's torch.save would hold, as safetensors
 * const copy = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 7 });
 * decodeTorchStateDict(copy, bytes, "net.safetensors"); // copy now computes what net computes
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  keyMap,
  MODEL_DEFAULTS,
  type ResNet,
  type ResNetConfig,
  type ResNetOptions,
  resolveConfig,
} from "../model/resnet.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type SafetensorsFile,
  type SafetensorsInput,
  toFloat32,
  toIntegers,
} from "./safetensors_codec.ts";

/** One entry of the `state_dict()` and where it lives in a {@linkcode ResNet}. */
export interface TorchEntry {
  /** PyTorch's key, e.g. `2.0.conv1.weight` (d2l's form) or `layer2.0.conv1.weight`. */
  key: string;
  /** Our parameter name (`b3.0.conv1.weight`), or null for `num_batches_tracked`. */
  param: string | null;
  /** PyTorch's shape (OIHW for conv weights, `[out, in]` for linear weights). */
  shape: number[];
  /** The permutation from our layout to PyTorch's (null when the layouts agree). */
  perm: number[] | null;
}

// PyTorch registers a d2l Residual's modules in this order (conv1, conv2, conv3, bn1, bn2), and
// state_dict() follows registration order; our store interleaves them in forward order.
const RESIDUAL_ORDER = ["conv1", "conv2", "conv3", "bn1", "bn2"];

/** The permutation from our layout of a parameter (by its shape) to PyTorch's. */
function torchPerm(param: string, rank: number): number[] | null {
  if (rank === 4) return [3, 2, 0, 1]; // conv HWIO -> OIHW
  if (rank === 2 && param.startsWith("fc.")) return [1, 0]; // dense [in, out] -> [out, in]
  return null;
}

/**
 * The keys of `net`'s `state_dict()` in its form (d2l's or torchvision's), in PyTorch's order,
 * with shapes and layout permutations. Every BatchNorm gets its `num_batches_tracked` after
 * `running_var`.
 */
export function torchLayout(net: ResNet): TorchEntry[] {
  const entries: TorchEntry[] = [];
  const keys = keyMap(net.config);
  for (const [param, v] of net.params) {
    const perm = torchPerm(param, v.rank);
    const shape = perm ? perm.map((i) => v.shape[i]) : [...v.shape];
    const key = keys.torchKey(param);
    entries.push({ key, param, shape, perm });
    if (param.endsWith(".running_var")) {
      entries.push({
        key: key.replace(/running_var$/, "num_batches_tracked"),
        param: null,
        shape: [],
        perm: null,
      });
    }
  }
  // Every other block creates its parameters in PyTorch's registration order already.
  if (net.config.arch !== "d2l" || net.config.block !== "basic") return entries;
  // Stable reorder inside each residual block; b1 and the linear layer are already in order.
  const rank = (key: string) => {
    const m = /^\d+\.\d+\.(conv[123]|bn[12])\./.exec(key);
    return m ? RESIDUAL_ORDER.indexOf(m[1]) : -1;
  };
  const block = (key: string) => /^(\d+\.\d+)\.(conv[123]|bn[12])\./.exec(key)?.[1] ?? key;
  const firstSeen = new Map<string, number>();
  entries.forEach((e, i) => {
    if (!firstSeen.has(block(e.key))) firstSeen.set(block(e.key), i);
  });
  return entries
    .map((e, i) => ({ e, k: [firstSeen.get(block(e.key))!, rank(e.key), i] }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.k[2] - b.k[2])
    .map(({ e }) => e);
}

/**
 * `net`'s weights as d2l's `state_dict()`, ready for {@linkcode encodeSafetensors}. Reads every
 * tensor back with `await data()` (no synchronous reads, so it works on WebGPU).
 */
export async function torchStateDict(net: ResNet): Promise<SafetensorsInput[]> {
  const out: SafetensorsInput[] = [];
  const tracked = new BigInt64Array([BigInt(net.numBatchesTracked)]);
  for (const e of torchLayout(net)) {
    if (e.param === null) {
      out.push({ name: e.key, dtype: "I64", shape: [], data: tracked });
      continue;
    }
    const v = net.params.get(e.param)!;
    const t = e.perm ? tf.transpose(v, e.perm) : v;
    try {
      const data = await t.data() as Float32Array;
      out.push({ name: e.key, dtype: "F32", shape: e.shape, data });
    } finally {
      if (t !== v) t.dispose();
    }
  }
  return out;
}

/** What a weights file records besides the architecture: the input size it was trained at. */
export interface WeightsRecord {
  /** Input height and width the weights were trained at (absent: not known). */
  size?: number;
}

/** A one-line description of an architecture, for the metadata and messages. */
export function describeArch(c: ResNetConfig): string {
  const block = c.block === "bottleneck" && c.groups > 1
    ? `ResNeXt bottleneck ${c.groups}x${c.widthPerGroup}d`
    : c.block;
  return `${c.arch} ResNet${c.depth ? `-${c.depth}` : ""}, ${block} blocks, width ${c.width}, ` +
    `stages ${c.stages.join(",")}, ${c.stem} stem, ` +
    `${c.inChannels} input channel${c.inChannels === 1 ? "" : "s"}, ${c.numClasses} classes`;
}

/** The metadata written with every file: what it is, the architecture and the input size. */
function metadataFor(net: ResNet, record: WeightsRecord): Record<string, string> {
  const c = net.config;
  // Without the size a reader falls back to d2l's 96 and scores a 28x28 run at chance.
  const size: Record<string, string> = record.size === undefined
    ? {}
    : { size: String(record.size) };
  return {
    format: "pt",
    arch: describeArch(c),
    form: c.arch,
    ...(c.depth ? { depth: String(c.depth) } : {}),
    stages: c.stages.join(","),
    block: c.block,
    groups: String(c.groups),
    width_per_group: String(c.widthPerGroup),
    stem: c.stem,
    width: String(c.width),
    in_channels: String(c.inChannels),
    num_classes: String(c.numClasses),
    ...size,
  };
}

/**
 * The input size a weights file records (`size` in its metadata, which
 * {@linkcode encodeTorchStateDict} writes when given one), or null: d2l's notebook records none.
 * A recorded size that is not a positive integer is a {@linkcode SafetensorsError}.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backends/choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { decodeSafetensors } from "./safetensors_codec.ts";
 * import { encodeTorchStateDict, recordedSize } from "./torch_state_dict.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 4 });
 * const file = decodeSafetensors(await encodeTorchStateDict(net, { size: 28 }));
 * assert.equal(recordedSize(file), 28);
 * net.dispose();
 * ```
 */
export function recordedSize(file: SafetensorsFile, source = "<bytes>"): number | null {
  const v = file.metadata?.size;
  if (v === undefined) return null;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !(n > 0)) {
    throw new SafetensorsError(`${source}: metadata size "${v}" is not a positive integer`);
  }
  return n;
}

/**
 * The architecture a weights file is for: from the metadata {@linkcode encodeTorchStateDict}
 * writes (a file from before the form, block, groups and stem were recorded is d2l's basic
 * ResNet), else from its keys and shapes (a file saved by PyTorch; see
 * {@linkcode inferArchitecture}); null when it is neither.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backends/choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { decodeSafetensors } from "./safetensors_codec.ts";
 * import { architectureOf, encodeTorchStateDict } from "./torch_state_dict.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const net = new ResNet({ stages: [1, 2, 1, 1], width: 4, arch: "torchvision" });
 * const arch = architectureOf(decodeSafetensors(await encodeTorchStateDict(net)));
 * assert.deepEqual(arch?.stages, [1, 2, 1, 1]);
 * assert.equal(arch?.arch, "torchvision"); // d2l's defaults (form, block, stem) are left out
 * net.dispose();
 * ```
 */
export function architectureOf(file: SafetensorsFile): ResNetOptions | null {
  const m = file.metadata;
  if (m?.stages && m?.width) {
    const num = (v: string | undefined) => v === undefined ? undefined : Number(v);
    return beyondDefaults({
      stages: m.stages.split(",").map(Number),
      width: Number(m.width),
      inChannels: num(m.in_channels),
      numClasses: num(m.num_classes),
      arch: (m.form ?? "d2l") as ResNetOptions["arch"],
      block: (m.block ?? "basic") as ResNetOptions["block"],
      groups: num(m.groups),
      widthPerGroup: num(m.width_per_group),
      stem: (m.stem ?? "d2l") as ResNetOptions["stem"],
    });
  }
  return inferArchitecture(file);
}

/**
 * `opts` without the form, block, groups, width per group and stem where they are d2l's
 * defaults (or unknown): a d2l file's architecture reads as it always did.
 */
function beyondDefaults(opts: ResNetOptions): ResNetOptions {
  const out: Record<string, unknown> = { ...opts };
  for (const k of ["arch", "block", "groups", "widthPerGroup", "stem"] as const) {
    if (out[k] === undefined || out[k] === MODEL_DEFAULTS[k]) delete out[k];
  }
  return out as ResNetOptions;
}

/**
 * The architecture of a file without our metadata, from its tensor names and shapes: the form
 * (`conv1.weight`: torchvision's; `0.0.weight`: d2l's), blocks per stage, the block (a `conv3`
 * inside the first block of b2 with a `bn3`: bottleneck; a final BatchNorm: pre-activation), the
 * stem (7x7 or 3x3 kernel), width, input channels, classes, and for a bottleneck its groups (the
 * 3x3 conv's inner width over its weight's second axis) and width per group. Null when the
 * file is not a ResNet state_dict of either form. (A CIFAR stem is taken to have no max pool.)
 */
export function inferArchitecture(file: SafetensorsFile): ResNetOptions | null {
  const t = (k: string) => file.tensors.get(k)?.shape;
  const tv = t("conv1.weight") !== undefined;
  const stem = tv ? t("conv1.weight") : t("0.0.weight");
  const stage = (i: number) => tv ? `layer${i}.` : `${i}.`;
  const bottleneck = t(`${stage(1)}0.bn3.weight`) !== undefined;
  const preact = tv ? t("final_bn.weight") !== undefined : t("5.weight") !== undefined;
  const fc = t(tv ? "fc.weight" : preact ? "9.weight" : "7.weight");
  if (!stem || stem.length !== 4 || !fc || fc.length !== 2) return null;
  const stages = [1, 2, 3, 4].map((s) => {
    const blocks = new Set<string>();
    for (const k of file.tensors.keys()) {
      if (k.startsWith(stage(s))) blocks.add(k.slice(stage(s).length).split(".")[0]);
    }
    return blocks.size;
  });
  const width = stem[0];
  let groups: number | undefined, widthPerGroup: number | undefined;
  const conv2 = t(`${stage(1)}0.conv2.weight`);
  if (bottleneck && conv2?.length === 4) {
    const mid = conv2[0];
    groups = mid / conv2[1];
    // torchvision: mid = floor(width * widthPerGroup / 64) * groups; the smallest that gives it.
    widthPerGroup = Math.ceil((mid / groups) * 64 / width);
  }
  return beyondDefaults({
    stages,
    width,
    inChannels: stem[1],
    numClasses: fc[0],
    arch: tv ? "torchvision" : "d2l",
    block: bottleneck ? "bottleneck" : preact ? "preact" : "basic",
    groups,
    widthPerGroup,
    stem: stem[2] === 3 ? "cifar" : "d2l",
  });
}

/**
 * Encodes `net` as a safetensors file of d2l's `state_dict()` (see the module docs), with its
 * architecture and `record`'s input size in the metadata.
 */
export async function encodeTorchStateDict(
  net: ResNet,
  record: WeightsRecord = {},
): Promise<Uint8Array> {
  return encodeSafetensors(await torchStateDict(net), metadataFor(net, record));
}

const fmtShape = (s: readonly number[]) => `[${s.join(", ")}]`;

/** The architecture hint for error messages, from the file's metadata when it has one. */
function archHint(file: SafetensorsFile): string {
  const m = file.metadata;
  // Its architecture in the library's words (the CLI's flags are the CLI's business).
  if (m?.stages && m?.width) {
    return ` (the file is for ${describeArch(resolveConfig(architectureOf(file)!))})`;
  }
  if (m?.arch) return ` (the file says: ${m.arch})`;
  return "";
}

/**
 * Checks a decoded file against `net`'s architecture and assigns it: every key of the form's
 * `state_dict()` must be present with its shape (torchvision's form: `num_batches_tracked` may be
 * absent), and no other key may be. Nothing is assigned unless everything fits. The first
 * `num_batches_tracked` sets `net.numBatchesTracked` (every BatchNorm counts the same batches).
 */
export function assignTorchStateDict(
  net: ResNet,
  file: SafetensorsFile,
  source = "<bytes>",
): void {
  const layout = torchLayout(net);
  const fail = (what: string): never => {
    throw new SafetensorsError(`${source}: ${what}`);
  };
  // Key and shape errors usually mean another architecture: say which one the file is for.
  const misfit = (what: string): never => fail(`${what}${archHint(file)}`);
  const c = net.config;
  const arch = describeArch(c);
  const known = new Set(layout.map((e) => e.key));
  const keys = keyMap(c);
  const optionalCount = c.arch === "torchvision";
  for (const key of file.tensors.keys()) {
    if (!known.has(key)) {
      const ours = keys.fromTorchKey(key);
      misfit(
        `unexpected key "${key}" (shape ${fmtShape(file.tensors.get(key)!.shape)}): ` +
          `the network for ${arch} has no ${ours ? `parameter ${ours}` : "such key"}`,
      );
    }
  }
  const values: { param: string; data: Float32Array; shape: number[]; perm: number[] | null }[] =
    [];
  let tracked: number | null = null;
  for (const e of layout) {
    const t = file.tensors.get(e.key);
    if (!t && e.param === null && optionalCount) continue;
    if (!t) misfit(`missing key "${e.key}" (expected shape ${fmtShape(e.shape)}) for ${arch}`);
    const got = t!.shape;
    if (got.length !== e.shape.length || got.some((n, i) => n !== e.shape[i])) {
      misfit(
        `key "${e.key}" has shape ${fmtShape(got)} but the network for ${arch} expects ` +
          `${fmtShape(e.shape)}`,
      );
    }
    if (e.param === null) {
      const [n] = toIntegers(t!, e.key, source);
      if (n < 0) fail(`key "${e.key}" is ${n}; a count cannot be negative`);
      tracked ??= n;
    } else {
      const data = toFloat32(t!, e.key, source);
      const bad = data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) fail(`key "${e.key}" holds ${data[bad]} at flat index ${bad}`);
      values.push({ param: e.param, data, shape: e.shape, perm: e.perm });
    }
  }
  tf.tidy(() => {
    for (const v of values) {
      const t = tf.tensor(v.data, v.shape, "float32");
      // Invert the our->torch permutation: conv OIHW -> HWIO, linear [out, in] -> [in, out].
      const inv = v.perm ? v.perm.map((_, i) => v.perm!.indexOf(i)) : null;
      net.params.get(v.param)!.assign(inv ? tf.transpose(t, inv) : t);
    }
  });
  net.numBatchesTracked = tracked ?? 0;
}

/** Decodes a safetensors file's bytes and assigns them to `net` (see {@linkcode assignTorchStateDict}). */
export function decodeTorchStateDict(net: ResNet, bytes: Uint8Array, source = "<bytes>"): void {
  assignTorchStateDict(net, decodeSafetensors(bytes, source), source);
}
