/**
 * Augmentation on a known image: each op's output against the same op done by hand on the host
 * from the drawn parameters, the draws' ranges, determinism under a seed, independence of the ops'
 * streams, batches() resuming mid-epoch with the same images, and no leaked tensors.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  augmentBatch,
  augmentDraws,
  type AugmentOptions,
  augmentProblem,
  cropPadding,
  type EraseBox,
} from "../../lib/data/augment.ts";
import { batches } from "../../lib/data/batches.ts";
import { syntheticSplit } from "../synthetic_split.ts";
import { registerNativeBackend } from "../../lib/backends/native/backend.ts";

tf.enableProdMode();
const native = await registerNativeBackend();
const BACKENDS = ["cpu", ...(native.ok ? ["native"] : [])];

// n images of S x S whose pixel (k, r, c) is 1 + k * S * S + r * S + c: every value tells where
// it came from.
const N = 16, S = 8;
const pixel = (k: number, r: number, c: number) => 1 + k * S * S + r * S + c;
const IMAGES = Float32Array.from({ length: N * S * S }, (_, i) => i + 1);

/** Runs augmentBatch on the known images on `backend`: the output as [k][r][c]. */
async function augmented(backend: string, o: AugmentOptions): Promise<number[][][]> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(IMAGES, [N, S, S, 1]);
  const before = tf.memory().numTensors;
  const y = augmentBatch(x, o);
  assert.equal(tf.memory().numTensors, before + 1, "augmentBatch left tensors behind");
  const out = (await y.array() as number[][][][]).map((im) => im.map((r) => r.map((c) => c[0])));
  tf.dispose([x, y]);
  return out;
}

/** The same ops by hand: crop from the zero-padded image, flip, then erase. */
function byHand(o: AugmentOptions): number[][][] {
  const d = augmentDraws(N, S, o), p = d.crop ? cropPadding(S) : 0;
  return Array.from(
    { length: N },
    (_, k) =>
      Array.from({ length: S }, (_, r) =>
        Array.from({ length: S }, (_, c) => {
          const cc = d.flip?.[k] ? S - 1 - c : c;
          const [dy, dx] = d.crop?.[k] ?? [0, 0];
          const sr = r + dy - p, sc = cc + dx - p;
          const box: EraseBox = d.erase?.[k] ?? { y: 0, x: 0, h: 0, w: 0 };
          const erased = r >= box.y && r < box.y + box.h && c >= box.x && c < box.x + box.w;
          const inside = sr >= 0 && sr < S && sc >= 0 && sc < S;
          return erased || !inside ? 0 : pixel(k, sr, sc);
        })),
  );
}

const at = (ops: AugmentOptions["ops"], seed = 1, batch = 0): AugmentOptions => ({
  ops,
  seed,
  epoch: 2,
  batch,
});

for (const backend of BACKENDS) {
  Deno.test(`${backend}: crop, flip and erase each give the image done by hand`, async () => {
    for (
      const ops of [["crop"], ["flip"], ["erase"], ["crop", "flip"], [
        "crop",
        "flip",
        "erase",
      ]] as const
    ) {
      assert.deepEqual(await augmented(backend, at(ops)), byHand(at(ops)), ops.join(","));
    }
  });
}

Deno.test("crop: a window of the image padded by 4 at 28 (scaled), at every offset in range", () => {
  assert.deepEqual([28, 96, 8, 2].map(cropPadding), [4, 14, 1, 1]);
  const seen = new Set<number>();
  for (let batch = 0; batch < 20; batch++) {
    for (const [dy, dx] of augmentDraws(64, 28, at(["crop"], 3, batch)).crop!) {
      assert.ok(dy >= 0 && dy <= 8 && dx >= 0 && dx <= 8, `${dy},${dx}`);
      seen.add(dy * 9 + dx);
    }
  }
  assert.equal(seen.size, 81, "every offset occurs");
});

Deno.test("flip: about half the images, mirrored exactly", async () => {
  const d = augmentDraws(N, S, at(["flip"]));
  const flipped = d.flip!.filter(Boolean).length;
  assert.ok(flipped > 0 && flipped < N, `${flipped} of ${N}`);
  const out = await augmented("cpu", at(["flip"]));
  for (let k = 0; k < N; k++) {
    const want = Array.from(
      { length: S },
      (_, r) => Array.from({ length: S }, (_, c) => pixel(k, r, d.flip![k] ? S - 1 - c : c)),
    );
    assert.deepEqual(out[k], want, `image ${k}`);
  }
});

