/**
 * The layering check `deno task check` runs: reads the layer order from ARCHITECTURE.md's
 * "## Layers" section (a numbered list, lowest first, of files and folders in backquotes) and every
 * import of the project's modules, and fails, one line per offence, on
 * - an import of a module in a higher layer (a climb back up),
 * - an import cycle (reported once, from the cycle's first module in path order),
 * - a module that no layer names.
 *
 * Run in a checkout's root (`deno run -A tools/layering.ts`); a test feeds it a scratch tree.
 * @module
 */
import { dirname, join, normalize, relative } from "node:path";

/** The project's modules: what the CLI, the library, the page and the benchmarks are made of. */
const ROOTS = ["main.ts", "mod.ts", "cli", "lib", "web", "bench"];

/** One layer: the files (`lib/rng.ts`) and folders (`lib/data/`) it holds. */
export type Layer = string[];

/** The layers ARCHITECTURE.md's "## Layers" section lists, lowest first. */
export function readLayers(architecture: string): Layer[] {
  const section = architecture.split(/^## /m).find((s) => s.startsWith("Layers"));
  if (!section) throw new Error('ARCHITECTURE.md has no "## Layers" section');
  const layers = section.split("\n").filter((l) => /^\d+\.\s/.test(l)).map((l) =>
    [...l.matchAll(/`([^`]+)`/g)].map((m) => m[1])
  );
  if (!layers.length) throw new Error('ARCHITECTURE.md\'s "## Layers" lists no layer');
  return layers;
}

/** The index of the layer holding `path`: the longest file or folder that names it. */
export function layerOf(layers: Layer[], path: string): number | undefined {
  let best: { index: number; length: number } | undefined;
  layers.forEach((layer, index) => {
    for (const entry of layer) {
      const hit = entry.endsWith("/") ? path.startsWith(entry) : path === entry;
      if (hit && entry.length > (best?.length ?? -1)) best = { index, length: entry.length };
    }
  });
  return best?.index;
}

/**
 * The relative specifiers a module imports: `import`/`export ... from`, `import "x"` and
 * `import("x")`, types included (a type is a dependency of the concept too). Declarations start a
 * line (deno fmt puts them there), so doc examples (` * import ...`) are not read.
 */
export function importsOf(text: string): string[] {
  const found = [
    ...text.matchAll(/^(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']/gm),
    ...text.matchAll(/^import\s*["']([^"']+)["']/gm),
    ...text.split("\n").filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l)).flatMap((l) => [
      ...l.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ]),
  ].map((m) => m[1]);
  return [...new Set(found.filter((s) => s.startsWith(".")))];
}

async function modules(path: string, out: string[] = []): Promise<string[]> {
  const info = await Deno.stat(path).catch(() => null);
  if (info?.isDirectory) {
    for await (const e of Deno.readDir(path)) {
      if (e.name !== "node_modules" && !e.name.startsWith(".")) {
        await modules(`${path}/${e.name}`, out);
      }
    }
  } else if (info && /\.tsx?$/.test(path)) out.push(normalize(path));
  return out;
}

/** An import edge: `from` imports `to` (both relative to the root) spelled `spec`. */
type Edge = { from: string; to: string; spec: string };

/** Reads every module under `ROOTS` in `root` and the imports among them. */
export async function readGraph(root: string): Promise<Map<string, Edge[]>> {
  const graph = new Map<string, Edge[]>();
  const paths = (await Promise.all(ROOTS.map((r) => modules(join(root, r))))).flat().sort();
  for (const path of paths) {
    const from = relative(root, path);
    graph.set(
      from,
      importsOf(await Deno.readTextFile(path)).map((spec) => ({
        from,
        spec,
        to: relative(root, normalize(join(dirname(path), spec))),
      })),
    );
  }
  return graph;
}

/** Each cycle once: a shortest one through the first module (in path order) of each knot. */
export function cycles(graph: Map<string, Edge[]>): Edge[][] {
  const out: Edge[][] = [];
  const reported = new Set<string>();
  for (const start of [...graph.keys()].sort()) {
    if (reported.has(start)) continue;
    // Breadth first from start's imports back to start: the shortest cycle through it.
    const via = new Map<string, Edge>();
    const queue = [start];
    let closing: Edge | undefined;
    for (let i = 0; i < queue.length && !closing; i++) {
      for (const e of graph.get(queue[i]) ?? []) {
        if (e.to === start) {
          closing = e;
          break;
        }
        if (!via.has(e.to) && graph.has(e.to)) {
          via.set(e.to, e);
          queue.push(e.to);
        }
      }
    }
    if (!closing) continue;
    const path = [closing];
    while (path[0].from !== start) path.unshift(via.get(path[0].from)!);
    path.forEach((e) => reported.add(e.from));
    out.push(path);
  }
  return out;
}

/** Every offence in the tree at `root`, one line each: file, import, rule. */
export async function offences(root: string): Promise<string[]> {
  const layers = readLayers(await Deno.readTextFile(join(root, "ARCHITECTURE.md")));
  const graph = await readGraph(root);
  const out: string[] = [];
  for (const [from, edges] of graph) {
    const own = layerOf(layers, from);
    if (own === undefined) {
      out.push(`${from}: in no layer (name it, or its folder, in ARCHITECTURE.md's "## Layers")`);
      continue;
    }
    for (const e of edges) {
      const theirs = layerOf(layers, e.to);
      if (theirs !== undefined && theirs > own) {
        out.push(
          `${from}: imports "${e.spec}": climbs from layer ${own + 1} to layer ${theirs + 1} ` +
            `(${e.to}); an import points at its own layer or a lower one`,
        );
      }
    }
  }
  for (const cycle of cycles(graph)) {
    const names = [...cycle.map((e) => e.from), cycle[0].from].join(" -> ");
    out.push(`${cycle[0].from}: imports "${cycle[0].spec}": import cycle ${names}`);
  }
  return out;
}

if (import.meta.main) {
  const bad = await offences(Deno.cwd());
  if (bad.length) {
    console.error(`layering (ARCHITECTURE.md's "## Layers", no cycles):\n${bad.join("\n")}`);
    Deno.exit(1);
  }
  console.log("layering (imports keep ARCHITECTURE.md's layer order; no cycles): ok");
}
