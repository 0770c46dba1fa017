/**
 * Opens oneDNN 2.x (`libdnnl.so.2`) and OpenMP (`libgomp.so.1`) through `Deno.dlopen`, and creates
 * the CPU engine and stream every primitive of this folder runs on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDnnl } from "./ffi.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   assert.match(dnnl.version, /^2\.\d+\.\d+$/);
 *   assert.match(dnnl.isa, /^\S+$/);
 *   assert.ok(dnnl.getThreads() >= 1);
 * } else assert.match(dnnl.reason, /^.+$/); // no oneDNN: a one-line reason
 * ```
 * @module
 */

import { ABI_VERSION, DNNL_RUNTIME_OMP, ENUM, isaName, OFFSET } from "./abi.ts";
import { errorText } from "../../../errors.ts";

const P = "pointer" as const;
const B = "buffer" as const;
const S = "i32" as const; // dnnl_status_t and every other C enum

/** The oneDNN C functions this binding calls; signatures follow `oneapi/dnnl/dnnl.h` (2.6). */
export const DNNL_SYMBOLS = {
  dnnl_version: { parameters: [], result: P },
  dnnl_get_effective_cpu_isa: { parameters: [], result: S, optional: true },
  dnnl_engine_create: { parameters: [B, S, "usize"], result: S },
  dnnl_engine_destroy: { parameters: [P], result: S },
  dnnl_stream_create: { parameters: [B, P, "u32"], result: S },
  dnnl_stream_wait: { parameters: [P], result: S },
  dnnl_stream_destroy: { parameters: [P], result: S },
  dnnl_memory_desc_init_by_tag: { parameters: [B, S, B, S, S], result: S },
  dnnl_memory_desc_init_by_strides: { parameters: [B, S, B, S, B], result: S },
  dnnl_memory_desc_get_size: { parameters: [B], result: "usize" },
  dnnl_memory_desc_equal: { parameters: [B, B], result: S },
  dnnl_memory_create: { parameters: [B, B, P, P], result: S },
  dnnl_memory_set_data_handle: { parameters: [P, P], result: S },
  dnnl_memory_destroy: { parameters: [P], result: S },
  dnnl_primitive_attr_create: { parameters: [B], result: S },
  dnnl_primitive_attr_destroy: { parameters: [P], result: S },
  dnnl_primitive_attr_set_scratchpad_mode: { parameters: [P, S], result: S },
  dnnl_primitive_attr_set_post_ops: { parameters: [P, P], result: S },
  dnnl_post_ops_create: { parameters: [B], result: S },
  dnnl_post_ops_destroy: { parameters: [P], result: S },
  dnnl_post_ops_append_eltwise: { parameters: [P, "f32", S, "f32", "f32"], result: S },
  dnnl_primitive_desc_create: { parameters: [B, B, P, P, P], result: S },
  dnnl_primitive_desc_destroy: { parameters: [P], result: S },
  dnnl_primitive_desc_query: { parameters: [P, S, S, B], result: S },
  dnnl_primitive_desc_query_md: { parameters: [P, S, S], result: P },
  dnnl_primitive_create: { parameters: [B, P], result: S },
  dnnl_primitive_execute: { parameters: [P, P, S, B], result: S },
  dnnl_primitive_destroy: { parameters: [P], result: S },
  dnnl_reorder_primitive_desc_create: { parameters: [B, B, P, B, P, P], result: S },
  dnnl_convolution_forward_desc_init: {
    parameters: [B, S, S, B, B, B, B, B, B, B],
    result: S,
  },
  dnnl_convolution_backward_data_desc_init: { parameters: [B, S, B, B, B, B, B, B], result: S },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: [B, S, B, B, B, B, B, B, B],
    result: S,
  },
  dnnl_batch_normalization_forward_desc_init: { parameters: [B, S, B, "f32", "u32"], result: S },
  dnnl_batch_normalization_backward_desc_init: {
    parameters: [B, S, B, B, "f32", "u32"],
    result: S,
  },
  dnnl_pooling_forward_desc_init: { parameters: [B, S, S, B, B, B, B, B, B], result: S },
  dnnl_pooling_backward_desc_init: { parameters: [B, S, B, B, B, B, B, B], result: S },
  dnnl_eltwise_forward_desc_init: { parameters: [B, S, S, B, "f32", "f32"], result: S },
  dnnl_eltwise_backward_desc_init: { parameters: [B, S, B, B, "f32", "f32"], result: S },
  dnnl_binary_desc_init: { parameters: [B, S, B, B, B], result: S },
  dnnl_sgemm: {
    parameters: ["i8", "i8", "i64", "i64", "i64", "f32", B, "i64", B, "i64", "f32", B, "i64"],
    result: S,
  },
} as const;

