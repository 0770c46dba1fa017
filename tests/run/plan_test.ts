/**
 * A run is planned once (lib/run/plan.ts): a resumed run's checkpoint.json is parsed once, from
 * the CLI's `train --resume` through the last epoch; the plan refuses what cannot run before
 * anything is written, in the library's words, and releases the lock when it refuses.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { checkFits, planRun } from "../../lib/run/plan.ts";
import { SettingError } from "../../lib/run/recipe.ts";
import { train } from "../../lib/run/train.ts";
import { runTrain } from "../../cli/train.ts";
import { syntheticSplit } from "../synthetic_split.ts";

const backend = await initBackend("cpu");
const MODEL = { stages: [1, 1, 1, 1], width: 4 };
const SETTINGS = { epochs: 1, batchSize: 8, size: 16, seed: 1, limit: 16, testLimit: 8 };
const DATA = { train: syntheticSplit(16, 16, 1), test: syntheticSplit(8, 16, 2) };

/** Runs `work` counting the JSON.parse calls of a checkpoint.json's text. */
async function countCheckpointParses(work: () => Promise<unknown>): Promise<number> {
  const parse = JSON.parse;
  let n = 0;
  JSON.parse = (text: string, reviver?: Parameters<typeof parse>[1]) => {
    if (typeof text === "string" && text.includes('"resnet-d2l-checkpoint"')) n++;
    return parse(text, reviver);
  };
  try {
    await work();
  } finally {
    JSON.parse = parse;
  }
  return n;
}

Deno.test("train --resume parses checkpoint.json once (the plan's), from the CLI to the last epoch", async () => {
  const out = `${await Deno.makeTempDir()}/run`;
  await train({ data: DATA, out, model: MODEL, settings: SETTINGS, backend });
  // The library: a plan made by train itself, then loading the network from the plan's reading.
  const inLibrary = await countCheckpointParses(() =>
    train({ data: DATA, out, resume: true, settings: { epochs: 2 }, backend })
  );
  assert.equal(inLibrary, 1);
  // The CLI (Fashion-MNIST's first images): plan, backend fit, data, train.
  const log = console.log;
  console.log = () => {};
  try {
    const inCli = await countCheckpointParses(() =>
      runTrain({ resume: out, epochs: 3, backend: "cpu", limit: 16, testLimit: 8 })
    ).catch((e) => e);
    // --limit is fixed on resume: the CLI refuses it before reading anything.
    assert.match(String(inCli), /--limit, --test-limit cannot be combined with --resume/);
    const resumed = () => runTrain({ resume: out, epochs: 3, backend: "cpu" });
    assert.equal(await countCheckpointParses(resumed), 1);
  } finally {
    console.log = log;
  }
  await Deno.remove(out, { recursive: true });
});

Deno.test("a plan refuses what cannot run before writing anything, and lets go of the lock", async () => {
  const parent = await Deno.makeTempDir(), out = `${parent}/run`;
  await assert.rejects(
    planRun({ out, model: MODEL, settings: { ...SETTINGS, nesterov: true } }),
    (e: unknown) => {
      assert.ok(e instanceof SettingError);
      assert.equal(e.setting, "nesterov");
      assert.equal(e.message, "nesterov needs a momentum above 0, e.g. 0.9");
      assert.equal(e.wording((k) => `<${k}>`), "<nesterov> needs a <momentum> above 0, e.g. 0.9");
      return true;
    },
  );
  assert.deepEqual([...Deno.readDirSync(parent)], []);
  await train({ data: DATA, out, model: MODEL, settings: SETTINGS, backend });
  // A finished run resumed without more epochs: refused, naming the setting, lock released.
  await assert.rejects(planRun({ out, resume: true }), (e: unknown) => {
    assert.ok(e instanceof SettingError);
    assert.equal(
      e.message,
      `${out} already finished its 1 epochs: give epochs N (more than 1) to train further`,
    );
    return true;
  });
  await assert.rejects(planRun({ out, resume: true, settings: { epochs: 0 } }), /epochs 0: give/);
  const plan = await planRun({ out, resume: true, settings: { epochs: 2, batchSize: 4 } });
  assert.equal(plan.settings.epochs, 2);
  assert.equal(plan.settings.batchSize, 8); // the run's own: only epochs and lr may change
  assert.equal(plan.checkpoint?.epoch, 1);
  checkFits(plan);
  assert.equal(plan.fitsOn, "cpu");
  await plan.lock.release();
  await Deno.remove(parent, { recursive: true });
});

Deno.test("a run of another architecture (the cifar stem) resumes as itself, from its config", async () => {
  const out = await Deno.makeTempDir();
  const model = { ...MODEL, stem: "cifar" as const };
  await train({ data: DATA, out, model, settings: SETTINGS, backend });
  const plan = await planRun({ out, resume: true, settings: { epochs: 2 } });
  assert.equal(plan.config.stem, "cifar");
  const r = await train({ plan, data: DATA, backend });
  await plan.lock.release();
  assert.equal(r.status, "finished");
  assert.equal(r.history.config.stem, "cifar");
  await Deno.remove(out, { recursive: true });
});

Deno.test("a recipe's network is a new run's when no architecture option is given, else the given one", async () => {
  const plans = [];
  for (const model of [undefined, {}, { depth: 34 }, { width: 8 }]) {
    const out = `${await Deno.makeTempDir()}/run`;
    const plan = await planRun({ out, model, settings: { ...SETTINGS, recipe: "fast" } });
    await plan.lock.release();
    plans.push(plan);
  }
  const [none, empty, deeper, wider] = plans.map((p) => p.config);
  for (const c of [none, empty]) {
    assert.deepEqual([c.stem, c.width, c.stages], ["cifar", 16, [2, 2, 2, 2]]);
  }
  assert.deepEqual([deeper.stem, deeper.width, deeper.depth], ["d2l", 64, 34]); // as a whole
  assert.deepEqual([wider.stem, wider.width], ["d2l", 8]);
  const d2l = await planRun({ out: `${await Deno.makeTempDir()}/run`, settings: SETTINGS });
  await d2l.lock.release();
  assert.deepEqual([d2l.config.stem, d2l.config.width], ["d2l", 64]);
});
