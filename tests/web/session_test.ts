/**
 * The page's training session (web/session.ts), form, limit check and plot, run in Deno on tfjs'
 * CPU backend with generated images: stopping and continuing gives what an uninterrupted run
 * gives, weights go out and come back in (with or without our metadata), nothing leaks.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { train } from "../../lib/run/train.ts";
import { loadCheckpoint } from "../../lib/run/checkpoint.ts";
import { encodeSafetensors } from "../../lib/io/safetensors_codec.ts";
import { architectureOf, torchStateDict } from "../../lib/io/torch_state_dict.ts";
import { ConfigError, InputError, UserError } from "../../lib/errors.ts";
import { BLOCKS, resolveConfig } from "../../lib/model/resnet.ts";
import { FLAGS } from "../../cli/options.ts";
import { largestTensor } from "../../lib/backends/tensor_limit.ts";
import { DivergedError } from "../../lib/run/accumulator.ts";
import { RECIPES, type TrainSettings } from "../../lib/run/recipe.ts";
import { Session } from "../../web/session.ts";
import { decodeSafetensors } from "../../lib/io/safetensors_codec.ts";
import { type FormValues, parseSettings, recipeFields } from "../../web/form.ts";
import { limitProblem } from "../../web/device.ts";
import { PageCurves } from "../../web/chart.ts";
import { animatorSeries, lineChart } from "../../lib/viz/chart.ts";
import { syntheticSplit } from "../synthetic_split.ts";

const backend = await initBackend("cpu");

const MODEL = { stages: [1, 1, 1, 1], width: 4 };
const SETTINGS: TrainSettings = {
  epochs: 2,
  batchSize: 8,
  lr: 0.1,
  size: 16,
  seed: 5,
  limit: 32,
  testLimit: 16,
};
/** Reads every `n` steps only: the default also reads after 2 s, which a loaded machine reaches. */
const BY_STEPS = (n: number) => ({ readEvery: n, readAfterMs: Infinity });
const DATA = { train: syntheticSplit(40, 16, 1), test: syntheticSplit(16, 16, 2) };

async function params(s: Session): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of s.net.params) out.set(k, await v.data() as Float32Array);
  return out;
}

