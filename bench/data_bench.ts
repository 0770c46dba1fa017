/**
 * Times the data pipeline: loading the full Fashion-MNIST from a warm cache (read, gunzip,
 * SHA-256, IDX decode), its parts, and making batches on the CPU backend. Prints a table (or
 * `--json`); the first run fills the cache from the usual sources if needed.
 *
 * ```sh
 * deno run -A bench/data_bench.ts [--runs 5] [--data-dir D] [--json]
 * ```
 *
 * @example
 * ```sh
 * deno run -A bench/data_bench.ts --runs 3
 * ```
 * @module
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { FASHION_MNIST, loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { idxBytes, sha256Hex } from "../lib/data/idx_dataset.ts";
import { decodeIdxImages, decodeIdxLabels } from "../lib/data/idx.ts";
import { batches } from "../lib/data/batches.ts";
import { initBackend } from "../lib/backends/choose.ts";
import { parseNumber } from "../lib/parse_number.ts";
import { errorText } from "../lib/errors.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}
let runs = 5;
try {
  const v = arg("--runs") ?? "5";
  runs = parseNumber(v, "integer", 1, false, `--runs ${v}`);
} catch (e) {
  console.error(`error: ${errorText(e)}`);
  Deno.exit(2);
}
const dataDir = arg("--data-dir");
const json = Deno.args.includes("--json");

/** Median and minimum of `runs` timings of `fn`, in ms. */
async function time(fn: () => unknown): Promise<{ median: number; min: number }> {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)], min: t[0] };
}

const first = await loadFashionMnist({ dataDir, quiet: true }); // fills the cache if needed
const specs = [
  FASHION_MNIST.trainImages,
  FASHION_MNIST.trainLabels,
  FASHION_MNIST.testImages,
  FASHION_MNIST.testLabels,
];
const gz = await Promise.all(specs.map((s) => Deno.readFile(join(first.cache, s.name))));
const idx = await Promise.all(gz.map((b) => idxBytes(b)));

await initBackend("cpu");
const rows: [string, { median: number; min: number }][] = [
  [
    "load from cache (read, gunzip, SHA-256, decode)",
    await time(() => loadFashionMnist({ dataDir, quiet: true, sourceDirs: [], mirrors: [] })),
  ],
  [
    "  read the four .gz files",
    await time(() => Promise.all(specs.map((s) => Deno.readFile(join(first.cache, s.name))))),
  ],
  // The library's own verification (lib/data/idx_dataset.ts): DecompressionStream, Web Crypto.
  ["  gunzip (DecompressionStream)", await time(() => Promise.all(gz.map((b) => idxBytes(b))))],
  ["  SHA-256 of the IDX bytes", await time(() => Promise.all(idx.map((b) => sha256Hex(b))))],
  [
    "  IDX decode + validation",
    await time(() => {
      decodeIdxImages(idx[0], specs[0].name);
      decodeIdxLabels(idx[1], specs[1].name);
      decodeIdxImages(idx[2], specs[2].name);
      decodeIdxLabels(idx[3], specs[3].name);
    }),
  ],
];
for (const size of [28, 96]) {
  rows.push([
    `batches, cpu backend: 10,000 test images, 256/batch, size ${size}`,
    await time(async () => {
      for (const b of batches(first.test, { batchSize: 256, shuffle: true, seed: 1, size })) {
        await b.x.data(); // make sure the device work is done
        tf.dispose([b.x, b.y]);
      }
    }),
  ]);
}

if (json) {
  console.log(JSON.stringify({
    runs,
    rows: rows.map(([name, t]) => ({ name: name.trim(), median_ms: t.median, min_ms: t.min })),
  }));
} else {
  const w = Math.max(...rows.map(([n]) => n.length));
  console.log(`${"step".padEnd(w)}  median ms  min ms   (${runs} runs)`);
  for (const [name, t] of rows) {
    console.log(
      `${name.padEnd(w)}  ${t.median.toFixed(1).padStart(9)}  ${t.min.toFixed(1).padStart(6)}`,
    );
  }
}
