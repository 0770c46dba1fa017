import assert from "node:assert/strict";
import { DENO_JSON, freshEnv, runTask, TINY_NET } from "../run_cli.ts";
import { screenLines } from "../tty_screen.ts";
import { checkpointFile } from "../checkpoint_files.ts";
import { readHistory } from "../../lib/run/metrics.ts";

// Stops the way people stop a run: Ctrl-C in a terminal under `deno task` (the terminal signals
// the whole process group and `deno task` forwards its own copy), a signal to the process group
// (a scheduler), a closed terminal. No hook: the real CLI, stopped part-way through an epoch,
// must save the batch it reached, say "Resume with" on a line that stays on screen, release its
// lock, and resume to the uninterrupted run's exact weights and metrics.

/** The modern recipe (momentum, weight decay, schedule, label smoothing, augmentation) in small. */
const ARGS = [
  ...TINY_NET,
  ...["--size", "28", "--limit", "512", "--test-limit", "64", "--batch-size", "8"],
  ...["--recipe", "modern", "--epochs", "2", "--lr", "0.05"],
  ...["--backend", "native", "--threads", "1"],
];
const STEPS = 512 / 8;

const have = (cmd: string) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null", stderr: "null" })
    .outputSync().success;
const NO_SETSID = have("setsid") ? "" : " (ignored: no setsid here)";
const NO_SCRIPT = have("script") ? "" : " (ignored: no script from util-linux here)";

/** The uninterrupted run, made once: what every stopped and resumed run must end as. */
let reference: Promise<string> | null = null;
let referenceHome: string | null = null;
globalThis.addEventListener("unload", () => {
  if (referenceHome) Deno.removeSync(referenceHome, { recursive: true });
});
function uninterrupted(): Promise<string> {
  reference ??= (async () => {
    const home = referenceHome = await Deno.makeTempDir();
    const r = await runTask("train", [...ARGS, "--out", "run"], home);
    assert.equal(r.code, 0, r.stderr);
    return `${home}/run`;
  })();
  return reference;
}

/** Polls `ok` every 50 ms for up to `seconds`. */
async function until(ok: () => Promise<boolean>, what: string, seconds = 180): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!await ok()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** The saved position of the run in `dir`, checked to be part-way through epoch 1. */
async function savedMidEpoch(dir: string) {
  const c = JSON.parse(await Deno.readTextFile(`${dir}/checkpoint.json`));
  assert.equal(c.epoch, 0, JSON.stringify(c));
  assert.ok(c.batch > 0 && c.batch < STEPS, `batch ${c.batch}`);
  assert.equal(c.partial?.examples, c.batch * 8, JSON.stringify(c.partial));
  assert.equal(await exists(`${dir}/train.lock`), false, "the lock is released");
  return c;
}

/** Resumes the run in `home/run` under deno task and checks it ends as the uninterrupted one. */
async function resumesExactly(home: string): Promise<void> {
  const r = await runTask(
    "train",
    ["--resume", "run", "--backend", "native", "--threads", "1"],
    home,
  );
  assert.equal(r.code, 0, r.stderr);
  const ref = await uninterrupted(), dir = `${home}/run`;
  for (const f of ["weights.bin", "optimizer.safetensors"] as const) {
    const [a, b] = [await checkpointFile(ref, f), await checkpointFile(dir, f)];
    assert.deepEqual(await Deno.readFile(b), await Deno.readFile(a), f);
  }
  const ha = await readHistory(ref), hb = await readHistory(dir);
  assert.equal(hb.epochs.length, 2);
  for (const k of ["train_loss", "train_acc", "test_acc", "lr"] as const) {
    assert.deepEqual(hb.epochs.map((e) => e[k]), ha.epochs.map((e) => e[k]), k);
  }
}

/** The notice and the closing line, each once and in that order, in `lines`. */
function noticeThenResume(lines: string[], notice: RegExp): void {
  const at = lines.findIndex((l) => notice.test(l));
  assert.ok(at >= 0, lines.join("\n"));
  assert.equal(
    lines.filter((l) => /finishing the current step/.test(l)).length,
    1,
    lines.join("\n"),
  );
  assert.match(
    lines[at + 1] ?? "",
    /^error: interrupted; saved epoch 0 \+ \d+ batches to \S+\/run\. Resume with: deno task train --resume \S+\/run --epochs 2$/,
    lines.join("\n"),
  );
}

