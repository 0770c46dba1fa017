/**
 * d2l's per-stage shape table, computed from the architecture and PyTorch's output-size formulas
 * without running the network (at once, where tracing a forward pass at 224 on tfjs' pure-JS
 * backend took 16 s); a test checks it against a traced forward pass. Also every convolution's
 * shapes, which the WebGPU size check (../backends/tensor_limit.ts) needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapeTable, formatShapeTable } from "./shapes.ts";
 * const t = shapeTable({ depth: 18 }, { size: 96 });
 * assert.match(formatShapeTable(t), /b1\.0 +\[1, 64, 48, 48\] +3,200/);
 * ```
 * @module
 */
import {
  blockSpecs,
  outputSizes,
  type ResNetConfig,
  type ResNetOptions,
  resolveConfig,
} from "./resnet.ts";

/** One row of the table. */
export interface ShapeRow {
  /** `b1.0`..`b1.3` (no `b1.3` with CIFAR's stem), `b2`..`b5`, `b6` (pre-activation's final BN), `pool`, `flatten`, `dense`. */
  name: string;
  /** Output shape in PyTorch's NCHW notation. */
  shape: number[];
  /** Trainable parameters of this row. */
  params: number;
}

/** The whole table, as `shapes --json` prints it. */
export interface ShapeTable {
  /** The depth when the stages and block are that row of the depth table, else null. */
  depth: number | null;
  /** Residual blocks in each of the stages b2..b5. */
  stages: number[];
  /** Input shape, NCHW. */
  input: number[];
  /** One row per layer of d2l's table, in forward order. */
  layers: ShapeRow[];
  /** Total trainable parameters. */
  params: number;
  /** The resolved architecture the table is for. */
  config: ResNetConfig;
}

/** One convolution of the network for a given input size. */
export interface ConvShape {
  /** Its parameter prefix, e.g. `b1.0`, `b3.0.conv1`. */
  name: string;
  /** Kernel height and width. */
  kernel: number;
  /** Stride. */
  stride: number;
  /** Input channels. */
  inChannels: number;
  /** Output channels. */
  outChannels: number;
  /** Input height and width. */
  inSize: number;
  /** Output height and width. */
  outSize: number;
  /** Groups (1: an ordinary convolution). */
  groups: number;
  /** Whether it has a bias (d2l's form). */
  bias: boolean;
}

/** PyTorch's output size of a convolution or pooling: floor((n + 2p - k) / s) + 1. */
const outSize = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

/** Weights and bias of a convolution. */
const convParams = (c: ConvShape) =>
  c.kernel * c.kernel * (c.inChannels / c.groups) * c.outChannels + (c.bias ? c.outChannels : 0);

/** One layer with parameters: a convolution, or a BatchNorm of `channels` (2 per channel). */
type Layer = { conv: ConvShape } | { bn: string; channels: number };

/** Every layer with parameters, in the order the network creates them, for `size` inputs. */
function layersOf(config: ResNetConfig, size: number): Layer[] {
  const bias = config.arch === "d2l", tv = !bias;
  const conv = (
    name: string,
    k: number,
    s: number,
    cin: number,
    cout: number,
    n: number,
    g = 1,
  ) => ({
    conv: {
      name,
      kernel: k,
      stride: s,
      inChannels: cin,
      outChannels: cout,
      inSize: n,
      outSize: outSize(n, k, s, Math.floor(k / 2)),
      groups: g,
      bias,
    },
  });
  const bn = (name: string, channels: number) => ({ bn: name, channels });
  const cifar = config.stem === "cifar";
  const stem = conv("b1.0", cifar ? 3 : 7, cifar ? 1 : 2, config.inChannels, config.width, size);
  const layers: Layer[] = [stem, bn("b1.1", config.width)];
  let n = cifar ? stem.conv.outSize : outSize(stem.conv.outSize, 3, 2, 1); // b1's 3x3/2 max pool
  for (const b of blockSpecs(config).flat()) {
    const [cin, mid, out, s, p] = [b.inChannels, b.midChannels, b.outChannels, b.stride, b.name];
    const after = outSize(n, 3, s, 1);
    if (config.block === "bottleneck") {
      const c1 = conv(`${p}.conv1`, 1, 1, cin, mid, n);
      const c2 = conv(`${p}.conv2`, 3, s, mid, mid, n, config.groups);
      const c3 = conv(`${p}.conv3`, 1, 1, mid, out, after);
      const sc = conv(tv ? `${p}.downsample.0` : `${p}.conv4`, 1, s, cin, out, n);
      const bns = [bn(`${p}.bn1`, mid), bn(`${p}.bn2`, mid), bn(`${p}.bn3`, out)];
      const scBn = bn(tv ? `${p}.downsample.1` : `${p}.bn4`, out);
      const shortcut = b.projection ? [sc, scBn] : [];
      layers.push(
        ...(tv ? [c1, bns[0], c2, bns[1], c3, bns[2]] : [c1, c2, c3, ...bns]),
        ...shortcut,
      );
    } else {
      const c1 = conv(`${p}.conv1`, 3, s, cin, out, n),
        c2 = conv(`${p}.conv2`, 3, 1, out, out, after);
      const scName = tv ? `${p}.downsample.0` : `${p}.conv3`;
      const sc = b.projection ? [conv(scName, 1, s, cin, out, n)] : [];
      if (config.block === "preact") {
        layers.push(bn(`${p}.bn1`, cin), c1, bn(`${p}.bn2`, out), c2, ...sc);
      } else {
        const scBn = b.projection && tv ? [bn(`${p}.downsample.1`, out)] : [];
        layers.push(c1, bn(`${p}.bn1`, out), c2, bn(`${p}.bn2`, out), ...sc, ...scBn);
      }
    }
    n = after;
  }
  if (config.block === "preact") layers.push(bn("b6", config.width * 8));
  return layers;
}

