/**
 * Getting Fashion-MNIST: sources, verification, cache and failures, against a local HTTP server
 * that serves generated tiny IDX sets (with their own checksum table) and counts requests.
 * The real set is checked when Debian's dataset-fashion-mnist is installed.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  CLASS_NAMES,
  dataReport,
  defaultDataDir,
  FASHION_MNIST,
  type IdxDatasetSpec,
  loadFashionMnist,
  type LoadOptions,
} from "../../lib/data/fashion_mnist.ts";
import { encodeIdxImages, encodeIdxLabels, IdxError } from "../../lib/data/idx.ts";
import { UserError } from "../../lib/errors.ts";
import { describeError } from "../../cli/errors.ts";
import { removeStaleTemps } from "../../lib/data/download.ts";
import { readGolden } from "../golden.ts";
import { runCli } from "../run_cli.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A tiny generated set: 6 train and 4 test images 28x28, with a checksum table. */
function tinySet() {
  const make = (count: number, salt: number) => {
    const px = new Uint8Array(count * 784);
    for (let i = 0; i < px.length; i++) px[i] = (i * 31 + salt) & 255;
    const labels = Uint8Array.from({ length: count }, (_, i) => (i * 3 + salt) % 10);
    return { px, labels, img: encodeIdxImages(px, 28, 28), lab: encodeIdxLabels(labels) };
  };
  const train = make(6, 1);
  const test = make(4, 2);
  const raw: Record<string, Uint8Array> = {
    "tiny-train-images.gz": train.img,
    "tiny-train-labels.gz": train.lab,
    "tiny-test-images.gz": test.img,
    "tiny-test-labels.gz": test.lab,
  };
  const gz: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(raw)) gz[k] = new Uint8Array(gzipSync(v));
  const file = (name: string) => ({ name, sha256: sha(raw[name]) });
  const table: IdxDatasetSpec = {
    ...FASHION_MNIST,
    title: "tiny",
    trainImages: file("tiny-train-images.gz"),
    trainLabels: file("tiny-train-labels.gz"),
    testImages: file("tiny-test-images.gz"),
    testLabels: file("tiny-test-labels.gz"),
    mirrors: [],
    sourceDirs: [],
  };
  return { train, test, raw, gz, table };
}

const TINY = tinySet();

/** A response with a copy of `b` (a Response body needs an ArrayBuffer-backed view). */
const bytes = (b: Uint8Array) => new Response(new Uint8Array(b));

/**
 * A local server; the first path segment picks a behaviour: good, 404, wrong (gzip of other
 * bytes), trunc (half a gzip stream), hang (headers, then no body), slow (one chunk, then waits),
 * flaky (500 on the first request per file, then good). It counts requests per behaviour.
 */
function serve() {
  const counts: Record<string, number> = {};
  const release: (() => void)[] = [];
  const waitRelease = () => new Promise<void>((r) => release.push(r));
  let slowSent = () => {};
  const slowStarted = new Promise<void>((r) => (slowSent = r));
  const flakySeen = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const [, mode, name] = new URL(req.url).pathname.split("/");
    counts[mode] = (counts[mode] ?? 0) + 1;
    const body = TINY.gz[name];
    if (!body || mode === "404") return new Response("not found", { status: 404 });
    if (mode === "good") return bytes(body);
    if (mode === "wrong") return bytes(gzipSync(new TextEncoder().encode("wrong bytes")));
    if (mode === "trunc") return bytes(body.subarray(0, body.length >> 1));
    if (mode === "flaky") {
      if (!flakySeen.has(name)) {
        flakySeen.add(name);
        return new Response("busy", { status: 503 });
      }
      return bytes(body);
    }
    if (mode === "hang" || mode === "slow") {
      const stream = new ReadableStream<Uint8Array>({
        async start(ctl) {
          if (mode === "slow") {
            ctl.enqueue(body.subarray(0, 100));
            slowSent();
          }
          await waitRelease();
          try {
            ctl.close();
          } catch { /* the client went away */ }
        },
      });
      return new Response(stream, { headers: { "content-length": String(body.length) } });
    }
    return new Response("bad mode", { status: 400 });
  });
  const base = (mode: string) => `http://127.0.0.1:${server.addr.port}/${mode}/`;
  return {
    counts,
    base,
    slowStarted,
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    reset: () => Object.keys(counts).forEach((k) => delete counts[k]),
    async close() {
      release.forEach((r) => r());
      await server.shutdown();
    },
  };
}

