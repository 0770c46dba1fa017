import assert from "node:assert/strict";
import { LiveBoard } from "../../lib/viz/live.ts";
import { InputError } from "../../lib/errors.ts";
import type { History } from "../../lib/run/metrics.ts";
import { resolveConfig } from "../../lib/model/resnet.ts";

/** Reads server-sent events off a response body, one `{event, data}` at a time. */
function eventReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream() as TransformStream<Uint8Array, string>)
    .getReader();
  let buffer = "";
  return async (): Promise<{ event: string; data: string } | null> => {
    while (!buffer.includes("\n\n")) {
      const { value, done } = await reader.read();
      if (done) return null;
      buffer += value;
    }
    const [block] = buffer.split("\n\n", 1);
    buffer = buffer.slice(block.length + 2);
    const field = (k: string) =>
      block.split("\n").find((l) => l.startsWith(`${k}: `))?.slice(k.length + 2);
    return { event: field("event") ?? "", data: field("data") ?? "" };
  };
}

const history = (epochs: number): History => ({
  config: resolveConfig({ stages: [1, 1, 1, 1], width: 8 }),
  settings: { epochs: 2, batchSize: 4, lr: 0.05, size: 28, seed: 0, limit: null, testLimit: null },
  versions: {},
  backends: [],
  epochs: Array.from({ length: epochs }, (_, i) => ({
    epoch: i + 1,
    train_loss: 1,
    train_acc: 0.5,
    test_acc: 0.6,
    examples_per_sec: 10,
    epoch_seconds: 1,
    lr: 0.05,
  })),
  finished: false,
});

const points = (state: { chart: string }, series: string) =>
  state.chart.split(`data-series="${series}"`)[1].split("</g>")[0].match(/class="point"/g)
    ?.length ?? 0;

Deno.test("live board: the page, its events at every read-back, the report, the end", async () => {
  const dir = await Deno.makeTempDir();
  const board = LiveBoard.listen({ port: 0, runDir: dir, minIntervalMs: 0 });
  try {
    assert.match(board.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(board.url);
    assert.match(page.headers.get("content-type")!, /text\/html/);
    assert.match(await page.text(), /new EventSource\("\/events"\)/);
    const missing = await fetch(`${board.url}report.html`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const res = await fetch(`${board.url}events`);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const next = eventReader(res.body!);
    assert.equal(JSON.parse((await next())!.data).phase, "starting");
    const sink = board.progress();
    sink.start(1, 2, 100);
    assert.equal(JSON.parse((await next())!.data).phase, "train");
    sink.update(40, { loss: 2, acc: 0.25, examplesPerSec: 80 });
    let s = JSON.parse((await next())!.data);
    assert.deepEqual([s.epoch, s.done, s.total, s.stats.loss], [1, 40, 100, 2]);
    assert.equal(points(s, "train loss"), 1);
    sink.update(80, { loss: 1.5, acc: 0.4, examplesPerSec: 80 });
    s = JSON.parse((await next())!.data);
    assert.equal(points(s, "train acc"), 2);
    assert.match(s.chart, /data-x="0.8"/, "the second point at 80/100 of epoch 1");
    // The epoch ends: its report is sent whole, then the state with the test accuracy.
    await Deno.writeTextFile(`${dir}/report.html`, "<html>epoch 1</html>");
    await board.epochEnded(history(1));
    const report = (await next())!;
    assert.deepEqual([report.event, JSON.parse(report.data)], ["report", "<html>epoch 1</html>"]);
    s = JSON.parse((await next())!.data);
    assert.equal(points(s, "test acc"), 1);
    assert.equal(await (await fetch(`${board.url}report.html`)).text(), "<html>epoch 1</html>");
    assert.equal(board.clients, 1);
    await board.close("finished");
    assert.equal(JSON.parse((await next())!.data).phase, "finished");
    assert.equal(await next(), null, "the stream ends");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("live board: read-backs closer than minIntervalMs go out together", async () => {
  const board = LiveBoard.listen({ port: 0, minIntervalMs: 300 });
  const res = await fetch(`${board.url}events`);
  const next = eventReader(res.body!);
  await next();
  const sink = board.progress();
  sink.start(1, 1, 100);
  assert.equal(JSON.parse((await next())!.data).done, 0, "sent at once");
  const t0 = performance.now();
  for (let i = 1; i <= 5; i++) sink.update(i * 10, { loss: 1, acc: 0.5, examplesPerSec: 1 });
  const s = JSON.parse((await next())!.data);
  assert.ok(performance.now() - t0 >= 250, "held back until the interval passed");
  assert.equal(s.done, 50, "the latest state");
  assert.equal(points(s, "train loss"), 5, "with every read-back's point");
  await board.close();
  await res.body?.cancel().catch(() => {});
});

Deno.test("live board: a port in use is one InputError naming it", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    assert.throws(() => LiveBoard.listen({ port }), (e: Error) => {
      assert.ok(e instanceof InputError);
      assert.equal(
        e.message,
        `port ${port} on 127.0.0.1 is in use: choose another port, or port 0 for any free one`,
      );
      return true;
    });
  } finally {
    taken.close();
  }
});
