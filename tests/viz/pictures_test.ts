import assert from "node:assert/strict";
import { decode } from "fast-png";
import { animatorSeries, lineChart, niceTicks } from "../../lib/viz/chart.ts";
import { labelledImages, showImages } from "../../lib/viz/grid.ts";
import { blues, confusionHeatmap } from "../../lib/viz/heatmap.ts";
import { svgToPng } from "../../lib/viz/png.ts";
import { writeFigure } from "../../lib/viz/figure.ts";
import type { EpochRecord } from "../../lib/run/metrics.ts";
import { syntheticSplit } from "../synthetic_split.ts";

const record = (epoch: number): EpochRecord => ({
  epoch,
  train_loss: 2 / epoch,
  train_acc: 0.5 + epoch / 20,
  test_acc: 0.45 + epoch / 20,
  examples_per_sec: 100,
  epoch_seconds: 1,
  lr: 0.05,
});

/** The `cx`/`cy` of every point of one series. */
function points(svg: string, series: string): [number, number][] {
  const g = svg.split(`data-series="${series}"`)[1].split("</g>")[0];
  return [...g.matchAll(/cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

Deno.test("Animator chart: a point per value, placed by x and y, d2l's three series", () => {
  const svg = lineChart(animatorSeries([record(1), record(2)]), { xlim: [0, 4] });
  assert.deepEqual(svg.match(/data-series="[^"]+"/g), [
    'data-series="train loss"',
    'data-series="train acc"',
    'data-series="test acc"',
  ]);
  const loss = points(svg, "train loss");
  assert.equal(loss.length, 2);
  assert.ok(loss[1][0] > loss[0][0], "epoch 2 right of epoch 1");
  assert.ok(loss[1][1] > loss[0][1], "loss 1 below loss 2 (SVG y grows downwards)");
  // Live read-backs replace the per-epoch train points; test acc stays per epoch.
  const live = [0.25, 0.5, 0.75, 1].map((x) => ({ x, loss: 2 - x, acc: x / 2 }));
  const svg2 = lineChart(animatorSeries([record(1)], live), { xlim: [0, 2] });
  assert.equal(points(svg2, "train acc").length, 4);
  assert.equal(points(svg2, "test acc").length, 1);
  assert.deepEqual(niceTicks(0, 2.3, 5), [0, 0.5, 1, 1.5, 2, 2.5]);
  assert.deepEqual(niceTicks(0, 10, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

Deno.test("heatmap: one cell per pair, shaded by the row's share, counts written in", () => {
  const svg = confusionHeatmap([[3, 1], [0, 4]], ["a", "b"]);
  const cells = [...svg.matchAll(/data-true="(\d)" data-predicted="(\d)" data-count="(\d+)"/g)];
  assert.deepEqual(cells.map((m) => m.slice(1).map(Number)), [[0, 0, 3], [0, 1, 1], [1, 0, 0], [
    1,
    1,
    4,
  ]]);
  assert.match(svg, new RegExp(`fill="${blues(0.75).replace(/[()]/g, "\\$&")}"`));
  assert.match(svg, new RegExp(`fill="${blues(1).replace(/[()]/g, "\\$&")}"`));
  assert.equal(blues(0), "rgb(247,251,255)");
});

Deno.test("show_images grid as PNG (resvg): the images, red frames on wrong ones, the labels", async () => {
  const split = syntheticSplit(4, 28, 2);
  const predicted = [split.labels[0], (split.labels[1] + 1) % 10, split.labels[2], split.labels[3]];
  const svg = showImages(labelledImages(split, [0, 1, 2, 3], predicted), { cols: 4 });
  assert.equal(svg.match(/class="cell wrong"/g)?.length, 1);
  assert.equal(svg.match(/<image /g)?.length, 4);
  const png = decode(await svgToPng(svg));
  const { width, height, channels } = png;
  const px = (
    x: number,
    y: number,
  ) => [...png.data.subarray((y * width + x) * channels, (y * width + x) * channels + 3)];
  // Cell k's image is at x = 7 + k * 98, y = 8, 84 px square: the frame 1 px outside it.
  assert.deepEqual(px(7 + 98 - 1, 40), [214, 39, 40], "red frame left of the wrong image");
  assert.deepEqual(px(7 - 1, 40), [255, 255, 255], "no frame on a right one");
  // The image is drawn pixel for pixel, each one a 3x3 block of its value.
  const img = split.images.subarray(0, 784);
  for (const [r, c] of [[3, 4], [14, 14], [23, 20], [0, 27]]) {
    for (const [dy, dx] of [[0, 0], [1, 1], [2, 2], [0, 2]]) {
      assert.deepEqual(px(7 + c * 3 + dx, 8 + r * 3 + dy), new Array(3).fill(img[r * 28 + c]));
    }
  }
  // Text under the images: dark pixels in the label rows (a font was found and used).
  let dark = 0;
  for (let y = 8 + 84 + 2; y < height; y++) {
    for (let x = 0; x < 98; x++) {
      dark += px(x, y)[0] < 100 ? 1 : 0;
    }
  }
  assert.ok(dark > 20, `${dark} dark label pixels`);
});

Deno.test("writeFigure: .svg as text, .png rendered", async () => {
  const dir = await Deno.makeTempDir();
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="3" height="2"><rect width="3" height="2" fill="red"/></svg>';
  await writeFigure(`${dir}/a.svg`, svg);
  await writeFigure(`${dir}/a.PNG`, svg);
  assert.equal(await Deno.readTextFile(`${dir}/a.svg`), svg);
  const png = decode(await Deno.readFile(`${dir}/a.PNG`));
  assert.deepEqual([png.width, png.height, ...png.data.subarray(0, 3)], [3, 2, 255, 0, 0]);
  await Deno.remove(dir, { recursive: true });
});
