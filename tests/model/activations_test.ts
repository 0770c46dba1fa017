import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { type ResNetOptions, resolveConfig } from "../../lib/model/resnet.ts";
import { shapeTable } from "../../lib/model/shapes.ts";
import { activations, largestActivation } from "../../lib/model/activations.ts";

await initBackend("cpu");

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

Deno.test("activations: the shapes a real forward pass traces (shape table), as NHWC float32 bytes", () => {
  const cases: [ResNetOptions, number, number][] = [
    [{ stages: [1, 1, 1, 1], width: 8 }, 3, 28],
    [{ stages: [1, 2, 1, 1], width: 4 }, 2, 17],
    [{ stages: [1, 1, 1, 1], width: 2, inChannels: 3 }, 1, 40],
  ];
  for (const [model, batch, size] of cases) {
    const table = shapeTable(model, { size, batch });
    const traced = new Map(table.layers.map((r) => [r.name, r.shape]));
    for (const a of activations(resolveConfig(model), batch, size)) {
      const [n, c, h, w] = a.name === "input" ? table.input : traced.get(a.name)!;
      assert.deepEqual(a.shape, [n, h, w, c], `${a.name} of ${JSON.stringify(model)}`);
      assert.equal(a.bytes, 4 * numel(a.shape));
    }
    // The largest is the largest of everything the trace saw, the input included.
    const most = Math.max(numel(table.input), ...table.layers.map((r) => numel(r.shape)));
    assert.equal(largestActivation(resolveConfig(model), batch, size).bytes, 4 * most);
  }
});

Deno.test("largestActivation: ResNet-18 at 224 is b1's convolution; width 2 at 28 is the input", () => {
  const r18 = largestActivation(resolveConfig({ depth: 18 }), 256, 224);
  assert.deepEqual(r18, {
    name: "b1.0",
    shape: [256, 112, 112, 64],
    bytes: 256 * 112 * 112 * 64 * 4,
  });
  const thin = largestActivation(resolveConfig({ stages: [1, 1, 1, 1], width: 2 }), 10, 28);
  assert.deepEqual(thin, { name: "input", shape: [10, 28, 28, 1], bytes: 10 * 28 * 28 * 4 });
});
