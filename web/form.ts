/**
 * The page's settings form as values: the architecture (`--depth` or `--stages`, `--width`,
 * `--block`, `--arch`, `--stem`, `--groups`, `--width-per-group`) and the training settings
 * (`--batch-size`, `--lr`, `--epochs`, `--size`, `--limit`, `--test-limit`, `--seed`, `--recipe`:
 * the recipe's options where the form has no field), read by the CLI's number parser
 * (lib/parse_number.ts: `0x12` and `1e1` are no depth) and checked by the library's own
 * validation (the depths, blocks, forms and stems of lib/model/resnet.ts), so the page accepts
 * and refuses what the CLI does, with the same words.
 *
 * @example
 * ```ts
 * import { parseSettings } from "./form.ts";
 * const s = parseSettings({
 *   depth: "stages", stages: "1,1,1,1", width: "8", size: "28", batch: "128", lr: "0.1",
 *   epochs: "2", limit: "12000", "test-limit": "2000", seed: "0", recipe: "modern",
 *   "read-every": "10", "read-after": "2", block: "", arch: "d2l", stem: "d2l", groups: "1",
 *   "width-per-group": "64",
 * });
 * console.log(s.model.stages, s.settings.batchSize, s.settings.recipe); // [1, 1, 1, 1] 128 modern
 * ```
 * @module
 */
import {
  type Arch,
  type BlockKind,
  outputSizes,
  type ResNetOptions,
  resolveConfig,
  type Stem,
} from "../lib/model/resnet.ts";
import {
  checkSettings,
  RECIPE_NETWORKS,
  type RecipeName,
  RECIPES,
  resolveSettings,
  SettingError,
  type SettingName,
  type TrainSettings,
} from "../lib/run/recipe.ts";
import { parseNumber } from "../lib/parse_number.ts";
import { InputError } from "../lib/errors.ts";

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
  | "recipe"
  | "read-every"
  | "read-after"
  | "block"
  | "arch"
  | "stem"
  | "groups"
  | "width-per-group",
  string
>;

/** What the form asks for. */
export interface PageSettings {
  /** The architecture (the seed is in `settings`). */
  model: Omit<ResNetOptions, "seed">;
  /** The training settings, as a CLI run records them. */
  settings: TrainSettings;
  /** Read the metrics back every this many steps, or sooner after this many milliseconds. */
  readEvery: number;
  readAfterMs: number;
}

/**
 * A field's value as a number of the given kind, by the CLI's own number parser (the same rules as
 * `--width`, `--lr`, `--seed`: digits only for integers); a one-line error names the field.
 */
function num(
  v: FormValues,
  field: keyof FormValues,
  kind: "integer" | "positive" | "count" | "seconds",
) {
  const where = `${field} "${v[field]}"`;
  if (kind === "positive") return parseNumber(v[field], "number", 0, true, where);
  if (kind === "seconds") return parseNumber(v[field], "number", 0, false, where);
  return parseNumber(v[field], "integer", kind === "count" ? 1 : 0, false, where);
}

/**
 * The architecture: a depth of the library's table (digits only, as `--depth`: the number parser,
 * then `resolveConfig`'s table) or the stages, and the block ("": the depth's), form and stem as
 * chosen (unknown ones refused by `resolveConfig`, naming the ones there are).
 */
function modelOf(v: FormValues): Omit<ResNetOptions, "seed"> {
  const model: Omit<ResNetOptions, "seed"> = v.depth === "stages"
    ? {
      stages: v.stages.split(",").map((s) =>
        parseNumber(s.trim(), "integer", 1, false, `stages "${v.stages}"`)
      ),
    }
    : { depth: parseNumber(v.depth, "integer", 1, false, `depth "${v.depth}"`) };
  model.width = num(v, "width", "count");
  if (v.block !== "") model.block = v.block as BlockKind;
  model.arch = v.arch as Arch;
  model.stem = v.stem as Stem;
  model.groups = num(v, "groups", "count");
  model.widthPerGroup = num(v, "width-per-group", "count");
  resolveConfig(model); // the library's own checks and messages
  return model;
}

/** The form's field of each setting it has (the others come from the recipe). */
const FIELDS: Partial<Record<SettingName, keyof FormValues>> = {
  batchSize: "batch",
  testLimit: "test-limit",
  recipe: "recipe",
  epochs: "epochs",
  lr: "lr",
  size: "size",
  limit: "limit",
  seed: "seed",
};

/** Parses and checks the form; throws an {@linkcode InputError} (or `ConfigError`) in one line. */
export function parseSettings(v: FormValues): PageSettings {
  const model = modelOf(v);
  const size = num(v, "size", "count");
  outputSizes(size);
  const settings: TrainSettings = {
    epochs: num(v, "epochs", "count"),
    batchSize: num(v, "batch", "count"),
    lr: num(v, "lr", "positive"),
    size,
    seed: num(v, "seed", "integer"),
    limit: num(v, "limit", "count"),
    testLimit: num(v, "test-limit", "count"),
    recipe: v.recipe as RecipeName,
  };
  try {
    checkSettings(resolveSettings(settings));
  } catch (e) {
    // The library names settings; the page names its fields (a setting without one: its name).
    if (!(e instanceof SettingError)) throw e;
    throw new InputError(e.wording((k) => FIELDS[k] ?? k));
  }
  return {
    model,
    settings,
    readEvery: num(v, "read-every", "count"),
    readAfterMs: num(v, "read-after", "seconds") * 1000,
  };
}

/**
 * The fields a recipe fills in when it is chosen: its epochs, batch size, lr and input size, and,
 * for a recipe with a network of its own (`fast`: ResNet-18's stages, the cifar stem, width 16),
 * that network, as `train --recipe` trains it when no architecture flag is given. The other
 * recipes leave the network as it is (the page's small default suits a browser).
 *
 * @example
 * ```ts
 * import { recipeFields } from "./form.ts";
 * recipeFields("fast").stem; // "cifar"
 * recipeFields("d2l").stem; // undefined: the form's network stays
 * ```
 */
export function recipeFields(name: RecipeName): Partial<FormValues> {
  const r = RECIPES[name], net = RECIPE_NETWORKS[name];
  const fields: Partial<FormValues> = {
    epochs: `${r.epochs}`,
    batch: `${r.batchSize}`,
    lr: `${r.lr}`,
    size: `${r.size}`,
  };
  if (Object.keys(net).length === 0) return fields;
  const c = resolveConfig(net);
  return {
    ...fields,
    depth: c.depth === null ? "stages" : `${c.depth}`,
    stages: c.stages.join(","),
    width: `${c.width}`,
    block: "",
    arch: c.arch,
    stem: c.stem,
    groups: `${c.groups}`,
    "width-per-group": `${c.widthPerGroup}`,
  };
}
