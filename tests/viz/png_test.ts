/**
 * lib/viz/png.ts on a machine without the fonts it looks for: the same one-line UserError on
 * every call (resvg's WebAssembly is started once, never again), and PNGs once a font is there.
 */
import assert from "node:assert/strict";
import { FONT_CANDIDATES, svgToPng } from "../../lib/viz/png.ts";
import { UserError } from "../../lib/errors.ts";

const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text y="15">a</text></svg>';

Deno.test("svgToPng without a font: the font error each time; with one, a PNG", async () => {
  // This module's own isolate: resvg is not started yet when the first call finds no font.
  const fonts = FONT_CANDIDATES as { family: string; path: string }[];
  const installed = fonts.splice(0, fonts.length, { family: "None", path: "/nonexistent/no.ttf" });
  try {
    for (const call of [1, 2, 3]) {
      await assert.rejects(svgToPng(SVG), (e: unknown) => {
        assert.ok(e instanceof UserError, `call ${call}: ${e}`);
        assert.match(e.message, /^no font to draw text with \(looked for \/nonexistent\/no\.ttf\)/);
        return true;
      });
    }
  } finally {
    fonts.splice(0, fonts.length, ...installed);
  }
  const png = await svgToPng(SVG);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
});
