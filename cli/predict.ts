/**
 * `predict`: the network of a run (or d2l weights) on pictures of one's own and on test images,
 * d2l's `predict_ch3`: the top 3 classes with their probabilities per image, and with `--grid`
 * d2l's `show_images` picture with "true / predicted" under each image. A picture that cannot be
 * read is one line on stderr naming it; the others are still predicted, and the exit code is 2.
 *
 * @example
 * ```ts ignore
 * // not run: it needs a trained run in runs/demo (tests/cli/ train one first)
 * import { predictCommand } from "./predict.ts";
 * await predictCommand().parseAsync(["--run", "runs/demo", "--test", "0,1,2", "--json"], { from: "user" });
 * ```
 * @module
 */
import { Command } from "commander";
import { basename } from "node:path";
import { outputSizes } from "../lib/model/resnet.ts";
import type { ResNet } from "../lib/model/resnet.ts";
import { backendSummary, initBackend } from "../lib/backends/choose.ts";
import { CLASS_NAMES, loadFashionMnist, type Split } from "../lib/data/fashion_mnist.ts";
import {
  FASHION_MNIST_SIZE,
  type PreparedImage,
  toFashionMnist,
} from "../lib/data/prepare_image.ts";
import { ImageError, readImage } from "../lib/io/image.ts";
import { findMistakes, pickImages, predict, topClasses } from "../lib/run/predict.ts";
import { requireRunDir } from "../lib/run/run_dir.ts";
import { errorText, InputError } from "../lib/errors.ts";
import {
  addFlags,
  BACKEND_FLAGS,
  DATA_FLAGS,
  type OptionsOf,
  UsageError,
  userPath,
} from "./options.ts";
import { dataLoadOptions } from "./data.ts";
import { checkNetSource, checkWritableFile, loadNet, NET_SOURCE_FLAGS } from "./net_source.ts";
import { AlreadyReported } from "./errors.ts";
import { type GridImage, showImages } from "../lib/viz/grid.ts";
import { writeFigure } from "../lib/viz/figure.ts";

/** What `predict` uses when a flag is not given; `count` is d2l's grid, 2 rows of 9. */
export const PREDICT_DEFAULTS = { count: 18, batchSize: 64 } as const;

const FLAGS = {
  ...NET_SOURCE_FLAGS,
  size: "where the weights file does not record it (else refused if it differs)",
  invert: "default auto: when the border is light",
  test: "",
  grid: "",
  wrong: "",
  count: `default ${PREDICT_DEFAULTS.count}; the first test images, or with --wrong`,
  batchSize: `default ${PREDICT_DEFAULTS.batchSize}`,
  ...BACKEND_FLAGS,
  json: "one object per image",
  ...DATA_FLAGS,
} as const;

/** Parsed options of `predict`. */
export type PredictCliOptions = OptionsOf<typeof FLAGS>;

/** One predicted image: a picture of one's own, or a test image. */
type Predicted =
  | {
    kind: "file";
    path: string;
    width: number;
    height: number;
    prepared: PreparedImage;
    probs: Float32Array;
  }
  | { kind: "test"; index: number; label: number; pixels: Uint8Array; probs: Float32Array };

/** The `predict` subcommand. */
export function predictCommand(): Command {
  return addFlags(
    new Command("predict")
      .description("top 3 classes of PNG/JPEG pictures or test images; --grid draws them")
      .argument("[images...]", "PNG or JPEG files, any size, colour or grey"),
    FLAGS,
  ).action((images: string[], o: PredictCliOptions) => {
    // Relative to where the user typed them, as every path flag is.
    return runPredict(images.map((p) => userPath(p)), o);
  });
}

/** The flag combinations, the grid's path and the run: checked before anything slow. */
async function checkFlags(images: string[], o: PredictCliOptions): Promise<void> {
  checkNetSource(o, "predict");
  const own = images.length > 0 || o.test !== undefined;
  if (!own && o.grid === undefined && !o.wrong) {
    throw new UsageError(
      "predict needs IMAGE files, --test I,J,K, or --grid FILE (the first test images)",
    );
  }
  if (o.wrong && own) {
    throw new UsageError("--wrong picks test images itself: give it without IMAGE files or --test");
  }
  if (o.count !== undefined && own) {
    throw new UsageError("--count sizes the default grid: give it without IMAGE files or --test");
  }
  if (o.grid !== undefined) {
    if (!/\.(svg|png)$/i.test(o.grid)) {
      throw new UsageError(`--grid ${o.grid}: give a file name ending in .svg or .png`);
    }
    await checkWritableFile(o.grid, "--grid", "grid.png");
  }
  if (o.run !== undefined) await requireRunDir(o.run);
}

/** Reads and prepares each picture; an unreadable one is reported at once and left out. */
async function readPictures(images: string[], o: PredictCliOptions) {
  const ok: { path: string; width: number; height: number; prepared: PreparedImage }[] = [];
  let failed = 0;
  for (const path of images) {
    try {
      const img = await readImage(path);
      const prepared = toFashionMnist(img, { invert: o.invert ?? "auto" });
      ok.push({ path, width: img.width, height: img.height, prepared });
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      console.error(`error: ${errorText(e)}`);
      failed++;
    }
  }
  return { ok, failed };
}

