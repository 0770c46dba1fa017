import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import {
  decodeImage,
  encodeGrayPng,
  grayPngDataUri,
  ImageError,
  imageFormat,
  readImage,
} from "../../lib/io/image.ts";

/** CRC-32 of PNG chunks. */
function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A PNG file made chunk by chunk (for what encoders refuse to write, e.g. 0x0). */
function rawPng(width: number, height: number, depth: number, colorType: number, rows: Uint8Array) {
  const chunk = (type: string, data: Uint8Array) => {
    const body = new Uint8Array([...new TextEncoder().encode(type), ...data]);
    const out = new Uint8Array(12 + data.length), v = new DataView(out.buffer);
    v.setUint32(0, data.length);
    out.set(body, 4);
    v.setUint32(8 + data.length, crc32(body));
    return out;
  };
  const ihdr = new Uint8Array(13), v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(rows))),
    chunk("IEND", new Uint8Array(0)),
  ];
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

const rgbToGray = (r: number, g: number, b: number) =>
  Math.round(0.299 * r + 0.587 * g + 0.114 * b);

Deno.test("PNG: grey, RGB (luma), RGBA and grey+alpha (over white), 16-bit, 1-bit, palette", () => {
  const grey = decodeImage(
    encodePng({ width: 2, height: 1, data: new Uint8Array([0, 200]), channels: 1 }),
    "g.png",
  );
  assert.deepEqual([grey.width, grey.height, [...grey.pixels]], [2, 1, [0, 200]]);
  const rgb = decodeImage(
    encodePng({ width: 1, height: 1, data: new Uint8Array([200, 100, 50]), channels: 3 }),
    "c.png",
  );
  assert.deepEqual([...rgb.pixels], [rgbToGray(200, 100, 50)]);
  // Transparent black is white; half-transparent black is mid grey.
  const rgba = decodeImage(
    encodePng({
      width: 2,
      height: 1,
      data: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 128]),
      channels: 4,
    }),
    "a.png",
  );
  assert.deepEqual([...rgba.pixels], [255, 127]);
  const ga = decodeImage(
    encodePng({ width: 1, height: 1, data: new Uint8Array([0, 0]), channels: 2 }),
    "ga.png",
  );
  assert.deepEqual([...ga.pixels], [255]);
  const deep = decodeImage(
    encodePng({
      width: 2,
      height: 1,
      data: new Uint16Array([65535, 257 * 10]),
      channels: 1,
      depth: 16,
    }),
    "d.png",
  );
  assert.deepEqual([...deep.pixels], [255, 10]);
  // 1-bit grey, 10 pixels wide: 0b10100000 0b01000000 per row (each row on a byte).
  const bits = rawPng(10, 1, 1, 0, new Uint8Array([0, 0b10100000, 0b01000000]));
  assert.deepEqual([...decodeImage(bits, "b.png").pixels], [255, 0, 255, 0, 0, 0, 0, 0, 0, 255]);
  // Palette: index 0 red, 1 blue.
  const pal = encodePng({
    width: 2,
    height: 1,
    data: new Uint8Array([0, 1]),
    channels: 1,
    depth: 8,
    palette: [[255, 0, 0], [0, 0, 255]],
  });
  assert.deepEqual([...decodeImage(pal, "p.png").pixels], [
    rgbToGray(255, 0, 0),
    rgbToGray(0, 0, 255),
  ]);
});

