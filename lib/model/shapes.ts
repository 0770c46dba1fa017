/**
 * d2l's per-stage shape table: runs a random batch through the network and records each named
 * output's shape (NCHW, as PyTorch prints it) and the parameters each row owns.
 *
 * @example
 * ```ts
 * import { shapeTable, formatShapeTable } from "./shapes.ts";
 * const t = shapeTable({ depth: 18 }, { size: 96 });
 * console.log(formatShapeTable(t)); // b1.0 [1, 64, 48, 48] 3,200 ...
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { outputSizes, ResNet, type ResNetOptions } from "./resnet.ts";

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
  /** One row per traced layer, in forward order. */
  layers: ShapeRow[];
  /** Total trainable parameters. */
  params: number;
}

/** Which parameter names belong to a row of the table. */
function ownsParam(row: string, param: string): boolean {
  if (row === "dense") return param.startsWith("fc.");
  if (row.startsWith("b1.")) return param.startsWith(`${row}.`);
  return param.startsWith(`${row}.`) && /^b[2-5]$/.test(row);
}

/**
 * Builds the network, runs a random `[batch, inChannels, size, size]` input in inference mode and
 * returns the table. Frees everything it made.
 */
export function shapeTable(
  model: ResNetOptions,
  opts: { size?: number; batch?: number } = {},
): ShapeTable {
  const size = opts.size ?? 224, batch = opts.batch ?? 1;
  outputSizes(size); // validates the size with a clear message
  const net = new ResNet(model);
  try {
    const c = net.config;
    const rows: ShapeRow[] = [];
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomUniform([batch, size, size, c.inChannels]) as tf.Tensor4D;
      net.apply(x, {
        training: false,
        trace: (name, y) => {
          const s = y.shape;
          const shape = s.length === 4 ? [s[0], s[3], s[1], s[2]] : [...s];
          let params = 0;
          for (const [p, v] of net.params) if (v.trainable && ownsParam(name, p)) params += v.size;
          rows.push({ name, shape, params });
        },
      });
    });
    if (tf.memory().numTensors !== before) throw new Error("shapeTable leaked tensors");
    return {
      depth: c.depth,
      stages: [...c.stages],
      input: [batch, c.inChannels, size, size],
      layers: rows,
      params: net.countParams(),
    };
  } finally {
    net.dispose();
  }
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
