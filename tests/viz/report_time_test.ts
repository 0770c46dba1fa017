import assert from "node:assert/strict";
import { reportHtml } from "../../lib/viz/report.ts";
import { resolveConfig } from "../../lib/model/resnet.ts";
import type { EpochRecord } from "../../lib/run/metrics.ts";

const record = (epoch: number, test_acc: number): EpochRecord => ({
  epoch,
  train_loss: 0.5,
  train_acc: 0.8,
  test_acc,
  examples_per_sec: 900,
  epoch_seconds: 90,
  lr: 0.05,
});

function page(epochs: EpochRecord[], compare?: { label: string; records: EpochRecord[] }[]) {
  const settings = { epochs: 3, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: 2, testLimit: 2 };
  const history = {
    config: resolveConfig({ stages: [1, 1, 1, 1], width: 8 }),
    settings,
    versions: {},
    backends: [],
    epochs,
    finished: false,
  };
  const confusion = Array.from({ length: 10 }, () => new Array(10).fill(0));
  confusion[0][0] = 2;
  const evaluation = {
    accuracy: 1,
    correct: 2,
    n: 2,
    confusion,
    predicted: new Int32Array([0, 0]),
    perClass: confusion.map((_row, i) => ({
      class: i,
      name: String(i),
      accuracy: i ? NaN : 1,
      n: i ? 0 : 2,
    })),
  };
  const test = {
    images: new Uint8Array(2 * 784),
    labels: Uint8Array.from([0, 0]),
    count: 2,
    height: 28,
    width: 28,
  };
  const html = reportHtml({ dir: "runs/this/", history, evaluation, test, epoch: 2, compare });
  return html.split('<div id="time">')[1].split("</div>")[0];
}

const seriesOf = (svg: string) =>
  [...svg.matchAll(/<g class="series" data-series="([^"]+)"[^>]*>(.*?)<\/g>/g)].map((
    [, label, body],
  ) => [label, [...body.matchAll(/data-x="([^"]+)"/g)].map((m) => +m[1])]);

Deno.test("report.html: this run's test accuracy against wall time, labelled with its folder", () => {
  assert.deepEqual(seriesOf(page([record(1, 0.8), record(2, 0.85)])), [["this", [1.5, 3]]]);
});

Deno.test("report.html: runs to compare are drawn beside it, one curve each", () => {
  const other = { label: "d2l-96", records: [record(1, 0.83)] };
  assert.deepEqual(seriesOf(page([record(1, 0.8)], [other])), [["this", [1.5]], ["d2l-96", [1.5]]]);
});

Deno.test("report.html: before the first epoch, the wall-time section says so", () => {
  assert.match(page([]), /no epoch has finished yet/);
});
