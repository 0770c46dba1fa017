/**
 * bench/worker.ts: its JSON argument (defaults, bad values as one line), and one tiny run in a
 * process of its own that prints start, first, step and done, in that order.
 */
import assert from "node:assert/strict";
import {
  parseWorkerArgs,
  THREAD_VARS,
  WORKER_DEFAULTS,
  workerCommand,
} from "../../bench/worker.ts";
import { InputError } from "../../lib/errors.ts";
import { spawnJson } from "../../bench/spawn.ts";
import { runScript } from "../run_cli.ts";

const WORKER = new URL("../../bench/worker.ts", import.meta.url).pathname;
const TINY = { stages: [1, 1, 1, 1], width: 8 };

Deno.test("parseWorkerArgs: missing fields take the defaults, the net's too", () => {
  const a = parseWorkerArgs(JSON.stringify({ impl: "cpu", size: 16, net: TINY }));
  assert.deepEqual(a, {
    ...WORKER_DEFAULTS,
    impl: "cpu",
    size: 16,
    net: { depth: 18, stages: [1, 1, 1, 1], width: 8 },
  });
  assert.deepEqual(parseWorkerArgs("{}"), WORKER_DEFAULTS);
});

for (
  const [text, pattern] of [
    ["not json", /^worker: not json is not JSON/],
    ['{"impl":"torch"}', /^worker: impl torch: use native, webgpu or cpu$/],
    ['{"size":0}', /^worker: size 0: give a positive integer$/],
    ['{"batch":2.5}', /^worker: batch 2.5: give a positive integer$/],
    ['{"warmup":-1}', /^worker: warmup -1: give a non-negative integer$/],
    ['{"seconds":"5"}', /^worker: seconds 5: give a number > 0$/],
    ['{"batches":"streamed"}', /^worker: batches streamed: use fixed, inline, ahead$/],
  ] as const
) {
  Deno.test(`parseWorkerArgs ${text}: InputError`, () => {
    assert.throws(() => parseWorkerArgs(text), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.match(e.message, pattern);
      return true;
    });
  });
}

Deno.test("bench/worker.ts with a bad argument: one line, exit 2", async () => {
  const r = await runScript(WORKER, ['{"impl":"gpu"}']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trim(), "error: worker: impl gpu: use native, webgpu or cpu");
});

Deno.test("a tiny cpu run: start, first, steps in groups of readEvery, done", async () => {
  const args = { ...WORKER_DEFAULTS, impl: "cpu" as const, net: { depth: 18, ...TINY } };
  const w = await workerCommand({ ...args, size: 16, batch: 2, seconds: 0.2, readEvery: 2 });
  assert.deepEqual(w.env, {}); // a shader cache for WebGPU only
  const events: Record<string, unknown>[] = [];
  const r = await spawnJson(w.cmd, w.args, 120, (o) => events.push(o), {
    OPENBLAS_NUM_THREADS: "1",
  });
  await w.done();
  assert.equal(r.code, 0, r.stderr);
  const kinds = events.map((e) => e.event);
  assert.deepEqual(kinds.slice(0, 2), ["start", "first"]);
  assert.equal(kinds.at(-1), "done");
  assert.ok(kinds.slice(2, -1).every((k) => k === "step") && kinds.length >= 4, `${kinds}`);
  const [start, first] = events, done = events.at(-1)!;
  assert.match(start.detail as string, /cpu/);
  assert.equal(start.submit_batch, null);
  assert.deepEqual(Object.keys(start.threads as object), [...THREAD_VARS]);
  assert.equal((start.threads as Record<string, unknown>).OPENBLAS_NUM_THREADS, "1");
  assert.ok((first.seconds as number) > 0);
  assert.equal(first.warmup_s, null);
  const steps = events.slice(2, -1).map((e) => e.steps as number);
  assert.deepEqual(steps, steps.map((_, i) => 2 * (i + 1)));
  assert.equal(done.steps, steps.at(-1));
  assert.ok((done.seconds as number) >= 0.2);
  assert.ok((done.peak_rss_mb as number) > 0);
  assert.equal(done.profile, undefined);
});
