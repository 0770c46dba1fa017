/**
 * Elementwise ReLU (forward and backward) and binary add (optionally followed by ReLU in the same
 * primitive, through a binary post-op). Layout does not matter to these, so every tensor is
 * described as a flat 1-D array of its element count: one cached primitive serves every shape
 * with that many elements.
 *
 * @example
 * ```ts
 * import { openDnnl } from "./ffi.ts";
 * import { add, relu } from "./elementwise.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const a = Float32Array.of(-1, 2), b = Float32Array.of(3, -5), out = new Float32Array(2);
 *   add(dnnl, a, b, out, { relu: true }); // out = [2, 0]
 *   relu(dnnl, a, out); // out = [0, 2]
 * }
 * ```
 * @module
 */

import { ENUM, SIZEOF } from "./abi.ts";
import { check, type Dnnl } from "./ffi.ts";
import { type Md, mdByTag } from "./memory.ts";
import { cached, Primitive } from "./primitive.ts";

function flatMd(dnnl: Dnnl, n: number): Md {
  return mdByTag(dnnl, [n], ENUM.dnnl_a);
}

function reluDesc(dnnl: Dnnl, n: number, backward: boolean): Uint8Array {
  const d = new Uint8Array(SIZEOF.dnnl_eltwise_desc_t);
  const s = dnnl.lib.symbols;
  const alg = ENUM.dnnl_eltwise_relu;
  const md = flatMd(dnnl, n);
  const status = backward
    ? s.dnnl_eltwise_backward_desc_init(d, alg, md, md, 0, 0)
    : s.dnnl_eltwise_forward_desc_init(d, ENUM.dnnl_forward_training, alg, md, 0, 0);
  check(backward ? "dnnl_eltwise_backward_desc_init" : "dnnl_eltwise_forward_desc_init", status);
  return d;
}

/**
 * The cached ReLU primitive for `n` elements (exposed for `impl` checks).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { reluPrimitive } from "./elementwise.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * assert.match(reluPrimitive(dnnl, 1024, "forward").impl, /^\S+$/); // e.g. "jit:avx2"
 * ```
 */
export function reluPrimitive(dnnl: Dnnl, n: number, pass: "forward" | "backward"): Primitive {
  return cached(dnnl, `relu:${pass}:${n}`, () => {
    if (pass === "forward") {
      return new Primitive(dnnl, reluDesc(dnnl, n, false), { args: ["src", "dst"] });
    }
    const hint = reluPrimitive(dnnl, n, "forward").pd;
    const args = ["src", "diff_dst", "diff_src"] as const;
    return new Primitive(dnnl, reluDesc(dnnl, n, true), { args, hint });
  });
}

/**
 * `y = max(x, 0)`; `y` may be `x` (in place).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { relu } from "./elementwise.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const x = Float32Array.of(-1, 1);
 * relu(dnnl, x, x);
 * ```
 */
export function relu(dnnl: Dnnl, x: Float32Array, y: Float32Array): void {
  reluPrimitive(dnnl, x.length, "forward").run({ src: x, dst: y });
}

/**
 * `dx = dy * (x > 0)`, with `x` the forward input (the forward output gives the same mask).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { reluBackward } from "./elementwise.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const x: Float32Array, dy: Float32Array, dx: Float32Array;
 * reluBackward(dnnl, x, dy, dx);
 * ```
 */
export function reluBackward(
  dnnl: Dnnl,
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
): void {
  reluPrimitive(dnnl, x.length, "backward").run({ src: x, diff_dst: dy, diff_src: dx });
}

/**
 * The cached binary-add primitive for `n` elements, with or without the ReLU post-op.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { addPrimitive } from "./elementwise.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * assert.match(addPrimitive(dnnl, 1024, true).impl, /^\S+$/); // e.g. "jit:uni"
 * ```
 */
export function addPrimitive(dnnl: Dnnl, n: number, withRelu: boolean): Primitive {
  return cached(dnnl, `add:${n}:relu=${withRelu}`, () => {
    const d = new Uint8Array(SIZEOF.dnnl_binary_desc_t);
    const md = flatMd(dnnl, n);
    check(
      "dnnl_binary_desc_init",
      dnnl.lib.symbols.dnnl_binary_desc_init(d, ENUM.dnnl_binary_add, md, md, md),
    );
    const args = ["src", "src_1", "dst"] as const;
    return new Primitive(dnnl, d, { args, reluPostOp: withRelu });
  });
}

/**
 * `out = a + b`, or `max(a + b, 0)` with `{relu: true}` (one primitive: binary add with an
 * eltwise ReLU post-op). `out` may be `a` (in place), e.g. to accumulate gradients.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { add } from "./elementwise.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const grad: Float32Array, more: Float32Array;
 * add(dnnl, grad, more, grad); // grad += more
 * ```
 */
export function add(
  dnnl: Dnnl,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  options: { relu?: boolean } = {},
): void {
  if (b.length !== a.length || out.length < a.length) {
    throw new Error(`add: lengths ${a.length}, ${b.length} -> ${out.length}`);
  }
  addPrimitive(dnnl, a.length, !!options.relu).run({ src: a, src_1: b, dst: out });
}
