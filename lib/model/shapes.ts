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
import { outputSizes, type ResNetConfig, type ResNetOptions, resolveConfig } from "./resnet.ts";

/** One row of the table. */
export interface ShapeRow {
  /** `b1.0`..`b1.3`, `b2`..`b5`, `pool`, `flatten`, `dense`. */
  name: string;
  /** Output shape in PyTorch's NCHW notation. */
  shape: number[];
  /** Trainable parameters of this row. */
  params: number;
}

/** The whole table, as `shapes --json` prints it. */
export interface ShapeTable {
  /** 18 or 34 when the stages are that row of the depth table, else null. */
  depth: number | null;
  /** Residual blocks in each of the stages b2..b5. */
  stages: number[];
  /** Input shape, NCHW. */
  input: number[];
  /** One row per layer of d2l's table, in forward order. */
  layers: ShapeRow[];
  /** Total trainable parameters. */
  params: number;
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
}

/** PyTorch's output size of a convolution or pooling: floor((n + 2p - k) / s) + 1. */
const outSize = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

/** Weights and bias of a convolution. */
const convParams = (c: ConvShape) =>
  c.kernel * c.kernel * c.inChannels * c.outChannels +
  c.outChannels;

/**
 * Every convolution of the network for `size`x`size` inputs, in forward order: b1's 7x7/2 stem,
 * then each residual block's conv1 (3x3, stride 2 in the first block of b3..b5), conv2 (3x3) and
 * conv3 (the 1x1 shortcut of those first blocks).
 *
 * @example
 * ```ts
 * import { convShapes } from "./shapes.ts";
 * import { resolveConfig } from "./resnet.ts";
 * convShapes(resolveConfig({ depth: 18 }), 96)[0].outSize; // 48
 * ```
 */
export function convShapes(config: ResNetConfig, size: number): ConvShape[] {
  const conv = (name: string, k: number, s: number, cin: number, cout: number, n: number) => ({
    name,
    kernel: k,
    stride: s,
    inChannels: cin,
    outChannels: cout,
    inSize: n,
    outSize: outSize(n, k, s, k === 1 ? 0 : Math.floor(k / 2)),
  });
  const w = config.width, convs = [conv("b1.0", 7, 2, config.inChannels, w, size)];
  let n = outSize(convs[0].outSize, 3, 2, 1), cin = w; // after b1's 3x3/2 max pool
  config.stages.forEach((blocks, i) => {
    const cout = w * 2 ** i;
    for (let j = 0; j < blocks; j++) {
      const s = i > 0 && j === 0 ? 2 : 1, name = `b${i + 2}.${j}`;
      const c1 = conv(`${name}.conv1`, 3, s, cin, cout, n);
      convs.push(c1, conv(`${name}.conv2`, 3, 1, cout, cout, c1.outSize));
      if (s === 2) convs.push(conv(`${name}.conv3`, 1, 2, cin, cout, n));
      n = c1.outSize;
      cin = cout;
    }
  });
  return convs;
}

/** The rows b2..b5: each stage's output shape and its parameters (BatchNorm: 2 per channel). */
function stageRows(convs: ConvShape[], config: ResNetConfig, batch: number): ShapeRow[] {
  return config.stages.map((_, i) => {
    const own = convs.filter((c) => c.name.startsWith(`b${i + 2}.`));
    const bn = own.filter((c) => !c.name.endsWith("conv3")).reduce((a, c) => a + c.outChannels, 0);
    const last = own.at(-1)!;
    return {
      name: `b${i + 2}`,
      shape: [batch, last.outChannels, last.outSize, last.outSize],
      params: own.reduce((a, c) => a + convParams(c), 0) + 2 * bn,
    };
  });
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
  const c = resolveConfig(model), convs = convShapes(c, size), w = c.width;
  const stem = convs[0], pooled = outSize(stem.outSize, 3, 2, 1), top = 8 * w;
  const b1 = [batch, w, stem.outSize, stem.outSize];
  const layers: ShapeRow[] = [
    { name: "b1.0", shape: b1, params: convParams(stem) },
    { name: "b1.1", shape: b1, params: 2 * w },
    { name: "b1.2", shape: b1, params: 0 },
    { name: "b1.3", shape: [batch, w, pooled, pooled], params: 0 },
    ...stageRows(convs, c, batch),
    { name: "pool", shape: [batch, top, 1, 1], params: 0 },
    { name: "flatten", shape: [batch, top], params: 0 },
    { name: "dense", shape: [batch, c.numClasses], params: top * c.numClasses + c.numClasses },
  ];
  return {
    depth: c.depth,
    stages: [...c.stages],
    input: [batch, c.inChannels, size, size],
    layers,
    params: layers.reduce((a, r) => a + r.params, 0),
  };
}

/** Formats the table as aligned text: name, `[N, C, H, W]`, parameters; then the total. */
export function formatShapeTable(t: ShapeTable): string {
  const fmt = (n: number) => n.toLocaleString("en-US");
  const title = t.depth ? `ResNet-${t.depth}` : `ResNet stages [${t.stages.join(", ")}]`;
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
