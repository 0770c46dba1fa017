/**
 * The safetensors format: round trips of every supported dtype, the file PyTorch wrote, atomic
 * writes, and one clear line for each kind of damaged file.
 */
import assert from "node:assert/strict";
import { describeError } from "../../cli/errors.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  SafetensorsError,
  toFloat32,
  toIntegers,
  writeSafetensors,
} from "../../lib/io/safetensors.ts";

const GOLDEN_ST = new URL("../golden/small_w8_s1111.safetensors", import.meta.url)
  .pathname;

/** A file from a raw header object and data bytes, to build damaged files by hand. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Asserts that decoding throws a one-line SafetensorsError (exit code 2) matching `re`. */
function rejects(bytes: Uint8Array, re: RegExp): void {
  assert.throws(() => decodeSafetensors(bytes, "bad.safetensors"), (e: Error) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${e}`);
    assert.equal(describeError(e)?.code, 2);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    assert.ok(e.message.startsWith("bad.safetensors: "), e.message);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("round trip of F32, F64, I64, I32 and U8 tensors with metadata, header 8-aligned", () => {
  const bytes = encodeSafetensors([
    { name: "w", dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-30, 7]) },
    { name: "d", dtype: "F64", shape: [2], data: new Float64Array([Math.PI, -1]) },
    { name: "n", dtype: "I64", shape: [], data: new BigInt64Array([2n ** 40n + 3n]) },
    { name: "i", dtype: "I32", shape: [3], data: new Int32Array([-1, 0, 2 ** 31 - 1]) },
    { name: "e", dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    { name: "u", dtype: "U8", shape: [2], data: new Uint8Array([0, 255]) },
  ], { format: "pt", note: "ü" });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0);
  const f = decodeSafetensors(bytes);
  assert.deepEqual([...f.tensors.keys()], ["w", "d", "n", "i", "e", "u"]);
  assert.deepEqual(f.metadata, { format: "pt", note: "ü" });
  assert.deepEqual(f.tensors.get("w")!.shape, [2, 3]);
  assert.deepEqual(
    toFloat32(f.tensors.get("w")!, "w"),
    new Float32Array([1, -2, 3.5, 0, 1e-30, 7]),
  );
  assert.deepEqual(toFloat32(f.tensors.get("d")!, "d"), new Float32Array([Math.PI, -1]));
  assert.deepEqual(toIntegers(f.tensors.get("n")!, "n"), [2 ** 40 + 3]);
  assert.deepEqual(toIntegers(f.tensors.get("i")!, "i"), [-1, 0, 2 ** 31 - 1]);
  assert.deepEqual(toFloat32(f.tensors.get("e")!, "e"), new Float32Array(0));
  assert.deepEqual(toIntegers(f.tensors.get("u")!, "u"), [0, 255]);
  // Little-endian on disk: F32 1.0 is 00 00 80 3f.
  assert.deepEqual([...f.tensors.get("w")!.bytes.subarray(0, 4)], [0, 0, 0x80, 0x3f]);
  assert.throws(() => toIntegers(f.tensors.get("w")!, "w"), /"w" has dtype F32; expected an int/);
  assert.throws(() => toFloat32(f.tensors.get("n")!, "n"), /"n" has dtype I64; expected a float/);
});

Deno.test("F16 and BF16 decode to float32", () => {
  // F16: 1.0 = 0x3c00, -2.5 = 0xc100, 2^-24 (smallest subnormal) = 0x0001, inf = 0x7c00.
  const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc100, 0x0001, 0x7c00]).buffer);
  // BF16: the top 16 bits of float32 1.0 (0x3f80) and -3.0 (0xc040).
  const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040]).buffer);
  const f = decodeSafetensors(encodeSafetensors([
    { name: "h", dtype: "F16", shape: [4], data: f16 },
    { name: "b", dtype: "BF16", shape: [2], data: bf16 },
  ]));
  assert.deepEqual(
    toFloat32(f.tensors.get("h")!, "h"),
    new Float32Array([1, -2.5, 2 ** -24, Infinity]),
  );
  assert.deepEqual(toFloat32(f.tensors.get("b")!, "b"), new Float32Array([1, -3]));
});

Deno.test("reads the file PyTorch wrote: 71 tensors, metadata, I64 counts", async () => {
  const f = await readSafetensors(GOLDEN_ST);
  assert.equal(f.tensors.size, 71);
  assert.match(f.metadata!.arch, /width 8, stages 1,1,1,1/);
  const w = f.tensors.get("0.0.weight")!;
  assert.equal(w.dtype, "F32");
  assert.deepEqual(w.shape, [8, 1, 7, 7]);
  assert.deepEqual(toIntegers(f.tensors.get("2.0.bn1.num_batches_tracked")!, "n"), [7]);
  // Re-encoding PyTorch's tensors in the same order reproduces its data bytes exactly.
  const again = decodeSafetensors(encodeSafetensors(
    [...f.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, data: t.bytes })),
  ));
  for (const [name, t] of f.tensors) assert.deepEqual(again.tensors.get(name)!.bytes, t.bytes);
});

Deno.test("writeSafetensors replaces the file atomically and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/t.safetensors`;
    await Deno.writeTextFile(path, "previous");
    await writeSafetensors(path, [
      { name: "x", dtype: "F32", shape: [1], data: new Float32Array([4]) },
    ]);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["t.safetensors"]);
    const f = await readSafetensors(path);
    assert.deepEqual(toFloat32(f.tensors.get("x")!, "x"), new Float32Array([4]));
    await assert.rejects(
      () => writeSafetensors(`${dir}/no/such/dir/t.safetensors`, []),
      /cannot write .*no\/such\/dir/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing file is one line, exit code 2", async () => {
  await assert.rejects(() => readSafetensors("/nonexistent/x.safetensors"), (e: Error) => {
    assert.ok(e instanceof SafetensorsError);
    assert.equal(describeError(e)?.code, 2);
    assert.match(
      e.message,
      /^\/nonexistent\/x\.safetensors: cannot read weights file: no such file$/,
    );
    return true;
  });
});

