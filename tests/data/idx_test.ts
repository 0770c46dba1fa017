import assert from "node:assert/strict";
import {
  checkPair,
  decodeIdxImages,
  decodeIdxLabels,
  encodeIdxImages,
  encodeIdxLabels,
  IdxError,
} from "../../lib/data/idx.ts";
import { UserError } from "../../lib/errors.ts";

const H = 28;
const W = 28;

function images(count: number): Uint8Array {
  const px = new Uint8Array(count * H * W);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7) & 255;
  return encodeIdxImages(px, H, W);
}

function thrown(fn: () => unknown): IdxError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof IdxError, `an IdxError, got ${e}`);
    return e;
  }
  assert.fail("expected an IdxError");
}

/** Asserts the decoder rejects `bytes` with one line that names the file and matches `what`. */
function rejects(fn: () => unknown, name: string, what: RegExp) {
  const e = thrown(fn);
  assert.ok(e instanceof UserError, "IdxError is a UserError (exit code 1)");
  assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
  assert.ok(e.message.startsWith(`${name}:`), `names the file: ${e.message}`);
  assert.ok(what.test(e.message), `says what is wrong (${what}): ${e.message}`);
}

Deno.test("idx: decodes images and labels (big-endian header, views without copies)", () => {
  const bytes = images(3);
  assert.deepEqual(Array.from(bytes.subarray(0, 16)), [
    0,
    0,
    8,
    3,
    0,
    0,
    0,
    3,
    0,
    0,
    0,
    28,
    0,
    0,
    0,
    28,
  ]);
  const img = decodeIdxImages(bytes, "a-images");
  assert.deepEqual([img.count, img.height, img.width], [3, 28, 28]);
  assert.deepEqual(img.images.length, 3 * 28 * 28);
  assert.deepEqual(img.images[5], 35);
  assert.ok(img.images.buffer === bytes.buffer, "no copy");
  const lab = decodeIdxLabels(encodeIdxLabels(new Uint8Array([9, 0, 4])), "a-labels");
  assert.deepEqual(lab.count, 3);
  assert.deepEqual(Array.from(lab.labels), [9, 0, 4]);
  checkPair(img, lab, "a-images", "a-labels");
});

Deno.test("idx: an empty set (count 0) is valid", () => {
  assert.deepEqual(decodeIdxImages(images(0), "e").count, 0);
  assert.deepEqual(decodeIdxLabels(encodeIdxLabels(new Uint8Array(0)), "e").count, 0);
});

Deno.test("idx: rejects a file shorter than its header", () => {
  rejects(() => decodeIdxImages(images(1).subarray(0, 10), "x-images"), "x-images", /shorter/);
  rejects(
    () => decodeIdxLabels(encodeIdxLabels(new Uint8Array(2)).subarray(0, 7), "x-labels"),
    "x-labels",
    /shorter/,
  );
  rejects(() => decodeIdxImages(new Uint8Array(0), "x-images"), "x-images", /0 bytes/);
});

Deno.test("idx: rejects a wrong magic number (labels as images, images as labels, garbage)", () => {
  const labels = encodeIdxLabels(new Uint8Array([1, 2]));
  rejects(() => decodeIdxImages(labels, "l"), "l", /magic number 2049 .* expected 2051/);
  rejects(() => decodeIdxLabels(images(1), "i"), "i", /magic number 2051 .* expected 2049/);
  const gz = new Uint8Array(64);
  gz.set([0x1f, 0x8b, 8, 0]);
  rejects(() => decodeIdxImages(gz, "g"), "g", /magic number 529205248 \(0x1f8b0800\)/);
  // A little-endian header is not IDX.
  const le = images(1);
  le.set([3, 8, 0, 0], 0);
  rejects(() => decodeIdxImages(le, "le"), "le", /magic number/);
});

Deno.test("idx: rejects images that are not 28x28 unless asked for", () => {
  const px = new Uint8Array(2 * 32 * 32);
  const bytes = encodeIdxImages(px, 32, 32);
  rejects(() => decodeIdxImages(bytes, "big"), "big", /32x32, expected 28x28/);
  assert.deepEqual(decodeIdxImages(bytes, "big", { height: 32, width: 32 }).count, 2);
  const tall = encodeIdxImages(new Uint8Array(28 * 29), 29, 28);
  rejects(() => decodeIdxImages(tall, "tall"), "tall", /29x28/);
});

Deno.test("idx: rejects a count that the file length does not match", () => {
  const full = images(3);
  rejects(
    () => decodeIdxImages(full.subarray(0, full.length - 1), "t"),
    "t",
    /header says 3 images \(2352 bytes\) but 2351 bytes .*\(truncated file\)/,
  );
  rejects(
    () => decodeIdxImages(full.subarray(0, 16 + 2 * 784), "t2"),
    "t2",
    /header says 3 images \(2352 bytes\) but 1568 bytes/,
  );
  const padded = new Uint8Array(full.length + 784);
  padded.set(full);
  rejects(
    () => decodeIdxImages(padded, "p"),
    "p",
    /but 3136 bytes follow the header \(padded file\)/,
  );
  const lab = encodeIdxLabels(new Uint8Array([1, 2, 3]));
  rejects(
    () => decodeIdxLabels(lab.subarray(0, 10), "lt"),
    "lt",
    /header says 3 labels \(3 bytes\) but 2 bytes/,
  );
  const big = images(1);
  new DataView(big.buffer).setUint32(4, 0xffffffff); // a huge count must not allocate or pass
  rejects(() => decodeIdxImages(big, "huge"), "huge", /header says 4294967295 images/);
});

Deno.test("idx: rejects labels outside 0-9 (or the given class count)", () => {
  const lab = encodeIdxLabels(new Uint8Array([0, 9, 10, 3]));
  rejects(() => decodeIdxLabels(lab, "l"), "l", /label 10 at index 2 is outside 0-9/);
  assert.deepEqual(decodeIdxLabels(lab, "l", 11).count, 4);
  const ok = encodeIdxLabels(new Uint8Array([0, 1, 2]));
  rejects(() => decodeIdxLabels(ok, "l3", 2), "l3", /label 2 at index 2 is outside 0-1/);
});

Deno.test("idx: rejects image and label files of different lengths", () => {
  const img = decodeIdxImages(images(3), "imgs");
  const lab = decodeIdxLabels(encodeIdxLabels(new Uint8Array([1, 2])), "labs");
  const e = thrown(() => checkPair(img, lab, "imgs", "labs"));
  assert.deepEqual(e.message.includes("\n"), false);
  assert.ok(/imgs has 3 images but labs has 2 labels/.test(e.message), e.message);
});
