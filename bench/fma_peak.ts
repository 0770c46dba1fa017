/**
 * The CPU's FP32 peak: the GFLOP/s of a loop of nothing but vector fused multiply-adds, the
 * widest the CPU has (AVX-512, else AVX2 with FMA3), with 12 independent accumulators (more than
 * an FMA's latency times the FMA units: 4 x 2 on Zen 4/5, 5 x 2 on Zen 2, 4 x 2 on Intel's cores),
 * on every thread the bench uses at once. No real kernel can beat it, so it is the denominator of
 * the bench's "% peak" column; a row above 100% means the row's FLOP count or timing is wrong.
 *
 * There is no compiler on users' machines, so the loop is x86-64 machine code written here
 * ({@linkcode FMA_CODE}; `tests/bench/fma_peak_test.ts` re-assembles its source with `gcc -c` and
 * compares the bytes when gcc and objdump are there), copied into a page from libc's `mmap`, made
 * executable with `mprotect` and called through `Deno.UnsafeFnPointer`; each thread is one
 * non-blocking call (Deno runs each on a thread of its own), all started together, nothing pinned.
 * The instruction set comes from /proc/cpuinfo's flags; elsewhere (not Linux, not x86-64, no FMA)
 * it is not measured, and the reason says why.
 *
 * Measured in a process of its own (bench/bench.ts calls {@linkcode measureFmaPeak}): an illegal
 * instruction then costs that process only.
 *
 * @example
 * ```sh
 * deno run -A bench/fma_peak.ts --threads 2
 * # {"gflops":387.1,"gflops_1thread":208.0,"isa":"AVX-512","threads":2,...}
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { errorText, UserError } from "../lib/errors.ts";
import { describeError } from "../cli/errors.ts";
import { parseNumber } from "../lib/parse_number.ts";
import { lastLine, spawnJson } from "./spawn.ts";

/** The vector widths the loop exists for. */
export type FmaIsa = "avx512" | "avx2";

/** How the table and the results file name an {@linkcode FmaIsa}. */
export const ISA_NAMES: Readonly<Record<FmaIsa, string>> = {
  avx512: "AVX-512",
  avx2: "AVX2+FMA3",
};

/** Independent accumulators of the loop (zmm0-11 or ymm0-11). */
export const ACCUMULATORS = 12;

/** FLOPs of one loop iteration: 12 FMAs x lanes (16 or 8 floats) x 2 (multiply and add). */
export const FLOPS_PER_ITERATION: Readonly<Record<FmaIsa, number>> = {
  avx512: ACCUMULATORS * 16 * 2,
  avx2: ACCUMULATORS * 8 * 2,
};

/** A measured FMA peak. */
export interface FmaPeak {
  /** GFLOP/s of all `threads` together (the slowest thread's wall time). */
  gflops: number;
  /** GFLOP/s of one thread alone. */
  gflops_1thread: number;
  /** "AVX-512" or "AVX2+FMA3". */
  isa: string;
  /** Threads that ran the loop at once. */
  threads: number;
  /** Independent accumulators. */
  accumulators: number;
  /** Loop iterations per call (each `FLOPS_PER_ITERATION` FLOPs). */
  iterations: number;
  /** Timed rounds of each measurement (fewer than asked when the machine was busy); the best counts. */
  repeats: number;
}

/**
 * The widest FMA that /proc/cpuinfo's `flags` say this CPU has, or why there is none to measure.
 *
 * @example
 * ```ts
 * import { detectIsa } from "./fma_peak.ts";
 * detectIsa("flags\t\t: fpu sse avx2 fma avx512f\n", "x86_64"); // { isa: "avx512" }
 * detectIsa("flags\t\t: fpu sse avx2 fma\n", "x86_64"); // { isa: "avx2" }
 * detectIsa(null, "aarch64"); // { why: "aarch64: the loop exists for x86-64 only" }
 * ```
 */
export function detectIsa(cpuinfo: string | null, arch: string): { isa: FmaIsa } | { why: string } {
  if (arch !== "x86_64") return { why: `${arch}: the loop exists for x86-64 only` };
  if (cpuinfo === null) return { why: "no /proc/cpuinfo to read the CPU's flags from" };
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo);
  if (!line) return { why: "/proc/cpuinfo has no flags line" };
  const flags = new Set(line[1].trim().split(/\s+/));
  if (flags.has("avx512f")) return { isa: "avx512" };
  if (flags.has("avx2") && flags.has("fma")) return { isa: "avx2" };
  return { why: "the CPU has neither avx512f nor avx2 with fma" };
}