const F32x2 = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
const DATA8 = new Uint8Array(8);

Deno.test("damaged files: truncated, header longer than file, bad JSON, not an object", () => {
  const good = encodeSafetensors([
    { name: "a", dtype: "F32", shape: [4], data: new Float32Array([1, 2, 3, 4]) },
  ]);
  decodeSafetensors(good, "bad.safetensors"); // the undamaged file is fine
  rejects(new Uint8Array(0), /truncated: 0 bytes, shorter than the 8-byte header length/);
  rejects(good.subarray(0, 5), /truncated: 5 bytes/);
  // Cut inside the header: the header length now points past the end.
  rejects(good.subarray(0, 20), /header length \d+ is longer than the 12 bytes after it/);
  // Cut inside the data: the last tensor's offsets run past the end.
  rejects(
    good.subarray(0, good.length - 3),
    /tensor "a": data_offsets \[0, 16\] are out of range: the data is 13 bytes/,
  );
  // A header length near 2^64 must not wrap around.
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
  rejects(huge, /header length 18446744073709551615 is longer than/);
  rejects(rawFile(null, DATA8, '{"a": {'), /header is not valid UTF-8 JSON/);
  rejects(rawFile(null, DATA8, "[1, 2]"), /header is not a JSON object/);
  const badUtf8 = rawFile(null, new Uint8Array(0), "{}  ");
  badUtf8[9] = 0xff;
  rejects(badUtf8, /header is not valid UTF-8 JSON/);
});

Deno.test("damaged headers: unknown dtype, shape vs bytes, bad shape, bad offsets, metadata", () => {
  rejects(
    rawFile({ a: { ...F32x2, dtype: "F31" } }, DATA8),
    /tensor "a": unknown dtype "F31" \(known: BOOL/,
  );
  rejects(
    rawFile({ a: { ...F32x2, shape: [3] } }, DATA8),
    /tensor "a": F32 shape \[3\] needs 12 bytes but data_offsets \[0, 8\] hold 8/,
  );
  rejects(
    rawFile({ a: { ...F32x2, shape: [2, -1] } }, DATA8),
    /tensor "a": shape \[2,-1\] is not a list of non-negative integers/,
  );
  rejects(rawFile({ a: { ...F32x2, shape: "2" } }, DATA8), /shape "2" is not a list/);
  rejects(
    rawFile({ a: { ...F32x2, data_offsets: [0] } }, DATA8),
    /data_offsets \[0\] is not \[begin, end\]/,
  );
  rejects(
    rawFile({ a: { ...F32x2, data_offsets: [8, 0] } }, DATA8),
    /data_offsets \[8, 0\] end before they begin/,
  );
  rejects(
    rawFile({ a: { ...F32x2, data_offsets: [0, 16] } }, DATA8),
    /tensor "a": data_offsets \[0, 16\] are out of range: the data is 8 bytes/,
  );
  rejects(rawFile({ a: 5 }, DATA8), /tensor "a": header entry is not an object/);
  rejects(
    rawFile({ __metadata__: { n: 1 }, a: F32x2 }, DATA8),
    /__metadata__ must be an object of strings/,
  );
});

Deno.test("damaged layouts: overlapping offsets, a gap, trailing bytes", () => {
  const data16 = new Uint8Array(16);
  rejects(
    rawFile(
      { a: { ...F32x2, data_offsets: [0, 8] }, b: { ...F32x2, data_offsets: [4, 12] } },
      data16,
    ),
    /tensor "b": data_offsets \[4, 12\] overlap those of "a" \(which end at 8\)/,
  );
  // Two names for the same bytes are an overlap too.
  rejects(rawFile({ a: F32x2, b: F32x2 }, DATA8), /overlap those of "a"/);
  rejects(
    rawFile(
      { a: { ...F32x2, data_offsets: [0, 8] }, b: { ...F32x2, data_offsets: [12, 20] } },
      new Uint8Array(20),
    ),
    /tensor "b": data_offsets begin at 12 but the previous tensor ends at 8: the data is not contiguous/,
  );
  rejects(
    rawFile({ a: { ...F32x2, data_offsets: [4, 12] } }, new Uint8Array(12)),
    /begin at 4 but the previous tensor ends at 0/,
  );
  rejects(
    rawFile({ a: F32x2 }, data16),
    /the tensors cover 8 bytes but 16 follow the header: trailing bytes/,
  );
  // Header order need not be data order: b's bytes come first here, which is valid.
  const f = decodeSafetensors(
    rawFile(
      { a: { ...F32x2, data_offsets: [8, 16] }, b: F32x2 },
      new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer),
    ),
  );
  assert.deepEqual(toFloat32(f.tensors.get("a")!, "a"), new Float32Array([3, 4]));
});

Deno.test("integers beyond 2^53 are refused rather than rounded", () => {
  const f = decodeSafetensors(encodeSafetensors([
    { name: "n", dtype: "I64", shape: [1], data: new BigInt64Array([2n ** 60n]) },
  ]));
  assert.throws(
    () => toIntegers(f.tensors.get("n")!, "n", "f"),
    /f: tensor "n" holds 1152921504606846976, beyond 2\^53/,
  );
});