Deno.test("web session: stopping after any step and continuing equals training straight through", async () => {
  const before = tf.memory().numTensors;
  const straight = new Session(MODEL, SETTINGS);
  const progress: number[] = [];
  assert.equal(
    await straight.train(DATA, { onProgress: (p) => progress.push(p.step) }, BY_STEPS(2)),
    "finished",
  );
  // Read back every 2 steps (never sooner, however slow a step on a loaded machine), plus at each
  // epoch's end (4 steps an epoch), never per step.
  assert.deepEqual(progress, [2, 4, 4, 2, 4, 4]);
  // Stopped mid-epoch 1 (after step 3) and at epoch 2's second step (step 6), then continued.
  const stopped = new Session(MODEL, SETTINGS);
  const stops: number[] = [];
  let stopAt = 3;
  const onProgress = (p: { epoch: number; step: number }) => {
    if ((p.epoch - 1) * 4 + p.step === stopAt) stopped.stop();
  };
  while ((await stopped.train(DATA, { onProgress }, BY_STEPS(1))) === "stopped") {
    stops.push(stopped.epoch * 4 + stopped.batch);
    stopAt = 6;
  }
  assert.deepEqual(stops, [3, 6]);
  assert.deepEqual([stopped.epoch, stopped.batch], [2, 0]);
  const [a, b] = [await params(straight), await params(stopped)];
  for (const [k, v] of a) assert.deepEqual(b.get(k), v, k);
  for (const key of ["train_acc", "test_acc"] as const) {
    assert.deepEqual(stopped.history.map((r) => r[key]), straight.history.map((r) => r[key]));
  }
  // Loss sums are float32 on the device: split at a stop they are added in another grouping.
  straight.history.forEach((r, i) => {
    const got = stopped.history[i].train_loss;
    assert.ok(Math.abs(got - r.train_loss) <= 1e-6 * r.train_loss, `${got} vs ${r.train_loss}`);
  });
  straight.dispose();
  stopped.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("web session: weights out and back in, with our metadata or from keys and shapes alone", async () => {
  const s = new Session(MODEL, { ...SETTINGS, epochs: 1 });
  await s.train(DATA);
  const bytes = await s.weights();
  assert.equal(s.fileName(), "resnet-stages1111-w4-epoch1.safetensors");
  const fromOurs = Session.fromWeights(bytes, "a.safetensors", { depth: 18 }, SETTINGS);
  // A file as PyTorch writes it: the same tensors, no metadata.
  const bare = encodeSafetensors(await torchStateDict(s.net));
  assert.deepEqual(architectureOf(decodeSafetensors(bare)), {
    stages: [1, 1, 1, 1],
    width: 4,
    inChannels: 1,
    numClasses: 10,
  });
  const fromBare = Session.fromWeights(bare, "b.safetensors", { depth: 18 }, SETTINGS);
  // The training size goes with the weights and wins over the form's; a bare file has none.
  assert.equal(decodeSafetensors(bytes).metadata?.size, String(SETTINGS.size));
  const other = { ...SETTINGS, size: SETTINGS.size + 12 };
  const sized = Session.fromWeights(bytes, "a.safetensors", { depth: 18 }, other);
  assert.equal(sized.settings.size, SETTINGS.size);
  sized.dispose();
  assert.equal(fromBare.settings.size, SETTINGS.size);
  const want = (await s.evaluate(DATA.test)).confusion;
  for (const other of [fromOurs, fromBare]) {
    assert.deepEqual((await other.evaluate(DATA.test)).confusion, want);
    assert.equal(other.net.numBatchesTracked, s.net.numBatchesTracked);
    other.dispose();
  }
  assert.deepEqual(await s.predict(DATA.test, 5), await s.predict(DATA.test, 5));
  s.dispose();
  const truncated = bytes.slice(0, bytes.length - 4);
  assert.throws(
    () => Session.fromWeights(truncated, "cut.safetensors", MODEL, SETTINGS),
    (e) => e instanceof InputError && e.message.startsWith("cut.safetensors: "),
  );
});

Deno.test("web session: evaluation splits its batches to the page's device limit", async () => {
  const s = new Session(MODEL, SETTINGS);
  const want = await s.evaluate(DATA.test);
  // A limit that 3 images fit and 4 do not: batches of 3, the same counts.
  const bytes = largestTensor(s.net.config, 16, 3).bytes;
  assert.ok(largestTensor(s.net.config, 16, 4).bytes > bytes);
  s.tensorLimit = { bytes, name: "maxStorageBufferBindingSize" };
  assert.deepEqual((await s.evaluate(DATA.test)).confusion, want.confusion);
  // Not even one image: refused, as the CLI's eval refuses it on WebGPU.
  s.tensorLimit = { bytes: 16, name: "maxBufferSize" };
  await assert.rejects(s.evaluate(DATA.test), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.match(e.message, /does not fit this WebGPU adapter even at batch 1: .* maxBufferSize/);
    return true;
  });
  s.dispose();
});

Deno.test("web session: a loss that is not finite stops training with the library's DivergedError", async () => {
  const s = new Session(MODEL, SETTINGS);
  const w = s.net.params.get("fc.weight")!;
  tf.tidy(() => w.assign(tf.fill(w.shape, NaN)));
  await assert.rejects(s.train(DATA, {}, BY_STEPS(2)), (e: unknown) => {
    assert.ok(e instanceof DivergedError, String(e));
    assert.equal(
      e.message,
      "the loss became NaN in epoch 1 (by step 2) with learning rate 0.1: train a new network " +
        "with a lower rate",
    );
    return true;
  });
  assert.equal(s.running, false);
  s.dispose();
});

const FORM: FormValues = {
  depth: "stages",
  stages: "1,1,1,1",
  width: "8",
  size: "28",
  batch: "128",
  lr: "0.1",
  epochs: "2",
  limit: "12000",
  "test-limit": "2000",
  seed: "0",
  recipe: "d2l",
  "read-every": "10",
  "read-after": "2",
  block: "",
  arch: "d2l",
  stem: "d2l",
  groups: "1",
  "width-per-group": "64",
};
/** The architecture fields' defaults, as the form gives them. */
const ARCH = { arch: "d2l", stem: "d2l", groups: 1, widthPerGroup: 64 };

Deno.test("web form: the page refuses what the CLI refuses, in one line naming the field", () => {
  const ok = parseSettings(FORM);
  assert.deepEqual(ok.model, { stages: [1, 1, 1, 1], width: 8, ...ARCH });
  assert.deepEqual([ok.readEvery, ok.readAfterMs], [10, 2000]);
  assert.deepEqual(ok.settings, {
    epochs: 2,
    batchSize: 128,
    lr: 0.1,
    size: 28,
    seed: 0,
    limit: 12000,
    testLimit: 2000,
    recipe: "d2l",
  });
  assert.equal(parseSettings({ ...FORM, recipe: "modern" }).settings.recipe, "modern");
  assert.throws(
    () => parseSettings({ ...FORM, recipe: "fancy" }),
    /^InputError: recipe fancy: give d2l\|modern\|fast$/,
  );
  assert.deepEqual(parseSettings({ ...FORM, depth: "34" }).model, { depth: 34, width: 8, ...ARCH });
  // Stages by the CLI's number rules too: no hex, no exponent.
  assert.throws(
    () => parseSettings({ ...FORM, stages: "0x1,1e0,1,1" }),
    (e) => e instanceof InputError && e.message.startsWith('stages "0x1,1e0,1,1": give a '),
  );
  assert.throws(() => parseSettings({ ...FORM, stages: "1,1,1" }), ConfigError);
  assert.throws(() => parseSettings({ ...FORM, lr: "0" }), /^InputError: lr "0": give a positive/);
  assert.throws(
    () => parseSettings({ ...FORM, batch: "2.5" }),
    /batch "2\.5": give a positive integer/,
  );
  assert.throws(() => parseSettings({ ...FORM, size: "0" }), InputError);
  // The CLI's number rules: integers are digits only, no hex, no exponent, no blanks.
  for (const [field, text] of [["width", "1e2"], ["batch", "0x10"], ["seed", ""], ["lr", "0x1"]]) {
    assert.throws(
      () => parseSettings({ ...FORM, [field]: text }),
      (e) => e instanceof InputError && e.message.startsWith(`${field} "${text}": give a `),
      `${field} ${text}`,
    );
  }
  assert.equal(parseSettings({ ...FORM, lr: "1e-2" }).settings.lr, 0.01);
});

Deno.test("web form: the depths, blocks, forms and stems the CLI takes, and its refusals", () => {
  const model = (f: Partial<FormValues>) => parseSettings({ ...FORM, ...f }).model;
  for (const depth of ["18", "34", "50", "101", "152"]) {
    assert.equal(model({ depth }).depth, Number(depth));
    assert.equal(FLAGS.depth.parse!(depth), Number(depth)); // the CLI's --depth agrees
  }
  // Digits only, as --depth: not hex, not an exponent, nothing outside the table.
  for (const depth of ["0x12", "1e1", "18.0", "17", "-18", ""]) {
    assert.throws(() => model({ depth }), (e) => e instanceof UserError, depth);
    assert.throws(() => FLAGS.depth.parse!(depth), Error, `the CLI takes --depth ${depth}`);
  }
  assert.throws(() => model({ depth: "0x12" }), /^InputError: depth "0x12": give a positive/);
  assert.throws(() => model({ depth: "17" }), /^ConfigError: unknown depth 17: allowed are 18,/);
  assert.equal(resolveConfig(model({ depth: "50" })).block, "bottleneck");
  assert.deepEqual(
    model({ depth: "50", width: "64", arch: "torchvision", groups: "32", "width-per-group": "4" }),
    { depth: 50, width: 64, arch: "torchvision", stem: "d2l", groups: 32, widthPerGroup: 4 },
  );
  assert.throws( // resnext at width 8: floor(8 * 4 / 64) = 0 channels per group
    () => model({ depth: "50", groups: "32", "width-per-group": "4" }),
    /^ConfigError: width 8 with widthPerGroup 4 leaves 0 channels per group/,
  );
  for (const block of BLOCKS) assert.equal(model({ block }).block, block);
  assert.equal(resolveConfig(model({ stem: "cifar" })).stem, "cifar");
  // The library's refusals, one line each: a choice it has not, a block the depth contradicts,
  // groups without the bottleneck, the CLI's number rules for groups.
  assert.throws(() => model({ arch: "keras" }), /^ConfigError: unknown arch "keras": allowed/);
  assert.throws(() => model({ stem: "big" }), /^ConfigError: unknown stem "big": allowed/);
  assert.throws(() => model({ depth: "50", block: "basic" }), /^ConfigError: depth 50 is a bott/);
  assert.throws(() => model({ groups: "32" }), /^ConfigError: groups 32 and widthPerGroup 64 need/);
  assert.throws(() => model({ groups: "0x20" }), /^InputError: groups "0x20": give a positive/);
  assert.throws(() => parseSettings({ ...FORM, "read-after": "-1" }), /read-after "-1": give/);
});

Deno.test("web limits: a batch runs in parts where it can; an input batch over the limit is refused with the batch that fits", () => {
  // Width 8 at 224: a step's largest tensor is b1.0's output, 4096 x 112 x 112 x 8 floats (1.53
  // GiB), over a 1 GiB binding; the library runs such a step in parts of the batch.
  const config = resolveConfig({ stages: [1, 1, 1, 1], width: 8 });
  const gib = { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 };
  assert.ok(largestTensor(config, 224, 4096).bytes > 2 ** 30);
  assert.equal(limitProblem(config, 224, 4096, gib), null);
  // The input batch itself cannot be split: 8192 x 224 x 224 floats is over the binding.
  assert.equal(
    limitProblem(config, 224, 8192, gib),
    "a batch of 8192 needs a 1.53 GiB tensor (the input batch, [8192, 224, 224, 1]) but this " +
      "device allows at most 1.00 GiB in one binding (maxStorageBufferBindingSize): use a batch " +
      "of at most 5349",
  );
  // 5349 images' input fits, 5350 do not.
  const per = 224 * 224 * 4;
  assert.ok(5349 * per <= 2 ** 30 && 5350 * per > 2 ** 30);
  assert.equal(limitProblem(config, 224, 5349, gib), null);
  const smallBuffer = { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 30 };
  assert.match(limitProblem(config, 224, 4096, smallBuffer)!, /in one buffer \(maxBufferSize\)/);
  assert.equal(limitProblem(config, 224, 4096, null), null);
  // The library's rule: at small batches tfjs-webgpu's im2col matrices count too.
  const wide = resolveConfig({ stages: [1, 1, 1, 1], width: 64 });
  const tiny = { maxBufferSize: 2 ** 14, maxStorageBufferBindingSize: 2 ** 14 };
  assert.match(limitProblem(wide, 8, 1, tiny)!, /\(b5\.0\.conv2's im2col matrix, \[1, 1, 4608\]\)/);
  assert.match(limitProblem(wide, 8, 1, tiny)!, /even one image is too large/);
});

Deno.test("web chart: the library's Animator chart of read-backs and finished epochs", () => {
  const curves = new PageCurves();
  curves.progress({ epoch: 1, step: 2, steps: 4, loss: 2.1, acc: 0.3 });
  curves.progress({ epoch: 1, step: 4, steps: 4, loss: 1.4, acc: 0.5 });
  const r = {
    epoch: 1,
    train_loss: 1.4,
    train_acc: 0.5,
    test_acc: 0.6,
    examples_per_sec: 10,
    epoch_seconds: 1,
    lr: 0.1,
  };
  curves.epoch(r);
  const svg = curves.svg(2);
  // lib/viz/chart.ts' picture: one polyline per curve, its points kept as data for readers.
  assert.equal(svg, lineChart(animatorSeries([r], curves.live), { xlim: [0, 2] }));
  assert.equal((svg.match(/<polyline /g) ?? []).length, 3);
  const points = (label: string) =>
    [
      ...svg.split(`data-series="${label}"`)[1].split("</g>")[0].matchAll(
        /data-x="([^"]+)" data-y="([^"]+)"/g,
      ),
    ].map((m) => [+m[1], +m[2]]);
  assert.deepEqual(points("train loss"), [[0.5, 2.1], [1, 1.4]]);
  assert.deepEqual(points("train acc"), [[0.5, 0.3], [1, 0.5]]);
  assert.deepEqual(points("test acc"), [[1, 0.6]]);
  assert.deepEqual(
    [...svg.matchAll(/<text class="xtick"[^>]*>([^<]*)</g)].map((m) => m[1]),
    ["0", "1", "2"],
  );
});

Deno.test("web session and the CLI's train: the same weights after two epochs of the modern recipe", async () => {
  // The recipe's momentum, weight decay, cosine schedule and crop/flip/erase augmentation, on
  // both sides through lib/run/epoch.ts; the CLI's side is `train`, which it calls.
  const settings: TrainSettings = { ...SETTINGS, recipe: "modern", lr: 0.05 };
  const before = tf.memory().numTensors;
  const page = new Session(MODEL, settings);
  assert.equal(await page.train(DATA, {}, BY_STEPS(3)), "finished");
  const out = await Deno.makeTempDir();
  const cli = await train({ data: DATA, out, model: MODEL, settings, backend });
  assert.equal(cli.status, "finished");
  assert.deepEqual(cli.history.settings.augment, ["crop", "flip", "erase"]);
  assert.deepEqual(page.history.map((r) => r.lr), [0.05, 0.025]); // cosine over 2 epochs
  assert.deepEqual(cli.history.epochs.map((r) => r.lr), [0.05, 0.025]);
  const { net } = await loadCheckpoint(out);
  for (const [k, v] of page.net.params) {
    const [a, b] = [await v.data(), await net.params.get(k)!.data()];
    assert.ok(a.length === b.length && a.every((x, i) => x === b[i]), `${k} differs`);
  }
  assert.deepEqual(
    page.history.map((r) => [r.train_acc, r.test_acc]),
    cli.history.epochs.map((r) => [r.train_acc, r.test_acc]),
  );
  net.dispose();
  page.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  await Deno.remove(out, { recursive: true });
});

Deno.test("web form: choosing a recipe fills its fields; fast brings its own network", () => {
  const fast = { ...FORM, ...recipeFields("fast"), recipe: "fast" };
  const s = parseSettings(fast);
  // What `train --recipe fast` trains when no architecture flag is given.
  assert.deepEqual(s.model, { depth: 18, width: 16, ...ARCH, stem: "cifar" });
  assert.deepEqual(
    [s.settings.epochs, s.settings.batchSize, s.settings.lr, s.settings.size],
    [RECIPES.fast.epochs, 256, 0.1, 28],
  );
  // d2l and modern have no network of their own: the form's small one stays.
  for (const name of ["d2l", "modern"] as const) {
    const f = recipeFields(name);
    assert.equal(f.stem, undefined);
    assert.equal(f.width, undefined);
    assert.equal(parseSettings({ ...FORM, ...f }).settings.size, 96);
  }
});
