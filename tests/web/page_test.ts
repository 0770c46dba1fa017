/// <reference lib="dom" />
/**
 * The training page in headless Chromium on WebGPU (SwiftShader, Chromium's CPU implementation of
 * a GPU, so it runs on any CI machine), driven through its own form and buttons with
 * puppeteer-core: it shows the adapter and refuses batches beyond its limits; one fixed-seed step
 * equals tfjs' CPU backend's; a few steps make the loss fall, with Stop and Continue between
 * them; without served data it takes the user's four files, recognised by checksum; weights go
 * from the page to `eval --weights` and from a CLI run to the page with the same accuracy on both
 * sides. One browser for the whole file; skipped, saying why, without Chromium.
 *
 * Set RESNET_WEB_SCREENSHOT=docs/web.png to keep the screenshot the README shows.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { initBackend } from "../../lib/backends/choose.ts";
import { loadFashionMnist } from "../../lib/data/fashion_mnist.ts";
import { batches } from "../../lib/data/batches.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { SGD } from "../../lib/model/fused.ts";
import { trainStep } from "../../lib/model/step.ts";
import { decodeSafetensors, toFloat32 } from "../../lib/io/safetensors_codec.ts";
import { encodeTorchStateDict } from "../../lib/io/torch_state_dict.ts";
import { runCli, TINY_NET } from "../run_cli.ts";
import { startServer } from "../web_server.ts";

/** Chromium: `CHROMIUM_PATH` when set (only it), else Debian's or Google's usual paths. */
const CANDIDATES = Deno.env.get("CHROMIUM_PATH") !== undefined
  ? [Deno.env.get("CHROMIUM_PATH")]
  : ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
function exists(p: string | undefined): p is string {
  try {
    return p !== undefined && Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}
const CHROMIUM = CANDIDATES.find(exists) ?? null;
if (!CHROMIUM) {
  console.log(
    `web page tests skipped: no Chromium at ${CANDIDATES.join(", ")} (apt-get install chromium, ` +
      "or set CHROMIUM_PATH)",
  );
}

/** Chromium's flags: WebGPU on SwiftShader, which exists without a GPU or a display. */
const FLAGS = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--no-sandbox"];
/** Waits poll (rAF polling stalls while the page computes) and may last as long as training. */
const WAIT = { timeout: 600_000, polling: 250 };
/** The tiny network of every run here, as the page's form and as CLI flags. */
const NET = { depth: "stages", stages: "1,1,1,1", width: "8", size: "28" };
const CLI_NET = [...TINY_NET, "--size", "28"];

/** Sets form fields as a user would (each fires the form's input event). */
async function fill(page: Page, fields: Record<string, string | number>): Promise<void> {
  await page.evaluate((f: Record<string, string>) => {
    for (const [id, v] of Object.entries(f)) {
      const el = document.getElementById(id) as HTMLInputElement;
      el.value = String(v);
      el.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }, Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)])));
}

const text = (page: Page, id: string) =>
  page.$eval(`#${id}`, (el) => (el as HTMLElement).innerText ?? el.textContent);

/** Clicks a button and waits until the page is idle again; returns the page's message. */
async function clickAndWait(page: Page, id: string): Promise<string> {
  await page.click(`#${id}`);
  await page.waitForFunction(
    () => !["training", "evaluating"].includes(document.body.dataset.state!),
    WAIT,
  );
  const state = await page.evaluate(() => document.body.dataset.state);
  const message = await text(page, "message");
  assert.equal(state, "idle", `after ${id}: ${message}`);
  return message;
}

/** The epoch table: per epoch its train loss and its test result (correct of n). */
function epochRows(page: Page) {
  return page.$$eval("#epoch-table tbody tr", (rows) =>
    rows.map((r) => {
      const d = (r as HTMLElement).dataset;
      return { trainLoss: Number(d.trainLoss), correct: Number(d.correct), n: Number(d.n) };
    }));
}