/** OpenMP's thread controls, from libgomp (the runtime Debian's oneDNN is built with). */
export const GOMP_SYMBOLS = {
  omp_set_num_threads: { parameters: ["i32"], result: "void" },
  omp_get_max_threads: { parameters: [], result: "i32" },
} as const;

/** The opened oneDNN library. */
export type DnnlLib = Deno.DynamicLibrary<typeof DNNL_SYMBOLS>;
/** The opened libgomp. */
export type GompLib = Deno.DynamicLibrary<typeof GOMP_SYMBOLS>;

/** Growable buffers shared by all primitives of one {@link Dnnl} (calls never overlap). */
export interface DnnlScratch {
  /** User-managed scratchpad (`dnnl_scratchpad_mode_user`), grown to the largest need. */
  scratchpad: Uint8Array;
  /** Staging for reordered convolution weights, grown to the largest need. */
  weights: Uint8Array;
  /** The im2col matrix of the GEMM backward-weights path (see `conv2d_im2col.ts`). */
  im2col: Uint8Array;
}

/** A usable oneDNN: the library, its CPU engine and stream, the primitive cache, thread control. */
export interface Dnnl {
  /** Discriminates {@link Dnnl} from {@link DnnlUnavailable}. */
  ok: true;
  /** The `Deno.dlopen` handle of libdnnl; `lib.symbols` are the raw C functions. */
  lib: DnnlLib;
  /** The path or name it was opened from. */
  path: string;
  /** "major.minor.patch" as `dnnl_version()` reports it, e.g. "2.6.3". */
  version: string;
  /** The effective CPU ISA name, e.g. "avx2" ("unknown" if the symbol is absent). */
  isa: string;
  /** `OMP_WAIT_POLICY` libgomp runs with: "active", "passive" or "default" (spin, then sleep). */
  waitPolicy: string;
  /** CPU engine 0. */
  engine: Deno.PointerObject;
  /** An in-order stream on {@link engine}. */
  stream: Deno.PointerObject;
  /** Primitives created so far, keyed by kind, shapes and attributes; reused on later calls. */
  cache: Map<string, unknown>;
  /** Shared scratch buffers (see {@link DnnlScratch}). */
  scratch: DnnlScratch;
  /**
   * Primitive executions and `dnnl_sgemm` calls so far and their milliseconds, and the reorders
   * among them (for profiles).
   */
  stats: { calls: number; ms: number; reorders: number; reorderMs: number };
  /** Sets the OpenMP thread count for later primitive executions. */
  setThreads(n: number): void;
  /** The OpenMP thread count the next parallel region will use. */
  getThreads(): number;
  /** Destroys every cached primitive, the stream and the engine, and closes both libraries. */
  close(): void;
}

/** Why oneDNN could not be used, in one line. */
export interface DnnlUnavailable {
  /** Discriminates {@link DnnlUnavailable} from {@link Dnnl}. */
  ok: false;
  /** One line, e.g. "cannot open /x/libdnnl.so.2: ... No such file or directory". */
  reason: string;
}

/**
 * Throws a plain Error naming the C call when a `dnnl_status_t` is not `dnnl_success`.
 *
 * @example
 * ```ts
 * import { check } from "./ffi.ts";
 * check("dnnl_stream_wait", 0); // no-op
 * ```
 */
export function check(call: string, status: number): void {
  if (status === ENUM.dnnl_success) return;
  const names = ["success", "out_of_memory", "invalid_arguments", "unimplemented"];
  const more = ["iterator_ends", "runtime_error", "not_required"];
  const name = [...names, ...more][status] ?? "unknown";
  throw new Error(`${call} failed: dnnl_status_t ${status} (dnnl_${name})`);
}

/**
 * Reads a pointer written by C into an 8-byte out-parameter and checks it is not null.
 *
 * @example
 * ```ts
 * import { outPointer } from "./ffi.ts";
 * const out = new BigUint64Array([1234n]);
 * const p = outPointer(out, "example");
 * ```
 */
