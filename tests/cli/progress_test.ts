import assert from "node:assert/strict";
import { EpochProgress, PassDisplay } from "../../cli/progress.ts";
import { screenLines } from "../tty_screen.ts";

Deno.test("progress without a terminal prints plain lines at the given rate", () => {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    const fast = new EpochProgress({ tty: false, plainEverySeconds: 0 });
    fast.start(2, 10, 1000);
    fast.update(500, { loss: 0.5, acc: 0.75, examplesPerSec: 100 });
    fast.stop();
    const slow = new EpochProgress({ tty: false, plainEverySeconds: 3600 });
    slow.start(1, 10, 1000);
    slow.update(10, { loss: 1, acc: 0.1, examplesPerSec: 100 });
    slow.stop();
  } finally {
    console.error = orig;
  }
  assert.deepEqual(lines, [
    "epoch 2/10: 500/1000 images, 100.0 img/s, ETA 5 s, loss 0.5000, acc 0.750",
  ]);
});

/** A stream that says it is a terminal and keeps what is drawn on it. */
function fakeTerminal() {
  const t = { text: "", isTTY: true, columns: 200, write: (s: string) => (t.text += s, true) };
  return t;
}

Deno.test("the bar says 'starting' before the first figures, then images/s and the ETA", () => {
  const term = fakeTerminal();
  const p = new EpochProgress({ tty: true, stream: term });
  p.start(1, 10, 1000);
  assert.match(term.text, /epoch 1\/10 \[[^\]]*\] 0\/1000 \| starting \| loss - \| acc -/);
  assert.doesNotMatch(term.text, /ETA 0s|- img\/s/);
  p.update(500, { loss: 0.5, acc: 0.75, examplesPerSec: 100 });
  p.stop();
  assert.match(term.text, /500\/1000 \| 100\.0 img\/s \| ETA 5s \| loss 0\.5000 \| acc 0\.750/);
});

Deno.test("halt removes the bar for good: nothing is drawn after a stop notice", () => {
  const term = fakeTerminal();
  const p = new EpochProgress({ tty: true, stream: term });
  p.start(1, 10, 1000);
  p.halt();
  const after = term.text.length;
  p.update(700, { loss: 0.5, acc: 0.75, examplesPerSec: 100 });
  const pass = p.testPass(1, 10);
  pass.start(100);
  pass.update(50);
  pass.stop();
  p.stop();
  assert.equal(term.text.slice(after), "", "nothing drawn after halt");
});

Deno.test("a stop notice printed over the bar stays on screen, with the resume line below it", () => {
  const term = fakeTerminal();
  const p = new EpochProgress({ tty: true, stream: term });
  p.start(2, 2, 512);
  p.update(160, { loss: 0.9, acc: 0.7, examplesPerSec: 400 });
  // The stop-signal thread's notice (cli/stop_signals_worker.ts), then a redraw of the bar by the
  // main thread before it hears of the stop, then the halt, then the closing line.
  term.write("\r\x1b[2K\x1b[?7h\x1b[?25hinterrupt: finishing the current step and saving\n");
  p.update(320, { loss: 0.8, acc: 0.7, examplesPerSec: 400 });
  const beforeHalt = term.text.length;
  p.halt();
  assert.ok(term.text.slice(beforeHalt).includes("\x1b[?25h"), "the cursor is shown again");
  term.write("error: interrupted; saved epoch 1 + 20 batches to r. Resume with: x\n");
  assert.deepEqual(screenLines(term.text), [
    "interrupt: finishing the current step and saving",
    "error: interrupted; saved epoch 1 + 20 batches to r. Resume with: x",
  ]);
});

Deno.test("the test pass and eval show progress: a bar on a terminal, plain lines otherwise", () => {
  const term = fakeTerminal();
  const bar = new PassDisplay("eval", { tty: true, stream: term });
  bar.start(10000);
  assert.match(term.text, /eval \[[^\]]*\] 0\/10000 \| starting/);
  bar.update(2500);
  bar.stop();
  assert.match(term.text, /eval \[[^\]]*\] 2500\/10000 \| [\d.]+ img\/s \| ETA \d+s/);
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    const epoch = new EpochProgress({ tty: false, plainEverySeconds: 0 });
    const pass = epoch.testPass(2, 10);
    pass.start(10000);
    pass.update(2500);
    pass.update(10000); // the end is the caller's line to print
    pass.stop();
  } finally {
    console.error = orig;
  }
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /^epoch 2\/10 test: 2500\/10000 images, [\d.]+ img\/s, ETA \d+ s$/);
});
