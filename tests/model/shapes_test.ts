/**
 * The shape table is computed from formulas; here it is checked against a traced forward pass
 * (the way it used to be made): each named output's shape and the parameters each row owns.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet, type ResNetOptions } from "../../lib/model/resnet.ts";
import { type ShapeRow, shapeTable } from "../../lib/model/shapes.ts";

await initBackend("cpu");

/** Which parameter names belong to a row of the table. */
function ownsParam(row: string, param: string): boolean {
  if (row === "dense") return param.startsWith("fc.");
  if (row.startsWith("b1.")) return param.startsWith(`${row}.`);
  return param.startsWith(`${row}.`) && /^b[2-5]$/.test(row);
}

/** The table as a forward pass in inference mode records it (NCHW), with each row's params. */
function tracedRows(model: ResNetOptions, size: number, batch: number): ShapeRow[] {
  const net = new ResNet(model);
  const rows: ShapeRow[] = [];
  tf.tidy(() => {
    const x = tf.randomUniform([batch, size, size, net.config.inChannels]) as tf.Tensor4D;
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
  net.dispose();
  return rows;
}

for (
  const [model, size, batch] of [
    [{ depth: 18 }, 64, 2],
    [{ stages: [1, 2, 1, 3], width: 8 }, 29, 3],
    [{ stages: [1, 1, 1, 1], width: 6, inChannels: 3, numClasses: 4 }, 17, 1],
  ] as [ResNetOptions, number, number][]
) {
  Deno.test(`the computed shape table equals a traced run: ${JSON.stringify(model)} at ${size}`, () => {
    const before = tf.memory().numTensors;
    const t = shapeTable(model, { size, batch });
    assert.deepEqual(t.layers, tracedRows(model, size, batch));
    const net = new ResNet(model);
    assert.equal(t.params, net.countParams());
    net.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
}
