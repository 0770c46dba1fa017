/**
 * The confusion matrix of an {@linkcode Evaluation} as CSV (`eval --confusion`), written through
 * csv-stringify (kept apart from ./evaluate.ts: csv-stringify's build needs Node's Buffer, which
 * browsers lack, and the web page evaluates with ./evaluate.ts).
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { confusionCsv } from "./confusion_csv.ts";
 * const csv = confusionCsv(await evaluate(net, test, { size: 28, batchSize: 256 }, CLASS_NAMES));
 * assert.match(csv, /^true\\predicted,T-shirt\/top,Trouser,/); // true\predicted,T-shirt/top,Trouser,...
 * ```
 * @module
 */
import { stringify } from "csv-stringify/sync";
import type { Evaluation } from "./evaluate.ts";

/** The confusion matrix as CSV: a header `true\predicted,<names...>`, one row per true class. */
export function confusionCsv(r: Evaluation): string {
  const names = r.perClass.map((c) => c.name);
  return stringify(r.confusion.map((row, i) => [names[i], ...row]), {
    header: true,
    columns: ["true\\predicted", ...names],
  });
}
