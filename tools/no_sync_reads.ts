/**
 * Fails when library or CLI code calls `dataSync()` or `arraySync()`: under Deno's WebGPU these
 * stall or fail (no OffscreenCanvas), so tensors are read with `await data()` instead.
 * Test files may use them on CPU tensors. Run by `deno task check`.
 * @module
 */
const roots = ["main.ts", "mod.ts", "cli", "lib", "bench", "web"];
const pattern = /\.(dataSync|arraySync)\s*\(/;
const bad: string[] = [];
async function walk(path: string): Promise<void> {
  const info = await Deno.stat(path).catch(() => null);
  if (!info) return;
  if (info.isDirectory) {
    for await (const e of Deno.readDir(path)) await walk(`${path}/${e.name}`);
  } else if (path.endsWith(".ts")) {
    (await Deno.readTextFile(path)).split("\n").forEach((line, i) => {
      if (pattern.test(line) && !line.includes("sync-read-ok")) {
        bad.push(`${path}:${i + 1}: ${line.trim()}`);
      }
    });
  }
}
for (const r of roots) await walk(r);
if (bad.length) {
  console.error(`dataSync()/arraySync() found (use await tensor.data()):\n${bad.join("\n")}`);
  Deno.exit(1);
}
console.log("no-sync-reads: ok");
