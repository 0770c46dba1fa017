/** lib/io/serve.ts: binding a local port, and files that cannot be read as one-line answers. */
import assert from "node:assert/strict";
import { fileResponse, PortError, serveLocal } from "../../lib/io/serve.ts";
import { InputError } from "../../lib/errors.ts";

Deno.test("serveLocal: 127.0.0.1 by default; a port in use is one InputError naming it", async () => {
  const server = serveLocal({ port: 0 }, () => new Response("hi"));
  try {
    assert.equal(server.addr.hostname, "127.0.0.1");
    assert.equal(await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "hi");
    const port = server.addr.port;
    assert.throws(
      () => serveLocal({ port }, () => new Response("")),
      (e) =>
        e instanceof PortError && e instanceof InputError && e.port === port &&
        e.why === "is in use" &&
        e.message === `port ${port} on 127.0.0.1 is in use: choose another port, or port 0 for ` +
            "any free one",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveLocal: a handler that throws is a one-line 500, not a stack trace", async () => {
  const server = serveLocal({ port: 0 }, () => {
    throw new Error("broken\n    at handler (x.ts:1:1)");
  });
  try {
    const r = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(r.status, 500);
    assert.equal(await r.text(), "internal error: broken\n");
  } finally {
    await server.shutdown();
  }
});

Deno.test("fileResponse: the file streamed, HEAD without a body, 404 when gone, 500 unreadable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/a.txt`;
    await Deno.writeTextFile(path, "abc");
    const headers = { "content-type": "text/plain" };
    const get = await fileResponse(path, "GET", headers);
    assert.equal(get.headers.get("content-type"), "text/plain");
    assert.equal(await get.text(), "abc");
    const head = await fileResponse(path, "HEAD", headers);
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    const gone = await fileResponse(`${dir}/gone.txt`, "GET");
    assert.deepEqual([gone.status, await gone.text()], [404, "not found\n"]);
    const unreadable = await fileResponse(`${path}/not-a-dir`, "GET");
    assert.equal(unreadable.status, 500);
    assert.match(await unreadable.text(), /^cannot read the file: [^\n]+\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