const quick = (o: LoadOptions): LoadOptions => ({
  table: TINY.table,
  quiet: true,
  // Long enough that a loaded machine answers the other mirrors in time (at 150 ms, a run beside
  // a training run timed out on the 404 mirror and retried it); only the hanging mirror waits it out.
  timeoutMs: 1000,
  retries: 1,
  backoffMs: 5,
  sourceDirs: [],
  ...o,
});

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

const NAMES = Object.keys(TINY.raw);

Deno.test("data: falls back past 404, wrong bytes, truncated gzip and a hanging mirror", async () => {
  const srv = serve();
  const dir = await Deno.makeTempDir();
  try {
    const mirrors = ["404", "wrong", "trunc", "hang", "good"].map(srv.base);
    const d = await loadFashionMnist(quick({ dataDir: dir, mirrors }));
    assert.deepEqual(
      d.files.map((f) => [f.name, f.kind, f.source]),
      NAMES.map((n) => [n, "mirror", srv.base("good") + n]),
    );
    assert.ok(d.files.every((f) => f.verified && f.sha256 === TINY.table[fileKey(f.name)].sha256));
    // 404, wrong and truncated are not retried; the hanging mirror is (retries: 1).
    assert.deepEqual(srv.counts, { "404": 4, wrong: 4, trunc: 4, hang: 8, good: 4 });
    assert.equal(d.cache, dir);
    assert.deepEqual(d.train.images, TINY.train.px);
    assert.deepEqual(d.train.labels, TINY.train.labels);
    assert.deepEqual([d.test.count, d.test.height, d.test.width], [4, 28, 28]);
    assert.deepEqual(d.test.images, TINY.test.px);
    // The cache holds exactly the four verified files: no temporary or partial files.
    assert.deepEqual(await listDir(dir), [...NAMES].sort());
    for (const n of NAMES) assert.deepEqual(await Deno.readFile(join(dir, n)), TINY.gz[n]);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

function fileKey(name: string): "trainImages" | "trainLabels" | "testImages" | "testLabels" {
  const t = TINY.table;
  const k = (["trainImages", "trainLabels", "testImages", "testLabels"] as const).find((k) =>
    t[k].name === name
  );
  assert.ok(k);
  return k;
}

Deno.test("data: a retryable failure (HTTP 503) is retried on the same mirror", async () => {
  const srv = serve();
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  try {
    const d = await loadFashionMnist(
      quick({
        dataDir: dir,
        mirrors: [srv.base("flaky")],
        quiet: false,
        log: (l) => lines.push(l),
      }),
    );
    assert.equal(srv.counts.flaky, 8);
    assert.ok(d.files.every((f) => f.kind === "mirror"));
    // Plain progress lines (not a terminal): start, retry notice, done.
    assert.ok(lines.some((l) => /HTTP 503.*retrying/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => /^tiny-train-images\.gz: downloading/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => /^tiny-train-images\.gz: done, /.test(l)), lines.join("\n"));
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data: a second load is served from the cache with zero requests", async () => {
  const srv = serve();
  const dir = await Deno.makeTempDir();
  try {
    const mirrors = [srv.base("good")];
    await loadFashionMnist(quick({ dataDir: dir, mirrors }));
    assert.equal(srv.total(), 4);
    srv.reset();
    const d = await loadFashionMnist(quick({ dataDir: dir, mirrors }));
    assert.equal(srv.total(), 0);
    assert.deepEqual(
      d.files.map((f) => [f.kind, f.source]),
      NAMES.map((n) => ["cache", join(dir, n)]),
    );
    assert.deepEqual(d.train.images, TINY.train.px);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data: corrupt cached files are detected, discarded and replaced", async () => {
  const srv = serve();
  const dir = await Deno.makeTempDir();
  try {
    const mirrors = [srv.base("good")];
    await loadFashionMnist(quick({ dataDir: dir, mirrors }));
    srv.reset();
    const [img, lab, timg] = NAMES;
    // One flipped byte inside the gzip stream, a truncated file, and an uncompressed wrong file.
    const flipped = TINY.gz[img].slice();
    flipped[flipped.length >> 1] ^= 0xff;
    await Deno.writeFile(join(dir, img), flipped);
    await Deno.writeFile(join(dir, lab), TINY.gz[lab].subarray(0, 10));
    await Deno.writeFile(join(dir, timg), encodeIdxImages(new Uint8Array(784), 28, 28));
    const d = await loadFashionMnist(quick({ dataDir: dir, mirrors }));
    assert.equal(srv.total(), 3);
    assert.deepEqual(d.files.map((f) => f.kind), ["mirror", "mirror", "mirror", "cache"]);
    for (const n of NAMES) assert.deepEqual(await Deno.readFile(join(dir, n)), TINY.gz[n]);
    assert.deepEqual(d.train.images, TINY.train.px);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data: a local directory is checked in place and copied into the cache", async () => {
  const srv = serve();
  const dir = await Deno.makeTempDir();
  const src = await Deno.makeTempDir();
  const bad = await Deno.makeTempDir();
  try {
    for (const n of NAMES) await Deno.writeFile(join(src, n), TINY.gz[n]);
    // Uncompressed IDX files are accepted too: the checksum is over the IDX bytes.
    await Deno.writeFile(join(src, NAMES[1]), TINY.raw[NAMES[1]]);
    await Deno.writeFile(join(bad, NAMES[0]), TINY.gz[NAMES[2]]);
    const d = await loadFashionMnist(
      quick({
        dataDir: dir,
        sourceDirs: [join(src, "missing"), bad, src],
        mirrors: [srv.base("good")],
      }),
    );
    assert.equal(srv.total(), 0);
    assert.deepEqual(
      d.files.map((f) => [f.kind, f.source]),
      NAMES.map((n) => ["dir", join(src, n)]),
    );
    assert.deepEqual(await listDir(dir), [...NAMES].sort());
    assert.deepEqual(await Deno.readFile(join(dir, NAMES[1])), TINY.raw[NAMES[1]]);
    assert.deepEqual(d.train.labels, TINY.train.labels);
  } finally {
    await srv.close();
    for (const p of [dir, src, bad]) await Deno.remove(p, { recursive: true });
  }
});

Deno.test("data: when every source fails, one line lists each source, why, and the fixes", async () => {
  const srv = serve();
  const dir = await Deno.makeTempDir();
  try {
    const mirrors = ["404", "wrong", "trunc", "hang"].map(srv.base);
    const missing = join(dir, "no-such-dir");
    let err: unknown;
    await loadFashionMnist(quick({ dataDir: dir, mirrors, sourceDirs: [missing] })).catch((e) =>
      err = e
    );
    assert.ok(err instanceof UserError, `a UserError, got ${err}`);
    assert.equal(describeError(err)?.code, 1);
    const m = err.message;
    assert.ok(!m.includes("\n"), m);
    const n = NAMES[0];
    assert.ok(m.startsWith(`could not get a verified ${n}: tried `), m);
    assert.ok(m.includes(`cache ${join(dir, n)}: not there`), m);
    assert.ok(m.includes(`${join(missing, n)}: not there`), m);
    assert.ok(m.includes(`${srv.base("404")}${n}: HTTP 404`), m);
    assert.ok(new RegExp(`${srv.base("wrong")}${n}: SHA-256 [0-9a-f]{12}… of the IDX`).test(m), m);
    assert.ok(m.includes(`${srv.base("trunc")}${n}: bad gzip data`), m);
    assert.ok(m.includes(`${srv.base("hang")}${n}: no data for 1 s (timeout) (after 2`), m);
    for (
      // The library names its own options (the CLI its flags, through LoadOptions.name).
      const fix of [
        "dataDir DIR",
        "sourceDirs DIR",
        "mirrors URL",
        "apt-get install dataset-fashion-mnist",
      ]
    ) {
      assert.ok(m.includes(fix), `mentions ${fix}: ${m}`);
    }
    // Nothing was left under a final name (nor as a temporary file).
    assert.deepEqual(await listDir(dir), []);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data: files that verify but are malformed IDX give the one-line decoder error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const badLabels = encodeIdxLabels(new Uint8Array([1, 2, 12, 3, 4, 5]));
    await Deno.writeFile(join(dir, "bad-labels"), badLabels);
    for (const n of NAMES) await Deno.writeFile(join(dir, n), TINY.gz[n]);
    const table = { ...TINY.table, trainLabels: { name: "bad-labels", sha256: sha(badLabels) } };
    let err: unknown;
    await loadFashionMnist(quick({ dataDir: dir, table })).catch((e) => err = e);
    assert.ok(err instanceof IdxError, `an IdxError, got ${err}`);
    assert.equal(err.message, "bad-labels: label 12 at index 2 is outside 0-9");
    // Labels that disagree in count with their images.
    const fewer = encodeIdxLabels(new Uint8Array([1, 2]));
    await Deno.writeFile(join(dir, "fewer"), fewer);
    const t2 = { ...TINY.table, trainLabels: { name: "fewer", sha256: sha(fewer) } };
    err = undefined;
    await loadFashionMnist(quick({ dataDir: dir, table: t2 })).catch((e) => err = e);
    assert.ok(err instanceof IdxError, `an IdxError, got ${err}`);
    assert.match(err.message, /tiny-train-images\.gz has 6 images but fewer has 2 labels/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data: killing a run mid-download leaves no file under a final name", async () => {
  const srv = serve();
  const dir = await Deno.makeTempDir();
  const script = join(dir, "get.ts");
  try {
    const lib = new URL("../../lib/data/fashion_mnist.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { loadFashionMnist } from "${lib}";\n` +
        `await loadFashionMnist(JSON.parse(Deno.args[0]));\n`,
    );
    const cache = join(dir, "cache");
    const opts = { dataDir: cache, table: TINY.table, mirrors: [srv.base("slow")], quiet: true };
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        script,
        JSON.stringify({ ...opts, sourceDirs: [], timeoutMs: 60_000 }),
      ],
      stdout: "null",
      stderr: "inherit", // shows why, should the child fail to start
    }).spawn();
    const early = child.status.then((s) => {
      throw new Error(`the child exited (code ${s.code}) before its download started`);
    });
    await Promise.race([srv.slowStarted, early]);
    early.catch(() => {}); // it rejects later, once the child is killed
    // Wait until the child has created its temporary file, then kill it.
    let tmp: string[] = [];
    for (let i = 0; i < 400 && tmp.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      tmp = (await listDir(cache).catch(() => [])).filter((n) => n.endsWith(".tmp"));
    }
    child.kill("SIGKILL");
    const status = await child.status;
    assert.equal(status.success, false);
    assert.equal(tmp.length, 1, "the download was in progress");
    const left = await listDir(cache);
    assert.ok(left.every((n) => /^\..+\.tmp$/.test(n)), `only temporary files: ${left}`);
    assert.ok(!left.includes(NAMES[0]));
    // A later run is not fooled by the leftover temporary file.
    const d = await loadFashionMnist(quick({ dataDir: cache, mirrors: [srv.base("good")] }));
    assert.ok(d.files.every((f) => f.kind === "mirror"));
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data: two loads at once into one empty cache both succeed and leave it valid", async () => {
  const srv = serve();
  const dir = await Deno.makeTempDir();
  try {
    const mirrors = [srv.base("good")];
    const [a, b] = await Promise.all([
      loadFashionMnist(quick({ dataDir: dir, mirrors })),
      loadFashionMnist(quick({ dataDir: dir, mirrors })),
    ]);
    assert.deepEqual(a.train.images, TINY.train.px);
    assert.deepEqual(b.test.labels, TINY.test.labels);
    assert.deepEqual(await listDir(dir), [...NAMES].sort());
    for (const n of NAMES) assert.deepEqual(await Deno.readFile(join(dir, n)), TINY.gz[n]);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data: stale temporary files of killed runs are removed, fresh ones kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const old = join(dir, ".a.gz.123-abc.tmp");
    const fresh = join(dir, ".b.gz.124-abd.tmp");
    const other = join(dir, "notes.tmp");
    for (const p of [old, fresh, other]) await Deno.writeFile(p, new Uint8Array(3));
    const hourAgo = new Date(Date.now() - 2 * 3_600_000);
    await Deno.utime(old, hourAgo, hourAgo);
    await Deno.utime(other, hourAgo, hourAgo);
    assert.equal(await removeStaleTemps(dir), 1);
    assert.deepEqual(await listDir(dir), [".b.gz.124-abd.tmp", "notes.tmp"]);
    assert.equal(await removeStaleTemps(join(dir, "missing")), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data: FASHION_MNIST_DIR overrides the project's default cache directory", () => {
  const saved = Deno.env.get("FASHION_MNIST_DIR");
  try {
    Deno.env.delete("FASHION_MNIST_DIR");
    assert.equal(defaultDataDir(), new URL("../../data/fashion-mnist", import.meta.url).pathname);
    Deno.env.set("FASHION_MNIST_DIR", "rel/fm");
    assert.equal(defaultDataDir(), join(Deno.cwd(), "rel/fm"));
    Deno.env.set("FASHION_MNIST_DIR", "/abs/fm");
    assert.equal(defaultDataDir(), "/abs/fm");
  } finally {
    if (saved === undefined) Deno.env.delete("FASHION_MNIST_DIR");
    else Deno.env.set("FASHION_MNIST_DIR", saved);
  }
});

Deno.test("data: a bad --mirror is a one-line usage error (exit 2)", async () => {
  const r = await runCli(["data", "--mirror", "ftp://example.org/"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /--mirror.*http/);
});

const DEBIAN = "/usr/share/datasets/fashion-mnist";
const haveDebian = await Deno.stat(DEBIAN).then(() => true, () => false);

Deno.test({
  name: "data: the real set from Debian's package verifies, with d2l's counts and statistics",
  ignore: !haveDebian,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const d = await loadFashionMnist({
        dataDir: dir,
        sourceDirs: [DEBIAN],
        mirrors: [],
        quiet: true,
      });
      assert.ok(d.files.every((f) => f.kind === "dir" && f.verified));
      const r = dataReport(d);
      assert.equal(r.train.count, 60000);
      assert.equal(r.test.count, 10000);
      assert.deepEqual(r.train.per_class, new Array(10).fill(6000));
      assert.deepEqual(r.test.per_class, new Array(10).fill(1000));
      assert.equal(r.train.mean.toFixed(4), "0.2860");
      assert.equal(r.train.std.toFixed(4), "0.3530");
      assert.equal(CLASS_NAMES[d.test.labels[0]], "Ankle boot");
      // The first 8 test images / 255 equal the ones PyTorch's golden network was fed.
      const g = readGolden<{ input_28: { shape: number[]; data: number[] }; labels: number[] }>(
        "small_w8_s1111.json",
      );
      assert.deepEqual(g.input_28.shape, [8, 1, 28, 28]);
      const px = d.test.images.subarray(0, 8 * 784);
      let worst = 0;
      for (let i = 0; i < px.length; i++) {
        worst = Math.max(worst, Math.abs(Math.fround(px[i] / 255) - g.input_28.data[i]));
      }
      assert.equal(worst, 0);
      assert.deepEqual(Array.from(d.test.labels.subarray(0, 8)), g.labels);
      // The CLI reads the same cache back and prints the JSON document.
      const cli = await runCli(["data", "--data-dir", dir, "--json"]);
      assert.equal(cli.code, 0, cli.stderr);
      const j = JSON.parse(cli.stdout);
      assert.equal(j.cache, dir);
      assert.deepEqual(Object.keys(j), ["cache", "files", "train", "test"]);
      assert.deepEqual(
        j.files.map((f: { source: string }) => f.source),
        NAMES_REAL.map((n) => join(dir, n)),
      );
      assert.ok(j.files.every((f: { verified: boolean }) => f.verified === true));
      assert.deepEqual(j.train, r.train);
      assert.deepEqual(j.test, r.test);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const NAMES_REAL = [
  FASHION_MNIST.trainImages.name,
  FASHION_MNIST.trainLabels.name,
  FASHION_MNIST.testImages.name,
  FASHION_MNIST.testLabels.name,
];
