/// <reference lib="dom" />
/**
 * The training step's GPU workload in a browser's WebGPU: headless Chromium (Dawn, on its
 * SwiftShader adapter) runs the same step as Deno's WebGPU (wgpu) through the same modules
 * (`webgpuBackendFor`, `trainStep`, the counter of lib/backends/webgpu_counts.ts), bundled for the
 * browser. After warm-up a step creates no buffer and compiles no pipeline there too, and reads
 * back only when asked. Ignored without Chromium. SwiftShader compiles the step's 88 pipelines
 * slowly (the first step took 6 minutes with the 2-core machine loaded 12-fold; Deno's wgpu on
 * llvmpipe 23 s), so the test runs 3 + 3 steps only.
 *
 * {@linkcode stepsEntry} is the page's code; `deno run` of the same entry measures Deno's WebGPU,
 * so the two implementations' counts and speed compare on one step (see the issue's closing note).
 */
import puppeteer from "puppeteer-core";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BROWSER_TEST, CHROMIUM } from "../browser.ts";
import { type GpuCounts, NO_WORK } from "../../lib/backends/webgpu_counts.ts";
import { startServer } from "../web_server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What a measurement is asked: the network, the batch, and how many steps of each kind. */
export interface StepsOptions {
  stages: number[];
  width: number;
  size: number;
  batch: number;
  /** Steps after the first and before the measured ones. */
  warmup: number;
  /** Measured steps. */
  steps: number;
  /** The loss is read back every this many steps. */
  readEvery: number;
}

/** What comes back: the adapter, the first step, and the measured steps' work and speed. */
export interface StepsResult {
  adapter: string;
  firstStepSeconds: number;
  firstStepWork: GpuCounts;
  perStep: GpuCounts;
  seconds: number;
  examplesPerSec: number;
}

/**
 * The entry module (TypeScript source) that defines `globalThis.webgpuSteps(options)`: it
 * requests an adapter and device, registers {@linkcode webgpuBackendFor} as "webgpu", counts the
 * device's work and runs the training step as bench/worker.ts does (a fixed batch, SGD).
 */
export function stepsEntry(): string {
  const lib = (p: string) => JSON.stringify(new URL(`lib/${p}`, `file://${ROOT}`).href);
  return `
import * as tf from "@tensorflow/tfjs-core";
import ${lib("backends/setup.ts")}; // every kernel's gradients, as the page's device.ts does
import { webgpuBackendFor } from ${lib("backends/webgpu.ts")};
import { countGpuWork, workBetween } from ${lib("backends/webgpu_counts.ts")};
import { ResNet } from ${lib("model/resnet.ts")};
import { SGD } from ${lib("model/fused.ts")};
import { trainStep } from ${lib("model/step.ts")};

async function webgpuSteps(o) {
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  const info = adapter.info, l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    },
  });
  const counter = countGpuWork(device);
  // tfjs' kernels are registered under the name "webgpu": the backend must carry it.
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", async () => webgpuBackendFor(device, info), 3);
  await tf.setBackend("webgpu");
  const net = new ResNet({ stages: o.stages, width: o.width, seed: 0 });
  const opt = new SGD(0.05);
  const x = tf.randomUniform([o.batch, o.size, o.size, 1], 0, 1, "float32", 1);
  const y = tf.tensor1d(Array.from({ length: o.batch }, (_, i) => (i * 7) % 10), "int32");
  let done = 0;
  const step = async (read) => {
    const r = trainStep(net, opt, x, y);
    if (read) await r.loss.data();
    tf.dispose([r.loss, r.correct]);
    console.log("webgpuSteps: step " + ++done + (read ? " (read)" : ""));
  };
  const c0 = counter.counts();
  let t = performance.now();
  await step(true);
  const firstStepSeconds = (performance.now() - t) / 1000;
  const firstStepWork = workBetween(c0, counter.counts());
  for (let i = 1; i <= o.warmup; i++) await step(i % o.readEvery === 0 || i === o.warmup);
  const c1 = counter.counts();
  t = performance.now();
  for (let i = 1; i <= o.steps; i++) await step(i % o.readEvery === 0);
  const seconds = (performance.now() - t) / 1000;
  tf.dispose([x, y]);
  opt.dispose();
  net.dispose();
  return {
    adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(" "),
    firstStepSeconds,
    firstStepWork,
    perStep: workBetween(c1, counter.counts(), o.steps),
    seconds,
    examplesPerSec: (o.steps * o.batch) / seconds,
  };
}
globalThis.webgpuSteps = webgpuSteps;
`;
}

/** Writes {@linkcode stepsEntry} into `dir` and bundles it for browsers; returns the script. */
export async function bundleSteps(dir: string): Promise<string> {
  await Deno.writeTextFile(join(dir, "entry.ts"), stepsEntry());
  const out = join(dir, "app.js");
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--config",
      join(ROOT, "deno.json"),
      "--platform",
      "browser",
      "--format",
      "iife",
      "--output",
      out,
      join(dir, "entry.ts"),
    ],
    stderr: "piped",
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  return await Deno.readTextFile(out);
}

/** Chromium's flags: headless, WebGPU on SwiftShader (no GPU or display needed). */
const WEBGPU_FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--use-webgpu-adapter=swiftshader",
];

/**
 * Runs the steps in headless Chromium's WebGPU on SwiftShader (`--enable-unsafe-webgpu
 * --use-webgpu-adapter=swiftshader`), from a page served on localhost (a secure context).
 */
