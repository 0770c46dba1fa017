import assert from "node:assert/strict";
import { readGolden } from "../golden.ts";
import { runCli } from "../run_cli.ts";

Deno.test("shapes --json prints one document matching d2l's table at 96", async () => {
  const r = await runCli(["shapes", "--json", "--size", "96", "--backend", "cpu"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const golden = readGolden<{ shapes: Record<string, { shape: number[] }[]> }>(
    "resnet_shapes.json",
  ).shapes["1x1x96x96"];
  assert.equal(doc.depth, 18);
  assert.deepEqual(doc.stages, [2, 2, 2, 2]);
  assert.deepEqual(doc.input, [1, 1, 96, 96]);
  assert.deepEqual(
    doc.layers.map((l: { name: string }) => l.name),
    ["b1.0", "b1.1", "b1.2", "b1.3", "b2", "b3", "b4", "b5", "pool", "flatten", "dense"],
  );
  assert.deepEqual(doc.layers.map((l: { shape: number[] }) => l.shape), golden.map((g) => g.shape));
  assert.equal(doc.params, 11_178_378);
});

Deno.test("shapes with custom stages and width prints a text table with a total", async () => {
  const r = await runCli(["shapes", "--stages", "1,1,1,1", "--width", "8", "--size", "28"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ResNet stages \[1, 1, 1, 1\], input \[1, 1, 28, 28\]/);
  assert.match(r.stdout, /\nb5\s+\[1, 64, 1, 1\]/);
  assert.match(r.stdout, /\ntotal\s+[\d,]+\n?$/);
});

for (
  const [args, pattern] of [
    [["shapes", "--depth", "42"], /allowed are 18, 34, 50, 101, 152/],
    [["shapes", "--depth", "0x12"], /allowed are 18, 34/],
    [["shapes", "--depth", "1.8e1"], /allowed are 18, 34/],
    [["shapes", "--width", "0x10"], /positive integer/],
    [["shapes", "--stages", "2,2,2"], /four positive integers/],
    [["shapes", "--stages", "2,0,2,2"], /four positive integers/],
    [["shapes", "--width", "abc"], /positive integer/],
    [["shapes", "--size", "0"], /positive integer/],
    [["shapes", "--frobnicate"], /unknown option '--frobnicate'/],
    [["nosuchcommand"], /unknown command/],
  ] as [string[], RegExp][]
) {
  Deno.test(`bad input: ${args.join(" ")} -> one line, exit 2`, async () => {
    const r = await runCli(args);
    assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
    assert.match(lines[0], pattern);
    assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/, "no stack trace");
  });
}

Deno.test("--help works on the program and on shapes", async () => {
  for (const args of [["--help"], ["shapes", "--help"]]) {
    const r = await runCli(args);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage:/);
  }
});

Deno.test("shapes --arch torchvision --in-channels 3 --classes 1000 prints torchvision's totals", async () => {
  for (
    const [flags, total] of [
      [["--depth", "50"], "25,557,032"],
      [["--depth", "50", "--groups", "32", "--width-per-group", "4"], "25,028,904"],
    ] as [string[], string][]
  ) {
    const args = ["--arch", "torchvision", "--in-channels", "3", "--classes", "1000"];
    const r = await runCli(["shapes", ...args, ...flags, "--size", "224", "--backend", "cpu"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ResNet-50, torchvision form, bottleneck/);
    assert.match(r.stdout, new RegExp(`\\ntotal\\s+${total}\\n?$`));
  }
});
