/**
 * The HTML of the live page that `train --serve` serves (./live.ts): self-contained (inline CSS
 * and script, no network), it listens to `/events` and shows each state it is sent: the curves
 * (an SVG drawn by the server), the current epoch's progress, and the run's report in a frame
 * once the first epoch has ended (its HTML comes with the events: it stays after the run). When the run ends it says so and stops listening.
 *
 * @example
 * ```ts
 * import { LIVE_PAGE } from "./live_page.ts";
 * LIVE_PAGE.includes('new EventSource("/events")'); // true
 * ```
 * @module
 */
import { FONT_FAMILY } from "./svg.ts";

/** The script: one state message at a time, straight into the page. */
const SCRIPT = `
const $ = (id) => document.getElementById(id);
const events = new EventSource("/events");
events.addEventListener("state", (e) => {
  const s = JSON.parse(e.data);
  $("chart").innerHTML = s.chart;
  const bar = $("bar");
  bar.max = Math.max(1, s.total);
  bar.value = s.done;
  const st = s.stats;
  const what = s.phase === "test" ? "test pass" : s.phase === "train" ? "training" : s.phase;
  $("progress-text").textContent = s.phase === "starting"
    ? "starting…"
    : "epoch " + s.epoch + "/" + s.epochs + " " + what + ": " + s.done + "/" + s.total +
      " images" + (st && s.phase === "train"
        ? ", " + st.examplesPerSec.toFixed(1) + " img/s, loss " + st.loss.toFixed(4) +
          ", train acc " + st.acc.toFixed(3)
        : "");
  if (s.phase === "finished" || s.phase === "stopped") {
    $("status").textContent = s.phase === "finished"
      ? "Training finished; the server has stopped."
      : "Training stopped (it saved a checkpoint); the server has stopped.";
    document.body.classList.add("ended");
    events.close();
  }
});
events.addEventListener("report", (e) => {
  $("report").srcdoc = JSON.parse(e.data);
  $("report-box").hidden = false;
});
events.onerror = () => {
  if (events.readyState === EventSource.CLOSED) $("status").textContent = "disconnected";
};`;

/** The live page. */
export const LIVE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>training: live curves</title>
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{font-family:${FONT_FAMILY};margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:20px;margin:0 0 12px}#status{color:#666;min-height:1.2em}
progress{width:480px;height:14px}#progress-text{font-size:13px;margin:4px 0 16px;
font-variant-numeric:tabular-nums}#report{width:100%;height:1400px;border:1px solid #ddd}
body.ended #bar{opacity:.4}
</style></head><body>
<h1>Training (live)</h1>
<div id="chart"></div>
<progress id="bar" value="0" max="1"></progress>
<div id="progress-text">connecting…</div>
<p id="status"></p>
<div id="report-box" hidden><h2>Report of the last epoch</h2>
<iframe id="report" title="report"></iframe></div>
<script>${SCRIPT}</script>
</body></html>
`;