/**
 * `float fma_loop(uint64_t n)` (System V ABI: n in rdi, the result in xmm0): 12 accumulators set
 * to 0, ones broadcast into register 12, then n times `acc_i += 1 * 1` for i = 0..11, and the sum
 * of the accumulators' first lanes: 12 n while n <= 2^24 (a float stops counting at 2^24), which
 * proves that every FMA ran. The AVX-512 encodings are EVEX (62 P0 P1 P2 op modrm); for
 * `vfmadd231ps zmm<d>, zmm12, zmm12`: P0 = 0xD2 (d < 8) or 0x52 (R inverted: d >= 8; B: rm = 12;
 * map 0F38), P1 = 0x1D (W0, vvvv = ~12, pp = 66), P2 = 0x48 (L'L = 512 bits), op 0xB8, modrm
 * 0xC4 + 8 (d & 7). The AVX2 ones are VEX (C4 ...), the same with 256-bit registers.
 */
export const FMA_CODE: Readonly<Record<FmaIsa, Uint8Array>> = {
  avx512: loop(
    [0x62, 0x52, 0x7d, 0x48, 0x18, 0xe4], // vbroadcastss zmm12, xmm12
    (d) => [0x62, d < 8 ? 0xd2 : 0x52, 0x1d, 0x48, 0xb8, modrm(d, 12)], // vfmadd231ps
    // vaddps zmm<d>, zmm<d>, zmm<s> (d, s even/odd pairs; both < 8 or both >= 8)
    (d, s) => [0x62, d < 8 ? (s < 8 ? 0xf1 : 0xd1) : 0x51, 0x7c - 8 * d, 0x48, 0x58, modrm(d, s)],
  ),
  avx2: loop(
    [0xc4, 0x42, 0x7d, 0x18, 0xe4], // vbroadcastss ymm12, xmm12
    (d) => [0xc4, d < 8 ? 0xc2 : 0x42, 0x1d, 0xb8, modrm(d, 12)], // vfmadd231ps
    (d, s) =>
      d < 8 && s < 8
        ? [0xc5, 0xfc - 8 * d, 0x58, modrm(d, s)] // vaddps ymm<d>, ymm<d>, ymm<s> (2-byte VEX)
        : [0xc4, d < 8 ? 0xc1 : 0x41, 0x7c - 8 * d, 0x58, modrm(d, s)],
  ),
};

/** A register-to-register ModRM byte: mod 11, reg = d, rm = s (their low three bits). */
function modrm(d: number, s: number): number {
  return 0xc0 + 8 * (d & 7) + (s & 7);
}

/**
 * The loop around one instruction set's encodings: the prologue, the 12 FMAs, `dec rdi; jnz`,
 * and the sum of the accumulators as a tree.
 */
function loop(
  broadcast: number[],
  fma: (d: number) => number[],
  add: (d: number, s: number) => number[],
): Uint8Array {
  // vxorps xmm<r>, xmm<r>, xmm<r> (VEX: clears the whole register, upper bits included)
  const zero = (r: number) =>
    r < 8 ? [0xc5, 0xf8 - 8 * r, 0x57, modrm(r, r)] : [0xc4, 0x41, 0x78 - 8 * r, 0x57, modrm(r, r)];
  const body = Array.from({ length: ACCUMULATORS }, (_, d) => fma(d)).flat();
  const back = -(body.length + 3 + 2); // jnz's target: the first FMA, from after jnz
  const sums = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [0, 2], [4, 6], [8, 10], [0, 4], [
    0,
    8,
  ]].flatMap(([d, s]) => add(d, s));
  return Uint8Array.from([
    ...[0xb8, 0x00, 0x00, 0x80, 0x3f], // mov eax, 0x3f800000 (1.0f)
    ...[0xc5, 0x79, 0x6e, 0xe0], // vmovd xmm12, eax
    ...broadcast,
    ...Array.from({ length: ACCUMULATORS }, (_, r) => zero(r)).flat(),
    ...[0x48, 0x85, 0xff], // test rdi, rdi
    ...[0x74, body.length + 5], // jz past the loop
    ...body,
    ...[0x48, 0xff, 0xcf], // dec rdi
    ...[0x75, back & 0xff], // jnz the first FMA
    ...sums,
    ...[0xc5, 0xf8, 0x77], // vzeroupper (no AVX-SSE transition penalty for the caller)
    0xc3, // ret
  ]);
}

