/**
 * The SGD of lib/model/fused.ts against `torch.optim.SGD`: momentum, Nesterov and weight decay
 * (not on vectors) over three steps, on the cpu backend (tfjs ops) and on native (one fused
 * kernel per variable), checked against PyTorch's formula computed here in float64 and against
 * torch itself (ignored, saying so, without it).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "../../lib/backends/setup.ts"; // the cpu backend and every gradient
import assert from "node:assert/strict";
import { SGD, SGD_UPDATE } from "../../lib/model/fused.ts";
import { registerNativeBackend } from "../../lib/backends/native/backend.ts";
import { assertClose } from "../golden.ts";
import { runTorchPython, torchTest } from "../torch_python.ts";

tf.enableProdMode();
const native = await registerNativeBackend();
if (!native.ok) console.log(`native SGD tests skipped: ${native.reason}`);

// A weight matrix (decayed) and a bias (not), and a loss whose gradient is known: 0.5 c x^2.
const W0 = [0.5, -1.25, 2, 0.75, -0.3, 1.1], B0 = [0.2, -0.4, 0.9];
const CW = [1, 0.5, 2, -0.5, 3, 1.5], CB = [2, -1, 0.25];
const LR = 0.1, STEPS = 3;

interface Case {
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}
const CASES: Case[] = [
  { momentum: 0.9, nesterov: false, weightDecay: 0.05 },
  { momentum: 0.9, nesterov: true, weightDecay: 0.05 },
  { momentum: 0, nesterov: false, weightDecay: 0.05 },
  { momentum: 0.5, nesterov: true, weightDecay: 0 },
];
const label = (c: Case) => `momentum ${c.momentum}, nesterov ${c.nesterov}, wd ${c.weightDecay}`;

/** PyTorch's `SGD.step` (dampening 0) in float64, `steps` times, for gradient `c * p`. */
function torchFormula(p0: number[], c: number[], k: Case, decay: boolean): number[] {
  const p = [...p0], buf: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    for (let i = 0; i < p.length; i++) {
      let d = c[i] * p[i];
      if (decay && k.weightDecay) d += k.weightDecay * p[i];
      if (k.momentum) {
        buf[i] = s === 0 ? d : k.momentum * buf[i] + d; // the first step copies the gradient
        d = k.nesterov ? d + k.momentum * buf[i] : buf[i];
      }
      p[i] -= LR * d;
    }
  }
  return p;
}

/** Three steps of our SGD on `backend`; the values, and whether no tensor was left behind. */
async function ours(backend: string, k: Case) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const init = [tf.tensor2d(W0, [2, 3]), tf.tensor1d(B0)];
  const w = tf.variable(init[0]), b = tf.variable(init[1]);
  tf.dispose(init);
  const cw = tf.tensor2d(CW, [2, 3]), cb = tf.tensor1d(CB);
  const opt = new SGD(LR, k);
  const counts: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    opt.minimize(() =>
      tf.mul(0.5, tf.add(tf.sum(tf.mul(cw, tf.square(w))), tf.sum(tf.mul(cb, tf.square(b)))))
    );
    counts.push(tf.memory().numTensors);
  }
  const out = { w: [...await w.data()], b: [...await b.data()] };
  const buffers = k.momentum ? [...await opt.momentumOf(w)!.data()] : null;
  opt.dispose();
  tf.dispose([w, b, cw, cb]);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  assert.equal(Math.min(...counts), Math.max(...counts), `${backend}: a step added tensors`);
  return { ...out, buffers };
}

const backends = ["cpu", ...(native.ok ? ["native"] : [])];
for (const backend of backends) {
  Deno.test(`${backend}: three SGD steps with momentum, Nesterov and weight decay follow torch.optim.SGD's formula`, async () => {
    for (const k of CASES) {
      const got = await ours(backend, k);
      // float32 against float64: the values are about 1, three steps round a few times.
      assertClose(got.w, torchFormula(W0, CW, k, true), 1e-6, 1e-6, `w, ${label(k)}`);
      assertClose(got.b, torchFormula(B0, CB, k, false), 1e-6, 1e-6, `b, ${label(k)}`);
    }
  });
}

Deno.test({
  name: "native: the SGD update is one fused kernel per variable, with the buffer as an output",
  ignore: !native.ok,
  fn: async () => {
    await tf.setBackend("native");
    assert.ok(tf.getKernel(SGD_UPDATE, "native"));
    const v = tf.tensor1d([1, 2]), g = tf.tensor1d([0.5, -1]), buffer = tf.tensor1d([0.25, 1]);
    const attrs = { lr: 0.5, momentum: 0.9, nesterov: false, weightDecay: 0.1 };
    const [nv, nb] = tf.engine().runKernel(
      SGD_UPDATE,
      { value: v, gradient: g, buffer },
      attrs,
    ) as tf.Tensor[];
    // d = g + 0.1 v = [0.6, -0.8]; b = 0.9 buffer + d = [0.825, 0.1]; v - 0.5 b.
    assertClose(await nb.data(), [0.825, 0.1], 1e-7);
    assertClose(await nv.data(), [0.5875, 1.95], 1e-7);
    tf.dispose([v, g, buffer, nv, nb]);
  },
});

Deno.test("SGD refuses Nesterov without momentum and negative values", () => {
  assert.throws(() => new SGD(0.1, { nesterov: true }), /Nesterov momentum needs a momentum/);
  assert.throws(() => new SGD(0.1, { momentum: -0.5 }), /must be >= 0/);
  assert.throws(() => new SGD(0.1, { weightDecay: -1 }), /must be >= 0/);
});

/** torch.optim.SGD itself, with weight decay on the matrix only (a parameter group each). */
const TORCH_SCRIPT = `
import json, sys, torch
a = json.load(sys.stdin)
w = torch.tensor(a["w"], dtype=torch.float32).reshape(2, 3).requires_grad_()
b = torch.tensor(a["b"], dtype=torch.float32).requires_grad_()
cw = torch.tensor(a["cw"]).reshape(2, 3); cb = torch.tensor(a["cb"])
k = a["case"]
opt = torch.optim.SGD([{"params": [w], "weight_decay": k["weightDecay"]},
                       {"params": [b], "weight_decay": 0}],
                      lr=a["lr"], momentum=k["momentum"], nesterov=k["nesterov"])
for _ in range(a["steps"]):
    opt.zero_grad()
    (0.5 * ((cw * w * w).sum() + (cb * b * b).sum())).backward()
    opt.step()
print(json.dumps({"w": w.detach().flatten().tolist(), "b": b.tolist()}))
`;

/** TORCH_SCRIPT's weights after its steps for case `k`. */
async function torchSgd(k: Case): Promise<{ w: number[]; b: number[] }> {
  const input = { w: W0, b: B0, cw: CW, cb: CB, lr: LR, steps: STEPS, case: k };
  return JSON.parse(await runTorchPython(["-c", TORCH_SCRIPT], JSON.stringify(input)));
}

Deno.test(torchTest("three SGD steps equal torch.optim.SGD's own", async () => {
  for (const k of CASES) {
    const want = await torchSgd(k);
    for (const backend of backends) {
      const got = await ours(backend, k);
      assertClose(got.w, want.w, 1e-6, 1e-6, `${backend} w, ${label(k)}`);
      assertClose(got.b, want.b, 1e-6, 1e-6, `${backend} b, ${label(k)}`);
    }
  }
}));
