/**
 * The training options, declared once: {@linkcode TRAIN_OPTIONS} gives each option its value
 * under each recipe (d2l's `train_ch6` settings for the ResNet chapter, the default, and a `modern`
 * one chosen by short ablations on this project's machine: README, accuracy section), whether every
 * saved run has it, and whether a resumed run may change it; {@linkcode SETTING_CHECKS} gives its
 * check. The settings types ({@linkcode TrainSettings}, {@linkcode ResolvedSettings}), the
 * recipes ({@linkcode RECIPES}), {@linkcode resolveSettings}, {@linkcode checkSettings},
 * {@linkcode resumeSettings} and the CLI's flag notes and resume rules are derived from them.
 *
 * Adding an option: one entry in `TRAIN_OPTIONS` (its type and value per recipe), one in
 * `SETTING_CHECKS` (when a value can be wrong), its flag in cli/options.ts' `FLAGS` (same name);
 * then its use in ./train.ts or ./epoch.ts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { D2L_DEFAULTS, RECIPES, resolveSettings } from "./recipe.ts";
 * assert.deepEqual([D2L_DEFAULTS.lr, D2L_DEFAULTS.batchSize, D2L_DEFAULTS.size], [0.05, 256, 96]);
 * assert.equal(RECIPES.modern.momentum, 0.9);
 * const s = { epochs: 1, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: null, testLimit: null };
 * assert.equal(resolveSettings(s).schedule, "constant"); // d2l's recipe where nothing is said
 * ```
 * @module
 */
import { type Schedule, scheduleProblem, SCHEDULES } from "./schedule.ts";
import { type Augmentation, augmentProblem } from "../data/augment.ts";
import { InputError } from "../errors.ts";
import type { ResNetOptions } from "../model/resnet.ts";

/** The recipes' names. */
export const RECIPE_NAMES = ["d2l", "modern", "fast"] as const;

/** A recipe's name. */
export type RecipeName = typeof RECIPE_NAMES[number];

/**
 * One training option in {@linkcode TRAIN_OPTIONS}: its value under each recipe, and whether
 * every saved run has it (`always`: runs made before the recipes included, so required in
 * {@linkcode TrainSettings}) and whether a resumed run may change it (`resumable`; a resumed run
 * keeps every other option as it recorded it).
 */
export type OptionSpec<T> = Readonly<Record<RecipeName, T>> & {
  readonly always?: true;
  readonly resumable?: true;
};

/**
 * Every training option, in the order the CLI's help lists them; its value type is its values'
 * (an `as` names it where the values alone would say less). `d2l`: the book's plain SGD (behaves
 * exactly as before the options existed). `modern`, from the ablations in README's accuracy
 * section: momentum 0.9 with weight decay 5e-4 and a cosine schedule (+3.6 points over d2l's in
 * 8-epoch runs); crop, flip and erasing augmentation. Augmentation costs accuracy in the short
 * runs of a small network measured here (it underfits them), and is kept for the long ResNet-18
 * runs the recipe is for, where published results rely on it; its recorded 30-epoch run
 * (docs/runs/modern-28) reached 0.915 and still underfit. lr 0.1 and 0.05 measured alike; 0.1 is
 * the usual rate for batch 256 with momentum. Label smoothing 0.1 measured neutral (-0.1 points
 * at 8 and 12 epochs) and is left out. Test-time flips added 0.4 to 0.6 points wherever the
 * training images were flipped (and cost 2-5 points otherwise): measure them with `eval --tta`,
 * or give `tta` for every epoch's test pass (off, so that `test_acc` stays one forward pass).
 *
 * `fast`, from the ten-minute ablations in the same section: Nesterov SGD decaying linearly to 0
 * every step, label smoothing 0.1, `altflip` and test-time flips, at 28x28, with its own network
 * ({@linkcode RECIPE_NETWORKS}). 8 epochs took 9.7 minutes on the 2-core Zen 5 (0.938 +- 0.002
 * over three seeds); after the test pass got faster (folded BatchNorm, a native Reverse for the
 * flips) 9 epochs fit in the same ten minutes (docs/runs/fast).
 *
 * Runs saved before an option existed lack it, and it then means d2l's value.
 */