/**
 * What the loop should return for `n` iterations: 12 n, each accumulator stopping at 2^24, and
 * the sum rounded to float32 once: the tree's 2n, 4n and 8n are exact, its last add 8n + 4n is
 * not above 2^24 / 3 iterations (a loaded machine's calibration chose 8,952,581 iterations and
 * the loop rightly returned 107,430,976, float32's nearest to 107,430,972).
 */
export function expectedSum(n: number): number {
  return Math.fround(ACCUMULATORS * Math.min(n, 2 ** 24));
}

/** The loop, executable in this process. */
export interface FmaLoop {
  /** Runs `n` iterations on this thread; returns the accumulators' sum. */
  run(n: number): number;
  /** Runs `n` iterations on a thread of Deno's pool. */
  runOnThread(n: number): Promise<number>;
  /** Unmaps the page. */
  close(): void;
}

const PAGE = 4096;

/**
 * Copies {@linkcode FMA_CODE}'s loop for `isa` into an executable page (Linux: libc's mmap and
 * mprotect); throws {@linkcode UserError} when the page cannot be made executable.
 *
 * @example
 * ```ts ignore
 * // not run: it executes AVX-512 or AVX2 instructions, which the CPU may not have
 * import { openFmaLoop } from "./fma_peak.ts";
 * const f = openFmaLoop("avx2");
 * f.run(1000); // 12000
 * f.close();
 * ```
 */
export function openFmaLoop(isa: FmaIsa): FmaLoop {
  if (Deno.build.os !== "linux") throw new UserError(`${Deno.build.os}: needs Linux's libc`);
  const libc = Deno.dlopen("libc.so.6", {
    mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
    mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
    munmap: { parameters: ["pointer", "usize"], result: "i32" },
  });
  // PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
  const page = libc.symbols.mmap(null, BigInt(PAGE), 3, 0x22, -1, 0n);
  if (!page || Deno.UnsafePointer.value(page) === 0xffffffffffffffffn) {
    libc.close();
    throw new UserError("mmap of one page failed");
  }
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(page, PAGE)).set(FMA_CODE[isa]);
  if (libc.symbols.mprotect(page, BigInt(PAGE), 5) !== 0) { // PROT_READ | PROT_EXEC
    libc.symbols.munmap(page, BigInt(PAGE));
    libc.close();
    throw new UserError("mprotect refused to make the page executable (a W^X policy?)");
  }
  const fn = page as Deno.PointerObject<never>; // typed by the definitions below
  const sync = new Deno.UnsafeFnPointer(fn, { parameters: ["u64"], result: "f32" });
  const async = new Deno.UnsafeFnPointer(fn, {
    parameters: ["u64"],
    result: "f32",
    nonblocking: true,
  });
  return {
    run: (n) => sync.call(BigInt(n)),
    runOnThread: (n) => async.call(BigInt(n)),
    close: () => {
      libc.symbols.munmap(page, BigInt(PAGE));
      libc.close();
    },
  };
}

/**
 * Measures the peak in this process: calls of about `seconds` each, `repeats` rounds, the best;
 * one thread alone, then `threads` at once. A phase that takes four times its expected wall time
 * (other work on the cores) stops after its first timed round: a busy machine gives no peak
 * anyway, and the bench should not wait minutes for it. Throws {@linkcode UserError} when the CPU has no FMA
 * to measure or a call returns the wrong sum.
 *
 * @example
 * ```ts ignore
 * // not run: it executes the loop (see openFmaLoop)
 * import { fmaPeakHere } from "./fma_peak.ts";
 * (await fmaPeakHere({ threads: 2 })).gflops; // e.g. 387
 * ```
 */
