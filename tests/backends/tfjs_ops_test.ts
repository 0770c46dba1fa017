/**
 * tfjs-core's own op tests (its published jasmine specs, every file under dist/ops/, unchanged and
 * unfiltered) on each backend path, one process each: `native` on oneDNN, `native` forced to
 * OpenBLAS, and tfjs' `cpu` as the control. Every spec must pass on every path, and a spec may
 * leave tensors behind only where it does so on cpu too (tfjs' own: a gradient that throws
 * midway). One summary line per path; a path whose library does not load here is ignored with
 * its reason. The runner is tests/backends/tfjs_ops/run.ts.
 * @module
 */
import assert from "node:assert/strict";
import { OPS_PATHS, type OpsPath, registerPath } from "./tfjs_ops/paths.ts";
import { type PathOutcome, runPath, summaryLine, withSuite } from "./tfjs_ops/run.ts";
import { type OpsResult, specKey } from "./tfjs_ops/report.ts";

// Why each path cannot run here (null: it can), learnt by registering it in this process.
const unavailable = new Map<string, string | null>();
for (const p of OPS_PATHS) unavailable.set(p.backend, await registerPath(p.backend));

// The control first: its leaks are the ones tfjs' own specs have.
const ORDER = [
  ...OPS_PATHS.filter((p) => p.backend === "cpu"),
  ...OPS_PATHS.filter((p) => p.backend !== "cpu"),
];

/** Asserts what one path's run found; `control` is cpu's result (absent: this is cpu's). */
function check(path: OpsPath, o: PathOutcome, control: OpsResult | undefined): OpsResult {
  assert.ok("result" in o, `${path.label} did not run`);
  const r = o.result;
  assert.deepEqual(r.failures, [], `${path.label}: ${r.failed} failed`);
  assert.ok(r.specs > 3000 && r.notRun === 0, `${path.label}: ${r.specs} specs ran`);
  const own = new Set((control ?? r).leaks.map((l) => specKey(l, "cpu")));
  const leaks = r.leaks.filter((l) => !own.has(specKey(l, path.backend)));
  assert.deepEqual(leaks, [], `${path.label} leaks where cpu does not`);
  return r;
}

Deno.test("tfjs ops: every spec passes on each backend path", async (t) => {
  await withSuite(async (suite) => {
    const results = new Map<string, OpsResult>();
    for (const path of ORDER) {
      const reason = unavailable.get(path.backend);
      if (reason) console.log(summaryLine({ path, skipped: reason }));
      const fn = async () => {
        const o = await runPath(suite, path);
        console.log(summaryLine(o));
        results.set(path.backend, check(path, o, results.get("cpu")));
      };
      await t.step({ name: path.label, ignore: !!reason, fn });
    }
  });
});
