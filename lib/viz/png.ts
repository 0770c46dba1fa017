/**
 * SVG to PNG with a real renderer: resvg (Rust), from npm's `@resvg/resvg-wasm`, whose WebAssembly
 * is read from the npm package's own file (no network). resvg has no
 * system font lookup in WebAssembly, so the text font is read from the machine: DejaVu Sans
 * (Debian's `fonts-dejavu-core`) or Liberation Sans, the first found.
 *
 * @example
 * ```ts
 * import { svgToPng } from "./png.ts";
 * import assert from "node:assert/strict";
 * const png = await svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
 * assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
 * ```
 * @module
 */
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import { UserError } from "../errors.ts";

/** Font files tried in order, with their family names. */
export const FONT_CANDIDATES: readonly { family: string; path: string }[] = [
  { family: "DejaVu Sans", path: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" },
  {
    family: "Liberation Sans",
    path: "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
  },
];

/** resvg's WebAssembly, a file of the npm package. */
const WASM = "@resvg/resvg-wasm/index_bg.wasm";

/** resvg's WebAssembly, started once per process (a second `initWasm` throws). */
let wasm: Promise<void> | null = null;
/** The font, once found; looked for again on the next call while none is found. */
let font: Promise<{ family: string; font: Uint8Array }> | null = null;

/** Reads the first font of {@linkcode FONT_CANDIDATES} there is. */
async function findFont(): Promise<{ family: string; font: Uint8Array }> {
  for (const c of FONT_CANDIDATES) {
    const bytes = await Deno.readFile(c.path).catch(() => null);
    if (bytes) return { family: c.family, font: bytes };
  }
  throw new UserError(
    `no font to draw text with (looked for ${FONT_CANDIDATES.map((c) => c.path).join(", ")}): ` +
      "install one (apt-get install fonts-dejavu-core), or write .svg instead",
  );
}

/** Starts resvg (once per process) and finds the font (until one is found). */
async function init(): Promise<{ family: string; font: Uint8Array }> {
  // The package's own file, where Deno's npm cache (or node_modules) holds it.
  wasm ??= (async () => initWasm(await Deno.readFile(new URL(import.meta.resolve(WASM)))))();
  await wasm;
  font ??= findFont();
  font.catch(() => (font = null));
  return await font;
}

/** Renders `svg` to a PNG file's bytes at `scale` times its size (default 1). */
export async function svgToPng(svg: string, scale = 1): Promise<Uint8Array> {
  const { family, font } = await init();
  const r = new Resvg(svg, {
    font: { fontBuffers: [font], defaultFontFamily: family, sansSerifFamily: family },
    fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
  });
  try {
    const img = r.render();
    try {
      return img.asPng();
    } finally {
      img.free();
    }
  } finally {
    r.free();
  }
}