export async function fmaPeakHere(
  o: { threads: number; repeats?: number; seconds?: number; cpuinfo?: string | null },
): Promise<FmaPeak> {
  const found = detectIsa(o.cpuinfo === undefined ? readCpuinfo() : o.cpuinfo, Deno.build.arch);
  if ("why" in found) throw new UserError(found.why);
  const { isa } = found, repeats = o.repeats ?? 5, flops = FLOPS_PER_ITERATION[isa];
  const f = openFmaLoop(isa);
  try {
    const check = (n: number, got: number) => {
      if (got !== expectedSum(n)) {
        throw new UserError(
          `the FMA loop returned ${got} for ${n} iterations, not ${expectedSum(n)}`,
        );
      }
    };
    // Calibrate: iterations for `seconds` per call.
    const n0 = 1_000_000, t0 = performance.now();
    check(n0, f.run(n0));
    const perIter = Math.max((performance.now() - t0) / 1000 / n0, 1e-12);
    const seconds = o.seconds ?? 0.25, n = Math.max(n0, Math.round(seconds / perIter));
    const overdue = (since: number) => performance.now() - since > 4000 * seconds * repeats;
    let one = 0, all = 0, rounds = repeats;
    let phase = performance.now();
    for (let r = 0; r < repeats; r++) {
      const t = performance.now();
      check(n, f.run(n));
      one = Math.max(one, n * flops / ((performance.now() - t) / 1000) / 1e9);
      if (overdue(phase)) {
        rounds = Math.min(rounds, r + 1);
        break;
      }
    }
    // One untimed round starts the pool's threads.
    phase = performance.now();
    for (let r = 0; r <= repeats; r++) {
      const t = performance.now();
      const sums = await Promise.all(Array.from({ length: o.threads }, () => f.runOnThread(n)));
      const s = (performance.now() - t) / 1000;
      sums.forEach((got) => check(n, got));
      if (r > 0) all = Math.max(all, o.threads * n * flops / s / 1e9);
      if (r > 0 && overdue(phase)) {
        rounds = Math.min(rounds, r);
        break;
      }
    }
    return {
      gflops: all,
      gflops_1thread: one,
      isa: ISA_NAMES[isa],
      threads: o.threads,
      accumulators: ACCUMULATORS,
      iterations: n,
      repeats: rounds,
    };
  } finally {
    f.close();
  }
}

function readCpuinfo(): string | null {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    return null;
  }
}

/**
 * Measures the peak in a new process (this file as a script), killed after `cap` seconds; returns
 * the peak, or why there is none (one line).
 *
 * @example
 * ```ts
 * import { measureFmaPeak } from "./fma_peak.ts";
 * const r = await measureFmaPeak({ threads: 1, repeats: 1, seconds: 0.01 });
 * console.log("gflops" in r ? r.gflops : `peak: not measured (${r.error})`);
 * ```
 */
export async function measureFmaPeak(
  o: { threads: number; repeats?: number; seconds?: number; cap?: number },
): Promise<FmaPeak | { error: string }> {
  let peak: FmaPeak | null = null;
  const cap = o.cap ?? 60;
  const r = await spawnJson(
    Deno.execPath(),
    [
      ...["run", "-A", new URL(import.meta.url).pathname, "--threads", `${o.threads}`],
      ...["--repeats", `${o.repeats ?? 5}`, "--seconds", `${o.seconds ?? 0.25}`],
    ],
    cap,
    (j) => peak = j as unknown as FmaPeak,
  );
  if (peak) return peak;
  if (r.timedOut) return { error: `did not finish in ${cap} s` };
  // A signal (an illegal instruction) leaves no line: say which.
  return { error: r.stderr.trim() ? lastLine(r.stderr) : `the process ended with code ${r.code}` };
}

function main(args: string[]): Promise<FmaPeak> {
  const { values } = parseArgs({
    args,
    options: {
      threads: { type: "string", default: "1" },
      repeats: { type: "string", default: "5" },
      seconds: { type: "string", default: "0.25" },
    },
  });
  const int = (flag: string, v: string) => parseNumber(v, "integer", 1, false, `--${flag} ${v}`);
  return fmaPeakHere({
    threads: int("threads", values.threads),
    repeats: int("repeats", values.repeats),
    seconds: parseNumber(values.seconds, "number", 0, true, `--seconds ${values.seconds}`),
  });
}

if (import.meta.main) {
  try {
    console.log(JSON.stringify(await main(Deno.args)));
  } catch (e) {
    const usage = String((e as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS");
    const d = usage ? { line: `error: ${errorText(e)}`, code: 2 } : describeError(e);
    if (!d) throw e;
    console.error(d.line);
    Deno.exit(d.code);
  }
}