/** Clicks Download and returns the file's path once Chromium has written it. */
async function download(page: Page, dir: string): Promise<string> {
  const before = new Set([...Deno.readDirSync(dir)].map((e) => e.name));
  await page.click("#download");
  for (let i = 0; i < 600; i++) {
    const done = [...Deno.readDirSync(dir)].map((e) => e.name)
      .find((n) => !before.has(n) && n.endsWith(".safetensors"));
    if (done) return join(dir, done);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the download never arrived");
}

/** `eval --weights` of the tiny network on the first `limit` test images, on the cpu backend. */
async function cliEval(weights: string, limit: number): Promise<{ correct: number; n: number }> {
  const r = await runCli([
    "eval",
    "--weights",
    weights,
    ...CLI_NET,
    "--limit",
    String(limit),
    "--batch-size",
    "16",
    "--backend",
    "cpu",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** A CLI run of the tiny network exported as d2l safetensors, and its `eval` on `limit` images. */
async function cliRun(dir: string, limit: number) {
  const run = join(dir, "run"), file = join(dir, "cli.safetensors");
  const common = [...CLI_NET, "--backend", "cpu"];
  const train = await runCli([
    "train",
    ...common,
    "--out",
    run,
    "--epochs",
    "1",
    "--batch-size",
    "32",
    "--limit",
    "256",
    "--test-limit",
    "32",
    "--seed",
    "9",
  ]);
  assert.equal(train.code, 0, train.stderr);
  const exp = await runCli(["export", "--run", run, "--format", "safetensors", "--out", file]);
  assert.equal(exp.code, 0, exp.stderr);
  return { file, ...(await cliEval(file, limit)) };
}

/** tfjs' CPU backend's weights after one step of the page's recipe, as the CLI's file holds them. */
async function cpuStep(seed: number, batch: number, lr: number) {
  await initBackend("cpu");
  const { train } = await loadFashionMnist({ quiet: true, mirrors: [] });
  const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed });
  const b = batches(train, {
    batchSize: batch,
    shuffle: true,
    seed,
    epoch: 0,
    size: 28,
    limit: batch,
  })
    .next().value!;
  const opt = new SGD(lr);
  const r = trainStep(net, opt, b.x, b.y);
  tf.dispose([r.loss, r.correct, b.x, b.y]);
  // The file the CLI would write for this network (export --format safetensors of a 28x28 run).
  const file = decodeSafetensors(await encodeTorchStateDict(net, { size: 28 }));
  opt.dispose();
  net.dispose();
  return file;
}

Deno.test({
  name: "web page in headless Chromium (WebGPU on SwiftShader)",
  ignore: !CHROMIUM,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "resnet-page-" });
    const server = await startServer();
    // The CLI's own run trains on the CPU meanwhile.
    // Chromium's downloads get a folder of their own: nothing else may appear in it.
    const downloads = join(dir, "downloads");
    await Deno.mkdir(downloads);
    const cli = cliRun(dir, 48);
    let browser: Browser | null = null;
    try {
      browser = await puppeteer.launch({
        executablePath: CHROMIUM!,
        headless: true,
        args: FLAGS,
        protocolTimeout: WAIT.timeout,
      });
      const page = await browser.newPage();
      await page.setViewport({ width: 1000, height: 900 });
      const cdp = await browser.target().createCDPSession();
      await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
      await page.goto(server.url);
      await page.waitForFunction(() => document.body.dataset.state !== "loading", WAIT);

      await t.step(
        "shows the adapter and its limits, and refuses a batch beyond them",
        async () => {
          assert.equal(await page.evaluate(() => document.body.dataset.state), "ready");
          assert.match(await text(page, "device"), /^WebGPU on .*swiftshader.*software adapter/i);
          assert.match(await text(page, "limits"), /maxStorageBufferBindingSize\s+1\.00 GiB/);
          // A step over the binding limit runs in parts of the batch; only an input batch over
          // it (which cannot be split) is refused.
          await fill(page, { ...NET, width: 64, size: 224, batch: 8192 });
          const refusal = await text(page, "message");
          assert.match(
            refusal,
            /^refused: a batch of 8192 needs a 1\.53 GiB tensor \(the input batch, \[8192, 224, 224, 1\]\) .*maxStorageBufferBindingSize\): use a batch of at most 5349$/,
          );
          await page.click("#train");
          assert.equal(await text(page, "message"), refusal);
          assert.equal(await page.evaluate(() => document.body.dataset.state), "ready");
        },
      );

      await t.step(
        "one fixed-seed step equals tfjs' CPU backend's, and eval --weights agrees",
        async () => {
          await fill(page, {
            ...NET,
            batch: 16,
            lr: 0.1,
            epochs: 1,
            limit: 16,
            "test-limit": 48,
            seed: 3,
            "read-every": 1,
          });
          await clickAndWait(page, "train");
          const file = await download(page, downloads);
          const got = decodeSafetensors(await Deno.readFile(file), file);
          const want = await cpuStep(3, 16, 0.1);
          // The same file layout: keys in PyTorch's order, dtypes, shapes, metadata.
          assert.deepEqual([...got.tensors.keys()], [...want.tensors.keys()]);
          assert.deepEqual(got.metadata, want.metadata);
          for (const [name, w] of want.tensors) {
            const g = got.tensors.get(name)!;
            assert.deepEqual([g.dtype, g.shape], [w.dtype, w.shape], name);
            if (w.dtype !== "F32") {
              assert.deepEqual(g.bytes, w.bytes, name); // num_batches_tracked: 1
              continue;
            }
            const a = toFloat32(g, name), b = toFloat32(w, name);
            a.forEach((v, i) => {
              const tol = 1e-6 + 1e-4 * Math.abs(b[i]);
              assert.ok(Math.abs(v - b[i]) <= tol, `${name}[${i}]: page ${v}, cpu ${b[i]}`);
            });
          }
          const [row] = await epochRows(page);
          const ev = await cliEval(file, 48);
          assert.deepEqual({ correct: ev.correct, n: ev.n }, { correct: row.correct, n: 48 });
        },
      );

      await t.step("a few steps make the loss fall; Stop and Continue in between", async () => {
        await fill(page, { ...NET, batch: 16, limit: 64, epochs: 2, "test-limit": 48, seed: 1 });
        await fill(page, { "read-every": 1 });
        await page.click("#train");
        await page.waitForFunction(
          () => /step [12]\/4/.test(document.getElementById("progress")!.textContent!),
          WAIT,
        );
        await page.click("#stop");
        await page.waitForFunction(() => document.body.dataset.state === "idle", WAIT);
        assert.match(await text(page, "message"), /^stopped in epoch 1 after step [1-3]: Continue/);
        assert.equal(await clickAndWait(page, "resume"), "finished 2 epochs");
        const rows = await epochRows(page);
        assert.equal(rows.length, 2);
        assert.ok(rows[1].trainLoss < rows[0].trainLoss, JSON.stringify(rows));
        // The curve a person sees: the train loss' points on the chart, left to right.
        const loss = await page.$$eval(
          '#curves g.series[data-series="train loss"] circle.point',
          (cs) => cs.map((c) => Number(c.getAttribute("data-y"))),
        );
        assert.ok(loss.length >= 4 && loss.at(-1)! < loss[0], JSON.stringify(loss));
        assert.match(await text(page, "progress"), /[\d.]+ examples\/sec$/);
        assert.equal(await page.$$eval("#grid figure", (f) => f.length), 32);
        const png = await page.screenshot({ fullPage: true });
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
      });

      await t.step(
        "served without data, the page takes the user's .gz files, by checksum",
        async () => {
          // The built site alone, as any static server would give it.
          const site: Record<string, [string, string]> = {
            "/": ["index.html", "text/html"],
            "/style.css": ["style.css", "text/css"],
            "/app.js": ["app.js", "text/javascript"],
          };
          const bare = Deno.serve(
            { hostname: "127.0.0.1", port: 0, onListen() {} },
            async (req) => {
              const f = site[new URL(req.url).pathname];
              if (!f) return new Response("", { status: 404 });
              const body = await Deno.readFile(join(server.out, f[0]));
              return new Response(body, { headers: { "content-type": f[1] } });
            },
          );
          const p2 = await browser!.newPage();
          try {
            await p2.goto(`http://127.0.0.1:${bare.addr.port}/`);
            await p2.waitForFunction(
              () => /^give the four/.test(document.getElementById("message")!.textContent!),
              WAIT,
            );
            assert.equal(await p2.$$eval("#files li.missing", (l) => l.length), 4);
            const { cache } = await loadFashionMnist({ quiet: true, mirrors: [] });
            const pick = (await p2.$("input#pick-data"))!;
            // Three right files (one renamed) and one that is not Fashion-MNIST.
            const renamed = join(dir, "download (1).gz");
            await Deno.copyFile(join(cache, "t10k-labels-idx1-ubyte.gz"), renamed);
            const stranger = join(dir, "notes.gz");
            await Deno.writeFile(stranger, new TextEncoder().encode("not a dataset"));
            const two = ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"];
            await pick.uploadFile(...two.map((f) => join(cache, f)), renamed, stranger);
            await p2.waitForFunction(
              () => document.querySelectorAll("#files li.ok").length === 3,
              WAIT,
            );
            assert.match(
              await text(p2, "files"),
              /notes\.gz: SHA-256 [0-9a-f]{12}… of its IDX bytes is none of Fashion-MNIST's four/,
            );
            await pick.uploadFile(join(cache, "train-images-idx3-ubyte.gz"));
            await p2.waitForFunction(() => document.body.dataset.state === "ready", WAIT);
            assert.equal(
              await text(p2, "message"),
              "Fashion-MNIST ready: 60000 training and 10000 test images",
            );
          } finally {
            await p2.close();
            await bare.shutdown();
          }
        },
      );

      const keep = Deno.env.get("RESNET_WEB_SCREENSHOT");
      await t.step({
        name: `the README's screenshot, after 3 epochs of 1,024 images (to ${keep})`,
        ignore: !keep,
        async fn() {
          await fill(page, { ...NET, batch: 64, lr: 0.1, limit: 1024, epochs: 3, seed: 0 });
          await fill(page, { "test-limit": 512, "read-every": 4 });
          assert.equal(await clickAndWait(page, "train"), "finished 3 epochs");
          await page.screenshot({ path: keep!, fullPage: true });
        },
      });

      await t.step(
        "a CLI run's safetensors loaded in the page gives the CLI's accuracy",
        async () => {
          const run = await cli;
          await fill(page, { ...NET, batch: 16, "test-limit": 48 });
          const input = await page.$("input#load");
          await input!.uploadFile(run.file);
          await page.waitForFunction(
            () => /^loaded /.test(document.getElementById("message")!.textContent!),
            WAIT,
          );
          await clickAndWait(page, "evaluate");
          const shown = await page.$eval("#eval-result", (el) => ({
            correct: Number((el as HTMLElement).dataset.correct),
            n: Number((el as HTMLElement).dataset.n),
          }));
          assert.deepEqual(shown, { correct: run.correct, n: run.n });
        },
      );
    } finally {
      await browser?.close();
      await cli.catch(() => {});
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
