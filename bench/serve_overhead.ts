/**
 * What `train --serve` costs: the training speed (d2l's examples/sec, training steps only) of
 * the same small run with and without `--serve 0` and a connected page, in interleaved pairs
 * (the order alternates, so a machine getting busier or quieter favours neither side). The
 * page is headless Chromium (puppeteer-core) when there is one, else a plain event-stream
 * reader. Prints each pair and the median ratio with its spread; exits 0 whatever it measures.
 *
 * @example
 * ```sh
 * deno run -A bench/serve_overhead.ts                  # 6 pairs, 256 steps each, native
 * deno run -A bench/serve_overhead.ts --pairs 10 --limit 8192 --backend cpu
 * ```
 * @module
 */
import { Command } from "commander";
import puppeteer, { type Browser } from "puppeteer-core";
import { parseNumber } from "../cli/options.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

interface Opts {
  pairs: number;
  limit: number;
  backend: string;
  threads?: number;
}

/** One training run; with `page`, `--serve 0` and the page connected before training starts. */
async function run(o: Opts, page: ((url: string) => Promise<() => Promise<void>>) | null) {
  const out = await Deno.makeTempDir();
  const args = [
    "run",
    "-A",
    MAIN,
    "train",
    "--stages",
    "1,1,1,1",
    "--width",
    "8",
    "--size",
    "28",
    "--batch-size",
    "16",
    "--epochs",
    "1",
    "--limit",
    String(o.limit),
    "--test-limit",
    "32",
    "--backend",
    o.backend,
    "--out",
    `${out}/run`,
    "--json",
    ...(o.threads ? ["--threads", String(o.threads)] : []),
    ...(page ? ["--serve", "0"] : []),
  ];
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .spawn();
  let disconnect: (() => Promise<void>) | null = null;
  const stderr = (async () => {
    let text = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const url = text.match(/live page: (\S+)/)?.[1];
      if (url && page && !disconnect) disconnect = await page(url);
    }
    return text;
  })();
  const stdout = new Response(child.stdout).text();
  const [status, log, json] = await Promise.all([child.status, stderr, stdout]);
  await (disconnect as (() => Promise<void>) | null)?.();
  await Deno.remove(out, { recursive: true });
  if (!status.success) throw new Error(`train failed:\n${log}`);
  const summary = json.trim().split("\n").map((l) => JSON.parse(l)).find((l) =>
    l.type === "summary"
  );
  return summary.examples_per_sec as number;
}

/** A page on the live URL: Chromium's, or an event-stream reader. */
function pageOpener(browser: Browser | null) {
  return async (url: string) => {
    if (browser) {
      const p = await browser.newPage();
      await p.goto(url);
      return () => p.close();
    }
    const res = await fetch(`${url}events`);
    const drain = (async () => {
      for await (const _ of res.body!) { /* like a page: read everything */ }
    })();
    return () => drain;
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main(o: Opts) {
  const browser = CHROMIUM
    ? await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless=new", "--no-sandbox", "--disable-gpu"],
    })
    : null;
  console.log(
    `--serve overhead: ${o.limit / 16} steps of batch 16 at 28x28, tiny ResNet, ${o.backend}; ` +
      `page: ${browser ? "headless Chromium" : "event-stream reader"}`,
  );
  const ratios: number[] = [];
  try {
    for (let i = 0; i < o.pairs; i++) {
      const open = pageOpener(browser);
      let plain: number, served: number;
      if (i % 2 === 0) {
        plain = await run(o, null);
        served = await run(o, open);
      } else {
        served = await run(o, open);
        plain = await run(o, null);
      }
      ratios.push(served / plain);
      console.log(
        `pair ${i + 1}: without ${plain.toFixed(1)}, with ${served.toFixed(1)} examples/sec ` +
          `(ratio ${(served / plain).toFixed(3)})`,
      );
    }
  } finally {
    await browser?.close();
  }
  console.log(
    `median ratio ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, ` +
      `max ${Math.max(...ratios).toFixed(3)}) over ${ratios.length} pairs`,
  );
}

/** The CLI's number parser for commander (a bad value is commander's one-line error). */
const positiveInt = (v: string) => parseNumber(v, "integer", 1);

if (import.meta.main) {
  const cmd = new Command("serve_overhead")
    .option("--pairs <n>", "pairs of runs", positiveInt, 6)
    .option("--limit <n>", "training images (steps = limit / 16)", positiveInt, 4096)
    .option("--backend <name>", "tfjs backend", "native")
    .option("--threads <n>", "oneDNN threads", positiveInt);
  cmd.parse(Deno.args, { from: "user" });
  await main(cmd.opts() as Opts);
}