/**
 * Every convolution of the network for `size`x`size` inputs, in the order the network creates
 * them: b1's stem (7x7/2, or CIFAR's 3x3/1), then each residual block's convolutions and its 1x1
 * shortcut where it has one (see ./resnet.ts `blockSpecs`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convShapes } from "./shapes.ts";
 * import { resolveConfig } from "./resnet.ts";
 * assert.equal(convShapes(resolveConfig({ depth: 18 }), 96)[0].outSize, 48);
 * ```
 */
export function convShapes(config: ResNetOptions, size: number): ConvShape[] {
  return layersOf(resolveConfig(config), size).flatMap((l) => "conv" in l ? [l.conv] : []);
}

/**
 * The trainable parameters of the network, from the formulas alone (no tensor is made); equal to
 * `new ResNet(model).countParams()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countParams } from "./shapes.ts";
 * assert.equal(countParams({ depth: 50, arch: "torchvision", inChannels: 3, numClasses: 1000 }), 25_557_032);
 * ```
 */
export function countParams(model: ResNetOptions): number {
  return shapeTable(model, { size: 32 }).params;
}

/** The input {@linkcode shapeTable} assumes when not told: d2l's ImageNet size, one image. */
export const SHAPE_TABLE_DEFAULTS = Object.freeze({ size: 224, batch: 1 });

/**
 * The table for the network `model` and a `[batch, inChannels, size, size]` input, from the
 * formulas alone (no tensor is made). Throws `ConfigError` on an invalid model or size.
 */
export function shapeTable(
  model: ResNetOptions,
  opts: { size?: number; batch?: number } = {},
): ShapeTable {
  const size = opts.size ?? SHAPE_TABLE_DEFAULTS.size;
  const batch = opts.batch ?? SHAPE_TABLE_DEFAULTS.batch;
  outputSizes(size); // validates the size with a clear message
  const c = resolveConfig(model), layers = layersOf(c, size), w = c.width;
  const paramsOf = (l: Layer) => "conv" in l ? convParams(l.conv) : 2 * l.channels;
  const nameOf = (l: Layer) => "conv" in l ? l.conv.name : l.bn;
  const owned = (prefix: string) =>
    layers.filter((l) => nameOf(l).startsWith(prefix)).reduce((a, l) => a + paramsOf(l), 0);
  const stem = (layers[0] as { conv: ConvShape }).conv;
  const b1 = [batch, w, stem.outSize, stem.outSize];
  const rows: ShapeRow[] = [
    { name: "b1.0", shape: b1, params: owned("b1.0") },
    { name: "b1.1", shape: b1, params: owned("b1.1") },
    { name: "b1.2", shape: b1, params: 0 },
  ];
  if (c.stem === "d2l") {
    const pooled = outSize(stem.outSize, 3, 2, 1);
    rows.push({ name: "b1.3", shape: [batch, w, pooled, pooled], params: 0 });
  }
  const convs = layers.flatMap((l) => "conv" in l ? [l.conv] : []);
  for (let i = 0; i < 4; i++) {
    const last = convs.filter((cv) => cv.name.startsWith(`b${i + 2}.`)).at(-1)!;
    const out = blockSpecs(c)[i][0].outChannels;
    const n = last.outSize;
    rows.push({ name: `b${i + 2}`, shape: [batch, out, n, n], params: owned(`b${i + 2}.`) });
  }
  const top = rows.at(-1)!.shape[1];
  if (c.block === "preact") rows.push({ ...rows.at(-1)!, name: "b6", params: owned("b6") });
  rows.push(
    { name: "pool", shape: [batch, top, 1, 1], params: 0 },
    { name: "flatten", shape: [batch, top], params: 0 },
    { name: "dense", shape: [batch, c.numClasses], params: top * c.numClasses + c.numClasses },
  );
  return {
    depth: c.depth,
    stages: [...c.stages],
    input: [batch, c.inChannels, size, size],
    layers: rows,
    params: rows.reduce((a, r) => a + r.params, 0),
    config: c,
  };
}

/**
 * What sets a network apart from d2l's defaults, for the table's title: `, torchvision form,
 * bottleneck, 32x4d, CIFAR stem` (empty for d2l's basic ResNet).
 */
export function archNote(c: ResNetConfig): string {
  const parts = [
    c.arch === "torchvision" ? "torchvision form" : "",
    c.block !== "basic" ? c.block : "",
    c.groups !== 1 || c.widthPerGroup !== 64 ? `${c.groups}x${c.widthPerGroup}d` : "",
    c.stem === "cifar" ? "CIFAR stem" : "",
    c.zeroInitResidual ? "zero-init residual" : "",
  ].filter(Boolean);
  return parts.length ? `, ${parts.join(", ")}` : "";
}

/** Formats the table as aligned text: name, `[N, C, H, W]`, parameters; then the total. */
export function formatShapeTable(t: ShapeTable): string {
  const fmt = (n: number) => n.toLocaleString("en-US");
  const title = `${t.depth ? `ResNet-${t.depth}` : `ResNet stages [${t.stages.join(", ")}]`}` +
    (t.config ? archNote(t.config) : "");
  const rows = t.layers.map((r) => [r.name, `[${r.shape.join(", ")}]`, fmt(r.params)]);
  rows.push(["total", "", fmt(t.params)]);
  const head = ["layer", "output shape", "params"];
  const w = [0, 1, 2].map((i) => Math.max(head[i].length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    `${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2].padStart(w[2])}`;
  return [
    `${title}, input [${t.input.join(", ")}]`,
    line(head),
    ...rows.map(line),
  ].join("\n");
}
