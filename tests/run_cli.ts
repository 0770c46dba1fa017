/**
 * Runs the CLI (`main.ts`) in a subprocess for end-to-end tests.
 * @module
 */
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs `deno run -A main.ts ...args` (stdin closed) and returns exit code, stdout and stderr. */
export async function runCli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