export const TRAIN_OPTIONS = {
  /** The named recipe the other options default to (options given explicitly override it). */
  recipe: { d2l: "d2l" as RecipeName, modern: "d2l" as RecipeName, fast: "d2l" as RecipeName },
  /** Epochs to train in all (a resumed run may raise it). */
  epochs: { d2l: 10, modern: 30, fast: 9, always: true as const, resumable: true as const },
  /** Images per SGD step. */
  batchSize: { d2l: 256, modern: 256, fast: 256, always: true as const },
  /** SGD's base learning rate, scaled per epoch by `schedule` (a resumed run may change it). */
  lr: { d2l: 0.05, modern: 0.1, fast: 0.1, always: true as const, resumable: true as const },
  /** SGD momentum (0: plain SGD). */
  momentum: { d2l: 0, modern: 0.9, fast: 0.9 },
  /** Nesterov momentum. */
  nesterov: { d2l: false, modern: false, fast: true },
  /** Weight decay on convolution and dense weights (not on biases and BatchNorm). */
  weightDecay: { d2l: 0, modern: 5e-4, fast: 5e-4 },
  /** The per-epoch learning-rate schedule (./schedule.ts). */
  schedule: {
    d2l: "constant" as Schedule,
    modern: "cosine" as Schedule,
    fast: "linear" as Schedule,
  },
  /** Epochs of linear warm-up before the schedule. */
  warmupEpochs: { d2l: 0, modern: 0, fast: 0 },
  /** Label smoothing of the cross-entropy, in [0, 1). */
  labelSmoothing: { d2l: 0, modern: 0, fast: 0.1 },
  /** The training images' augmentations (../data/augment.ts). */
  augment: {
    d2l: [] as Augmentation[],
    modern: ["crop", "flip", "erase"] as Augmentation[],
    fast: ["altflip"] as Augmentation[],
  },
  /** Each epoch's test pass averages the predictions of each image and of its mirror image. */
  tta: { d2l: false, modern: false, fast: true },
  /** Input height and width after resizing. */
  size: { d2l: 96, modern: 96, fast: 28, always: true as const },
  /** Train on the first `limit` training images (null: all). */
  limit: {
    d2l: null as number | null,
    modern: null as number | null,
    fast: null as number | null,
    always: true as const,
  },
  /** Evaluate on the first `testLimit` test images (null: all). */
  testLimit: {
    d2l: null as number | null,
    modern: null as number | null,
    fast: null as number | null,
    always: true as const,
  },
  /** Seed of the initialisation and of every epoch's shuffling order. */
  seed: { d2l: 0, modern: 0, fast: 0, always: true as const },
} satisfies Record<string, OptionSpec<unknown>>;
Object.freeze(TRAIN_OPTIONS);

type Options = typeof TRAIN_OPTIONS;

/** A training option's name (the CLI's flag of the same camelCase name sets it). */
export type SettingName = keyof Options;

/** The option names, in {@linkcode TRAIN_OPTIONS}' order. */
export const SETTING_NAMES: readonly SettingName[] = Object.freeze(
  Object.keys(TRAIN_OPTIONS) as SettingName[],
);

/** Settings with every training option given: what a run records and trains with. */
export type ResolvedSettings = { -readonly [K in SettingName]: Options[K]["d2l"] };

/** The options every saved run has. */
type AlwaysName = { [K in SettingName]: Options[K] extends { always: true } ? K : never }[
  SettingName
];

/**
 * The training settings of a run (besides the architecture), as given and as history.json and
 * checkpoint.json record them: the run's epochs, batch, rate, size, seed and limits always, the
 * other options optional (absent: the recipe's value, d2l's when no recipe is named).
 */
export interface TrainSettings
  extends Pick<ResolvedSettings, AlwaysName>, Partial<Omit<ResolvedSettings, AlwaysName>> {}

/** Every option's value under one recipe. */
export type Recipe = Readonly<ResolvedSettings>;

/** The recipes, derived from {@linkcode TRAIN_OPTIONS}. */
export const RECIPES: Readonly<Record<RecipeName, Recipe>> = Object.freeze(
  Object.fromEntries(RECIPE_NAMES.map((r) => {
    const values = SETTING_NAMES.map((k) => {
      const v: unknown = TRAIN_OPTIONS[k][r];
      return [k, Array.isArray(v) ? Object.freeze([...v]) : v];
    });
    return [r, Object.freeze({ ...Object.fromEntries(values), recipe: r })];
  })) as Record<RecipeName, Recipe>,
);

