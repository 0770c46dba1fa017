/**
 * Where eval, predict, export and `train --init-from` take the architecture and input size from:
 * what the weights file records wins, a flag fills in what it does not, a contradiction is refused.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { decodeSafetensors, encodeSafetensors } from "../../lib/io/safetensors.ts";
import { encodeTorchStateDict, torchStateDict } from "../../lib/io/torch_weights.ts";
import { planWeights } from "../../cli/net_source.ts";
import { UsageError } from "../../cli/options.ts";
import { runCli } from "../run_cli.ts";

await initBackend("cpu");
const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
const ours = decodeSafetensors(await encodeTorchStateDict(net, { size: 28 }));
// As d2l's notebook saves it: the tensors only, no metadata.
const bare = decodeSafetensors(encodeSafetensors(await torchStateDict(net)));

Deno.test("planWeights: the file's record wins; flags fill in; contradictions are refused", () => {
  assert.deepEqual(planWeights(ours, "w", {}).size, 28);
  assert.deepEqual(planWeights(ours, "w", { size: 28, stages: [1, 1, 1, 1] }).sizeFrom, "file");
  const fromKeys = planWeights(bare, "b", { size: 40 });
  assert.deepEqual([fromKeys.model.stages, fromKeys.model.width], [[1, 1, 1, 1], 8]);
  assert.deepEqual([fromKeys.size, fromKeys.sizeFrom], [40, "flag"]);
  assert.deepEqual(planWeights(bare, "b", {}).size, null);
  assert.throws(() => planWeights(ours, "w", { size: 96 }), UsageError);
  // The architecture read from the tensors' shapes is checked as well.
  assert.throws(() => planWeights(bare, "b", { depth: 18 }), /--depth 18 contradicts b/);
  assert.throws(() => planWeights(bare, "b", { width: 64 }), /--width 64 contradicts b/);
});

Deno.test("train --init-from: a flag that contradicts the file is one line, nothing created", async () => {
  const dir = await Deno.makeTempDir();
  const w = `${dir}/w.safetensors`;
  await Deno.writeFile(w, await encodeTorchStateDict(net, { size: 28 }));
  const cases: [string[], RegExp][] = [
    [
      ["--stages", "2,2,2,2"],
      /^error: --stages 2,2,2,2 contradicts .*w.safetensors, which is for stages 1,1,1,1/,
    ],
    [["--size", "96"], /^error: --size 96 contradicts .*, which is for 28x28 input/],
  ];
  for (const [flags, re] of cases) {
    const r = await runCli(["train", "--init-from", w, ...flags, "--out", `${dir}/run`]);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr.trim(), re);
    assert.equal(await Deno.stat(`${dir}/run`).catch(() => null), null, "no run directory made");
  }
  await Deno.remove(dir, { recursive: true });
});

globalThis.addEventListener("unload", () => net.dispose());
