import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { runCli } from "../run_cli.ts";

Deno.test("--version prints the version, exit 0", async () => {
  for (const flag of ["--version", "-V"]) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), denoJson.version);
  }
});

Deno.test("the top-level help lists every subcommand and points to deno task bench", async () => {
  const r = await runCli(["--help"]);
  assert.equal(r.code, 0, r.stderr);
  for (const c of ["shapes", "train", "eval", "export", "data", "info"]) {
    assert.match(r.stdout, new RegExp(`^  ${c} \\[options\\]`, "m"), c);
  }
  assert.match(r.stdout, /^ {2}deno task bench \[options\] .*training speed/m);
});
