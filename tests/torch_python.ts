/**
 * The tests that compare with PyTorch itself: the Python that has it (Debian's `python3-torch`;
 * CI installs none), a `Deno.test` definition that is ignored, with the reason in its name, where
 * there is none, and a runner under which a failing reference script fails its test.
 * @module
 */
import { findTorchPython } from "../bench/environment.ts";

/** A python3 that imports torch, or null. */
export const TORCH_PYTHON: string | null = await findTorchPython("/usr/bin/python3") ??
  await findTorchPython();

const NO_TORCH = "ignored: no python3 with PyTorch here (Debian: apt-get install python3-torch)";

/** A test that needs PyTorch: ignored, saying so in its name, when this machine has none. */
export function torchTest(name: string, fn: () => Promise<void>): Deno.TestDefinition {
  return { name: TORCH_PYTHON ? name : `${name} [${NO_TORCH}]`, ignore: !TORCH_PYTHON, fn };
}

/**
 * Runs the PyTorch Python with `args` (and `stdin`) and returns its stdout; a non-zero exit, as
 * from a traceback, throws with the script's stderr, so the test fails.
 */
export async function runTorchPython(args: string[], stdin?: string): Promise<string> {
  if (!TORCH_PYTHON) throw new Error(NO_TORCH);
  const child = new Deno.Command(TORCH_PYTHON, {
    args: ["-B", ...args], // -B: no __pycache__ in the checkout
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const err = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) throw new Error(`${args.join(" ").slice(0, 60)}: exit ${out.code}: ${err}`);
  return new TextDecoder().decode(out.stdout);
}
