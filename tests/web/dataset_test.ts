/**
 * The page's data path (web/dataset.ts) in Deno: DecompressionStream and Web Crypto recognise the
 * four files by the same checksums as the CLI and decode the same splits; wrong, corrupt or
 * missing files are reported in one line naming them.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { FASHION_MNIST, type IdxDatasetSpec } from "../../lib/data/idx_dataset.ts";
import { defaultDataDir, loadFashionMnist } from "../../lib/data/fashion_mnist.ts";
import { encodeIdxImages, encodeIdxLabels } from "../../lib/data/idx.ts";
import { InputError } from "../../lib/errors.ts";
import { DatasetFiles, fetchServedFiles, identifyFile } from "../../web/dataset.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const gz = (b: Uint8Array) => new Uint8Array(gzipSync(b));

/** Six train and four test images with their own checksum table. */
function tinySet() {
  const make = (count: number, salt: number) => {
    const px = Uint8Array.from({ length: count * 784 }, (_, i) => (i * 31 + salt) & 255);
    const labels = Uint8Array.from({ length: count }, (_, i) => (i * 3 + salt) % 10);
    return [encodeIdxImages(px, 28, 28), encodeIdxLabels(labels)];
  };
  const idx = [...make(6, 1), ...make(4, 2)];
  const names = ["tr-img.gz", "tr-lab.gz", "te-img.gz", "te-lab.gz"];
  const spec = (i: number) => ({ name: names[i], sha256: sha(idx[i]) });
  const table: IdxDatasetSpec = {
    ...FASHION_MNIST,
    title: "tiny",
    trainImages: spec(0),
    trainLabels: spec(1),
    testImages: spec(2),
    testLabels: spec(3),
  };
  return { idx, names, table };
}
const TINY = tinySet();

Deno.test("web dataset: files are recognised by checksum whatever their names, then decoded", async () => {
  const files = new DatasetFiles(TINY.table);
  // Dropped in another order and renamed; one of them not gzipped at all.
  for (const i of [3, 1, 0, 2]) {
    assert.equal(files.complete(), false);
    const raw = i === 1 ? TINY.idx[i] : gz(TINY.idx[i]);
    const f = await identifyFile(raw, `download (${i}).gz`, TINY.table);
    assert.equal(f.spec.name, TINY.names[i]);
    files.add(f);
  }
  assert.equal(files.complete(), true);
  const { train, test } = files.splits();
  assert.deepEqual([train.count, test.count], [6, 4]);
  assert.deepEqual([...test.labels], [2, 5, 8, 1]);
  assert.deepEqual(train.images, TINY.idx[0].subarray(16));
});

Deno.test("web dataset: a changed byte, bad gzip and missing files each get one line naming them", async () => {
  const changed = TINY.idx[0].slice();
  changed[500] ^= 1;
  await assert.rejects(
    identifyFile(gz(changed), "my.gz", TINY.table),
    (e) =>
      e instanceof InputError && /^my\.gz: SHA-256 [0-9a-f]{12}… of its IDX bytes is none of tiny's/
        .test(e.message) &&
      !e.message.includes("\n"),
  );
  const broken = gz(TINY.idx[0]).slice(0, 100);
  await assert.rejects(
    identifyFile(broken, "cut.gz", TINY.table),
    (e) => e instanceof InputError && e.message.startsWith("cut.gz: bad gzip data"),
  );
  const files = new DatasetFiles(TINY.table);
  files.add(await identifyFile(gz(TINY.idx[0]), "a", TINY.table));
  assert.throws(
    () => files.splits(),
    (e) =>
      e instanceof InputError && e.message === "still missing: tr-lab.gz, te-img.gz, te-lab.gz",
  );
});

Deno.test("web dataset: fetchServedFiles verifies what is served and reports what is not", async () => {
  const served: Record<string, Uint8Array> = {
    "/data/tr-img.gz": gz(TINY.idx[0]),
    "/data/tr-lab.gz": gz(TINY.idx[1]),
    "/data/te-img.gz": gz(TINY.idx[3]), // the test labels under the test images' name
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const body = served[new URL(req.url).pathname];
    return body ? new Response(body as Uint8Array<ArrayBuffer>) : new Response("", { status: 404 });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}/data/`;
    const r = await fetchServedFiles(base, TINY.table);
    assert.deepEqual(r.files.map((f) => f.spec.name).sort(), ["tr-img.gz", "tr-lab.gz"]);
    assert.deepEqual(r.problems, [`${base}te-img.gz: holds te-lab.gz, not te-img.gz`]);
    assert.deepEqual(r.missing, ["te-lab.gz"]);
    // No server at all (a page opened as a file): all four missing, no errors.
    const none = await fetchServedFiles("http://127.0.0.1:1/data/", TINY.table);
    assert.deepEqual([none.files, none.problems, none.missing.length], [[], [], 4]);
  } finally {
    await server.shutdown();
  }
});

/** Whether the real files can be had without a network (Debian's package or the cache). */
function haveRealData(): boolean {
  const dirs = [...FASHION_MNIST.sourceDirs, defaultDataDir()];
  return dirs.some((d) => {
    try {
      return Deno.statSync(join(d, FASHION_MNIST.trainImages.name)).isFile;
    } catch {
      return false;
    }
  });
}
if (!haveRealData()) console.log("web dataset: real-data test skipped (no Fashion-MNIST here)");

Deno.test({
  name: "web dataset: the real Fashion-MNIST files give the CLI's splits, byte for byte",
  ignore: !haveRealData(),
}, async () => {
  const cli = await loadFashionMnist({ quiet: true, mirrors: [] });
  const files = new DatasetFiles();
  for (const f of cli.files) {
    files.add(await identifyFile(await Deno.readFile(join(cli.cache, f.name)), f.name));
  }
  const web = files.splits();
  for (const k of ["train", "test"] as const) {
    assert.equal(web[k].count, cli[k].count);
    assert.ok(
      web[k].images.length === cli[k].images.length && sha(web[k].images) === sha(cli[k].images),
    );
    assert.deepEqual(web[k].labels, cli[k].labels);
  }
});