export function outPointer(out: BigUint64Array, call: string): Deno.PointerObject {
  const p = Deno.UnsafePointer.create(out[0]);
  if (p === null) throw new Error(`${call} returned a null handle`);
  return p;
}

/** Options of {@link openDnnl}. */
export interface OpenDnnlOptions {
  /**
   * `OMP_WAIT_POLICY` for libgomp, applied only when the environment does not set it already and
   * libgomp is not loaded yet (libgomp reads it once, when it is loaded with oneDNN). "passive":
   * idle OpenMP threads sleep at once instead of spinning, which on a machine shared with other
   * work was many times faster (see `bench/dnnl_probe.ts` and this folder's README).
   */
  waitPolicy?: "active" | "passive";
}

/**
 * Opens oneDNN: the path from `path`, else env `RESNET_DNNL`, else `libdnnl.so.2`. Never throws
 * for a missing or unsuitable library: it answers `{ok: false, reason}` with a one-line reason.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDnnl } from "./ffi.ts";
 * const dnnl = openDnnl(undefined, { waitPolicy: "passive" });
 * if (!dnnl.ok) assert.match(dnnl.reason, /^.+$/);
 * else dnnl.setThreads(2);
 * ```
 */
export function openDnnl(path?: string, options: OpenDnnlOptions = {}): Dnnl | DnnlUnavailable {
  const where = path ?? envPath() ?? "libdnnl.so.2";
  const waitPolicy = applyWaitPolicy(options.waitPolicy);
  let lib: DnnlLib;
  try {
    lib = Deno.dlopen(where, DNNL_SYMBOLS);
  } catch (e) {
    return { ok: false, reason: oneLine(`cannot open ${where}: ${errorText(e)}`) };
  }
  const version = readVersion(lib);
  const bad = versionProblem(version);
  if (bad) {
    lib.close();
    return { ok: false, reason: oneLine(`${where}: ${bad}`) };
  }
  try {
    return makeDnnl(lib, where, version, waitPolicy);
  } catch (e) {
    lib.close();
    return { ok: false, reason: oneLine(`${where}: ${errorText(e)}`) };
  }
}

/** Sets OMP_WAIT_POLICY if asked and still possible; returns the policy libgomp will use. */
function applyWaitPolicy(wanted: "active" | "passive" | undefined): string {
  let current: string | undefined;
  try {
    current = Deno.env.get("OMP_WAIT_POLICY");
    if (wanted && current === undefined && !libgompLoaded()) {
      Deno.env.set("OMP_WAIT_POLICY", wanted);
      current = wanted;
    }
  } catch {
    // no --allow-env: libgomp keeps its default
  }
  return current === undefined || current === "" ? "default" : current.toLowerCase();
}

function libgompLoaded(): boolean {
  try {
    return Deno.readTextFileSync("/proc/self/maps").includes("libgomp");
  } catch {
    return false; // cannot tell: setting the variable is harmless if it is too late
  }
}

function envPath(): string | undefined {
  try {
    const value = Deno.env.get("RESNET_DNNL");
    return value === undefined || value === "" ? undefined : value;
  } catch {
    return undefined; // no --allow-env: fall back to the default name
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

interface Version {
  major: number;
  minor: number;
  patch: number;
  cpuRuntime: number;
}

function readVersion(lib: DnnlLib): Version {
  const p = lib.symbols.dnnl_version();
  if (p === null) return { major: 0, minor: 0, patch: 0, cpuRuntime: 0 };
  const v = new Deno.UnsafePointerView(p);
  return {
    major: v.getInt32(OFFSET.dnnl_version_t_major),
    minor: v.getInt32(OFFSET.dnnl_version_t_minor),
    patch: v.getInt32(OFFSET.dnnl_version_t_patch),
    cpuRuntime: v.getUint32(OFFSET.dnnl_version_t_cpu_runtime),
  };
}

function versionProblem(v: Version): string | undefined {
  // The struct layouts in abi.ts hold for 2.x; the separate scale/shift BN flags need 2.3+,
  // and the values were checked against 2.6.
  if (v.major !== ABI_VERSION.major || v.minor < ABI_VERSION.minor) {
    return `oneDNN ${v.major}.${v.minor}.${v.patch} found, this binding needs 2.6 or a later 2.x`;
  }
  if (v.cpuRuntime !== DNNL_RUNTIME_OMP) {
    return `oneDNN CPU runtime is ${v.cpuRuntime}, this binding needs OpenMP (${DNNL_RUNTIME_OMP})`;
  }
  return undefined;
}

/**
 * Keeps a loaded library mapped for the life of the process (glibc's `RTLD_NODELETE`, set by
 * dlopen-ing it again with that flag). OpenMP's worker threads sleep inside libgomp between
 * parallel regions and never exit: if a worker or test file that opened the library ends, Deno
 * closes its handle, and an unmapped libgomp (or libdnnl, whose parallel regions they run) turns
 * the next wake-up into a segfault (seen in the parallel test runner).
 */
function pinLibrary(name: string): void {
  if (Deno.build.os !== "linux") return;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
    });
    const RTLD_NOW = 0x2, RTLD_NODELETE = 0x1000;
    libc.symbols.dlopen(new TextEncoder().encode(`${name}\0`), RTLD_NOW | RTLD_NODELETE);
    // Closing libc's handle is harmless: libc stays loaded.
    libc.close();
  } catch {
    // Not glibc: nothing to pin with; the libraries then live as long as their handles.
  }
}

