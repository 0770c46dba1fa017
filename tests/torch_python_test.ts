import assert from "node:assert/strict";
import { runTorchPython, torchTest } from "./torch_python.ts";

Deno.test(
  torchTest("a reference script that fails fails its test, with its traceback", async () => {
    await assert.rejects(
      runTorchPython(["-c", "import torch\nraise ValueError('broken reference')"]),
      /exit 1: Traceback[^]*ValueError: broken reference/,
    );
    assert.equal(
      (await runTorchPython(["-c", "import sys; print(sys.stdin.read())"], "ok")).trim(),
      "ok",
    );
  }),
);
