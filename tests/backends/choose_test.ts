/**
 * The backend choice: software adapters are recognised, `auto` follows its rule, a missing
 * adapter is one line and exit 2, `info` reports this machine, and no library code reads tensors
 * synchronously.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { runCli, TINY_NET } from "../run_cli.ts";
import { BACKENDS, backendSummary, initBackend, loadNative } from "../../lib/backends/choose.ts";
import { InputError } from "../../lib/errors.ts";
import { registerNativeBackend } from "../../lib/backends/native/backend.ts";
import { describeError } from "../../cli/errors.ts";
import { formatAdapter, isSoftwareAdapter, probeAdapter } from "../../lib/backends/webgpu.ts";
import { resolveConfig } from "../../lib/model/resnet.ts";

Deno.test("software adapters are recognised by name or by the fallback flag", () => {
  for (
    const info of [
      { vendor: "65541", description: "llvmpipe (LLVM 15.0.6, 256 bits)" },
      { vendor: "mesa", description: "lavapipe" },
      { vendor: "google", architecture: "swiftshader", description: "" },
      { vendor: "microsoft", description: "Microsoft Basic Render Driver" },
    ]
  ) assert.equal(isSoftwareAdapter(info), true, JSON.stringify(info));
  for (
    const info of [
      { vendor: "nvidia", architecture: "hopper", description: "NVIDIA H100 80GB HBM3" },
      { vendor: "amd", architecture: "rdna-3", description: "AMD Radeon RX 7900 XTX" },
      { vendor: "intel", architecture: "xe-lpg", description: "Intel(R) Arc(TM) Graphics" },
    ]
  ) {
    assert.equal(isSoftwareAdapter(info), false, JSON.stringify(info));
    assert.equal(isSoftwareAdapter(info, true), true, "isFallbackAdapter wins");
  }
});

Deno.test("the --backend choices are auto, webgpu, cpu and native", () => {
  assert.deepEqual([...BACKENDS], ["auto", "webgpu", "cpu", "native"]);
});

Deno.test("initBackend('cpu') activates cpu and reports it in one line", async () => {
  const info = await initBackend("cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal(info.name, "cpu");
  assert.equal(info.adapter, null);
  assert.match(backendSummary(info), /^backend: cpu \(tfjs pure-JS kernels\); requested$/);
  await assert.rejects(
    () => initBackend("gpu" as never),
    (e) =>
      e instanceof InputError && describeError(e)?.code === 2 &&
      /use one of auto, webgpu/.test(e.message),
  );
});

Deno.test("auto takes a hardware adapter, else native, else a software adapter, else cpu", async () => {
  const probe = await probeAdapter();
  const native = await loadNative();
  const info = await initBackend("auto");
  const want = probe.adapter && !probe.adapter.software
    ? "webgpu"
    : native.ok
    ? "native"
    : probe.adapter
    ? "webgpu"
    : "cpu";
  assert.equal(info.name, want, backendSummary(info));
  assert.equal(tf.getBackend(), want);
  assert.match(info.reason, /^auto: /);
  if (probe.adapter?.software) {
    assert.match(backendSummary(info), want === "webgpu" ? /CPU emulating a GPU/ : /software/);
  }
  await initBackend("cpu");
});

Deno.test({
  name: "auto passes over a WebGPU adapter on which not even one image of the job fits",
  ignore: (await probeAdapter()).adapter === null,
  async fn() {
    const config = resolveConfig({ stages: [1, 1, 1, 1], width: 8 });
    // b1.0's output of one 8192x8192 image is [1, 4096, 4096, 8], 512 MiB: over any usual limit.
    const info = await initBackend("auto", { job: { config, size: 8192, batch: 1 } });
    assert.notEqual(info.name, "webgpu", backendSummary(info));
    assert.match(info.reason, /^auto: the WebGPU adapter is too small \(its max\w+ cannot hold /);
    const fits = await initBackend("auto", { job: { config, size: 28, batch: 8 } });
    assert.doesNotMatch(fits.reason, /too small/);
    await initBackend("cpu");
  },
});

Deno.test("--backend webgpu without an adapter: one line naming the fix, exit 2", async () => {
  // Metal does not exist on Linux, so Deno finds no adapter: the situation of a GPU-less host.
  const r = await runCli([
    "shapes",
    ...TINY_NET,
    "--size",
    "28",
    "--backend",
    "webgpu",
  ], {
    DENO_WEBGPU_BACKEND: Deno.build.os === "darwin" ? "dx12" : "metal",
  });
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: --backend webgpu cannot run here: no WebGPU adapter/);
  assert.match(lines[0], /mesa-vulkan-drivers and libvulkan1/);
  assert.match(lines[0], /DENO_WEBGPU_BACKEND=vulkan/);
  assert.equal(r.stdout, "");
});

Deno.test("--backend webgpu runs the shape table and says which adapter", {
  ignore: (await probeAdapter()).adapter === null,
}, async () => {
  const r = await runCli([
    "shapes",
    ...TINY_NET,
    "--size",
    "28",
    "--backend",
    "webgpu",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).layers.at(-1).shape.join(","), "1,10");
  assert.match(r.stderr, /^backend: webgpu on .+; requested\n$/);
});

Deno.test("info --json: versions, backends and the adapter with its limits", async () => {
  const r = await runCli(["info", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const i = JSON.parse(r.stdout);
  assert.equal(i.deno, Deno.version.deno);
  assert.equal(i.v8, Deno.version.v8);
  assert.equal(i.typescript, Deno.version.typescript);
  assert.deepEqual(i.tfjs, { core: "4.22.0", cpu: "4.22.0", webgpu: "4.22.0", layers: "4.22.0" });
  assert.deepEqual(i.backends.map((b: { name: string }) => b.name), ["webgpu", "native", "cpu"]);
  const probe = await probeAdapter();
  assert.equal(i.backends[0].available, probe.adapter !== null);
  if (probe.adapter) {
    assert.equal(i.adapter.description, probe.adapter.description);
    assert.equal(i.adapter.software, probe.adapter.software);
    if (/llvmpipe|lavapipe|swiftshader/i.test(i.adapter.description)) {
      assert.equal(i.adapter.software, true, "a Mesa/SwiftShader adapter is reported as software");
    }
    for (
      const k of ["maxBufferSize", "maxStorageBufferBindingSize", "maxComputeWorkgroupStorageSize"]
    ) {
      assert(Number.isInteger(i.adapter.limits[k]) && i.adapter.limits[k] > 0, k);
    }
    const text = await runCli(["info"]);
    assert.equal(text.code, 0, text.stderr);
    assert(text.stdout.includes(formatAdapter(probe.adapter)));
    assert.match(text.stdout, /max storage buffer binding size\s+\d+ MiB/);
    assert.match(
      text.stdout,
      probe.adapter.software ? /software \(a CPU emulating a GPU\)/ : /hardware/,
    );
  }
});

const haveDnnl = (await loadNative()).dnnl !== undefined;

Deno.test("native says what it runs on: oneDNN with its version and threads, or BLAS with why", {
  ignore: !(await loadNative()).ok,
}, async () => {
  const shapes = (env: Record<string, string>) =>
    runCli(["shapes", ...TINY_NET, "--size", "28", "--backend", "native", "--json"], env);
  const off = await shapes({ RESNET_DNNL: "off" });
  assert.equal(off.code, 0, off.stderr);
  assert.match(
    off.stderr,
    /^backend: native \(BLAS: .+; no oneDNN: RESNET_DNNL=off\); requested\n$/,
  );
  if (haveDnnl) {
    const on = await shapes({ OMP_NUM_THREADS: "1" });
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stderr, /^backend: native \(oneDNN \d+\.\d+\.\d+, 1 thread\); requested\n$/);
  }
});

Deno.test("--threads takes effect on every initBackend, not only the first", {
  ignore: !haveDnnl,
}, async () => {
  for (const threads of [1, 2, 1]) {
    const info = await initBackend("native", { threads });
    assert.match(info.detail, new RegExp(`^oneDNN [\\d.]+, ${threads} threads?$`));
    // What OpenMP itself will use for oneDNN's next primitive (omp_get_max_threads).
    assert.equal((await registerNativeBackend()).dnnl?.threads, threads);
  }
  await initBackend("cpu");
});

Deno.test("a RESNET_DNNL that does not load: one line naming it and the fix, exit 2", async () => {
  for (const backend of ["native", "auto"]) {
    const r = await runCli(["shapes", ...TINY_NET, "--size", "28", "--backend", backend], {
      RESNET_DNNL: "/nonexistent/libdnnl.so.2",
    });
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^error: oneDNN: .*\/nonexistent\/libdnnl\.so\.2.*unset RESNET_DNNL/);
  }
});
