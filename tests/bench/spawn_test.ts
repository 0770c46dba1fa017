/**
 * bench/spawn.ts: JSON lines of a child reach the callback as they come (also a last line without
 * a newline), other output is ignored, and the wall-clock cap kills.
 */
import assert from "node:assert/strict";
import { lastLine, spawnJson } from "../../bench/spawn.ts";

const deno = Deno.execPath();

Deno.test("spawnJson: JSON objects in order, other lines ignored, stderr kept", async () => {
  const seen: unknown[] = [];
  const code = `console.log('{"a": 1}'); console.log("plain"); console.log("{not json");
    console.error("warn"); await Deno.stdout.write(new TextEncoder().encode('{"b": 2}'));`;
  const r = await spawnJson(deno, ["eval", code], 30, (o) => seen.push(o));
  assert.deepEqual(seen, [{ a: 1 }, { b: 2 }]);
  assert.equal(r.code, 0);
  assert.equal(r.timedOut, false);
  assert.equal(r.stderr.trim(), "warn");
});

Deno.test("spawnJson: killed at the cap, with what it printed before", async () => {
  const seen: unknown[] = [];
  const code = `console.log('{"step": 1}'); await new Promise((r) => setTimeout(r, 60000));`;
  const t = performance.now();
  const r = await spawnJson(deno, ["eval", code], 3, (o) => seen.push(o));
  assert.equal(r.timedOut, true);
  assert.notEqual(r.code, 0);
  assert.deepEqual(seen, [{ step: 1 }]);
  assert.ok(performance.now() - t < 30_000);
});

Deno.test("spawnJson: the environment given is the child's", async () => {
  let got: unknown = null;
  const code = `console.log(JSON.stringify({ t: Deno.env.get("OMP_NUM_THREADS") }))`;
  await spawnJson(deno, ["eval", code], 30, (o) => got = o.t, { OMP_NUM_THREADS: "3" });
  assert.equal(got, "3");
});

Deno.test("lastLine: the last non-empty line, cut at 200 characters", () => {
  assert.equal(lastLine("Traceback:\n  x\nValueError: bad\n\n"), "ValueError: bad");
  assert.equal(lastLine(""), "no output");
  assert.equal(lastLine("x".repeat(300)).length, 200);
});
