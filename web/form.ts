/**
 * The page's settings form as values: the architecture (`--depth` or `--stages`, `--width`) and
 * the training settings (`--batch-size`, `--lr`, `--epochs`, `--size`, `--limit`, `--test-limit`,
 * `--seed`), checked by the library's own validation so the page refuses what the CLI refuses,
 * with the same words.
 *
 * @example
 * ```ts
 * import { parseSettings } from "./form.ts";
 * const s = parseSettings({
 *   depth: "stages", stages: "1,1,1,1", width: "8", size: "28", batch: "128", lr: "0.1",
 *   epochs: "2", limit: "12000", "test-limit": "2000", seed: "0", "read-every": "10",
 * });
 * console.log(s.model.stages, s.settings.batchSize); // [1, 1, 1, 1] 128
 * ```
 * @module
 */
import { outputSizes, type ResNetOptions, resolveConfig } from "../lib/model/resnet.ts";
import type { TrainSettings } from "../lib/run/recipe.ts";
import { parseNumber } from "../lib/parse_number.ts";

/** The form's field ids, each with its value as typed. */
export type FormValues = Record<
  | "depth"
  | "stages"
  | "width"
  | "size"
  | "batch"
  | "lr"
  | "epochs"
  | "limit"
  | "test-limit"
  | "seed"
  | "read-every",
  string
>;

/** What the form asks for. */
export interface PageSettings {
  /** The architecture (the seed is in `settings`). */
  model: Omit<ResNetOptions, "seed">;
  /** The training settings, as a CLI run records them. */
  settings: TrainSettings;
  /** Read the metrics back every this many steps. */
  readEvery: number;
}

/**
 * A field's value as a number of the given kind, by the CLI's own number parser (the same rules as
 * `--width`, `--lr`, `--seed`: digits only for integers); a one-line error names the field.
 */
function num(v: FormValues, field: keyof FormValues, kind: "integer" | "positive" | "count") {
  const where = `${field} "${v[field]}"`;
  if (kind === "positive") return parseNumber(v[field], "number", 0, true, where);
  return parseNumber(v[field], "integer", kind === "count" ? 1 : 0, false, where);
}

/** Parses and checks the form; throws an {@linkcode InputError} (or `ConfigError`) in one line. */
export function parseSettings(v: FormValues): PageSettings {
  const model: Omit<ResNetOptions, "seed"> = v.depth === "stages"
    ? { stages: v.stages.split(",").map((s) => Number(s.trim())) }
    : { depth: Number(v.depth) };
  model.width = num(v, "width", "count");
  resolveConfig(model); // the library's own checks and messages
  const size = num(v, "size", "count");
  outputSizes(size);
  return {
    model,
    settings: {
      epochs: num(v, "epochs", "count"),
      batchSize: num(v, "batch", "count"),
      lr: num(v, "lr", "positive"),
      size,
      seed: num(v, "seed", "integer"),
      limit: num(v, "limit", "count"),
      testLimit: num(v, "test-limit", "count"),
    },
    readEvery: num(v, "read-every", "count"),
  };
}