/** A recipe's network: architecture options as {@linkcode ResNetOptions} takes them. */
export type RecipeNetwork = Readonly<Omit<ResNetOptions, "seed">>;

/**
 * The network each recipe trains when no architecture option is given; any one given replaces the
 * whole of it (so `--depth 34` with `fast` is ResNet-34, not a mix). `d2l` and `modern` train the
 * default ResNet-18; `fast` the network its ablations chose (README, accuracy section).
 *
 * @example
 * ```ts
 * import { networkOf } from "./recipe.ts";
 * networkOf("d2l", {}); // {}: ResNet-18 in d2l's form
 * networkOf("fast", { depth: 34 }); // { depth: 34 }: what is given wins, as a whole
 * ```
 */
export const RECIPE_NETWORKS: Readonly<Record<RecipeName, RecipeNetwork>> = Object.freeze({
  d2l: Object.freeze({}),
  modern: Object.freeze({}),
  fast: Object.freeze({ stem: "cifar", width: 16 } as const),
});

/**
 * The network a new run of `recipe` trains: `given` when it sets any architecture option, else
 * the recipe's ({@linkcode RECIPE_NETWORKS}).
 */
export function networkOf(recipe: RecipeName, given: RecipeNetwork): RecipeNetwork {
  const any = Object.values(given).some((v) => v !== undefined);
  return any ? given : RECIPE_NETWORKS[recipe] ?? {};
}

/** d2l's recipe: SGD lr 0.05, batch 256, 10 epochs, 96x96 inputs, seed 0. */
export const D2L_DEFAULTS: Recipe = RECIPES.d2l;

/** The options a resumed run may change (the epochs and the base rate); it keeps the others. */
export const RESUMABLE: readonly SettingName[] = Object.freeze(
  SETTING_NAMES.filter((k) => (TRAIN_OPTIONS[k] as OptionSpec<unknown>).resumable),
);

/**
 * `s` with each training option it lacks taken from its recipe (d2l's when it names none): what a
 * run records and trains with. Runs saved before the options existed resolve to d2l's recipe. An
 * explicit momentum of 0 drops a recipe's Nesterov momentum with it.
 *
 * @example
 * ```ts
 * import { resolveSettings } from "./recipe.ts";
 * const s = { epochs: 30, batchSize: 128, lr: 0.1, size: 28, seed: 0, limit: null, testLimit: null };
 * resolveSettings(s).momentum; // 0: d2l's plain SGD
 * resolveSettings({ ...s, recipe: "modern", momentum: 0.8 }).momentum; // 0.8: what is given wins
 * resolveSettings({ ...s, recipe: "modern" }).schedule; // "cosine"
 * ```
 */
export function resolveSettings(s: Partial<TrainSettings>): ResolvedSettings {
  const recipe = s.recipe ?? "d2l";
  // An unknown recipe is refused by checkSettings; until then d2l's values stand in.
  const r = RECIPES[recipe] ?? RECIPES.d2l;
  const given = s as Partial<Record<SettingName, unknown>>;
  const out: Record<string, unknown> = { ...s }; // fields of a newer version are kept as they are
  for (const k of SETTING_NAMES) {
    const v = given[k] === undefined ? r[k] : given[k];
    out[k] = Array.isArray(v) ? [...v] : v;
  }
  out.recipe = recipe;
  if (s.nesterov === undefined && out.momentum === 0) out.nesterov = false;
  return out as ResolvedSettings;
}

/**
 * The settings of a resumed run: its own (`saved`, as checkpoint.json recorded them), with the
 * options {@linkcode RESUMABLE} lists taken from `changes` where given.
 *
 * @example
 * ```ts
 * import { resumeSettings } from "./recipe.ts";
 * const saved = { epochs: 2, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: null, testLimit: null };
 * resumeSettings(saved, { epochs: 4, batchSize: 64 }).epochs; // 4
 * resumeSettings(saved, { epochs: 4, batchSize: 64 }).batchSize; // 8: the run's own
 * ```
 */
export function resumeSettings(
  saved: TrainSettings,
  changes: Partial<TrainSettings>,
): ResolvedSettings {
  const given = changes as Partial<Record<SettingName, unknown>>;
  const kept = RESUMABLE.filter((k) => given[k] !== undefined).map((k) => [k, given[k]]);
  return resolveSettings({ ...saved, ...Object.fromEntries(kept) });
}

