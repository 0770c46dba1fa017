/**
 * Saves a picture made as SVG: as it is to `.svg`, rendered by resvg to `.png` (./png.ts);
 * atomically, so a reader never sees half a file.
 *
 * @example
 * ```ts
 * import { writeFigure } from "./figure.ts";
 * const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>';
 * const dir = await Deno.makeTempDir();
 * await writeFigure(`${dir}/empty.png`, svg); // rendered by resvg
 * await writeFigure(`${dir}/empty.svg`, svg); // as it is
 * ```
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";
import { svgToPng } from "./png.ts";

/** Writes `svg` to `path`: a PNG rendering when it ends in `.png` (any case), else the SVG. */
export async function writeFigure(path: string, svg: string, scale = 1): Promise<void> {
  await writeFileAtomic(path, /\.png$/i.test(path) ? await svgToPng(svg, scale) : svg);
}
