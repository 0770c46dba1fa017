/** cli/errors.ts: every error the user can act on is one line on stderr and an exit code. */
import assert from "node:assert/strict";
import { AlreadyReported, describeError, Interrupted } from "../../cli/errors.ts";
import { UsageError } from "../../cli/options.ts";
import { ConfigError, InputError, UserError } from "../../lib/errors.ts";
import { type ResNetOptions, resolveConfig } from "../../lib/model/resnet.ts";
import { DivergedError } from "../../lib/run/train.ts";
import { TensorLimitError } from "../../lib/backends/tensor_limit.ts";
import { BackendUnavailableError } from "../../lib/backends/choose.ts";

Deno.test("describeError: one line per error, whatever the message holds after its first", () => {
  const more = "\n    at somewhere (file.ts:1:2)";
  const cases: [unknown, string, number][] = [
    [
      new InputError(`--size 0: give a positive integer${more}`),
      "--size 0: give a positive integer",
      2,
    ],
    [new UsageError(`needs --run${more}`), "needs --run", 2],
    [new UserError(`no data${more}`), "no data", 1],
    [new Interrupted(`interrupted; saved${more}`, "SIGTERM"), "interrupted; saved", 143],
  ];
  for (const [e, line, code] of cases) {
    assert.deepEqual(describeError(e), { line: `error: ${line}`, code });
  }
  assert.deepEqual(describeError(new AlreadyReported("x")), { line: "", code: 2 });
  assert.equal(describeError(new TypeError("a bug")), null);
});

Deno.test("describeError: a model option refused by the library is worded with its flags", () => {
  const refusal = (opts: ResNetOptions) => {
    try {
      resolveConfig(opts);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e;
    }
    throw new Error("not refused");
  };
  const e = refusal({ widthPerGroup: 0 });
  assert.equal(e.message, "invalid widthPerGroup 0: give a positive integer"); // the library's
  assert.deepEqual([e.problem.field, e.problem.value], ["widthPerGroup", 0]);
  assert.deepEqual(describeError(e), {
    line: "error: invalid --width-per-group 0: give a positive integer",
    code: 2,
  });
  assert.deepEqual(describeError(refusal({ depth: 50, block: "basic" })), {
    line: "error: --depth 50 is a bottleneck ResNet, not basic: leave --block out, or give " +
      "--stages 3,4,6,3 instead of --depth",
    code: 2,
  });
  // An option with no flag keeps its field's name.
  assert.deepEqual(describeError(refusal({ numClasses: 0 })), {
    line: "error: invalid numClasses 0: give a positive integer",
    code: 2,
  });
});

Deno.test("describeError: a diverged run gets the command that resumes it; without a run, its message", () => {
  assert.deepEqual(describeError(new DivergedError(NaN, 3, 7, 0.02, "runs/x", 2, 0.2)), {
    line: "error: the loss became NaN in epoch 3 (by step 7) with --lr 0.02: resume from the " +
      "last good checkpoint (epoch 2) with a lower learning rate: deno task train --resume " +
      "runs/x --lr 0.02",
    code: 1,
  });
  assert.deepEqual(describeError(new DivergedError(NaN, 1, 2, 0.1, null, null)), {
    line: "error: the loss became NaN in epoch 1 (by step 2) with learning rate 0.1: train a " +
      "new network with a lower rate",
    code: 1,
  });
});

Deno.test("describeError: WebGPU refusals and unavailable backends in the flags that change them", () => {
  const tensor = { name: "b1.0's output", shape: [256, 48, 48, 64], bytes: 144 * 2 ** 20 };
  const limit = { name: "maxStorageBufferBindingSize" as const, bytes: 128 * 2 ** 20 };
  const some = new TensorLimitError("library words", { tensor, limit, fits: 227 }, 96, 512);
  assert.deepEqual(describeError(some), {
    line: "error: --batch-size 512 at --size 96 does not fit this WebGPU adapter even in parts: " +
      "b1.0's output [256, 48, 48, 64] (float32) is 144.0 MiB, over its " +
      "maxStorageBufferBindingSize of 128.0 MiB: use --batch-size 227 or less, or --backend native",
    code: 2,
  });
  const none = new TensorLimitError("library words", { tensor, limit, fits: 0 }, 4096, 1);
  assert.match(
    describeError(none)!.line,
    /^error: --size 4096 does not fit this WebGPU adapter even at --batch-size 1: .* use a smaller --size, or --backend native$/,
  );
  const native = new BackendUnavailableError(
    "native",
    "no libdnnl",
    "install it, or use the cpu backend",
  );
  assert.deepEqual(describeError(native), {
    line: "error: --backend native cannot run here: no libdnnl; install it, or use --backend cpu",
    code: 2,
  });
});
