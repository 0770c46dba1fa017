/**
 * Fails on three things `deno task check` keeps out of the project:
 * - `dataSync()` or `arraySync()` in library or CLI code: under Deno's WebGPU these stall or fail
 *   (no OffscreenCanvas), so tensors are read with `await data()` instead. Test files may use them
 *   on CPU tensors; a line marked `sync-read-ok` may too.
 * - `console.*` or commander anywhere in lib/, docs included: the library neither prints nor parses
 *   flags (the CLI does), and its examples assert what they show.
 * - a path into the folder beside the checkout that only our CI machines have (`shared` one level
 *   up): a stranger's clone has nothing beside it, so the project carries its own references
 *   (tests/golden/, made by tools/golden/).
 * @module
 */
const RULES = [
  {
    roots: ["main.ts", "mod.ts", "cli", "lib", "bench", "web"],
    files: /\.ts$/,
    pattern: /\.(dataSync|arraySync)\s*\(/,
    fix: "dataSync()/arraySync() found (use await tensor.data())",
  },
  {
    roots: ["lib"],
    files: /\.(ts|md)$/,
    pattern: /\bconsole\.|\bcommander\b/,
    fix: "console.* or commander in lib/ (print and parse flags in cli/; examples use assert)",
  },
  {
    roots: ["."],
    files: /(\.(ts|js|py|sh|md|json|html|css|ya?ml)|\/\.ci\/run)$/,
    // Spelled in two parts so that this file does not match itself.
    pattern: new RegExp(["\\.\\.", "shared"].join("/")),
    fix:
      "a path into the folder beside the checkout, which a clone does not have (keep references " +
      "in tests/golden/, made by tools/golden/)",
  },
];

/** Folders no rule reads: git's and dependencies anywhere; the data cache and runs at the top. */
const SKIP = new Set([".git", "node_modules", "./data", "./runs"]);

async function files(path: string, out: string[] = []): Promise<string[]> {
  const info = await Deno.stat(path).catch(() => null);
  if (info?.isDirectory) {
    for await (const e of Deno.readDir(path)) {
      const child = `${path}/${e.name}`;
      if (!SKIP.has(e.name) && !SKIP.has(child)) await files(child, out);
    }
  } else if (info) out.push(path);
  return out;
}

let failed = false;
for (const { roots, files: wanted, pattern, fix } of RULES) {
  const bad: string[] = [];
  for (const r of roots) {
    for (const path of (await files(r)).filter((p) => wanted.test(p))) {
      (await Deno.readTextFile(path)).split("\n").forEach((line, i) => {
        if (pattern.test(line) && !line.includes("sync-read-ok")) {
          bad.push(`${path}:${i + 1}: ${line.trim()}`);
        }
      });
    }
  }
  if (bad.length) {
    console.error(`${fix}:\n${bad.join("\n")}`);
    failed = true;
  }
}
if (failed) Deno.exit(1);
console.log("code rules (no sync reads, a quiet lib, no path outside the checkout): ok");