/** Runs `predict`. */
export async function runPredict(images: string[], o: PredictCliOptions): Promise<void> {
  await checkFlags(images, o);
  const pictures = await readPictures(images, o);
  const testWork = o.test !== undefined || images.length === 0;
  if (pictures.ok.length === 0 && !testWork) throw new AlreadyReported("no image could be read");
  const backend = await initBackend(o.backend ?? "auto", { threads: o.threads });
  console.error(backendSummary(backend));
  const { net, size } = await loadNet(o, "predict");
  try {
    const s = size;
    outputSizes(s);
    const opts = { size: s, batchSize: o.batchSize ?? PREDICT_DEFAULTS.batchSize };
    const results: Predicted[] = [];
    if (pictures.ok.length) {
      const split = pictureSplit(pictures.ok.map((p) => p.prepared.pixels));
      const probs = await predict(net, split, opts);
      pictures.ok.forEach((p, k) => results.push({ kind: "file", ...p, probs: probs[k] }));
    }
    if (testWork) results.push(...await predictTest(net, o, opts));
    for (const r of results) console.log(o.json ? jsonLine(r) : textLine(r));
    if (o.grid !== undefined) {
      await writeGrid(o.grid, results);
      console.error(`grid: ${o.grid}`);
    }
  } finally {
    net.dispose();
  }
  if (pictures.failed) {
    throw new AlreadyReported(`${pictures.failed} of ${images.length} images could not be read`);
  }
}

/** 28x28 pictures as a split (labels unknown: 0), for the training pipeline. */
function pictureSplit(pixels: Uint8Array[]): Split {
  const n = FASHION_MNIST_SIZE * FASHION_MNIST_SIZE, images = new Uint8Array(pixels.length * n);
  pixels.forEach((p, k) => images.set(p, k * n));
  const side = FASHION_MNIST_SIZE;
  return {
    images,
    labels: new Uint8Array(pixels.length),
    count: pixels.length,
    height: side,
    width: side,
  };
}

/** `--test` images, or the grid's default: the first (or first misclassified) test images. */
async function predictTest(
  net: ResNet,
  o: PredictCliOptions,
  opts: { size: number; batchSize: number },
): Promise<Predicted[]> {
  const { test } = await loadFashionMnist(dataLoadOptions(o, o.json));
  let indices = o.test ?? [];
  const bad = indices.filter((i) => i >= test.count);
  if (bad.length) {
    throw new InputError(
      `--test ${bad.join(",")}: the test set has ${test.count} images, indices 0 to ${
        test.count - 1
      }`,
    );
  }
  if (o.test === undefined) {
    const count = o.count ?? PREDICT_DEFAULTS.count;
    indices = o.wrong
      ? (await findMistakes(net, test, { ...opts, count })).map((m) => m.index)
      : Array.from({ length: Math.min(count, test.count) }, (_, i) => i);
  }
  const picked = pickImages(test, indices);
  const probs = await predict(net, picked, opts);
  return indices.map((index, k) => ({
    kind: "test",
    index,
    label: test.labels[index],
    pixels: picked.images.subarray(
      k * test.height * test.width,
      (k + 1) * test.height * test.width,
    ),
    probs: probs[k],
  }));
}

const fmt = (r: Predicted) =>
  topClasses(r.probs, 3).map((c) => `${c.name} ${c.probability.toFixed(3)}`).join(", ");

/** One image's line: its name, the top 3 classes and their probabilities. */
function textLine(r: Predicted): string {
  if (r.kind === "file") {
    return `${r.path}: ${fmt(r)}${r.prepared.inverted ? " (inverted)" : ""}`;
  }
  const top = topClasses(r.probs, 1)[0].class;
  const mark = top === r.label ? "" : " [wrong]";
  return `test ${r.index} (${CLASS_NAMES[r.label]}): ${fmt(r)}${mark}`;
}

/** One image as a JSON object. */
function jsonLine(r: Predicted): string {
  const top = topClasses(r.probs, 3);
  if (r.kind === "file") {
    return JSON.stringify({
      image: r.path,
      width: r.width,
      height: r.height,
      inverted: r.prepared.inverted,
      top,
    });
  }
  return JSON.stringify({
    test: r.index,
    label: r.label,
    label_name: CLASS_NAMES[r.label],
    correct: top[0].class === r.label,
    top,
  });
}

/** d2l's `show_images` of the predicted images: "true / predicted", or file name / prediction. */
async function writeGrid(path: string, results: Predicted[]): Promise<void> {
  const side = FASHION_MNIST_SIZE;
  const images: GridImage[] = results.map((r) => {
    const top = topClasses(r.probs, 1)[0];
    if (r.kind === "file") {
      const guess = `${top.name} ${top.probability.toFixed(2)}`;
      return {
        pixels: r.prepared.pixels,
        width: side,
        height: side,
        lines: [basename(r.path), guess],
      };
    }
    return {
      pixels: r.pixels,
      width: side,
      height: side,
      lines: [CLASS_NAMES[r.label], top.name],
      wrong: top.class !== r.label,
    };
  });
  await writeFigure(path, showImages(images));
}