Deno.test("JPEG decodes to grey; formats are told by their first bytes", () => {
  const w = 16, h = 8, rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([200, 200, 200, 255], i * 4);
  const file = jpeg.encode({ width: w, height: h, data: rgba }, 95).data;
  const img = decodeImage(file, "x.jpg");
  assert.deepEqual([img.width, img.height], [w, h]);
  assert.ok(img.pixels.every((p) => Math.abs(p - 200) <= 2), String(img.pixels.slice(0, 8)));
  assert.equal(imageFormat(file), "jpeg");
  assert.equal(imageFormat(encodeGrayPng(new Uint8Array(1), 1, 1)), "png");
  assert.equal(imageFormat(new TextEncoder().encode("GIF89a....")), "gif");
  assert.equal(imageFormat(new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 ")), "webp");
  assert.equal(imageFormat(new TextEncoder().encode("hello")), null);
});

Deno.test("bad pictures: one line naming the file for each way a file can be wrong", async () => {
  const png = encodeGrayPng(new Uint8Array(64 * 64).map((_, i) => i % 251), 64, 64);
  const w = 8, h = 8, rgba = new Uint8Array(w * h * 4).fill(90);
  const jpg = jpeg.encode({ width: w, height: h, data: rgba }, 90).data;
  const cases: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode("just text"), /^notes is not a PNG or JPEG image \(unknown format\)/],
    [new Uint8Array(0), /^notes is not a PNG or JPEG image \(empty file\)/],
    [png.subarray(0, png.length / 2), /^notes is a truncated or corrupt PNG \(.*\): re-save it$/],
    [png.subarray(0, 20), /^notes is a truncated or corrupt PNG/],
    [jpg.subarray(0, jpg.length - 20), /^notes is a truncated or corrupt JPEG/],
    [rawPng(0, 0, 8, 0, new Uint8Array(0)), /^notes is a 0x0 image: it has no pixels/],
    [
      new TextEncoder().encode("GIF89a\x01\x00\x01\x00"),
      /^notes is a GIF image: only PNG and JPEG/,
    ],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => decodeImage(bytes, "notes"), (e: Error) => {
      assert.ok(e instanceof ImageError, String(e));
      assert.match(e.message, re);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  }
  const dir = await Deno.makeTempDir();
  await assert.rejects(readImage(dir), new RegExp(`^ImageError: ${dir} is a directory`));
  await assert.rejects(readImage(`${dir}/none.png`), /none\.png: no such file/);
  await Deno.writeFile(`${dir}/ok.png`, png);
  assert.equal((await readImage(`${dir}/ok.png`)).width, 64);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a PNG without width is refused as having no pixels", () => {
  const zero = rawPng(0, 5, 8, 0, new Uint8Array(5));
  assert.throws(() => decodeImage(zero, "zero.png"), /^ImageError: zero\.png is a 0x5 image/);
});

Deno.test("grayPngDataUri round-trips the pixels", () => {
  const px = new Uint8Array([0, 64, 128, 255]);
  const uri = grayPngDataUri(px, 2, 2);
  const bytes = Uint8Array.from(atob(uri.split(",")[1]), (c) => c.charCodeAt(0));
  assert.deepEqual([...decodeImage(bytes, "u.png").pixels], [...px]);
});

/**
 * A flat grey baseline JPEG of any size, made by hand as a camera's: three components at full
 * resolution, Huffman tables of one code each ("0": DC difference 0, then end of block), so its
 * scan is 3 * 2 bits of zeros per 8x8 block.
 */
function greyJpeg(width: number, height: number): Uint8Array {
  const seg = (marker: number, body: number[]) => [
    0xff,
    marker,
    (body.length + 2) >> 8,
    (body.length + 2) & 255,
    ...body,
  ];
  const oneCode = (cls: number) => [cls, 1, ...new Array(15).fill(0), 0];
  const frame = [8, height >> 8, height & 255, width >> 8, width & 255, 3];
  const head = [
    0xff,
    0xd8,
    ...seg(0xdb, [0, ...new Array(64).fill(1)]),
    ...seg(0xc0, [...frame, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]),
    ...seg(0xc4, [...oneCode(0x00), ...oneCode(0x10)]),
    ...seg(0xda, [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]),
  ];
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const out = new Uint8Array(head.length + Math.ceil((blocks * 6) / 8) + 2);
  out.set(head);
  out.set([0xff, 0xd9], out.length - 2);
  return out;
}

Deno.test("pixel limit: 50 MP, from the header before decoding; a 48 MP phone JPEG decodes", () => {
  // A 1.6 GP PNG whose IDAT is a few bytes: refused from IHDR (decoding it would take minutes).
  const huge = rawPng(40000, 40000, 8, 0, new Uint8Array(100));
  const t0 = performance.now();
  assert.throws(
    () => decodeImage(huge, "huge.png"),
    /^ImageError: huge\.png is 40000x40000 \(1600 MP\): pictures up to 50 MP are read; scale it down$/,
  );
  assert.ok(performance.now() - t0 < 1000, "refused before decoding");
  assert.deepEqual([...decodeImage(greyJpeg(8, 8), "grey.jpg").pixels.subarray(0, 2)], [128, 128]);
  assert.throws(
    () => decodeImage(greyJpeg(9000, 6000), "big.jpg"),
    /^ImageError: big\.jpg is 9000x6000 \(54 MP\): pictures up to 50 MP/,
  );
  // 8000x6000 as a phone's: jpeg-js' default memory cap called it "truncated or corrupt".
  const phone = decodeImage(greyJpeg(8000, 6000), "phone.jpg");
  assert.deepEqual([phone.width, phone.height], [8000, 6000]);
});

/** A JPEG with an APP1 EXIF segment (big-endian TIFF) whose first IFD holds `orientation`. */
function withOrientation(file: Uint8Array, orientation: number): Uint8Array {
  const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1];
  const exif = [...new TextEncoder().encode("Exif\0\0"), ...tiff, 0, orientation, 0, 0, 0, 0, 0, 0];
  const len = exif.length + 2;
  return new Uint8Array([
    0xff,
    0xd8,
    0xff,
    0xe1,
    len >> 8,
    len & 255,
    ...exif,
    ...file.subarray(2),
  ]);
}

Deno.test("EXIF orientation: a sideways phone JPEG is turned upright", () => {
  // Stored 16 wide, 8 high: dark left half, light right half.
  const w = 16, h = 8, rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.fill(i % w < 8 ? 0 : 255, i * 4, i * 4 + 4);
  const file = jpeg.encode({ width: w, height: h, data: rgba }, 95).data;
  const at = (img: { width: number; pixels: Uint8Array }, x: number, y: number) =>
    img.pixels[y * img.width + x];
  const plain = decodeImage(withOrientation(file, 1), "1.jpg");
  assert.deepEqual([plain.width, plain.height, at(plain, 0, 0) < 60], [16, 8, true]);
  // 6: turned right to be upright, so the stored left half is on top; 8: the other way.
  const right = decodeImage(withOrientation(file, 6), "6.jpg");
  assert.deepEqual([right.width, right.height], [8, 16]);
  assert.ok(
    at(right, 4, 2) < 60 && at(right, 4, 13) > 200,
    `${at(right, 4, 2)} ${at(right, 4, 13)}`,
  );
  const left = decodeImage(withOrientation(file, 8), "8.jpg");
  assert.ok(at(left, 4, 2) > 200 && at(left, 4, 13) < 60);
  const flipped = decodeImage(withOrientation(file, 3), "3.jpg");
  assert.deepEqual([flipped.width, at(flipped, 1, 1) > 200, at(flipped, 14, 1) < 60], [
    16,
    true,
    true,
  ]);
});