/** Runs `deno task train` in a pseudo-terminal (util-linux `script`) from `home`. */
function inTerminal(home: string) {
  const cmd = `stty cols 250 rows 50; exec ${Deno.execPath()} task --config ${DENO_JSON} train ` +
    `${ARGS.join(" ")} --out run`;
  const child = new Deno.Command("script", {
    args: ["-qfec", cmd, "/dev/null"],
    cwd: home,
    env: freshEnv({ TERM: "xterm-256color" }),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, keys: child.stdin.getWriter(), screen: child.stdout.getReader() };
}

/** Reads the terminal's output until the bar shows epoch 1 part-way done; returns it so far. */
async function untilMidEpoch(screen: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await screen.read();
    assert.ok(!done, `the run ended before its bar showed progress:\n${text}`);
    text += dec.decode(value, { stream: true });
    const n = Number([...text.matchAll(/epoch 1\/2 \[[^\]]*\] (\d+)\/512/g)].at(-1)?.[1] ?? 0);
    if (n > 0 && n < 512) return text;
  }
}

async function readRest(screen: ReadableStreamDefaultReader<Uint8Array>, text: string) {
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await screen.read();
    if (done) return text;
    text += dec.decode(value, { stream: true });
  }
}

Deno.test({
  name:
    `Ctrl-C in a terminal under deno task saves mid-epoch once, says so on lines that stay, and resumes exactly${NO_SCRIPT}`,
  ignore: NO_SCRIPT !== "",
  fn: async () => {
    await uninterrupted();
    const home = await Deno.makeTempDir();
    const { child, keys, screen } = inTerminal(home);
    let text = await untilMidEpoch(screen);
    await keys.write(new Uint8Array([3])); // Ctrl-C: the terminal signals the process group
    text = await readRest(screen, text);
    await keys.close().catch(() => {});
    await child.stderr.cancel();
    const status = await child.status;
    const lines = screenLines(text);
    assert.equal(status.code, 130, lines.join("\n"));
    noticeThenResume(lines, /^interrupt: finishing the current step and saving \(Ctrl-C again/);
    const at = lines.findIndex((l) => l.startsWith("interrupt:"));
    assert.ok(!lines.slice(at).some((l) => l.includes("epoch 1/2 [")), "no bar drawn after it");
    await savedMidEpoch(`${home}/run`);
    await resumesExactly(home);
    await Deno.remove(home, { recursive: true });
  },
});

Deno.test({
  name:
    `a closed terminal (SIGHUP, writes failing) saves mid-epoch and resumes exactly${NO_SCRIPT}`,
  ignore: NO_SCRIPT !== "",
  fn: async () => {
    const home = await Deno.makeTempDir();
    const { child, keys, screen } = inTerminal(home);
    await untilMidEpoch(screen);
    child.kill("SIGKILL"); // the terminal goes away: hang-up, and every write to it fails
    await child.status;
    await screen.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    await keys.close().catch(() => {});
    await until(async () => !await exists(`${home}/run/train.lock`), "the run to end");
    await savedMidEpoch(`${home}/run`);
    await resumesExactly(home);
    await Deno.remove(home, { recursive: true });
  },
});

for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  Deno.test({
    name:
      `${sig} to the process group of deno task train saves mid-epoch once and exits ${code}${NO_SETSID}`,
    ignore: NO_SETSID !== "",
    fn: async () => {
      const home = await Deno.makeTempDir();
      // setsid: deno task and the trainer in a process group of their own, as in a terminal.
      const child = new Deno.Command("setsid", {
        args: [Deno.execPath(), "task", "--config", DENO_JSON, "train", ...ARGS, "--out", "run"],
        cwd: home,
        env: freshEnv(),
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = child.output();
      try {
        // The epoch-0 checkpoint is written once training starts; 64 steps take over a second.
        await until(() => exists(`${home}/run/checkpoint.json`), "training to start");
        await new Promise((r) => setTimeout(r, 300));
        Deno.kill(-child.pid, sig); // the whole group: deno task forwards another copy
      } catch (e) {
        Deno.kill(-child.pid, "SIGKILL");
        await output;
        throw e;
      }
      const res = await output;
      const stderr = new TextDecoder().decode(res.stderr);
      assert.equal(res.code, code, stderr);
      const notice = sig === "SIGINT"
        ? /^interrupt: finishing the current step/
        : new RegExp(`^stop requested \\(${sig}\\): finishing the current step`);
      noticeThenResume(stderr.split("\n"), notice);
      await savedMidEpoch(`${home}/run`);
      if (sig === "SIGINT") await resumesExactly(home);
      await Deno.remove(home, { recursive: true });
    },
  });
}
