/**
 * One created oneDNN primitive with its memory objects, bound to caller buffers on each call; and
 * the per-{@link Dnnl} cache of such primitives.
 *
 * Every primitive is created with a user-managed scratchpad (`dnnl_scratchpad_mode_user`): oneDNN
 * then allocates nothing per call, and all primitives share `dnnl.scratch.scratchpad`, grown when
 * a primitive that needs more is created (calls are synchronous, so they never overlap).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { Primitive } from "./primitive.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const opDesc: Uint8Array;
 * const relu = new Primitive(dnnl, opDesc, { args: ["src", "dst"] });
 * relu.run({ src: new Float32Array(8), dst: new Float32Array(8) });
 * assert.match(relu.impl, /^\S+$/); // e.g. "jit:avx2"
 * ```
 * @module
 */

import { ARG, ENUM, SIZEOF } from "./abi.ts";
import { check, type Disposable, type Dnnl, outPointer } from "./ffi.ts";
import { copyMd, type Md, mdBytes, pointerOf } from "./memory.ts";

/**
 * oneDNN's execution arguments by name: `DNNL_ARG_<NAME>` in lower case (`src`, `diff_weights`,
 * ...). A primitive declares the ones it binds and {@linkcode Primitive.run} takes a buffer for
 * each by that name, so no call site depends on an order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARG } from "./abi.ts";
 * import { EXEC_ARG } from "./primitive.ts";
 * assert.equal(EXEC_ARG.diff_weights, ARG.DNNL_ARG_DIFF_WEIGHTS);
 * ```
 */
export const EXEC_ARG = {
  src: ARG.DNNL_ARG_SRC,
  src_1: ARG.DNNL_ARG_SRC_1,
  dst: ARG.DNNL_ARG_DST,
  weights: ARG.DNNL_ARG_WEIGHTS,
  bias: ARG.DNNL_ARG_BIAS,
  mean: ARG.DNNL_ARG_MEAN,
  variance: ARG.DNNL_ARG_VARIANCE,
  scale: ARG.DNNL_ARG_SCALE,
  shift: ARG.DNNL_ARG_SHIFT,
  workspace: ARG.DNNL_ARG_WORKSPACE,
  diff_src: ARG.DNNL_ARG_DIFF_SRC,
  diff_dst: ARG.DNNL_ARG_DIFF_DST,
  diff_weights: ARG.DNNL_ARG_DIFF_WEIGHTS,
  diff_bias: ARG.DNNL_ARG_DIFF_BIAS,
  diff_scale: ARG.DNNL_ARG_DIFF_SCALE,
  diff_shift: ARG.DNNL_ARG_DIFF_SHIFT,
  from: ARG.DNNL_ARG_FROM,
  to: ARG.DNNL_ARG_TO,
} as const;

/** The name of an execution argument a caller binds (the scratchpad is bound by the primitive). */
export type ArgName = keyof typeof EXEC_ARG;

/**
 * The buffers of one execution, by argument name. An argument the primitive does not have may be
 * given as null (an absent bias, say); every argument it has must be given.
 */
export type ExecArgs = Partial<Record<ArgName, ArrayBufferView | null>>;

/** How to create a primitive descriptor. */
export interface PrimitiveOptions {
  /** The exec args the caller binds (by name; their order does not matter). */
  args: readonly ArgName[];
  /** The forward primitive descriptor a backward one is made for (`hint_forward_primitive_desc`). */
  hint?: Deno.PointerObject;
  /** Append an eltwise ReLU post-op (for binary add + ReLU). */
  reluPostOp?: boolean;
}

/** A primitive descriptor made by a caller-specific C call (reorders are created this way). */
export type PdFactory = (out: BigUint64Array, attr: Deno.PointerObject) => number;

/**
 * A created primitive: descriptor, primitive, one memory object per argument and the scratchpad.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { Primitive } from "./primitive.ts";
 * declare const prim: Primitive;
 * assert.match(prim.impl, /^\S+$/);
 * assert.ok(prim.bytes.every((n) => Number.isInteger(n) && n >= 0));
 * ```
 */
