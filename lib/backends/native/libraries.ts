/**
 * Which native libraries the `native` backend's kernels run on: oneDNN (`libdnnl.so.2`, the library
 * Debian's PyTorch runs its convolutions on) when it loads, else BLAS (OpenBLAS, Accelerate) for
 * im2col convolutions. `RESNET_DNNL` names another oneDNN, or `off` to use BLAS only; a
 * `RESNET_DNNL` that does not load is the user's mistake, reported as such.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openKernelLibraries } from "./libraries.ts";
 * const libs = openKernelLibraries({ threads: 2 });
 * if (libs.ok) assert.match(libs.label, /^(oneDNN [\d.]+, 2 threads|BLAS: .+)$/); // e.g. "oneDNN 2.6.3, 2 threads"
 * else assert.match(libs.reason, /\S/);
 * ```
 * @module
 */
import { oneThreadAxpy, openBlas, type Sgemm } from "./blas.ts";
import { type Dnnl, openDnnl, sgemmStrided } from "./dnnl/mod.ts";
import { blasConv } from "./ops/conv2d.ts";
import { dnnlConv } from "./ops/conv2d_dnnl.ts";
import type { KernelLibraries } from "./kernels/kernel.ts";
import { type WeightLayoutMode, weightLayoutMode } from "./layouts.ts";

/** Which library to use: the best that loads, or one of them. */
export type LibraryChoice = "auto" | "dnnl" | "blas";

/** Options of {@linkcode openKernelLibraries}. */
export interface LibraryOptions {
  /** Default: `blas` when `RESNET_DNNL=off`, else `auto`. */
  choice?: LibraryChoice;
  /** OpenMP threads of oneDNN (default: `OMP_NUM_THREADS`, else the machine's cores). */
  threads?: number;
  /**
   * How convolution weights are stored between steps on oneDNN (./layouts.ts; default:
   * `RESNET_DNNL_WEIGHTS`, else `kept`). BLAS always stores them plain.
   */
  weightLayout?: WeightLayoutMode;
}

/** Opened libraries, how to name them in one line, and why oneDNN is not among them. */
export interface OpenedLibraries {
  ok: true;
  /** What the kernels run on. */
  libs: KernelLibraries;
  /** One line, e.g. `oneDNN 2.6.3 (avx2), 2 threads` or `BLAS: libopenblas.so.0`. */
  label: string;
  /** The oneDNN handle when it is used. */
  dnnl: Dnnl | null;
  /** Why oneDNN is not used (when it is not). */
  dnnlReason: string | null;
}

/** No usable library: why, and whether the user's own setting is to blame (exit 2). */
export interface NoLibraries {
  ok: false;
  reason: string;
  /** True when `RESNET_DNNL` or the choice asked for something that did not load. */
  misconfigured: boolean;
}

/** `dnnl_sgemm` in BLAS' calling convention (row-major, leading dimensions). */
function dnnlSgemm(dnnl: Dnnl): Sgemm {
  return (...args) => sgemmStrided(dnnl, ...args);
}

/**
 * oneDNN's threads when not told: `OMP_NUM_THREADS`, else every core.
 *
 * @example
 * ```ts
 * import { defaultThreads } from "./libraries.ts";
 * defaultThreads(); // e.g. 2
 * ```
 */
export function defaultThreads(): number {
  const env = Number(Deno.env.get("OMP_NUM_THREADS"));
  return Number.isInteger(env) && env > 0 ? env : navigator.hardwareConcurrency || 1;
}

/*
 * Why oneDNN's OpenMP threads sleep between parallel regions (`OMP_WAIT_POLICY=passive`, unless
 * the user set it or `GOMP_SPINCOUNT`; libgomp reads it once, when oneDNN loads it). Measured on the
 * 2-core AMD EPYC with other work running (load average about 5): ResNet-18 at 28x28, batch 64,
 * 163-302 img/s passive against 39-44 with libgomp's default spinning, and 106 with `active`;
 * at 96x96, 28-32 against 16. Spinning threads wait for a core the other processes hold. On an
 * idle machine the two policies measured within noise (bench/dnnl_probe.ts).
 */

/**
 * What the kernels run on when they run on oneDNN, e.g. `oneDNN 2.6.3, 2 threads`.
 *
 * @example
 * ```ts
 * import { dnnlLabel } from "./libraries.ts";
 * dnnlLabel({ version: "2.6.3" }, 1); // "oneDNN 2.6.3, 1 thread"
 * ```
 */
export function dnnlLabel(dnnl: Pick<Dnnl, "version">, threads: number): string {
  return `oneDNN ${dnnl.version}, ${threads} thread${threads === 1 ? "" : "s"}`;
}

/** Opens oneDNN or BLAS as `opts` and `RESNET_DNNL` say; never throws. */
export function openKernelLibraries(opts: LibraryOptions = {}): OpenedLibraries | NoLibraries {
  const env = Deno.env.get("RESNET_DNNL");
  const choice = opts.choice ?? (env === "off" ? "blas" : "auto");
  let dnnlReason = env === "off" ? "RESNET_DNNL=off" : "not asked for";
  if (choice !== "blas") {
    // OpenMP threads sleep between parallel regions unless the user chose otherwise (see below).
    const waitPolicy = Deno.env.get("GOMP_SPINCOUNT") ? undefined : "passive";
    let weightLayout: WeightLayoutMode;
    try {
      weightLayout = opts.weightLayout ?? weightLayoutMode(Deno.env.get("RESNET_DNNL_WEIGHTS"));
    } catch (e) {
      return { ok: false, reason: (e as Error).message, misconfigured: true };
    }
    const dnnl = openDnnl(env && env !== "off" ? env : undefined, { waitPolicy });
    if (dnnl.ok) {
      // BLAS, where one opens, only for the optimizer's saxpy (kernels/sgd_update.ts).
      const blas = openBlas();
      const axpy = blas.ok ? oneThreadAxpy(blas) : null;
      const threads = opts.threads ?? defaultThreads();
      dnnl.setThreads(threads);
      const conv = dnnlConv(dnnl, weightLayout);
      const libs = { sgemm: dnnlSgemm(dnnl), conv, dnnl, weightLayout, axpy };
      return { ok: true, libs, label: dnnlLabel(dnnl, threads), dnnl, dnnlReason: null };
    }
    if (env || choice === "dnnl") {
      const fix = env
        ? "unset RESNET_DNNL, point it at libdnnl.so.2, or set it to off"
        : "install Debian's libdnnl2";
      return { ok: false, reason: `oneDNN: ${dnnl.reason}; ${fix}`, misconfigured: true };
    }
    dnnlReason = dnnl.reason;
  }
  const blas = openBlas();
  if (!blas.ok) {
    return {
      ok: false,
      reason: `no oneDNN (${dnnlReason}) and ${blas.reason}`,
      misconfigured: false,
    };
  }
  const libs = { sgemm: blas.sgemm, conv: blasConv(blas.sgemm), dnnl: null, axpy: blas.axpy };
  return { ok: true, libs, label: `BLAS: ${blas.library}`, dnnl: null, dnnlReason };
}
