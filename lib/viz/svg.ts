/**
 * Small helpers for SVG and HTML written as text: escaping, number formatting and the fonts every
 * picture asks for (DejaVu Sans first: the font the PNG renderer loads, ./png.ts).
 *
 * @example
 * ```ts
 * import { escapeXml, num } from "./svg.ts";
 * escapeXml(`T-shirt/top <"&">`); // "T-shirt/top &lt;&quot;&amp;&quot;&gt;"
 * num(1 / 3); // "0.33"
 * ```
 * @module
 */

/** The font list of every picture: DejaVu Sans (what ./png.ts renders with), then the usual. */
export const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

/**
 * Text escaped for XML and HTML text and attribute values.
 *
 * @example
 * ```ts
 * import { escapeXml } from "./svg.ts";
 * escapeXml(`"T-shirt/top" & <Bag>`); // "&quot;T-shirt/top&quot; &amp; &lt;Bag&gt;"
 * ```
 */
export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/**
 * A coordinate with at most 2 decimals (short SVG text, no `1e-7`).
 *
 * @example
 * ```ts
 * import { num } from "./svg.ts";
 * num(12.3456); // "12.35"
 * num(1e-7); // "0"
 * ```
 */
export function num(x: number): string {
  return String(Math.round(x * 100) / 100);
}

/**
 * `<svg>` around `body`, `width` x `height`, with a white background and the font.
 *
 * @example
 * ```ts
 * import { svgDocument } from "./svg.ts";
 * svgDocument(20, 10, '<circle cx="5" cy="5" r="4"/>', { class: "dot" });
 * // '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10" viewBox="0 0 20 10" ...>'
 * ```
 */
export function svgDocument(
  width: number,
  height: number,
  body: string,
  attrs: Record<string, string> = {},
): string {
  const extra = Object.entries(attrs).map(([k, v]) => ` ${k}="${escapeXml(v)}"`).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}"${extra}>` +
    `<rect width="100%" height="100%" fill="white"/>${body}</svg>`;
}
