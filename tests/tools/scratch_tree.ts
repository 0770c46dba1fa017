/**
 * Runs one of tools/' checks in a scratch tree, for the tests of tools/code_rules.ts and
 * tools/layering.ts.
 */

/** What the check printed on stderr, and its exit code. */
export interface ToolRun {
  code: number;
  stderr: string;
}

/** Runs `tools/<tool>` with `cwd` as the project's root. */
export async function runTool(tool: string, cwd: string): Promise<ToolRun> {
  const path = new URL(`../../tools/${tool}`, import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Runs `tools/<tool>` in a scratch tree holding `files` (path -> text), removed afterwards. */
export async function runToolOn(tool: string, files: Record<string, string>): Promise<ToolRun> {
  const tmp = await Deno.makeTempDir();
  try {
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${tmp}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
      await Deno.writeTextFile(`${tmp}/${path}`, text);
    }
    return await runTool(tool, tmp);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