/** How a message names a setting: the library by its name, the CLI by its flag. */
export type Namer = (setting: SettingName) => string;

/** A training option's value (or combination) that cannot run; says what to give instead. */
export class SettingError extends InputError {
  /** Always `"SettingError"`. */
  override name = "SettingError";
  /**
   * @param setting The option that is wrong.
   * @param value Its value.
   * @param wording The message, each setting it names named by the given {@linkcode Namer}.
   */
  constructor(
    readonly setting: SettingName,
    readonly value: unknown,
    readonly wording: (name: Namer) => string,
  ) {
    super(wording((k) => k));
  }
}

/** Why one option's value cannot run, or null; `name` names the settings the reason mentions. */
type Check<K extends SettingName> = (
  value: ResolvedSettings[K],
  s: ResolvedSettings,
  name: Namer,
) => string | null;

/** A number in [0, 1). */
const fraction = (k: SettingName, example: string) => (v: number, _s: unknown, name: Namer) =>
  v >= 0 && v < 1 ? null : `${name(k)} ${v}: give a number in [0, 1), e.g. ${example}`;

/** A positive integer; null too when `orNull` (a limit: none). */
const count =
  (k: SettingName, example: string, orNull = false) =>
  (v: number | null, _s: unknown, name: Namer) =>
    (v === null && orNull) || (Number.isInteger(v) && (v as number) >= 1)
      ? null
      : `${name(k)} ${v}: give a positive integer, e.g. ${example}`;

/** One of `names`. */
const oneOf = (k: SettingName, names: readonly string[]) => (v: string, _s: unknown, name: Namer) =>
  names.includes(v) ? null : `${name(k)} ${v}: give ${names.join("|")}`;

/** Each option's check (an option whose every value of its type can run has none). */
export const SETTING_CHECKS: { readonly [K in SettingName]?: Check<K> } = {
  recipe: oneOf("recipe", RECIPE_NAMES),
  epochs: count("epochs", "10"),
  batchSize: count("batchSize", "256"),
  lr: (v, _s, name) =>
    v > 0 && Number.isFinite(v) ? null : `${name("lr")} ${v}: give a positive number, e.g. 0.05`,
  momentum: fraction("momentum", "0.9"),
  nesterov: (v, s, name) =>
    v && s.momentum === 0
      ? `${name("nesterov")} needs a ${name("momentum")} above 0, e.g. 0.9`
      : null,
  weightDecay: (v, _s, name) =>
    v >= 0 ? null : `${name("weightDecay")} ${v}: give a number >= 0, e.g. 5e-4`,
  schedule: oneOf("schedule", SCHEDULES),
  warmupEpochs: (_v, s, name) => scheduleProblem(s, name),
  labelSmoothing: fraction("labelSmoothing", "0.1"),
  augment: (v, _s, name) => {
    const problem = augmentProblem(v);
    return problem && `${name("augment")} ${problem}`;
  },
  size: count("size", "96"),
  limit: count("limit", "1000", true),
  testLimit: count("testLimit", "1000", true),
  seed: (v, _s, name) =>
    Number.isInteger(v) && v >= 0 ? null : `${name("seed")} ${v}: give an integer >= 0, e.g. 0`,
};
Object.freeze(SETTING_CHECKS);

/**
 * Checks every option of `s` ({@linkcode SETTING_CHECKS}); throws {@linkcode SettingError}, one
 * line naming the option and what to give, in library terms (the CLI words it with its flags).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSettings, resolveSettings } from "./recipe.ts";
 * const s = { epochs: 1, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: null, testLimit: null };
 * assert.throws(() => checkSettings(resolveSettings({ ...s, labelSmoothing: 1 })), {
 *   message: "labelSmoothing 1: give a number in [0, 1), e.g. 0.1",
 * });
 * ```
 */
export function checkSettings(s: ResolvedSettings): void {
  for (const k of SETTING_NAMES) {
    const check = SETTING_CHECKS[k] as Check<typeof k> | undefined;
    if (check?.(s[k], s, (x) => x)) {
      throw new SettingError(k, s[k], (name) => check(s[k], s, name) ?? "");
    }
  }
}
