/**
 * A measurement in its own process: runs a command under a wall-clock cap and hands each JSON
 * line it prints on stdout to a callback, so that a run killed at the cap still reports how far
 * it got.
 *
 * @example
 * ```ts
 * import { lastLine, spawnJson } from "./spawn.ts";
 * const r = await spawnJson("deno", ["eval", "console.log('{\"x\": 1}')"], 10, (o) => {
 *   console.log(o.x); // 1
 * });
 * if (r.code !== 0) console.error(lastLine(r.stderr));
 * ```
 * @module
 */

/** How a spawned process ended. */
export interface SpawnResult {
  /** Exit code (killed at the cap: the signal's). */
  code: number;
  /** Whether it was killed at the wall-clock cap. */
  timedOut: boolean;
  /** Everything it wrote on stderr. */
  stderr: string;
}

/**
 * Runs `cmd args`, handing each stdout line that parses as a JSON object to `onLine`; kills it
 * (SIGKILL) after `cap` seconds. `env` is added to this process's environment.
 *
 * @example
 * ```ts
 * import { spawnJson } from "./spawn.ts";
 * const r = await spawnJson("sleep", ["5"], 0.5, () => {});
 * r.timedOut; // true
 * ```
 */
export async function spawnJson(
  cmd: string,
  args: string[],
  cap: number,
  onLine: (o: Record<string, unknown>) => void,
  env: Record<string, string> = {},
): Promise<SpawnResult> {
  const child = new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, cap * 1000);
  const errText = new Response(child.stderr).text();
  let buf = "";
  const dec = new TextDecoder();
  const take = (line: string) => {
    if (!line.startsWith("{")) return;
    try {
      onLine(JSON.parse(line));
    } catch {
      // not ours
    }
  };
  for await (const chunk of child.stdout) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      take(buf.slice(0, nl).trim());
      buf = buf.slice(nl + 1);
    }
  }
  take(buf.trim());
  const status = await child.status;
  clearTimeout(timer);
  return { code: status.code, timedOut, stderr: await errText };
}

/**
 * The last non-empty line of `s` (at most 200 characters), or "no output": why a run failed.
 *
 * @example
 * ```ts
 * import { lastLine } from "./spawn.ts";
 * lastLine("Traceback ...\nValueError: bad\n"); // "ValueError: bad"
 * ```
 */
export function lastLine(s: string): string {
  const lines = s.trim().split("\n").filter((l) => l.trim());
  return lines.length ? lines[lines.length - 1].slice(0, 200) : "no output";
}