export class Primitive implements Disposable {
  /** The primitive descriptor (kept: backward primitives use it as their hint). */
  readonly pd: Deno.PointerObject;
  /** The primitive. */
  readonly prim: Deno.PointerObject;
  /** The implementation oneDNN chose (`dnnl_query_impl_info_str`), e.g. "jit:avx2". */
  readonly impl: string;
  /** The exec args bound on each call (`DNNL_ARG_*` values; the scratchpad's last, if any). */
  readonly args: readonly number[];
  /** The names of the exec args the caller binds, in the order of `args`. */
  readonly names: readonly ArgName[];
  /** The memory descriptor of each arg, as the primitive descriptor reports it. */
  readonly mds: readonly Md[];
  /** Bytes each arg's buffer must have at least. */
  readonly bytes: readonly number[];
  /** Scratchpad bytes this primitive needs (0 if none). */
  readonly scratchpadBytes: number;
  readonly #dnnl: Dnnl;
  readonly #mems: Deno.PointerObject[] = [];
  readonly #bound: (Deno.PointerObject | null)[] = [];
  readonly #execArgs: Uint8Array;
  readonly #reorder: boolean;

  /** Creates the primitive from an op descriptor (or a custom pd factory) and options. */
  constructor(dnnl: Dnnl, op: Uint8Array | PdFactory, options: PrimitiveOptions) {
    this.#dnnl = dnnl;
    this.#reorder = typeof op === "function"; // only reorders are made by a pd factory
    this.pd = createPd(dnnl, op, options);
    try {
      this.names = [...options.args];
      const all: number[] = this.names.map((name) => EXEC_ARG[name]);
      this.scratchpadBytes = queryBytes(dnnl, this.pd, ENUM.dnnl_query_scratchpad_md, 0);
      if (this.scratchpadBytes > 0) all.push(ARG.DNNL_ARG_SCRATCHPAD);
      this.args = all;
      this.mds = all.map((arg) => queryArgMd(dnnl, this.pd, arg));
      this.bytes = this.mds.map((md) => mdBytes(dnnl, md));
      this.impl = implName(dnnl, this.pd);
      const out = new BigUint64Array(1);
      check("dnnl_primitive_create", dnnl.lib.symbols.dnnl_primitive_create(out, this.pd));
      this.prim = outPointer(out, "dnnl_primitive_create");
    } catch (e) {
      dnnl.lib.symbols.dnnl_primitive_desc_destroy(this.pd);
      throw e;
    }
    this.#execArgs = this.#createMemories();
    growScratch(dnnl, "scratchpad", this.scratchpadBytes);
  }

