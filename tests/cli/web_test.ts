/**
 * `web`: the static site (page, stylesheet, a bundle with no Deno API in it), the server on
 * 127.0.0.1 with the verified data and nothing else, and a port in use as one line and exit 2.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FASHION_MNIST } from "../../lib/data/idx_dataset.ts";
import { runCli } from "../run_cli.ts";
import { startServer } from "../web_server.ts";

Deno.test("web --out: one page, its stylesheet and a browser bundle free of Deno APIs", async () => {
  const out = await Deno.makeTempDir();
  try {
    const r = await runCli(["web", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^built .* \(index\.html, style\.css, app\.js \d+ KiB\) in [\d.]+ s\n$/);
    assert.deepEqual(
      [...Deno.readDirSync(out)].map((e) => e.name).sort(),
      ["app.js", "index.html", "style.css"],
    );
    const html = await Deno.readTextFile(join(out, "index.html"));
    assert.match(html, /<script src="app\.js" defer><\/script>/);
    assert.doesNotMatch(html, /https?:\/\//, "the page fetches nothing from other hosts");
    const js = await Deno.readTextFile(join(out, "app.js"));
    // The library's modules with file IO or Deno.env must not have been pulled in.
    const deno = /.{40}\bDeno\.[a-zA-Z].{40}/.exec(js);
    assert.equal(deno, null, `the bundle uses a Deno API: ${deno?.[0]}`);
    // What the page runs on: tfjs' WebGPU backend (registered with its adapter request) and the
    // CPU fallback (minified, so matched by the registration's shape).
    assert.ok(/\("webgpu",async\(\)=>\{let \w+=\{powerPreference/.test(js), "no WebGPU backend");
    assert.ok(/\("cpu",\(\)=>new \w+,1\)/.test(js), "no CPU backend");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("web --out: a directory holding other files is refused (--force writes into it), / never", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "index.html"), "<p>my own page</p>");
    const r = await runCli(["web", "--out", dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `error: --out ${dir} holds files web did not make (index.html): give a new or empty ` +
        "directory, or --force to write index.html, style.css and app.js into it",
    );
    assert.equal(await Deno.readTextFile(join(dir, "index.html")), "<p>my own page</p>");
    const root = await runCli(["web", "--out", "/", "--force"]);
    assert.equal(root.code, 2, root.stderr);
    assert.equal(
      root.stderr.trim(),
      "error: --out / is the file system's root: give a directory of its own",
    );
    await Deno.writeTextFile(join(dir, "notes.txt"), "kept");
    const forced = await runCli(["web", "--out", dir, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(await Deno.readTextFile(join(dir, "index.html")), /<script src="app\.js"/);
    assert.equal(await Deno.readTextFile(join(dir, "notes.txt")), "kept");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("web --serve: the site and the four verified files on 127.0.0.1, nothing else", async () => {
  const server = await startServer();
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(server.url);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(await page.text(), /<title>d2l ResNet/);
    const name = FASHION_MNIST.testLabels.name;
    const data = await fetch(`${server.url}data/${name}`);
    assert.equal(data.status, 200);
    const want = await Deno.readFile(`/usr/share/datasets/fashion-mnist/${name}`).catch(() => null);
    const got = new Uint8Array(await data.arrayBuffer());
    if (want) assert.deepEqual(got, want);
    for (const path of ["deno.json", "data/README.md", "..%2Fdeno.json", "web/main.ts"]) {
      const r = await fetch(server.url + path);
      await r.body?.cancel();
      assert.equal(r.status, 404, path);
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

Deno.test("web --serve: a routed file that is gone is a 404, with no stack trace on stderr", async () => {
  const server = await startServer();
  try {
    await Deno.remove(join(server.out, "style.css"));
    for (const method of ["GET", "HEAD"]) {
      const r = await fetch(`${server.url}style.css`, { method });
      assert.equal(r.status, 404, method);
      assert.equal(await r.text(), method === "GET" ? "not found\n" : "");
    }
    const page = await fetch(server.url);
    assert.equal(page.status, 200, "the rest is still served");
    await page.body?.cancel();
  } finally {
    assert.equal(await server.stop(), 0);
  }
  const log = await server.stderr;
  assert.doesNotMatch(log, /\bat .*:\d+:\d+|Error/, log);
});

Deno.test("web --serve PORT: a port in use is one line and exit 2, before anything is built", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const out = await Deno.makeTempDir();
  try {
    const port = (busy.addr as Deno.NetAddr).port;
    const r = await runCli(["web", "--out", out, "--serve", String(port)]);
    assert.equal(r.code, 2);
    // The words of train --serve's port in use: one helper binds both (lib/io/serve.ts).
    assert.equal(
      r.stderr,
      `error: --serve ${port}: port ${port} on 127.0.0.1 is in use: choose another port, or ` +
        "--serve 0 for any free one\n",
    );
    assert.deepEqual([...Deno.readDirSync(out)], []);
    const bad = await runCli(["web", "--serve", "70000"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--serve.*give a port from 0 to 65535/);
  } finally {
    busy.close();
    await Deno.remove(out, { recursive: true });
  }
});
