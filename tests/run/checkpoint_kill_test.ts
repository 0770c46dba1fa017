/**
 * A kill at any instant of a checkpoint save leaves a run that resumes to the uninterrupted
 * run's exact weights: the CLI is killed (SIGKILL) just before each rename of the save after
 * epoch 1, then resumed.
 */
import assert from "node:assert/strict";
import { runScript, TINY_RUN } from "../run_cli.ts";
import { checkpointFile } from "../checkpoint_files.ts";
import { TEMP_NAME } from "../../lib/io/atomic.ts";

const FIXTURE = new URL("../fixtures/kill_at_rename.ts", import.meta.url).pathname;
const train = (out: string) => [
  "train",
  ...TINY_RUN,
  "--epochs",
  "2",
  "--batch-size",
  "4",
  "--limit",
  "8",
  "--test-limit",
  "4",
  "--out",
  out,
];

/** The `rename N: NAME` lines of a fixture run, as names in order. */
const renames = (stderr: string) => [...stderr.matchAll(/^rename \d+: (.+)$/gm)].map((m) => m[1]);

async function listing(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("a kill before any rename of a checkpoint save loses nothing: resume ends identical", async () => {
  const root = await Deno.makeTempDir();
  const ref = await runScript(FIXTURE, ["0", ...train(`${root}/ref`)]);
  assert.equal(ref.code, 0, ref.stderr);
  const names = renames(ref.stderr);
  // The saves of epoch 0 and 1 each end with checkpoint.json; kill at each rename after the
  // first one up to and including the second (history, metrics, model dir, checkpoint, curves).
  const commits = names.flatMap((n, i) => n === "checkpoint.json" ? [i + 1] : []);
  const ks = [];
  for (let k = commits[0] + 1; k <= commits[1] + 1; k++) ks.push(k);
  assert.deepEqual(ks.map((k) => names[k - 1]), [
    "history.json",
    "metrics.csv",
    "model-2",
    "checkpoint.json",
    "curves.svg",
  ]);
  const want = await Deno.readFile(await checkpointFile(`${root}/ref`, "weights.bin"));
  const leftTemps: string[] = [];
  await Promise.all(ks.map(async (k) => {
    const out = `${root}/k${k}`;
    const killed = await runScript(FIXTURE, [String(k), ...train(out)]);
    assert.equal(killed.code, 137, `k=${k}: ${killed.stderr}`);
    leftTemps.push(...(await listing(out)).filter((n) => TEMP_NAME.test(n)));
    const resumed = await runScript(FIXTURE, ["0", "train", "--resume", out, "--backend", "cpu"]);
    assert.equal(resumed.code, 0, `k=${k}: ${resumed.stderr}`);
    assert.match(resumed.stderr, /note: taking over the lock of .* from a run that is gone/);
    const got = await Deno.readFile(await checkpointFile(out, "weights.bin"));
    assert.deepEqual(got, want, `k=${k}: the resumed run's weights differ`);
    assert.deepEqual(await listing(out), await listing(`${root}/ref`), `k=${k}: left-overs`);
  }));
  // The kills did leave temporary files (a file, the model directory): the resumes cleared them.
  assert.ok(leftTemps.some((n) => n.startsWith(".model-2.")), leftTemps.join(", "));
  assert.ok(leftTemps.some((n) => n.startsWith(".history.json.")), leftTemps.join(", "));
  await Deno.remove(root, { recursive: true });
});
