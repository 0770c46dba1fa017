import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import type { EpochRecord } from "../../lib/run/metrics.ts";
import { elapsedSeconds, timeTo, timeToCsv } from "../../lib/run/time_to.ts";
import { accuracyTimeSvg } from "../../lib/viz/time_chart.ts";

const record = (epoch: number, test_acc: number, epoch_seconds: number): EpochRecord => ({
  epoch,
  train_loss: 1 / epoch,
  train_acc: 0.8,
  test_acc,
  examples_per_sec: 100,
  epoch_seconds,
  lr: 0.05,
});

// A run whose accuracy dips after a peak, with epochs of unequal length (a resumed epoch is long).
const RUN = [
  record(1, 0.82, 61.5),
  record(2, 0.9, 70.25),
  record(3, 0.88, 300),
  record(4, 0.93, 60),
];

Deno.test("elapsedSeconds is the running sum of the epochs' wall times", () => {
  assert.deepEqual(elapsedSeconds(RUN), [61.5, 131.75, 431.75, 491.75]);
  assert.deepEqual(elapsedSeconds([]), []);
});

Deno.test("timeTo: the first epoch at or above each level, in the order asked; null where never", () => {
  assert.deepEqual(timeTo(RUN, [0.93, 0.9, 0.82, 0.95]), [
    { level: 0.93, epoch: 4, seconds: 491.75, test_acc: 0.93 },
    // reached at epoch 2; the dip at epoch 3 does not move it
    { level: 0.9, epoch: 2, seconds: 131.75, test_acc: 0.9 },
    // exactly equal counts as reached
    { level: 0.82, epoch: 1, seconds: 61.5, test_acc: 0.82 },
    { level: 0.95, epoch: null, seconds: null, test_acc: null },
  ]);
});

Deno.test("timeToCsv: a header, one row per run and level, empty cells where never reached", () => {
  const rows = [
    ...timeTo(RUN, [0.9, 0.95]).map((t) => ({ run: "runs/a,b", ...t })),
    ...timeTo(RUN.slice(0, 1), [0.9]).map((t) => ({ run: "runs/c", ...t })),
  ];
  const csv = timeToCsv(rows);
  assert.equal(csv.split("\n")[0], "run,level,epoch,seconds,test_acc");
  // a comma in a run's name is quoted, so the table parses back
  assert.deepEqual(parse(csv, { columns: true }), [
    { run: "runs/a,b", level: "0.9", epoch: "2", seconds: "131.75", test_acc: "0.9" },
    { run: "runs/a,b", level: "0.95", epoch: "", seconds: "", test_acc: "" },
    { run: "runs/c", level: "0.9", epoch: "", seconds: "", test_acc: "" },
  ]);
});

Deno.test("accuracyTimeSvg: one curve per run, a point per epoch at its end in minutes", () => {
  const svg = accuracyTimeSvg([
    { label: "a-long-run-directory-name", records: RUN },
    { label: "b", records: RUN.slice(0, 2) },
  ]);
  const series = [...svg.matchAll(/<g class="series" data-series="([^"]+)"[^>]*>(.*?)<\/g>/g)]
    .map(([, label, body]) => ({
      label,
      x: [...body.matchAll(/data-x="([^"]+)"/g)].map((m) => +m[1]),
      y: [...body.matchAll(/data-y="([^"]+)"/g)].map((m) => +m[1]),
    }));
  assert.deepEqual(series.map((s) => s.label), ["a-long-run-directory-name", "b"]);
  const minutes = elapsedSeconds(RUN).map((s) => s / 60);
  series[0].x.forEach((x, i) => assert.ok(Math.abs(x - minutes[i]) < 0.01, `${x} ${minutes[i]}`));
  assert.deepEqual(series[0].y, [0.82, 0.9, 0.88, 0.93]);
  assert.equal(series[1].x.length, 2);
  // the y axis spans the accuracies rounded out to tenths, not [0, 1]
  const yticks = [...svg.matchAll(/<text class="ytick"[^>]*>([^<]*)<\/text>/g)].map((m) => +m[1]);
  assert.equal(yticks[0], 0.8);
  assert.equal(yticks[yticks.length - 1], 1);
  // the legend box is wide enough for the longest name (6.2 px a character)
  const box = /<g class="legend"><rect x="[^"]+" y="[^"]+" width="(\d+)"/.exec(svg);
  assert.ok(Number(box?.[1]) >= 6.2 * "a-long-run-directory-name".length, String(box?.[1]));
  assert.match(svg, /wall time \(minutes\)/);
});