Deno.test("erase: half the images, 2-33% of the area, aspect 0.3-3.3, inside the image", () => {
  const boxes = augmentDraws(2000, 28, at(["erase"], 9)).erase!;
  const erased = boxes.filter((b) => b.h > 0);
  assert.ok(Math.abs(erased.length / boxes.length - 0.5) < 0.05, `${erased.length} erased`);
  for (const b of erased) {
    // Rounding the sides moves area and aspect a little off the drawn values.
    assert.ok(b.h * b.w >= 0.02 * 784 * 0.6 && b.h * b.w <= 0.33 * 784 * 1.25, JSON.stringify(b));
    assert.ok(b.h / b.w > 0.3 / 2 && b.h / b.w < 3.3 * 2, JSON.stringify(b));
    assert.ok(b.y >= 0 && b.x >= 0 && b.y + b.h <= 28 && b.x + b.w <= 28, JSON.stringify(b));
  }
});

Deno.test("the same seed, epoch and batch give the same images; others differ", async () => {
  const all = ["crop", "flip", "erase"] as const;
  assert.deepEqual(await augmented("cpu", at(all)), await augmented("cpu", at(all)));
  assert.notDeepEqual(await augmented("cpu", at(all, 1)), await augmented("cpu", at(all, 2)));
  assert.notDeepEqual(await augmented("cpu", at(all, 1, 0)), await augmented("cpu", at(all, 1, 1)));
  // Each op has its own stream: turning flip on leaves the crops as they were.
  assert.deepEqual(
    augmentDraws(N, S, at(["crop", "flip"])).crop,
    augmentDraws(N, S, at(["crop"])).crop,
  );
  // No op: the batch itself.
  const x = tf.zeros([2, 4, 4, 1]) as tf.Tensor4D;
  assert.equal(augmentBatch(x, at([])), x);
  x.dispose();
});

Deno.test("batches: augmented per batch; resuming mid-epoch gives the same images", async () => {
  await tf.setBackend("cpu");
  const split = syntheticSplit(40, 16, 4);
  const opts = {
    batchSize: 8,
    shuffle: true,
    seed: 5,
    epoch: 1,
    augment: ["crop", "erase"] as const,
  };
  const before = tf.memory().numTensors;
  const read = async (o: Parameters<typeof batches>[1]) => {
    const out: number[][] = [];
    for (const b of batches(split, o)) {
      out.push([...await b.x.data()]);
      tf.dispose([b.x, b.y]);
    }
    return out;
  };
  const full = await read({ ...opts, augment: [...opts.augment] });
  const resumed = await read({ ...opts, augment: [...opts.augment], startBatch: 3 });
  assert.deepEqual(resumed, full.slice(3));
  const plain = await read({ ...opts, augment: undefined });
  plain.forEach((p, i) => assert.notDeepEqual(p, full[i], `batch ${i} was not augmented`));
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("altflip: a random half mirrored in epoch 0, then each image flips every epoch", async () => {
  const indices = Int32Array.from({ length: 64 }, (_, i) => 1000 + 7 * i);
  const o = (epoch: number): AugmentOptions => ({
    ops: ["altflip"],
    seed: 3,
    epoch,
    batch: epoch, // altflip ignores the batch: a shuffled image keeps its schedule
    indices,
  });
  const flips = [0, 1, 2, 3].map((e) => augmentDraws(64, S, o(e)).flip!);
  const first = flips[0].filter(Boolean).length;
  assert.ok(first > 16 && first < 48, `${first} of 64 mirrored in epoch 0`);
  for (let e = 1; e < 4; e++) {
    assert.deepEqual(flips[e], flips[e - 1].map((f) => !f), `epoch ${e} mirrors the others`);
  }
  // The same image at another place in the batch keeps its schedule.
  const moved = augmentDraws(1, S, { ...o(1), indices: [indices[5]] }).flip!;
  assert.deepEqual(moved, [flips[1][5]]);
  // Mirrored exactly, as flip is (the first N images of the known batch).
  const small = { ...o(1), indices: indices.subarray(0, N) };
  const want = augmentDraws(N, S, small).flip!;
  const out = await augmented("cpu", small);
  for (let k = 0; k < N; k++) {
    const row = Array.from({ length: S }, (_, c) => pixel(k, 0, want[k] ? S - 1 - c : c));
    assert.deepEqual(out[k][0], row, `image ${k}`);
  }
  assert.throws(() => augmentDraws(2, S, { ...o(0), indices: undefined }), /dataset indices/);
  assert.equal(augmentProblem(["crop", "altflip"]), null);
  assert.match(augmentProblem(["flip", "altflip"]) ?? "", /both mirror/);
  assert.match(augmentProblem(["tilt"]) ?? "", /^tilt: give a list of/);
});
