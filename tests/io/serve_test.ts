/** lib/io/serve.ts: binding a local port. */
import assert from "node:assert/strict";
import { serveLocal } from "../../lib/io/serve.ts";
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
        e instanceof InputError &&
        e.message === `--serve ${port}: port ${port} on 127.0.0.1 is in use: choose another ` +
            "port, or --serve 0 for any free one",
    );
  } finally {
    await server.shutdown();
  }
});
