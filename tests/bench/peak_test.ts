/**
 * bench/peak.ts: the sgemm rate (in this process, and in a process of its own with its threads),
 * the fraction of it that a run reaches, and the script's bad flags.
 */
import assert from "node:assert/strict";
import { measureSgemm, peakFraction, sgemmRate } from "../../bench/peak.ts";
import { openBlas } from "../../lib/backends/native/blas.ts";
import { runScript } from "../run_cli.ts";

const PEAK = new URL("../../bench/peak.ts", import.meta.url).pathname;
const blas = openBlas();

Deno.test({
  name: "sgemmRate: a positive rate of the library that was opened",
  ignore: !blas.ok,
  fn() {
    const r = sgemmRate(128, 2);
    assert.equal(r.n, 128);
    assert.equal(r.repeats, 2);
    assert.equal(r.library, blas.ok ? blas.library : "");
    assert.ok(Number.isFinite(r.gflops) && r.gflops > 0, `${r.gflops}`);
  },
});

Deno.test({
  name: "measureSgemm: a process of its own, on the threads asked for",
  ignore: !blas.ok,
  async fn() {
    const r = await measureSgemm({ threads: 1, n: 256, repeats: 1 });
    assert.ok("gflops" in r, JSON.stringify(r));
    assert.equal(r.threads, 1);
    assert.equal(r.n, 256);
    assert.ok(r.gflops > 0);
  },
});

Deno.test("measureSgemm killed at its cap says so", async () => {
  const r = await measureSgemm({ threads: 1, n: 4096, repeats: 50, cap: 0.2 });
  assert.deepEqual(r, { error: "did not finish in 0.2 s" });
});

Deno.test("peakFraction: img/s x GFLOP per image over the sgemm rate; null without either", () => {
  assert.equal(peakFraction(100, 0.5, 100), 0.5);
  assert.equal(peakFraction(118.1, 0.198065664, 58.9), 118.1 * 0.198065664 / 58.9);
  assert.equal(peakFraction(null, 0.198, 58.9), null);
  assert.equal(peakFraction(100, 0.198, null), null);
  assert.equal(peakFraction(100, 0.198, 0), null);
});

for (
  const [args, pattern] of [
    [["--n", "1e3"], /^error: --n 1e3: give a positive integer/],
    [["--repeats", "0"], /^error: --repeats 0: give a positive integer/],
    [["--threads", "2"], /^error: Unknown option '--threads'/],
  ] as const
) {
  Deno.test(`bench/peak.ts ${args.join(" ")}: one line, exit 2`, async () => {
    const r = await runScript(PEAK, [...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], pattern);
  });
}
