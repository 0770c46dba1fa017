/**
 * First-step latency on WebGPU, before and after {@linkcode warmup}: each mode runs in a fresh
 * process with an empty driver shader cache (Mesa's `MESA_SHADER_CACHE_DIR`), as on a fresh
 * machine or in CI, and prints the time to the first finished training step.
 *
 * The timing and the fresh cache are exported ({@linkcode timeFirstStep},
 * {@linkcode freshShaderCache}) and shared with `bench/bench.ts --compile-ahead`.
 *
 * Modes: `plain` (no warm-up: the first step compiles), `warmup` (compile-only pass on the main
 * thread), `parallel` (compile-only pass plus worker threads filling the shader cache; what
 * training does).
 *
 * @example
 * ```sh
 * deno run -A bench/first_step.ts                       # ResNet-18, 28x28, batch 64
 * deno run -A bench/first_step.ts --stages 1,1,1,1 --width 8 --batch 8 --json
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backends/choose.ts";
import { ResNet } from "../lib/model/resnet.ts";
import { trainStep } from "../lib/model/step.ts";
import { SGD } from "../lib/model/fused.ts";
import { warmup } from "../lib/backends/warmup.ts";
import { parseNumber } from "../lib/parse_number.ts";
import { errorText } from "../lib/errors.ts";

/** How the first step starts: no warm-up, warm-up on the main thread, or with worker threads. */
export const MODES = ["plain", "warmup", "parallel"] as const;
/** One of {@linkcode MODES}. */
export type Mode = typeof MODES[number];

/** What {@linkcode timeFirstStep} measured. */
export interface FirstStepTiming {
  mode: Mode;
  /** Milliseconds of {@linkcode warmup} (0 for `plain`). */
  warmupMs: number;
  /** Pipelines the warm-up compiled. */
  pipelines: number;
  /** Worker threads the warm-up used. */
  workers: number;
  /** Milliseconds of the first step after the warm-up, until its result is on the host. */
  firstStepMs: number;
}

/**
 * Warms `net` up as `mode` says (a no-op off WebGPU), then runs `step` once and times both.
 * `step` must resolve when the step's result is on the host (e.g. after `await loss.data()`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { ResNet } from "../lib/model/resnet.ts";
 * import { SGD } from "../lib/model/fused.ts";
 * import { trainStep } from "../lib/model/step.ts";
 * import { timeFirstStep } from "./first_step.ts";
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const opt = new SGD(0.05);
 * const x = tf.zeros<tf.Rank.R4>([8, 28, 28, 1]);
 * const y = tf.zeros<tf.Rank.R1>([8], "int32");
 * const t = await timeFirstStep(net, "parallel", { batch: 8, size: 28 }, async () => {
 *   const r = trainStep(net, opt, x, y);
 *   await r.loss.data();
 *   tf.dispose([r.loss, r.correct]);
 * });
 * console.log(t.warmupMs + t.firstStepMs);
 * ```
 */
export async function timeFirstStep(
  net: ResNet,
  mode: Mode,
  shape: { batch: number; size: number },
  step: () => Promise<void>,
): Promise<FirstStepTiming> {
  let w = { pipelines: 0, workers: 0, ms: 0 };
  if (mode !== "plain") {
    w = await warmup(net, { ...shape, workers: mode === "parallel" ? undefined : 0 });
  }
  const t = performance.now();
  await step();
  return {
    mode,
    warmupMs: w.ms,
    pipelines: w.pipelines,
    workers: w.workers,
    firstStepMs: performance.now() - t,
  };
}

/**
 * A new empty directory for the GPU driver's on-disk shader cache, and the environment variables
 * that point a child process at it (Mesa's and NVIDIA's), so that its first step compiles as on
 * a fresh machine. Call `remove()` when the child has exited.
 *
 * @example
 * ```ts
 * import { freshShaderCache } from "./first_step.ts";
 * const cache = await freshShaderCache();
 * const args = ["run", "-A", "bench/first_step.ts", "--mode", "plain"];
 * await new Deno.Command(Deno.execPath(), { args, env: cache.env }).output();
 * await cache.remove();
 * ```
 */
