/**
 * `shapes`: d2l's per-stage table of output shapes and parameter counts of any network of the
 * family (`--depth 50 --arch torchvision --in-channels 3 --classes 1000` prints torchvision's
 * resnet50 total, 25,557,032), and optionally whether a state_dict fits the network.
 *
 * @example
 * ```ts
 * import { shapesCommand } from "./shapes.ts";
 * await shapesCommand().parseAsync(["--stages", "1,1,1,1", "--width", "8", "--size", "28"], { from: "user" });
 * ```
 * @module
 */
import { Command } from "commander";
import { flaggedModel } from "./net_source.ts";
import { MODEL_DEFAULTS } from "../lib/model/resnet.ts";
import { formatShapeTable, SHAPE_TABLE_DEFAULTS, shapeTable } from "../lib/model/shapes.ts";
import { checkTorchWeights } from "../lib/io/torch_weights.ts";
import { backendSummary, initBackend } from "../lib/backends/choose.ts";
import { addFlags, type OptionsOf } from "./options.ts";

/** What `shapes` uses when a flag is not given. */
export const SHAPES_DEFAULTS = { ...SHAPE_TABLE_DEFAULTS, backend: "cpu" } as const;

const FLAGS = {
  depth: `default ${MODEL_DEFAULTS.depth}`,
  stages: "",
  width: `default ${MODEL_DEFAULTS.width}`,
  arch: `default ${MODEL_DEFAULTS.arch}`,
  block: "default: the depth's, else basic",
  groups: `default ${MODEL_DEFAULTS.groups}`,
  widthPerGroup: `default ${MODEL_DEFAULTS.widthPerGroup}`,
  stem: `default ${MODEL_DEFAULTS.stem}`,
  inChannels: `default ${MODEL_DEFAULTS.inChannels}`,
  classes: `default ${MODEL_DEFAULTS.numClasses}`,
  size: `default ${SHAPES_DEFAULTS.size}`,
  batch: `default ${SHAPES_DEFAULTS.batch}`,
  backend: `default ${SHAPES_DEFAULTS.backend}`,
  json: "one JSON document",
  weights: "check that this file fits the network",
} as const;

/** The `shapes` subcommand. */
export function shapesCommand(): Command {
  return addFlags(
    new Command("shapes").description("print d2l's per-stage output shapes and parameter counts"),
    FLAGS,
  ).action(async (o: OptionsOf<typeof FLAGS>) => {
    console.error(backendSummary(await initBackend(o.backend ?? SHAPES_DEFAULTS.backend)));
    const model = { ...flaggedModel(o), inChannels: o.inChannels, numClasses: o.classes };
    const w = o.weights ? await checkTorchWeights(model, o.weights) : null;
    const t = shapeTable(model, {
      size: o.size ?? SHAPES_DEFAULTS.size,
      batch: o.batch ?? SHAPES_DEFAULTS.batch,
    });
    if (o.json) console.log(JSON.stringify(w ? { ...t, weights: w } : t));
    else {
      console.log(formatShapeTable(t));
      if (w) console.log(`weights ${w.path}: all ${w.tensors} tensors fit`);
    }
  });
}
