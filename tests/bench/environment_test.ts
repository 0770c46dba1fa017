/**
 * bench/environment.ts: the record of the machine that every results row carries, and the
 * search for a python3 with PyTorch.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { cpuModel, environment, findTorchPython } from "../../bench/environment.ts";

Deno.test("environment: date, CPU, cores, load, versions, and the sgemm rate given", async () => {
  const sgemm = { gflops: 50, n: 2048, repeats: 3, threads: 2, library: "libopenblas.so.0" };
  const e = await environment(null, sgemm);
  assert.ok(!Number.isNaN(Date.parse(e.date)));
  assert.equal(e.machine.cpu, cpuModel());
  assert.ok(e.machine.cpu.length > 0);
  assert.equal(e.machine.cores, navigator.hardwareConcurrency);
  assert.equal(e.loadavg_at_start.length, 3);
  assert.deepEqual(e.versions, { deno: Deno.version.deno, tfjs: tf.version_core, torch: null });
  assert.deepEqual(e.sgemm, sgemm);
});

Deno.test("findTorchPython: a python that cannot import torch is not one", async () => {
  assert.equal(await findTorchPython("/nonexistent/python3"), null);
  assert.equal(await findTorchPython(Deno.execPath()), null); // runs, but is not python
});

const python = await findTorchPython();
Deno.test({
  name: "environment: PyTorch's version through the python3 that has it",
  ignore: python === null,
  async fn() {
    const e = await environment(python, null);
    assert.match(e.versions.torch ?? "", /^\d+\.\d+/);
    assert.equal(e.sgemm, null);
  },
});