function makeDnnl(lib: DnnlLib, path: string, v: Version, waitPolicy: string): Dnnl {
  // libdnnl already loaded libgomp, so this dlopen returns that same copy: its thread count is the
  // one oneDNN's parallel regions read.
  const gomp = Deno.dlopen("libgomp.so.1", GOMP_SYMBOLS);
  pinLibrary("libgomp.so.1");
  pinLibrary(path);
  const out = new BigUint64Array(1);
  check("dnnl_engine_create", lib.symbols.dnnl_engine_create(out, ENUM.dnnl_cpu, 0n));
  const engine = outPointer(out, "dnnl_engine_create");
  const flags = ENUM.dnnl_stream_default_flags;
  check("dnnl_stream_create", lib.symbols.dnnl_stream_create(out, engine, flags));
  const stream = outPointer(out, "dnnl_stream_create");
  const isa = lib.symbols.dnnl_get_effective_cpu_isa;
  const dnnl: Dnnl = {
    ok: true,
    lib,
    path,
    version: `${v.major}.${v.minor}.${v.patch}`,
    isa: isa ? isaName(isa()) : "unknown",
    waitPolicy,
    engine,
    stream,
    cache: new Map(),
    scratch: {
      scratchpad: new Uint8Array(0),
      weights: new Uint8Array(0),
      im2col: new Uint8Array(0),
    },
    stats: { calls: 0, ms: 0, reorders: 0, reorderMs: 0 },
    setThreads: (n) => gomp.symbols.omp_set_num_threads(Math.max(1, Math.floor(n))),
    getThreads: () => gomp.symbols.omp_get_max_threads(),
    close: () => closeDnnl(dnnl, gomp),
  };
  timeSgemm(lib, dnnl.stats);
  return dnnl;
}

/** Makes `lib.symbols.dnnl_sgemm` add its calls to `stats`, as a primitive execution does. */
function timeSgemm(lib: DnnlLib, stats: Dnnl["stats"]): void {
  const raw = lib.symbols.dnnl_sgemm;
  // Deno's symbols object is writable; its type says read-only.
  (lib.symbols as { dnnl_sgemm: typeof raw }).dnnl_sgemm = (...args: Parameters<typeof raw>) => {
    const t0 = performance.now();
    const status = raw(...args);
    stats.ms += performance.now() - t0;
    stats.calls++;
    return status;
  };
}

/** Anything kept in {@link Dnnl.cache} that owns C objects. */
export interface Disposable {
  /** Frees the C objects; the value must not be used afterwards. */
  dispose(): void;
}

function closeDnnl(dnnl: Dnnl, gomp: GompLib): void {
  for (const entry of dnnl.cache.values()) (entry as Partial<Disposable>).dispose?.();
  dnnl.cache.clear();
  check("dnnl_stream_destroy", dnnl.lib.symbols.dnnl_stream_destroy(dnnl.stream));
  check("dnnl_engine_destroy", dnnl.lib.symbols.dnnl_engine_destroy(dnnl.engine));
  gomp.close();
  dnnl.lib.close();
}
