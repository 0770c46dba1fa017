import assert from "node:assert/strict";
import { EpochProgress } from "../../cli/progress.ts";

Deno.test("progress without a terminal prints plain lines at the given rate", () => {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    const fast = new EpochProgress({ tty: false, plainEverySeconds: 0 });
    fast.start(2, 10, 1000);
    fast.update(500, { loss: 0.5, acc: 0.75, imagesPerSec: 100 });
    fast.stop();
    const slow = new EpochProgress({ tty: false, plainEverySeconds: 3600 });
    slow.start(1, 10, 1000);
    slow.update(10, { loss: 1, acc: 0.1, imagesPerSec: 100 });
    slow.stop();
  } finally {
    console.error = orig;
  }
  assert.deepEqual(lines, [
    "epoch 2/10: 500/1000 images, 100.0 img/s, ETA 5 s, loss 0.5000, acc 0.750",
  ]);
});
