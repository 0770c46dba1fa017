/**
 * Where a benchmark ran: the CPU model, its cores, the load average, the Deno, tfjs and PyTorch
 * versions, the FMA peak and the sgemm rate measured in the same invocation (bench/fma_peak.ts,
 * bench/peak.ts); and which python3 has PyTorch. Every row of the results file carries this record.
 *
 * @example
 * ```ts
 * import { environment, findTorchPython } from "./environment.ts";
 * const python = await findTorchPython();
 * const env = await environment(python, null);
 * console.log(env.machine.cpu, env.machine.cores, env.versions.torch);
 * ```
 * @module
 */
import { cpuModel } from "../lib/backends/info.ts";
import * as tf from "@tensorflow/tfjs-core";
import type { SgemmRate } from "./peak.ts";
import type { FmaPeak } from "./fma_peak.ts";

/** The machine and software of an invocation, as the results file stores it. */
export interface Environment {
  /** When the invocation started (ISO 8601). */
  date: string;
  machine: { cpu: string; cores: number; os: string };
  /** 1, 5 and 15-minute load averages when it started: a busy machine gives lower rates. */
  loadavg_at_start: number[];
  versions: { deno: string; tfjs: string; torch: string | null };
  /** The sgemm rate on the bench's threads (bench/peak.ts), or null when not measured. */
  sgemm: SgemmRate | null;
  /** The FMA peak on the bench's threads (bench/fma_peak.ts), why there is none, or null. */
  fma_peak?: FmaPeak | { error: string } | null;
}

/** The CPU's model name: lib/backends/info.ts' (the CLI's bench tables name it too). */
export { cpuModel };

/**
 * The first python3 that imports torch (`prefer` alone when given; else `python3` on the PATH,
 * then Debian's `/usr/bin/python3`), or null.
 *
 * @example
 * ```ts
 * import { findTorchPython } from "./environment.ts";
 * const py = await findTorchPython(); // e.g. "/usr/bin/python3"
 * ```
 */
export async function findTorchPython(prefer?: string): Promise<string | null> {
  const candidates = prefer ? [prefer] : ["python3", "/usr/bin/python3"];
  for (const py of candidates) {
    try {
      const out = await new Deno.Command(py, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.success) return py;
    } catch {
      // not installed
    }
  }
  return null;
}

async function torchVersion(python: string): Promise<string | null> {
  const out = await new Deno.Command(python, {
    args: ["-c", "import torch; print(torch.__version__)"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim() || null;
}

/**
 * The record of this machine now: CPU, cores, load average, versions (PyTorch's through
 * `python`, when given) and the sgemm rate.
 *
 * @example
 * ```ts
 * import { environment } from "./environment.ts";
 * (await environment(null, null)).versions.torch; // null
 * ```
 */
export async function environment(
  python: string | null,
  sgemm: SgemmRate | null,
): Promise<Environment> {
  return {
    date: new Date().toISOString(),
    machine: { cpu: cpuModel(), cores: navigator.hardwareConcurrency, os: Deno.build.os },
    loadavg_at_start: Deno.loadavg(),
    versions: {
      deno: Deno.version.deno,
      tfjs: tf.version_core,
      torch: python ? await torchVersion(python) : null,
    },
    sgemm,
  };
}