  #createMemories(): Uint8Array {
    const { lib, engine } = this.#dnnl;
    const exec = new Uint8Array(this.args.length * SIZEOF.dnnl_exec_arg_t);
    const view = new DataView(exec.buffer);
    const out = new BigUint64Array(1);
    this.args.forEach((arg, i) => {
      // DNNL_MEMORY_NONE (null): the buffer is attached per call with set_data_handle.
      check("dnnl_memory_create", lib.symbols.dnnl_memory_create(out, this.mds[i], engine, null));
      this.#mems.push(outPointer(out, "dnnl_memory_create"));
      this.#bound.push(null);
      view.setInt32(i * SIZEOF.dnnl_exec_arg_t, arg, true);
      view.setBigUint64(i * SIZEOF.dnnl_exec_arg_t + 8, out[0], true);
    });
    return exec;
  }

  /** The memory descriptor of the exec arg `name` (throws if the primitive has none). */
  md(name: ArgName): Md {
    return this.mds[this.#indexOf(name)];
  }

  /** Bytes the buffer of the exec arg `name` must have at least (throws if there is none). */
  bytesOf(name: ArgName): number {
    return this.bytes[this.#indexOf(name)];
  }

  #indexOf(name: ArgName): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`primitive ${this.impl}: no arg '${name}'`);
    return i;
  }

  /**
   * Runs the primitive on `buffers` (one per declared arg, by name) and waits for it. Throws if an
   * arg is missing, if a buffer is given for an arg the primitive does not have, or if a buffer is
   * smaller than its descriptor needs.
   */
  run(buffers: ExecArgs): void {
    const names = this.names, n = names.length;
    let given = 0;
    for (const name in buffers) if (buffers[name as ArgName]) given++;
    for (let i = 0; i < n; i++) {
      const b = buffers[names[i]];
      if (!b) throw new Error(`primitive ${this.impl}: no buffer for arg '${names[i]}'`);
      this.#bind(i, b);
    }
    if (given !== n) {
      const extra = Object.keys(buffers).filter((k) =>
        buffers[k as ArgName] && !names.includes(k as ArgName)
      );
      throw new Error(`primitive ${this.impl}: it has no arg '${extra.join("', '")}'`);
    }
    if (this.scratchpadBytes > 0) this.#bind(n, this.#dnnl.scratch.scratchpad);
    const { lib, stream, stats } = this.#dnnl;
    const t0 = performance.now();
    const status = lib.symbols.dnnl_primitive_execute(
      this.prim,
      stream,
      this.args.length,
      this.#execArgs,
    );
    check(`dnnl_primitive_execute(${this.impl})`, status);
    check("dnnl_stream_wait", lib.symbols.dnnl_stream_wait(stream));
    const ms = performance.now() - t0;
    stats.ms += ms;
    stats.calls++;
    if (this.#reorder) {
      stats.reorderMs += ms;
      stats.reorders++;
    }
  }

  #bind(i: number, buffer: ArrayBufferView): void {
    if (buffer.byteLength < this.bytes[i]) {
      const need = `${this.bytes[i]} bytes, got ${buffer.byteLength}`;
      const name = this.names[i] ?? "scratchpad";
      throw new Error(`primitive ${this.impl}: arg '${name}' needs ${need}`);
    }
    const p = pointerOf(buffer);
    const last = this.#bound[i];
    if (last !== null && Deno.UnsafePointer.equals(last, p)) return;
    const status = this.#dnnl.lib.symbols.dnnl_memory_set_data_handle(this.#mems[i], p);
    check("dnnl_memory_set_data_handle", status);
    this.#bound[i] = p;
  }

  /** Destroys the memory objects, the primitive and its descriptor. */
  dispose(): void {
    const s = this.#dnnl.lib.symbols;
    for (const mem of this.#mems) s.dnnl_memory_destroy(mem);
    this.#mems.length = 0;
    s.dnnl_primitive_destroy(this.prim);
    s.dnnl_primitive_desc_destroy(this.pd);
  }
}

function createPd(dnnl: Dnnl, op: Uint8Array | PdFactory, options: PrimitiveOptions) {
  const s = dnnl.lib.symbols;
  const out = new BigUint64Array(1);
  check("dnnl_primitive_attr_create", s.dnnl_primitive_attr_create(out));
  const attr = outPointer(out, "dnnl_primitive_attr_create");
  try {
    const mode = ENUM.dnnl_scratchpad_mode_user;
    check(
      "dnnl_primitive_attr_set_scratchpad_mode",
      s.dnnl_primitive_attr_set_scratchpad_mode(attr, mode),
    );
    if (options.reluPostOp) setReluPostOp(dnnl, attr);
    if (typeof op === "function") {
      check("dnnl_reorder_primitive_desc_create", op(out, attr));
    } else {
      const hint = options.hint ?? null;
      check(
        "dnnl_primitive_desc_create",
        s.dnnl_primitive_desc_create(out, op, attr, dnnl.engine, hint),
      );
    }
    return outPointer(out, "dnnl_primitive_desc_create");
  } finally {
    s.dnnl_primitive_attr_destroy(attr); // the descriptor keeps its own copy
  }
}

function setReluPostOp(dnnl: Dnnl, attr: Deno.PointerObject): void {
  const s = dnnl.lib.symbols;
  const out = new BigUint64Array(1);
  check("dnnl_post_ops_create", s.dnnl_post_ops_create(out));
  const ops = outPointer(out, "dnnl_post_ops_create");
  try {
    const relu = ENUM.dnnl_eltwise_relu;
    check("dnnl_post_ops_append_eltwise", s.dnnl_post_ops_append_eltwise(ops, 1, relu, 0, 0));
    check("dnnl_primitive_attr_set_post_ops", s.dnnl_primitive_attr_set_post_ops(attr, ops));
  } finally {
    s.dnnl_post_ops_destroy(ops);
  }
}

