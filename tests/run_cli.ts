/**
 * Runs the CLI (`main.ts`) in a subprocess for end-to-end tests.
 * @module
 */
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs `deno run -A main.ts ...args` (stdin closed, `env` added to the environment) and returns exit code, stdout and stderr. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runScript(MAIN, args, env);
}

/** Runs `deno run -A script ...args` like {@linkcode runCli} (e.g. `bench/bench.ts`). */
export async function runScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The tiny network of the CLI tests: one residual block per stage, width 8. */
export const TINY_NET = ["--stages", "1,1,1,1", "--width", "8"];

/** The tiny network at 16x16 on the CPU backend: the train and eval tests' runs. */
export const TINY_RUN = [...TINY_NET, "--size", "16", "--backend", "cpu"];

/**
 * The tiny network at 28x28 on 64 training and 32 test images, on one native thread (3x faster
 * than tfjs' cpu here, and steady on a busy machine): the report and live-page runs.
 */
export const TINY_VIZ_RUN = [
  ...TINY_NET,
  "--size",
  "28",
  "--limit",
  "64",
  "--test-limit",
  "32",
  "--batch-size",
  "16",
  "--backend",
  "native",
  "--threads",
  "1",
];
