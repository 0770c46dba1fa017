/**
 * tools/layering.ts, run by `deno task check`: the project's tree keeps ARCHITECTURE.md's layer
 * order, and a scratch tree with a climb, a cycle and a module in no layer fails on each.
 */
import assert from "node:assert/strict";
import { runTool, runToolOn } from "./scratch_tree.ts";
import { importsOf, layerOf, readLayers } from "../../tools/layering.ts";

const ROOT = new URL("../../", import.meta.url);
const run = (cwd: string) => runTool("layering.ts", cwd);
const runOn = (files: Record<string, string>) => runToolOn("layering.ts", files);

const ARCHITECTURE = "# A\n\n## Layers\n\n1. `lib/errors.ts`\n2. `lib/data/`\n" +
  "3. `lib/model/` `lib/data/fit.ts`\n4. `cli/`\n\n## Later\n\n5. `lib/not_a_layer.ts`\n";

Deno.test("layering: the project's own tree keeps ARCHITECTURE.md's order", async () => {
  const ok = await run(ROOT.pathname);
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test("layering: the layers are ARCHITECTURE.md's numbered list; a file outranks its folder", () => {
  const layers = readLayers(ARCHITECTURE);
  assert.deepEqual(layers, [["lib/errors.ts"], ["lib/data/"], ["lib/model/", "lib/data/fit.ts"], [
    "cli/",
  ]]);
  assert.equal(layerOf(layers, "lib/data/idx.ts"), 1);
  assert.equal(layerOf(layers, "lib/data/fit.ts"), 2);
  assert.equal(layerOf(layers, "lib/model/deep/x.ts"), 2);
  assert.equal(layerOf(layers, "lib/not_a_layer.ts"), undefined);
});

Deno.test("layering: imports are read from declarations, not from doc examples or strings", () => {
  const text = [
    "/**",
    ' * import { x } from "./example.ts";',
    " */",
    'import * as tf from "@tensorflow/tfjs-core";',
    "import {",
    "  a, // why",
    "  type B,",
    '} from "./multi.ts";',
    'import "./side.ts";',
    'export { c } from "../up.ts";',
    'export type { D } from "./types.ts";',
    'const m = await import("./lazy.ts");',
    "const s = \"import { y } from './string.ts'\";",
  ].join("\n");
  assert.deepEqual(importsOf(text).sort(), [
    "../up.ts",
    "./lazy.ts",
    "./multi.ts",
    "./side.ts",
    "./types.ts",
  ]);
});

Deno.test("layering: a climb, a cycle and a module in no layer each fail, one line each", async () => {
  const bad = await runOn({
    "ARCHITECTURE.md": ARCHITECTURE,
    "lib/errors.ts": "export class E {}\n",
    // A climb: the data layer imports the model's.
    "lib/data/idx.ts":
      'import { E } from "../errors.ts";\nimport { net } from "../model/net.ts";\n',
    // A cycle within one layer (no climb): net -> step -> net.
    "lib/model/net.ts": 'import { step } from "./step.ts";\nexport const net = 1;\n',
    "lib/model/step.ts": 'import type { net } from "./net.ts";\nexport const step = 2;\n',
    // A file named by a higher layer than its folder may import that layer.
    "lib/data/fit.ts": 'import { net } from "../model/net.ts";\n',
    "cli/main.ts": 'import "../lib/data/idx.ts";\n',
    "lib/stray.ts": "export const s = 0;\n",
  });
  assert.equal(bad.code, 1);
  const lines = bad.stderr.trim().split("\n").slice(1);
  assert.deepEqual(lines.sort(), [
    'lib/data/idx.ts: imports "../model/net.ts": climbs from layer 2 to layer 3 (lib/model/net.ts); ' +
    "an import points at its own layer or a lower one",
    'lib/model/net.ts: imports "./step.ts": import cycle lib/model/net.ts -> lib/model/step.ts -> ' +
    "lib/model/net.ts",
    `lib/stray.ts: in no layer (name it, or its folder, in ARCHITECTURE.md's "## Layers")`,
  ]);
  // Without the offences the same tree passes.
  const good = await runOn({
    "ARCHITECTURE.md": ARCHITECTURE,
    "lib/errors.ts": "export class E {}\n",
    "lib/data/idx.ts": 'import { E } from "../errors.ts";\n',
    "lib/model/net.ts": 'import { E } from "../errors.ts";\nexport const net = 1;\n',
    "lib/data/fit.ts": 'import { net } from "../model/net.ts";\n',
    "cli/main.ts": 'import "../lib/data/idx.ts";\n',
  });
  assert.equal(good.code, 0, good.stderr);
});
