/**
 * NHWC max pooling and its gradient with the channel loop innermost (contiguous), in place of tfjs'
 * CPU kernels that index one element at a time through buffer objects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { maxPool } from "./max_pool.ts";
 * const info = tf.backend_util.computePool2DInfo([1, 2, 2, 1], 2, 2, 1, "valid");
 * assert.deepEqual([...maxPool(info, new Float32Array([1, 4, 2, 3]))], [4]);
 * ```
 * @module
 */
import type { backend_util } from "@tensorflow/tfjs-core";
import { pool } from "../buffers.ts";

type PoolInfo = backend_util.Conv2DInfo;

/**
 * Argmax arrays, two per output size, handed out in turn: a fresh 9 MiB array per step paid a page
 * fault per 4 KiB on first write (about 150 ms here), and the pool rarely gives a pooling the same
 * output buffer twice. A record is valid while its slot has not been handed out again.
 */
interface ArgSlot {
  arg: Int32Array;
  gen: number;
}
const rings = new Map<number, { slots: ArgSlot[]; next: number }>();
function takeSlot(n: number): ArgSlot {
  let ring = rings.get(n);
  if (!ring) rings.set(n, ring = { slots: [], next: 0 });
  if (ring.slots.length < 2) ring.slots.push({ arg: new Int32Array(n), gen: 0 });
  const slot = ring.slots[ring.next % ring.slots.length];
  ring.next = (ring.next + 1) % 2;
  slot.gen++;
  return slot;
}

/** Where each output of a pooling came from, for its gradient; keyed by the output's buffer. */
interface Argmax {
  x: WeakRef<Float32Array>;
  slot: ArgSlot;
  gen: number;
}
const argmaxOf = new WeakMap<ArrayBufferLike, Argmax>();

// The channel loops are functions of their own: called for every tap, they are optimised as hot
// functions with full type feedback, where the nested loops of a kernel called once per step were
// left to on-stack replacement, which V8 kept abandoning ("exit from OSR'd inner loop"). That ended
// the deopts, but not the gap it was chasing: inside a training step the kernel still measures
// 2-4x slower than in a loop of calls on the same data, cause unknown (bench/README.md).

/** Two float32 slots: a running maximum is picked from them by index, without a branch. */
const pick = new Float32Array(2);

function nextTap(
  x: Float32Array,
  s: number,
  y: Float32Array,
  arg: Int32Array,
  o: number,
  C: number,
) {
  for (let ch = 0; ch < C; ch++) {
    // Strictly greater, as tfjs' CPU kernel compares: the first maximum in row-major order keeps
    // the gradient, and NaN never wins.
    const a = y[o + ch], v = x[s + ch], gt = +(v > a), i = arg[o + ch];
    pick[0] = a;
    pick[1] = v;
    y[o + ch] = pick[gt];
    arg[o + ch] = i + gt * (s + ch - i);
  }
}

/**
 * Max pooling of an NHWC batch, as tfjs' CPU kernel computes it: each window's maximum starts at
 * -Infinity and takes every tap strictly greater, so padded cells and NaN never win and a window
 * of padding (or NaN) only gives -Infinity. Branch-free: the new maximum is picked by index from
 * the old one and the tap (a compare-and-branch mispredicts on about a third of the taps and
 * measured several times slower; the earlier `a + (d + |d|) / 2` gave NaN for infinities). The
 * index of each output's first maximum is kept (-1: none) so that {@linkcode maxPoolGrad} is a
 * single scatter.
 */
export function maxPool(c: PoolInfo, x: Float32Array): Float32Array {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const y = pool.alloc(B * OH * OW * C);
  const slot = takeSlot(y.length), arg = slot.arg;
  argmaxOf.set(y.buffer, { x: new WeakRef(x), slot, gen: slot.gen });
  const SH = c.strideHeight, SW = c.strideWidth, top = c.padInfo.top, left = c.padInfo.left;
  const KH = c.effectiveFilterHeight, KW = c.effectiveFilterWidth;
  const DH = c.dilationHeight, DW = c.dilationWidth;
  y.fill(-Infinity);
  arg.fill(-1);
  for (let n = 0, o = 0; n < B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * SH - top;
      for (let ow = 0; ow < OW; ow++, o += C) {
        const w0 = ow * SW - left;
        for (let kh = 0; kh < KH; kh += DH) {
          const ih = h0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw += DW) {
            const iw = w0 + kw;
            if (iw < 0 || iw >= W) continue;
            nextTap(x, ((n * H + ih) * W + iw) * C, y, arg, o, C);
          }
        }
      }
    }
  }
  return y;
}

/**
 * The gradient of {@linkcode maxPool}: each output's gradient goes to the first cell of its window
 * in row-major order that holds the maximum (as tfjs' CPU kernel decides ties): from the forward
 * pass' record when `y` is that pass' output of `x`, else by finding the first cell equal to `y`
 * (branch-free arithmetic: equality holds for one or two taps of nine).
 */
export function maxPoolGrad(
  c: PoolInfo,
  x: Float32Array,
  y: Float32Array,
  dy: Float32Array,
): Float32Array {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const dx = pool.zeros(B * H * W * C);
  // The forward pass' record, when `y` is still its output for this very `x`.
  const rec = argmaxOf.get(y.buffer);
  if (rec && rec.slot.gen === rec.gen && rec.x.deref() === x && dy.length === y.length) {
    const arg = rec.slot.arg;
    for (let o = 0; o < arg.length; o++) {
      const i = arg[o];
      if (i >= 0) dx[i] += dy[o];
    }
    return dx;
  }
  const at = new Int32Array(C);
  const SH = c.strideHeight, SW = c.strideWidth, top = c.padInfo.top, left = c.padInfo.left;
  const KH = c.effectiveFilterHeight, KW = c.effectiveFilterWidth;
  const DH = c.dilationHeight, DW = c.dilationWidth;
  for (let n = 0, o = 0; n < B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * SH - top;
      for (let ow = 0; ow < OW; ow++, o += C) {
        const w0 = ow * SW - left;
        at.fill(-1);
        for (let kh = 0; kh < KH; kh += DH) {
          const ih = h0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw += DW) {
            const iw = w0 + kw;
            if (iw < 0 || iw >= W) continue;
            const s = ((n * H + ih) * W + iw) * C;
            for (let ch = 0; ch < C; ch++) {
              // at = s + ch at the first tap equal to the maximum; later ties leave it alone,
              // and a maximum of -Infinity (padding or NaN only) has no tap, as in maxPool.
              const m = y[o + ch], a = at[ch];
              const hit = +(x[s + ch] === m) & +(a < 0) & +(m > -Infinity);
              at[ch] = a + hit * (s + ch - a);
            }
          }
        }
        for (let ch = 0; ch < C; ch++) if (at[ch] >= 0) dx[at[ch]] += dy[o + ch];
      }
    }
  }
  return dx;
}