export async function freshShaderCache(): Promise<
  { env: Record<string, string>; remove: () => Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix: "shader-cache-" });
  return {
    env: {
      MESA_SHADER_CACHE_DIR: dir,
      __GL_SHADER_DISK_CACHE_PATH: dir,
      XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
    },
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

// ---------------------------------------------------------------------------------------------
// Command line.

interface Row {
  mode: Mode;
  warmupMs: number;
  pipelines: number;
  workers: number;
  stepMs: number[];
  firstResultMs: number;
}

function parse() {
  return parseArgs({
    args: Deno.args,
    options: {
      depth: { type: "string", default: "18" },
      stages: { type: "string" },
      width: { type: "string", default: "64" },
      batch: { type: "string", default: "64" },
      size: { type: "string", default: "28" },
      steps: { type: "string", default: "2" },
      mode: { type: "string" },
      modes: { type: "string", default: MODES.join(",") },
      json: { type: "boolean", default: false },
    },
  });
}

/** A positive integer flag by the CLI's number parser; a bad value is one line and exit 2. */
function int(name: string, v: string | undefined): number {
  try {
    return parseNumber(v ?? "", "integer", 1, false, `--${name} ${v}`);
  } catch (e) {
    console.error(`error: ${errorText(e)}`);
    Deno.exit(2);
  }
}

/** One mode in this process: returns the row. */
async function runOne(a: ReturnType<typeof parse>["values"], mode: Mode): Promise<Row> {
  const t0 = performance.now();
  await initBackend("webgpu");
  const stages = a.stages?.split(",").map(Number);
  const net = new ResNet(
    stages ? { stages, width: int("width", a.width) } : {
      depth: int("depth", a.depth),
      width: int("width", a.width),
    },
  );
  const batch = int("batch", a.batch), size = int("size", a.size);
  const opt = new SGD(0.05);
  const x = tf.tensor4d(
    Float32Array.from({ length: batch * size * size }, (_, i) => (i * 7919 % 256) / 255),
    [batch, size, size, 1],
  );
  const y = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 10), "int32");
  const step = async () => {
    const r = trainStep(net, opt, x, y);
    await r.loss.data(); // the step is done when its loss is on the host
    tf.dispose([r.loss, r.correct]);
  };
  const first = await timeFirstStep(net, mode, { batch, size }, step);
  const firstResultMs = performance.now() - t0;
  const stepMs = [first.firstStepMs];
  for (let s = 1; s < int("steps", a.steps); s++) {
    const t = performance.now();
    await step();
    stepMs.push(performance.now() - t);
  }
  tf.dispose([x, y]);
  opt.dispose();
  net.dispose();
  return {
    mode,
    warmupMs: first.warmupMs,
    pipelines: first.pipelines,
    workers: first.workers,
    stepMs,
    firstResultMs,
  };
}

async function main(): Promise<void> {
  let a: ReturnType<typeof parse>["values"];
  try {
    a = parse().values;
  } catch (e) {
    console.error(`error: ${errorText(e)}`);
    Deno.exit(2);
  }
  if (a.mode) {
    if (!(MODES as readonly string[]).includes(a.mode)) {
      console.error(`error: --mode ${a.mode}: use one of ${MODES.join(", ")}`);
      Deno.exit(2);
    }
    console.log(JSON.stringify(await runOne(a, a.mode as Mode)));
    return;
  }
  const rows: Row[] = [];
  const self = new URL(import.meta.url).pathname;
  for (const mode of a.modes!.split(",")) {
    const cache = await freshShaderCache();
    const args = Deno.args.filter((s, i, all) =>
      !s.startsWith("--modes") && all[i - 1] !== "--modes" && s !== "--json"
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", self, ...args, "--mode", mode],
      env: cache.env,
      stderr: "inherit",
    }).output();
    await cache.remove();
    if (out.code !== 0) Deno.exit(out.code);
    rows.push(JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!));
  }
  if (a.json) console.log(JSON.stringify(rows));
  else {
    const s = (ms: number) => (ms / 1000).toFixed(1).padStart(8);
    console.log("mode      pipelines workers  warm-up   step 1   step 2  first result (s)");
    for (const r of rows) {
      console.log(
        `${r.mode.padEnd(9)} ${String(r.pipelines).padStart(9)} ${String(r.workers).padStart(7)} ${
          s(r.warmupMs)
        } ${s(r.stepMs[0])} ${s(r.stepMs[1] ?? NaN)} ${s(r.firstResultMs)}`,
      );
    }
  }
}

if (import.meta.main) await main();