/**
 * The memory descriptor a primitive descriptor reports for one query (e.g. `dnnl_query_weights_md`).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { ENUM } from "./abi.ts";
 * import { queryMd } from "./primitive.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const pd: Deno.PointerObject;
 * const w = queryMd(dnnl, pd, ENUM.dnnl_query_weights_md, 0);
 * ```
 */
export function queryMd(dnnl: Dnnl, pd: Deno.PointerObject, what: number, index: number): Md {
  const p = dnnl.lib.symbols.dnnl_primitive_desc_query_md(pd, what, index);
  return copyMd(p, `dnnl_primitive_desc_query_md(${what}, ${index})`);
}

function queryArgMd(dnnl: Dnnl, pd: Deno.PointerObject, arg: number): Md {
  if (arg === ARG.DNNL_ARG_SCRATCHPAD) return queryMd(dnnl, pd, ENUM.dnnl_query_scratchpad_md, 0);
  return queryMd(dnnl, pd, ENUM.dnnl_query_exec_arg_md, arg);
}

function queryBytes(dnnl: Dnnl, pd: Deno.PointerObject, what: number, index: number): number {
  return mdBytes(dnnl, queryMd(dnnl, pd, what, index));
}

/**
 * The implementation name of a primitive descriptor (`dnnl_query_impl_info_str`).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import assert from "node:assert/strict";
 * import { implName } from "./primitive.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const pd: Deno.PointerObject;
 * assert.doesNotMatch(implName(dnnl, pd), /^ref:/, "slow reference kernel");
 * ```
 */
export function implName(dnnl: Dnnl, pd: Deno.PointerObject): string {
  const out = new BigUint64Array(1);
  const what = ENUM.dnnl_query_impl_info_str;
  check(
    "dnnl_primitive_desc_query(impl_info_str)",
    dnnl.lib.symbols.dnnl_primitive_desc_query(pd, what, 0, out),
  );
  const p = Deno.UnsafePointer.create(out[0]);
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}

/**
 * Grows one of the shared scratch buffers to at least `bytes` (never shrinks; nothing per call).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { growScratch } from "./primitive.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const staging = growScratch(dnnl, "weights", 4096);
 * ```
 */
export function growScratch(dnnl: Dnnl, which: keyof Dnnl["scratch"], bytes: number): Uint8Array {
  const have = dnnl.scratch[which];
  if (have.byteLength >= bytes) return have;
  // 64 extra bytes so the view can start on a cache line, as oneDNN's own allocations do.
  const raw = new Uint8Array(bytes + 64);
  const misalign = Number(BigInt(Deno.UnsafePointer.value(pointerOf(raw))) % 64n);
  const start = misalign === 0 ? 0 : 64 - misalign;
  dnnl.scratch[which] = raw.subarray(start, start + bytes);
  return dnnl.scratch[which];
}

/**
 * The cached value for `key`, created by `make` on first use. Keys name the primitive kind, the
 * shapes and the attributes, so a later call with the same ones reuses the same primitive.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { cached } from "./primitive.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * const entry = cached(dnnl, "example", () => ({ dispose() {} }));
 * ```
 */
export function cached<T extends Disposable>(dnnl: Dnnl, key: string, make: () => T): T {
  const hit = dnnl.cache.get(key) as T | undefined;
  if (hit !== undefined) return hit;
  const made = make();
  dnnl.cache.set(key, made);
  return made;
}

/**
 * A primitive descriptor alone, kept as the `hint` for backward primitives (no JIT code is
 * generated for it, unlike a {@link Primitive}).
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { HintPd } from "./primitive.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const forwardDesc: Uint8Array;
 * const hint = new HintPd(dnnl, forwardDesc);
 * ```
 */
export class HintPd implements Disposable {
  /** The forward primitive descriptor. */
  readonly pd: Deno.PointerObject;
  readonly #dnnl: Dnnl;

  /** Creates the descriptor from a forward op descriptor. */
  constructor(dnnl: Dnnl, op: Uint8Array) {
    this.#dnnl = dnnl;
    this.pd = createPd(dnnl, op, { args: [] });
  }

  /** Destroys the descriptor. */
  dispose(): void {
    this.#dnnl.lib.symbols.dnnl_primitive_desc_destroy(this.pd);
  }
}
