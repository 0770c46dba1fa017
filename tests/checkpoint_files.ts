/**
 * Where the files of a run's current checkpoint are: `model.json` and `weights.bin` live in the
 * `model-N` directory that `checkpoint.json` names.
 * @module
 */

/** The path of `file` (`model.json` or `weights.bin`) of the checkpoint in run directory `dir`. */
export async function checkpointFile(
  dir: string,
  file: "model.json" | "weights.bin" | "optimizer.safetensors",
) {
  const c = JSON.parse(await Deno.readTextFile(`${dir}/checkpoint.json`));
  return `${dir}/${c.model}/${file}`;
}
