/**
 * What a terminal shows after some output: a small emulator of the control sequences the
 * progress bars and stop notices write (carriage return, newline, cursor save/restore and moves,
 * line clearing; colours and modes are ignored). Tests read the screen a person would read,
 * not the bytes, so a line wiped or overdrawn after it was printed shows up as missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { screenLines } from "./tty_screen.ts";
 * assert.deepEqual(screenLines("bar 10%\r\x1b[2Kdone\n"), ["done"]);
 * ```
 * @module
 */

/** The cursor and the text on the screen (one array of characters per line). */
interface Screen {
  rows: string[][];
  row: number;
  col: number;
  saved: { row: number; col: number };
}

/** Applies one CSI sequence (`ESC [ params final`). */
function csi(s: Screen, params: string, final: string): void {
  const n = (d: number) => {
    const v = parseInt(params.replace(/^\?/, ""), 10);
    return Number.isNaN(v) ? d : v;
  };
  const line = (s.rows[s.row] ??= []);
  switch (final) {
    case "K": {
      const mode = n(0);
      if (mode === 2) s.rows[s.row] = [];
      else if (mode === 0) line.length = Math.min(line.length, s.col);
      else for (let i = 0; i <= s.col && i < line.length; i++) line[i] = " ";
      break;
    }
    case "J":
      if (n(0) === 0) {
        line.length = Math.min(line.length, s.col);
        s.rows.length = s.row + 1;
      }
      break;
    case "A":
      s.row = Math.max(0, s.row - n(1));
      break;
    case "B":
      s.row += n(1);
      break;
    case "C":
      s.col += n(1);
      break;
    case "D":
      s.col = Math.max(0, s.col - n(1));
      break;
    case "G":
      s.col = Math.max(0, n(1) - 1);
      break;
      // "m" (colours), "h"/"l" (modes: cursor, line wrapping) change nothing on screen.
  }
}

/** Writes one printable character at the cursor. */
function put(s: Screen, ch: string): void {
  const line = (s.rows[s.row] ??= []);
  while (line.length < s.col) line.push(" ");
  line[s.col++] = ch;
}

/** The lines the screen shows after `text` was written to an empty terminal, trailing blanks trimmed. */
export function screenLines(text: string): string[] {
  const s: Screen = { rows: [], row: 0, col: 0, saved: { row: 0, col: 0 } };
  // deno-lint-ignore no-control-regex
  const token = /\x1b\[([?0-9;]*)([A-Za-z])|\x1b([78])|\x1b.|[\s\S]/g;
  for (const m of text.matchAll(token)) {
    if (m[2]) csi(s, m[1], m[2]);
    else if (m[3] === "7") s.saved = { row: s.row, col: s.col };
    else if (m[3] === "8") ({ row: s.row, col: s.col } = s.saved);
    else if (m[0] === "\r") s.col = 0;
    else if (m[0] === "\n") (s.row++, s.col = 0);
    else if (m[0] === "\b") s.col = Math.max(0, s.col - 1);
    else if (m[0] >= " " && m[0] !== "\x7f" && m[0].length === 1) put(s, m[0]);
  }
  const lines = Array.from({ length: s.rows.length }, (_, i) => (s.rows[i] ?? []).join(""));
  while (lines.length && lines.at(-1)!.trim() === "") lines.pop();
  return lines.map((l) => l.trimEnd());
}
