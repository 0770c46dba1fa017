import assert from "node:assert/strict";
import { runCli, TINY_VIZ_RUN } from "../run_cli.ts";
import { readHistory } from "../../lib/run/metrics.ts";
import { initBackend } from "../../lib/backends/choose.ts";
import { train } from "../../lib/run/train.ts";
import { syntheticSplit } from "../synthetic_split.ts";

/** d2l's network with stages 1,1,1,1 and width 8 after one epoch in PyTorch. */
const WEIGHTS = new URL("../fixtures/torch_w8_s1111.safetensors", import.meta.url).pathname;

async function reportAsTrainingWroteIt(tta: string[]): Promise<void> {
  const out = `${await Deno.makeTempDir()}/run`;
  const t = await runCli(["train", ...TINY_VIZ_RUN, ...tta, "--epochs", "1", "--out", out]);
  assert.equal(t.code, 0, t.stderr);
  const written = await Deno.readTextFile(`${out}/report.html`);
  await Deno.remove(`${out}/report.html`);
  const r = await runCli(["report", "--run", out, "--backend", "native", "--threads", "1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${out}/report.html`);
  const again = await Deno.readTextFile(`${out}/report.html`);
  // The same page but for the time it was made: the same evaluation of the same network.
  const strip = (s: string) => s.replace(/report of [\dT:.Z-]+/, "");
  assert.equal(strip(again), strip(written));
  const h = await readHistory(out);
  const right = Math.round(h.epochs[0].test_acc * 32);
  assert.match(again, new RegExp(`${right} of 32 test images right`));
  // Nothing is fetched: no http(s) URL but the SVG namespace.
  assert.deepEqual(
    [...again.matchAll(/(?:src|href)="(https?:[^"]*)"/g)].map((m) => m[1]),
    [],
  );
  await Deno.remove(out, { recursive: true });
}

Deno.test("report --run DIR rewrites report.html from the checkpoint, as training wrote it", async () => {
  await reportAsTrainingWroteIt([]);
});

Deno.test("report --run DIR of a --tta run evaluates with TTA, as training did", async () => {
  // From trained weights (82% after d2l's first epoch), where mirrored images change predictions.
  await reportAsTrainingWroteIt(["--tta", "--init-from", WEIGHTS, "--lr", "0.001"]);
});

Deno.test("report: a missing run or no --run is one line", async () => {
  const none = await runCli(["report", "--run", "/nonexistent/run"]);
  assert.equal(none.code, 1);
  assert.match(none.stderr.trim(), /^error: run directory \/nonexistent\/run does not exist/);
  const usage = await runCli(["report"]);
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr.trim(), "error: report needs --run DIR (a train run)");
});

Deno.test("train --serve on a port in use: one line, exit 2, nothing created", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const out = `${await Deno.makeTempDir()}/run`;
  try {
    const r = await runCli(["train", ...TINY_VIZ_RUN, "--out", out, "--serve", String(port)]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `error: --serve ${port}: port ${port} on 127.0.0.1 is in use: choose another port, or ` +
        "--serve 0 for any free one",
    );
    assert.equal(await Deno.stat(out).catch(() => null), null, "no run directory");
    const bad = await runCli(["train", "--serve", "70000"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--serve.*give a port from 0 to 65535/);
  } finally {
    taken.close();
  }
});

Deno.test("report --limit: the run's own report.html is left alone; --out takes the partial page", async () => {
  const run = `${await Deno.makeTempDir()}/run`;
  await train({
    data: { train: syntheticSplit(8, 16, 1), test: syntheticSplit(4, 16, 2) },
    out: run,
    model: { stages: [1, 1, 1, 1], width: 8 },
    settings: {
      epochs: 1,
      batchSize: 4,
      lr: 0.05,
      size: 16,
      seed: 1,
      limit: null,
      testLimit: null,
    },
    backend: await initBackend("cpu"),
  });
  const own = "<html>the page training wrote, from the whole test set</html>";
  await Deno.writeTextFile(`${run}/report.html`, own);
  const refused = await runCli(["report", "--run", run, "--limit", "3", "--backend", "cpu"]);
  assert.equal(refused.code, 2);
  assert.equal(
    refused.stderr.trim(),
    "error: --limit 3 would rewrite the run's report.html from part of its test set: " +
      "give --out FILE.html for this page",
  );
  const out = `${run}/../part.html`;
  // A temporary file a killed report left there is cleared by the next write.
  await Deno.writeTextFile(`${run}/../.part.html.999999999-dead.tmp`, "<html>half");
  const r = await runCli([
    "report",
    "--run",
    run,
    "--limit",
    "3",
    "--out",
    out,
    "--backend",
    "cpu",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), out);
  assert.match(r.stderr, /^network: run .*, epoch 1: stages 1,1,1,1, width 8, input 16x16/m);
  assert.match(await Deno.readTextFile(out), /test acc, 3 images<b>/);
  assert.equal(await Deno.readTextFile(`${run}/report.html`), own, "the run's page untouched");
  assert.deepEqual([...Deno.readDirSync(`${run}/..`)].map((e) => e.name).sort(), [
    "part.html",
    "run",
  ]);
  await Deno.remove(`${run}/..`, { recursive: true });
});
