import assert from "node:assert/strict";
import { TINY_VIZ_RUN } from "../run_cli.ts";
import { BROWSER_TEST, watchedPage, withBrowser } from "../browser.ts";

// `train --serve 0` of the tiny network in a subprocess, its live page open in Chromium while it
// trains: the page is open before the first step, so every point appears on it.

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Reads `stream` line by line until one matches `re`; the rest keeps draining into `log`. */
async function waitForLine(
  stream: ReadableStream<Uint8Array>,
  re: RegExp,
  log: string[],
): Promise<RegExpMatchArray> {
  const lines = stream.pipeThrough(new TextDecoderStream() as TransformStream<Uint8Array, string>)
    .getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`no line matched ${re}:\n${log.join("")}`);
    log.push(value);
    buffered += value;
    const m = buffered.match(re);
    if (m) {
      (async () => {
        for (let r = await lines.read(); !r.done; r = await lines.read()) log.push(r.value);
      })();
      return m;
    }
  }
}

/** The number of points on the page's chart. */
const POINTS = `document.querySelectorAll("#chart circle.point").length`;

/** Points per curve: train loss, train acc, test acc. */
const PER_SERIES = `[...document.querySelectorAll("#chart g.series")]
  .map((g) => g.querySelectorAll("circle.point").length)`;

Deno.test({
  name: "train --serve: the live page gains points as the tiny network trains, then the report",
  ...BROWSER_TEST,
  async fn() {
    const out = `${await Deno.makeTempDir()}/run`;
    await withBrowser(async (browser) => {
      const { page, errors } = await watchedPage(browser); // ready before training starts
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          MAIN,
          "train",
          ...TINY_VIZ_RUN,
          // Enough images that the run outlasts the page's loading on a loaded machine: with 64,
          // a run could finish before the page first looked, and no point was left to arrive.
          "--limit",
          "4096",
          "--epochs",
          "3",
          "--out",
          out,
          "--serve",
          "0",
        ],
        stdout: "null",
        stderr: "piped",
        stdin: "null",
      }).spawn();
      const log: string[] = [];
      try {
        const [, url] = await waitForLine(child.stderr, /live page: (http:\/\/\S+)/, log);
        assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
        await page.goto(url);
        await page.waitForFunction(`${POINTS} > 0`, { timeout: 60_000 });
        const first = await page.evaluate(POINTS) as number;
        // A new point after further steps (a later read-back, or a test pass).
        await page.waitForFunction(`${POINTS} > ${first}`, { timeout: 60_000 });
        assert.match(
          await page.$eval("#progress-text", (e) => e.textContent ?? ""),
          /epoch [1-3]\/3/,
        );
        // After the first epoch the report shows in its frame, cells and all.
        await page.waitForFunction(
          `(document.getElementById("report").contentDocument?.querySelectorAll("#confusion g.cell").length ?? 0) === 100`,
          { timeout: 60_000 },
        );
        await page.waitForFunction(
          `document.getElementById("status").textContent.includes("finished")`,
          { timeout: 60_000 },
        );
        // The train loss and acc at each read-back (at least one per epoch), the test accuracy
        // after each of the 3 epochs.
        const perSeries = await page.evaluate(PER_SERIES) as number[];
        assert.equal(perSeries[2], 3, String(perSeries));
        assert.ok(perSeries[0] >= 3 && perSeries[0] === perSeries[1], String(perSeries));
        assert.equal((await child.status).code, 0, log.join(""));
        // The page closes its event stream when the run ends (reported as an aborted request).
        assert.deepEqual(errors.filter((e) => !/\/events net::ERR_ABORTED$/.test(e)), []);
      } finally {
        try {
          child.kill();
        } catch { /* it has ended */ }
        await child.status;
      }
    });
    await Deno.remove(out, { recursive: true });
  },
});
