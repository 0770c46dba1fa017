/**
 * First-step latency on WebGPU, before and after {@linkcode warmup}: each mode runs in a fresh
 * process with an empty driver shader cache (Mesa's `MESA_SHADER_CACHE_DIR`), as on a fresh
 * machine or in CI, and prints the time to the first finished training step.
 *
 * ```sh
 * deno run -A bench/first_step.ts                       # ResNet-18, 28x28, batch 64
 * deno run -A bench/first_step.ts --stages 1,1,1,1 --width 8 --batch 8 --json
 * ```
 *
 * Modes: `plain` (no warm-up: the first step compiles), `warmup` (compile-only pass on the main
 * thread), `parallel` (compile-only pass plus worker threads filling the shader cache).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backend.ts";
import { ResNet } from "../lib/model.ts";
import { trainStep } from "../lib/step.ts";
import { warmup } from "../lib/warmup.ts";

const MODES = ["plain", "warmup", "parallel"] as const;
type Mode = typeof MODES[number];

const { values: a } = (() => {
  try {
    return parse();
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(2);
  }
})();

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

function int(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`error: --${name} ${v}: give a positive integer`);
    Deno.exit(2);
  }
  return n;
}

interface Row {
  mode: Mode;
  warmupMs: number;
  pipelines: number;
  workers: number;
  stepMs: number[];
  firstResultMs: number;
}

/** One mode in this process: returns the row. */
async function runOne(mode: Mode): Promise<Row> {
  const t0 = performance.now();
  await initBackend("webgpu", { announce: false });
  const stages = a.stages?.split(",").map(Number);
  const net = new ResNet(
    stages ? { stages, width: int("width", a.width) } : {
      depth: int("depth", a.depth),
      width: int("width", a.width),
    },
  );
  const batch = int("batch", a.batch), size = int("size", a.size);
  let w = { pipelines: 0, workers: 0, ms: 0 };
  if (mode !== "plain") {
    w = await warmup(net, { batch, size, workers: mode === "parallel" ? undefined : 0 });
  }
  const opt = tf.train.sgd(0.05);
  const x = tf.tensor4d(
    Float32Array.from({ length: batch * size * size }, (_, i) => (i * 7919 % 256) / 255),
    [batch, size, size, 1],
  );
  const y = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 10), "int32");
  const stepMs: number[] = [];
  let firstResultMs = 0;
  for (let s = 0; s < int("steps", a.steps); s++) {
    const t = performance.now();
    const r = trainStep(net, opt, x, y);
    await r.loss.data(); // the step is done when its loss is on the host
    tf.dispose([r.loss, r.correct]);
    stepMs.push(performance.now() - t);
    if (s === 0) firstResultMs = performance.now() - t0;
  }
  tf.dispose([x, y]);
  net.dispose();
  return {
    mode,
    warmupMs: w.ms,
    pipelines: w.pipelines,
    workers: w.workers,
    stepMs,
    firstResultMs,
  };
}

if (a.mode) {
  if (!(MODES as readonly string[]).includes(a.mode)) {
    console.error(`error: --mode ${a.mode}: use one of ${MODES.join(", ")}`);
    Deno.exit(2);
  }
  console.log(JSON.stringify(await runOne(a.mode as Mode)));
} else {
  const rows: Row[] = [];
  const self = new URL(import.meta.url).pathname;
  for (const mode of a.modes!.split(",")) {
    const cache = await Deno.makeTempDir({ prefix: "shader-cache-" });
    const args = Deno.args.filter((s, i, all) =>
      !s.startsWith("--modes") && all[i - 1] !== "--modes" && s !== "--json"
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", self, ...args, "--mode", mode],
      env: {
        MESA_SHADER_CACHE_DIR: cache,
        XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
      },
      stderr: "inherit",
    }).output();
    await Deno.remove(cache, { recursive: true });
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
