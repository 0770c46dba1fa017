/**
 * Runs tfjs-core's op tests on each backend path, one process per path over one bundle, and prints
 * one line per path, e.g. `tfjs ops (native/oneDNN): 3212 specs, 3212 passed, 0 failed (95 s)`.
 *
 *     deno run -A tests/backends/tfjs_ops/run.ts [native-dnnl native-blas cpu]
 *
 * Exits 1 when a path failed a spec or leaked; a path that cannot run here says why.
 * @module
 */
import { bundleSuite } from "./bundle.ts";
import { OPS_PATHS, type OpsPath } from "./paths.ts";
import { type OpsResult, RESULT_MARKER } from "./report.ts";

/** A path's outcome: its result, or why it did not run. */
export type PathOutcome = { path: OpsPath; result: OpsResult } | { path: OpsPath; skipped: string };

/** Runs the bundled suite on one path; throws when the process gave no result. */
export async function runPath(suite: string, path: OpsPath): Promise<PathOutcome> {
  const args = ["run", "-A", "--no-config", suite, path.backend];
  const p = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .output();
  const out = new TextDecoder().decode(p.stdout);
  const skip = out.match(/^\{"skipped":.*\}$/m);
  if (skip) return { path, skipped: JSON.parse(skip[0]).skipped };
  const line = out.split("\n").find((l) => l.startsWith(RESULT_MARKER));
  if (!line) {
    const err = new TextDecoder().decode(p.stderr);
    throw new Error(`${path.label}: no result (exit ${p.code}): ${(out + err).slice(-3000)}`);
  }
  return { path, result: JSON.parse(line.slice(RESULT_MARKER.length)) };
}

/** The summary line of one path. */
export function summaryLine(o: PathOutcome): string {
  const name = `tfjs ops (${o.path.label})`;
  if ("skipped" in o) return `${name}: not run: ${o.skipped}`;
  const r = o.result;
  const leaks = r.leaks.length ? `, ${r.leaks.length} leaked` : "";
  return `${name}: ${r.specs} specs, ${r.passed} passed, ${r.failed} failed${leaks} ` +
    `(${r.seconds.toFixed(0)} s)`;
}

/** Bundles the suite into a temporary folder, calls `use` with it, removes the folder. */
export async function withSuite<T>(use: (suite: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tfjs_ops_" });
  try {
    return await use(await bundleSuite(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const wanted = Deno.args.length ? Deno.args : OPS_PATHS.map((p) => p.backend);
  const paths = OPS_PATHS.filter((p) => wanted.includes(p.backend));
  let ok = true;
  await withSuite(async (suite) => {
    for (const path of paths) {
      const o = await runPath(suite, path);
      console.log(summaryLine(o));
      if ("result" in o) {
        for (const f of [...o.result.failures, ...o.result.leaks]) console.log(`  ${f}`);
        ok &&= o.result.failed === 0 && o.result.leaks.length === 0;
      }
    }
  });
  if (!ok) Deno.exit(1);
}
