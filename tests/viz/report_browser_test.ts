import assert from "node:assert/strict";
import { runCli, TINY_VIZ_RUN } from "../run_cli.ts";
import { readHistory } from "../../lib/run/metrics.ts";
import { REPORT_MISTAKES } from "../../lib/viz/report.ts";
import { BROWSER_TEST, watchedPage, withBrowser } from "../browser.ts";

// A run of the tiny network trained by the CLI, its report.html opened from disk in Chromium.

/** What the report shows, as the page's script reads it (plain JS: it runs in Chromium). */
const SEEN_IN_REPORT = `(async () => {
  const visible = (e) => {
    const b = e.getBoundingClientRect();
    return b.width > 0 && b.height > 0;
  };
  const q = (s) => [...document.querySelectorAll(s)];
  const count = (s) => q(s).reduce((a, g) => a + Number(g.getAttribute("data-count")), 0);
  const images = q("#mistakes image");
  const sizes = await Promise.all(images.map(async (i) => {
    const img = new Image();
    img.src = i.href.baseVal;
    await img.decode();
    return [img.naturalWidth, img.naturalHeight];
  }));
  return {
    points: q("#curves circle.point").filter(visible).length,
    series: q("#curves g.series").map((g) => g.getAttribute("data-series")),
    cells: q("#confusion g.cell rect").filter(visible).length,
    counted: count("#confusion g.cell"),
    diagonal: count("#confusion g.cell.diagonal"),
    classRows: q("#per-class tr.class-row").length,
    wrong: q("#mistakes g.cell.wrong").filter(visible).length,
    images: images.filter(visible).length,
    sizes,
    text: document.body.innerText,
  };
})()`;

interface Seen {
  points: number;
  series: string[];
  cells: number;
  counted: number;
  diagonal: number;
  classRows: number;
  wrong: number;
  images: number;
  sizes: [number, number][];
  text: string;
}

Deno.test({
  name: "report.html from disk: curves' points, heatmap cells, mistakes' images, nothing fetched",
  ...BROWSER_TEST,
  async fn() {
    const out = `${await Deno.makeTempDir()}/run`;
    const r = await runCli(["train", ...TINY_VIZ_RUN, "--epochs", "2", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const history = await readHistory(out);
    const correct = Math.round(history.epochs[1].test_acc * 32);
    await withBrowser(async (browser) => {
      const { page, errors, requests } = await watchedPage(browser);
      const url = new URL(`file://${out}/report.html`).href;
      await page.goto(url, { waitUntil: "load" });
      const seen = await page.evaluate(SEEN_IN_REPORT) as Seen;
      assert.equal(seen.points, 6, "3 curves x 2 epochs");
      assert.deepEqual(seen.series, ["train loss", "train acc", "test acc"]);
      assert.equal(seen.cells, 100);
      assert.equal(seen.counted, 32);
      assert.equal(seen.diagonal, correct);
      assert.equal(seen.classRows, 10);
      // The first misclassified ones, at most REPORT_MISTAKES.
      assert.equal(seen.wrong, Math.min(REPORT_MISTAKES, 32 - correct));
      assert.equal(seen.images, seen.wrong);
      assert.ok(seen.sizes.every(([w, h]) => w === 28 && h === 28), JSON.stringify(seen.sizes));
      assert.match(seen.text, /backend: native/);
      assert.match(seen.text, /batchSize\s+16/);
      assert.deepEqual(errors, []);
      // Opened from disk, it asks for nothing but itself and its data: URIs.
      assert.deepEqual(requests.filter((u) => !u.startsWith("data:")), [url]);
    });
    await Deno.remove(out, { recursive: true });
  },
});
