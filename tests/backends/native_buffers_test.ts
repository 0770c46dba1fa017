/**
 * The `native` backend's buffer pool: buffers are reused only when no tensor and no caller can
 * still see them.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { BufferPool, MIN_POOLED, pool } from "../../lib/backends/native/buffers.ts";
import { registerNativeBackend } from "../../lib/backends/native/backend.ts";

const reg = await registerNativeBackend();
if (!reg.ok) console.log(`native buffer pool tests skipped: ${reg.reason}`);

/** Element-wise equality (node's assert would build a diff of thousands of lines). */
function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

Deno.test("BufferPool: reuse after the last release, never after escape or twice", () => {
  const p = new BufferPool();
  const a = p.alloc(MIN_POOLED);
  p.retain(a);
  p.retain(a); // two tensors share it (a reshape)
  p.release(a);
  assert.notEqual(p.alloc(MIN_POOLED), a, "reused while a tensor still holds it");
  p.release(a);
  p.release(a); // a double release must not put it in the pool twice
  assert.equal(p.alloc(MIN_POOLED), a);
  assert.notEqual(p.alloc(MIN_POOLED), a);

  const b = p.alloc(MIN_POOLED);
  p.retain(b);
  p.escape(b); // read by a caller
  p.release(b);
  assert.notEqual(p.alloc(MIN_POOLED), b, "reused after it was handed out");

  const small = p.alloc(16), mine = new Float32Array(MIN_POOLED);
  for (const x of [small, mine]) {
    p.retain(x);
    p.release(x);
  }
  assert.equal(p.stats().freeBytes, 0, "pooled a small or foreign buffer");
});

Deno.test({
  name: "native: data read out, user arrays and reshaped views survive later kernels",
  ignore: !reg.ok,
  fn: async () => {
    await tf.setBackend("native");
    const before = tf.memory().numTensors;
    const n = MIN_POOLED * 2;
    const user = new Float32Array(n).map((_, i) => i - n / 2);
    const x = tf.tensor1d(user);
    const y = tf.relu(x);
    const read = (await y.data()) as Float32Array;
    const copy = read.slice();
    // Same values through a reshape, which shares the buffer of its input.
    const kept = tf.tidy(() => tf.reshape(tf.neg(tf.neg(y)), [2, n / 2]));
    const expected = (await kept.data()).slice();
    y.dispose();
    x.dispose();
    const hits0 = pool.stats().hits;
    // Churn: many same-sized outputs that would reuse any wrongly freed buffer.
    for (let i = 0; i < 5; i++) tf.tidy(() => tf.relu(tf.add(tf.fill([n], i + 1), 3))).dispose();
    assert.ok(pool.stats().hits > hits0, "the pool was never used");
    assert.ok(same(read, copy), "a buffer returned by data() was overwritten");
    assert.ok(same(user, new Float32Array(n).map((_, i) => i - n / 2)), "user array changed");
    assert.ok(same(await kept.data(), expected), "a live tensor's buffer was reused");
    kept.dispose();
    assert.equal(tf.memory().numTensors, before);
  },
});
