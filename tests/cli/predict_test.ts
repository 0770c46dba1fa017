import assert from "node:assert/strict";
import { decode, encode } from "fast-png";
import jpeg from "jpeg-js";
import { runCli, TINY_NET } from "../run_cli.ts";
import { loadFashionMnist } from "../../lib/data/fashion_mnist.ts";

// d2l weights of the tiny network (trained by tools/torch_train_small.py) on the CPU backend.
const WEIGHTS = new URL("../fixtures/torch_w8_s1111.safetensors", import.meta.url).pathname;
const NET = ["--weights", WEIGHTS, ...TINY_NET, "--size", "28", "--backend", "cpu"];

const { test } = await loadFashionMnist({ quiet: true });

/** Test image `i` as a photo: 10x larger, dark on a light background, in colour. */
function photoOf(i: number): { width: number; height: number; rgb: Uint8Array } {
  const side = 280, rgb = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = 255 - test.images[i * 784 + Math.floor(y / 10) * 28 + Math.floor(x / 10)];
      rgb.set([v, v, v], (y * side + x) * 3);
    }
  }
  return { width: side, height: side, rgb };
}

async function pictures(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const p = photoOf(1);
  await Deno.writeFile(
    `${dir}/photo.png`,
    encode({ width: p.width, height: p.height, data: p.rgb, channels: 3 }),
  );
  const rgba = new Uint8Array(p.width * p.height * 4);
  for (let k = 0; k < p.width * p.height; k++) {
    rgba.set([...p.rgb.subarray(k * 3, k * 3 + 3), 255], k * 4);
  }
  await Deno.writeFile(
    `${dir}/photo.jpg`,
    jpeg.encode({ width: p.width, height: p.height, data: rgba }, 95).data,
  );
  const png = await Deno.readFile(`${dir}/photo.png`);
  await Deno.writeFile(`${dir}/cut.png`, png.subarray(0, png.length >> 1));
  await Deno.writeTextFile(`${dir}/notes.txt`, "not a picture");
  await Deno.mkdir(`${dir}/folder`);
  return dir;
}

Deno.test("predict: a photo (PNG, JPEG) is inverted and gets its test image's top class", async () => {
  const dir = await pictures();
  const r = await runCli([
    "predict",
    ...NET,
    "--json",
    `${dir}/photo.png`,
    `${dir}/photo.jpg`,
    "--test",
    "1",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [png, jpg, t] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual([png.image, png.width, png.height, png.inverted], [
    `${dir}/photo.png`,
    280,
    280,
    true,
  ]);
  assert.equal(png.top.length, 3);
  assert.ok(png.top[0].probability >= png.top[1].probability);
  // 280x280 area-averaged back to 28x28 and inverted is the test image itself: same prediction.
  assert.deepEqual(png.top, t.top);
  assert.equal(jpg.top[0].class, t.top[0].class);
  assert.ok(Math.abs(jpg.top[0].probability - t.top[0].probability) < 0.05);
  assert.deepEqual([t.test, t.label, t.label_name], [1, test.labels[1], "Pullover"]);
  assert.equal(t.correct, t.top[0].class === t.label);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("predict: each bad file is one line naming it, exit 2; the good ones are still predicted", async () => {
  const dir = await pictures();
  const bad = ["notes.txt", "cut.png", "folder", "missing.png"].map((f) => `${dir}/${f}`);
  const r = await runCli(["predict", ...NET, bad[0], `${dir}/photo.png`, ...bad.slice(1)]);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    new RegExp(
      `^${dir}/photo\\.png: \\S.* \\d\\.\\d{3}, .* \\d\\.\\d{3}, .* \\d\\.\\d{3} \\(inverted\\)$`,
    ),
  );
  // Besides the errors: the backend and the network with its input size (what was used).
  const errors = r.stderr.trim().split("\n").filter((l) => !/^(backend|network): /.test(l));
  assert.match(r.stderr, /^network: weights .*: stages 1,1,1,1, width 8, input 28x28 \(--size\)$/m);
  assert.deepEqual(errors.map((l) => l.split(" ")[1].replace(/:$/, "")), bad);
  assert.match(errors[0], /is not a PNG or JPEG image/);
  assert.match(errors[1], /is a truncated or corrupt PNG/);
  assert.match(errors[2], /is a directory/);
  assert.match(errors[3], /no such file/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  // Only bad files: the same lines, exit 2, and no backend is started.
  const only = await runCli(["predict", ...NET, bad[0]]);
  assert.equal(only.code, 2);
  assert.deepEqual(only.stderr.trim().split("\n"), [errors[0]]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("predict --grid: d2l's show_images as PNG and SVG, --wrong picks misclassified ones", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runCli(["predict", ...NET, "--grid", `${dir}/grid.png`]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 18, "the first 18 test images");
  assert.match(lines[0], /^test 0 \(Ankle boot\): /);
  const png = decode(await Deno.readFile(`${dir}/grid.png`));
  assert.deepEqual([png.width, png.height], [9 * 98, 2 * 127 + 8], "2 rows of 9");
  const w = await runCli([
    "predict",
    ...NET,
    "--wrong",
    "--count",
    "4",
    "--grid",
    `${dir}/wrong.svg`,
    "--json",
  ]);
  assert.equal(w.code, 0, w.stderr);
  const wrong = w.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(wrong.length, 4);
  assert.ok(wrong.every((x) => !x.correct && x.top[0].class !== x.label));
  assert.ok(wrong.every((x, k) => k === 0 || x.test > wrong[k - 1].test));
  const svg = await Deno.readTextFile(`${dir}/wrong.svg`);
  assert.equal(svg.match(/class="cell wrong"/g)?.length, 4);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("predict: usage errors are one line and exit 2, before any work", async () => {
  const cases: [string[], RegExp][] = [
    [["predict", ...NET], /needs IMAGE files, --test I,J,K, or --grid FILE/],
    [
      ["predict", ...NET, "--grid", "x.gif"],
      /--grid x\.gif: give a file name ending in \.svg or \.png/,
    ],
    [["predict", ...NET, "--test", "1,x"], /--test.*give test-set indices/],
    [["predict", ...NET, "--test", "10000"], /--test 10000: the test set has 10000 images/],
    [["predict", ...NET, "--wrong", "--test", "1"], /--wrong picks test images itself/],
    [["predict", ...NET, "--invert", "maybe", "a.png"], /--invert.*maybe.*auto, yes, no/],
    [["predict", "a.png"], /predict needs exactly one of --run DIR/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n").filter((l) => !/^(backend|network): /.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
  }
});
