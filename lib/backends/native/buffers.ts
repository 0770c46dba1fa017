/**
 * A pool of large float32 buffers for the `native` backend's outputs. A fresh typed array costs a
 * page fault per 4 KiB on first write (measured here: a fresh 36 MiB output made ReLU three times
 * slower than writing into a used one), and a training step frees and reallocates the same sizes
 * every time. Buffers come back to the pool when the backend disposes their last tensor, unless
 * they were ever handed out of the backend (`data()`, `dataSync()`) or shared by a tensor the pool
 * does not know about.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferPool } from "./buffers.ts";
 * const pool = new BufferPool();
 * const a = pool.alloc(1 << 20); // contents undefined: the caller writes every element
 * pool.retain(a); // a tensor now holds it
 * pool.release(a); // ...and was disposed: the buffer is free again
 * assert.equal(pool.alloc(1 << 20), a);
 * ```
 * @module
 */

/** Buffers smaller than this many floats come from V8's heap as usual (cheap, not pooled). */
export const MIN_POOLED = 1 << 14;

/** Counters for tests and profiles. */
export interface PoolStats {
  /** Allocations served from the pool. */
  hits: number;
  /** Pooled-size allocations that needed a fresh buffer. */
  misses: number;
  /** Bytes waiting in the pool now. */
  freeBytes: number;
}

/** See the module documentation. */
export class BufferPool {
  #free = new Map<number, Float32Array[]>();
  #owned = new WeakSet<ArrayBufferLike>();
  #escaped = new WeakSet<ArrayBufferLike>();
  #inPool = new WeakSet<ArrayBufferLike>();
  #refs = new WeakMap<ArrayBufferLike, number>();
  #freeBytes = 0;
  #hits = 0;
  #misses = 0;

  /** @param maxFreeBytes the most bytes kept waiting in the pool; more are left to the GC. */
  constructor(readonly maxFreeBytes: number = 2 ** 31) {}

  /** A buffer of `n` floats with undefined contents: the caller must write every element. */
  alloc(n: number): Float32Array {
    if (n < MIN_POOLED) return new Float32Array(n);
    const list = this.#free.get(n);
    const reused = list?.pop();
    if (reused) {
      this.#inPool.delete(reused.buffer);
      this.#freeBytes -= reused.byteLength;
      this.#hits++;
      return reused;
    }
    this.#misses++;
    const a = new Float32Array(n);
    this.#owned.add(a.buffer);
    return a;
  }

  /** A zero-filled buffer of `n` floats. */
  zeros(n: number): Float32Array {
    const a = this.alloc(n);
    return a.fill(0);
  }

  /** A tensor now stores `values` (the backend's write or move). */
  retain(values: unknown): void {
    const buf = bufferOf(values);
    if (buf && this.#owned.has(buf)) this.#refs.set(buf, (this.#refs.get(buf) ?? 0) + 1);
  }

  /** A tensor storing `values` was deleted; frees the buffer when it was the last one. */
  release(values: unknown): void {
    const buf = bufferOf(values);
    if (!buf || !this.#owned.has(buf)) return;
    const left = (this.#refs.get(buf) ?? 1) - 1;
    this.#refs.set(buf, left);
    if (left !== 0 || this.#escaped.has(buf) || this.#inPool.has(buf)) return;
    const a = values as Float32Array;
    // Only whole buffers go back (a view's buffer is released through its own owner).
    if (a.byteOffset !== 0 || a.byteLength !== buf.byteLength) return;
    if (this.#freeBytes + a.byteLength > this.maxFreeBytes) return;
    let list = this.#free.get(a.length);
    if (!list) this.#free.set(a.length, list = []);
    list.push(a);
    this.#inPool.add(buf);
    this.#freeBytes += a.byteLength;
  }

  /** `values` left the backend (read by a caller): never reuse its buffer. */
  escape(values: unknown): void {
    const buf = bufferOf(values);
    if (buf && this.#owned.has(buf)) this.#escaped.add(buf);
  }

  /**
   * Whether `values` may be overwritten by a kernel's output: a whole pooled buffer that exactly
   * one tensor stores and that never left the backend (the caller also checks that no other
   * tensor shares that tensor's data).
   */
  exclusive(values: Float32Array): boolean {
    const buf = values.buffer;
    return this.#owned.has(buf) && !this.#escaped.has(buf) && !this.#inPool.has(buf) &&
      this.#refs.get(buf) === 1 && values.byteOffset === 0 && values.byteLength === buf.byteLength;
  }

  /** Hit and miss counts and the bytes waiting. */
  stats(): PoolStats {
    return { hits: this.#hits, misses: this.#misses, freeBytes: this.#freeBytes };
  }

  /** Drops every waiting buffer. */
  clear(): void {
    for (const list of this.#free.values()) for (const a of list) this.#inPool.delete(a.buffer);
    this.#free.clear();
    this.#freeBytes = 0;
  }
}

function bufferOf(values: unknown): ArrayBufferLike | null {
  return values instanceof Float32Array ? values.buffer : null;
}

/** The pool of the `native` backend's kernels. */
export const pool: BufferPool = new BufferPool();

/**
 * A float32 buffer from the pool that holds `bytes` bytes, and a byte view of it: a oneDNN
 * workspace (an argmax or a ReLU mask) that a tensor can carry to the gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { workspaceBuffer } from "./buffers.ts";
 * const ws = workspaceBuffer(6);
 * assert.equal(ws.values.length, 2);
 * assert.equal(ws.bytes.length, 6);
 * ```
 */
export function workspaceBuffer(bytes: number): { values: Float32Array; bytes: Uint8Array } {
  const values = pool.alloc(Math.max(1, Math.ceil(bytes / 4)));
  return { values, bytes: new Uint8Array(values.buffer, values.byteOffset, bytes) };
}
