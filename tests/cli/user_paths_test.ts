import assert from "node:assert/strict";
import { encode } from "fast-png";
import { runCli, runTask, TINY_NET } from "../run_cli.ts";

// `deno task` runs every command in the project root; what a person types from their own folder
// must still mean that folder (cli/options.ts userPath, from INIT_CWD).

const ROOT = new URL("../..", import.meta.url).pathname;
const RUN = [...TINY_NET, "--size", "16", "--backend", "cpu", "--batch-size", "8", "--limit", "16"];

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** `deno run -A main.ts ...args` from `cwd`, without INIT_CWD: the plain way, for comparison. */
const runHere = (args: string[], cwd: string) => runCli(args, {}, cwd);

Deno.test("under deno task, paths typed in another folder are read and written there", async () => {
  const home = await Deno.makeTempDir({ prefix: "user-folder-" });
  const name = home.split("/").at(-1)!; // unique: must not appear in the project root
  const grey = new Uint8Array(28 * 28).map((_, i) => (i * 7) % 256);
  await Deno.writeFile(
    `${home}/shirt.png`,
    encode({ width: 28, height: 28, data: grey, channels: 1 }),
  );

  const t = await runTask(
    "train",
    [...RUN, "--epochs", "1", "--test-limit", "8", "--out", name],
    home,
  );
  assert.equal(t.code, 0, t.stderr);
  assert.ok(await exists(`${home}/${name}/checkpoint.json`), "the run is in the user's folder");
  assert.equal(await exists(`${ROOT}/${name}`), false, "nothing landed in the project root");

  const p = await runTask(
    "predict",
    ["shirt.png", "--run", name, "--grid", "grid.svg", "--backend", "cpu"],
    home,
  );
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /shirt\.png/);
  assert.ok(await exists(`${home}/grid.svg`));
  assert.equal(await exists(`${ROOT}/grid.svg`), false);

  // --resume finds the run from there too, and says so in the paths it prints.
  const r = await runTask("train", ["--resume", name, "--epochs", "2", "--backend", "cpu"], home);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`run saved in ${home}/${name}$`, "m"));
  const missing = await runTask("predict", ["nothere.png", "--run", name], home);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, new RegExp(`${home}/nothere\\.png`), missing.stderr);

  // deno run from the same folder (no INIT_CWD) means the same places.
  const e = await runHere(
    ["export", "--run", name, "--format", "safetensors", "--out", "w.st"],
    home,
  );
  assert.equal(e.code, 0, e.stderr);
  assert.ok(await exists(`${home}/w.st`));
  await Deno.remove(home, { recursive: true });
});
