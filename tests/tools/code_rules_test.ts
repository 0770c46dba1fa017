/**
 * tools/code_rules.ts, run by `deno task check`: passes on the tree, and catches each rule's
 * offence in a scratch tree.
 */
import assert from "node:assert/strict";
import { runTool, runToolOn } from "./scratch_tree.ts";

const ROOT = new URL("../../", import.meta.url);
const run = (cwd: string) => runTool("code_rules.ts", cwd);
const runOn = (files: Record<string, string>) => runToolOn("code_rules.ts", files);

Deno.test("code rules: the project's own tree passes", async () => {
  const ok = await run(ROOT.pathname);
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test("code rules: a dataSync() in lib/ fails", async () => {
  const bad = await runOn({
    "lib/bad.ts": "export const f = (t: { dataSync(): void }) => t.dataSync();\n",
  });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /lib\/bad\.ts:1/);
  // lib/data/ is library code, not the data cache at the top.
  const deep = await runOn({ "lib/data/bad.ts": "export const f = (t: any) => t.dataSync();\n" });
  assert.equal(deep.code, 1);
  assert.match(deep.stderr, /lib\/data\/bad\.ts:1/);
});

Deno.test("code rules: lib/ neither prints nor names commander, not even in an example", async () => {
  const loud = await runOn({ "lib/loud.ts": "/** ```ts\n * console.log(1);\n * ``` */\n" });
  assert.equal(loud.code, 1);
  assert.match(loud.stderr, /console\.\* or commander in lib\/.*\n.*lib\/loud\.ts:2/);
});

Deno.test("code rules: a path into the folder beside the checkout fails, in tests and CI alike", async () => {
  const beside = ["..", "shared", "golden", "x.json"].join("/");
  for (const path of ["tests/a_test.ts", ".ci/run", "tools/make.py"]) {
    const bad = await runOn({ [path]: `read("${beside}")\n` });
    assert.equal(bad.code, 1, path);
    assert.match(
      bad.stderr,
      new RegExp(`folder beside the checkout[^]*${path.replace(".", "\\.")}:1`),
    );
  }
  // Its own data and runs are not read.
  const skipped = await runOn({ "runs/x/notes.md": `${beside}\n` });
  assert.equal(skipped.code, 0, skipped.stderr);
});