export async function chromiumSteps(
  o: StepsOptions,
  onLog: (line: string) => void = () => {},
): Promise<StepsResult> {
  const dir = await Deno.makeTempDir({ prefix: "webgpu-steps-" });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/app.js") {
      return new Response(await Deno.readFile(join(dir, "app.js")), {
        headers: { "content-type": "text/javascript" },
      });
    }
    return new Response('<!doctype html><script src="/app.js"></script>', {
      headers: { "content-type": "text/html" },
    });
  });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM!,
    headless: true,
    protocolTimeout: 20 * 60_000, // the software adapter's steps take seconds each under load
    args: WEBGPU_FLAGS,
  });
  try {
    await bundleSteps(dir);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => onLog(m.text()));
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    const r = await page.evaluate(
      (opts) => (globalThis as unknown as { webgpuSteps(o: unknown): unknown }).webgpuSteps(opts),
      o,
    ) as StepsResult;
    assert.deepEqual(errors, []);
    return r;
  } finally {
    await browser.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "chromium webgpu (Dawn on SwiftShader): after warm-up no buffer created, no pipeline compiled, reads every readEvery",
  ...BROWSER_TEST,
  async fn() {
    const o = {
      stages: [1, 1, 1, 1],
      width: 8,
      size: 28,
      batch: 8,
      warmup: 3,
      steps: 3,
      readEvery: 3,
    };
    const r = await chromiumSteps(o);
    const seen = JSON.stringify(r);
    assert.match(r.adapter, /swiftshader/i, seen);
    assert.ok(r.firstStepWork.pipelines > 20, `the first step compiles the pipelines: ${seen}`);
    assert.equal(r.perStep.pipelines, 0, seen);
    assert.equal(r.perStep.buffersCreated, 0, seen);
    assert.equal(r.perStep.readbacks, 1 / o.readEvery, seen);
    assert.ok(r.perStep.dispatches > 100, seen);
  },
});

/** What the page's diagnostics show after a training: the warm-up line and the per-step table. */
interface PageWork {
  warmup: string;
  first: number;
  last: number;
  examplesPerSec: number;
  perStep: GpuCounts;
}

/**
 * Trains the tiny network on the page (web/, `web --serve`) in headless Chromium on SwiftShader
 * through its form, and reads its diagnostics panel. `fields`: the form's fields to set.
 */
export async function pageWork(fields: Record<string, string>): Promise<PageWork> {
  const server = await startServer();
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM!,
    headless: true,
    protocolTimeout: 20 * 60_000,
    args: WEBGPU_FLAGS,
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const wait = { timeout: 20 * 60_000, polling: 500 };
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset.state === "ready", wait);
    await page.evaluate((f: Record<string, string>) => {
      for (const [id, v] of Object.entries(f)) {
        const el = document.getElementById(id) as HTMLInputElement;
        el.value = v;
        el.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }, fields);
    await page.click("#train");
    await page.waitForFunction(() => document.body.dataset.state !== "training", wait);
    const message = await page.$eval("#message", (el) => el.textContent);
    assert.equal(await page.evaluate(() => document.body.dataset.state), "idle", message!);
    assert.deepEqual(errors, []);
    return await page.evaluate(() => {
      const table = document.getElementById("gpu-work")!;
      const perStep: Record<string, number> = {};
      for (const row of table.querySelectorAll("tr")) {
        perStep[row.dataset.key!] = Number(row.dataset.value);
      }
      return {
        warmup: document.getElementById("gpu-warmup")!.textContent!,
        first: Number(table.dataset.first),
        last: Number(table.dataset.last),
        examplesPerSec: Number(table.dataset.examplesPerSec),
        perStep: perStep as unknown as GpuCounts,
      };
    });
  } finally {
    await browser.close();
    await server.stop();
  }
}

Deno.test({
  name:
    "the page's diagnostics (Chromium, SwiftShader): after warm-up no buffer created, no pipeline compiled, reads every read-every steps",
  ...BROWSER_TEST,
  async fn() {
    const readEvery = 3;
    // 9 steps of 8 images: read-backs after steps 3 (the warm-up's end), 6 and 9.
    const w = await pageWork({
      depth: "stages",
      stages: "1,1,1,1",
      width: "8",
      size: "28",
      batch: "8",
      epochs: "1",
      limit: "72",
      "test-limit": "16",
      "read-every": String(readEvery),
      "read-after": "3600", // never by time: a software adapter's step may take seconds
    });
    const seen = JSON.stringify(w);
    console.log(`the page's GPU work: ${seen}`);
    assert.deepEqual(Object.keys(w.perStep).sort(), Object.keys(NO_WORK).sort(), seen);
    assert.deepEqual([w.first, w.last], [7, 9], seen);
    const pipelines = Number(/(\d+) pipelines compiled/.exec(w.warmup)?.[1]);
    assert.ok(pipelines > 20, `the warm-up compiles the step's pipelines: ${seen}`);
    assert.equal(w.perStep.pipelines, 0, seen);
    assert.equal(w.perStep.buffersCreated, 0, seen);
    // One read of the epoch's sums per `readEvery` steps: the loss sum and the correct count,
    // two tensors (lib/run/accumulator.ts' read), so two read-backs.
    assert.equal(w.perStep.readbacks * readEvery, 2, seen);
    assert.ok(w.perStep.dispatches > 100, seen);
    assert.ok(w.examplesPerSec > 0, seen);
  },
});
