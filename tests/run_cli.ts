/**
 * Runs the CLI (`main.ts`) in a subprocess for end-to-end tests.
 * @module
 */
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** The project's deno.json, whose tasks the README's `deno task` commands run. */
export const DENO_JSON = new URL("../deno.json", import.meta.url).pathname;

/**
 * This environment without `INIT_CWD`, plus `env`: a CLI run by a test must not take its paths
 * from where an outer `deno task` was typed (and `deno task` keeps an INIT_CWD already set).
 */
export function freshEnv(env: Record<string, string> = {}): Record<string, string> {
  const e = Deno.env.toObject();
  delete e.INIT_CWD;
  return { ...e, ...env };
}

/** Exit code, stdout and stderr of a finished CLI run. */
export interface CliOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno ...args` from `cwd` (default: here), stdin closed, `env` added; see freshEnv. */
async function deno(args: string[], env: Record<string, string>, cwd?: string): Promise<CliOutput> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: freshEnv(env),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Runs `deno task --config <project>/deno.json <task> ...args` from `cwd`, as a person in their
 * own folder types the README's commands; returns exit code, stdout and stderr.
 */
export function runTask(
  task: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<CliOutput> {
  return deno(["task", "--config", DENO_JSON, task, ...args], env, cwd);
}

/** Runs `deno run -A main.ts ...args` (stdin closed, `env` added to the environment, from `cwd`). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<CliOutput> {
  return runScript(MAIN, args, env, cwd);
}

/** Runs `deno run -A script ...args` like {@linkcode runCli} (e.g. `bench/bench.ts`). */
export function runScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<CliOutput> {
  return deno(["run", "-A", script, ...args], env, cwd);
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
