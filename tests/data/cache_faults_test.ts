/**
 * The cache on a full disk, a read-only file system, or with a directory where a file should be:
 * one line naming the local cause and what to do, without trying further sources. The disk
 * faults run the loader in a private mount namespace on a tiny tmpfs (`unshare -m`, as root or
 * with user namespaces); where that is not allowed they are skipped with a message.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FASHION_MNIST, loadFashionMnist } from "../../lib/data/fashion_mnist.ts";
import { UserError } from "../../lib/errors.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const LOAD_INTO = new URL("../fixtures/load_into.ts", import.meta.url).pathname;

/** Runs `cmd` with a fresh tmpfs (mount options `opts`) at `dir`, in a private mount namespace. */
async function onTmpfs(dir: string, opts: string, cmd: string[]) {
  const out = await new Deno.Command("unshare", {
    args: ["-m", "sh", "-c", `mount -t tmpfs -o ${opts} tmpfs "$0" && exec "$@"`, dir, ...cmd],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const probeDir = await Deno.makeTempDir();
const tmpfs = await onTmpfs(probeDir, "size=64k", ["true"]).catch((e) => ({
  code: -1,
  stderr: `${e}`,
}));
await Deno.remove(probeDir);
const noTmpfs = tmpfs.code !== 0;
if (noTmpfs) console.log(`disk-fault tests skipped: cannot mount a tmpfs (${tmpfs.stderr.trim()})`);

/** A mirror whose every file is 4 MB of zeros; counts requests. */
function zerosMirror() {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    requests++;
    return new Response(new Uint8Array(4 << 20));
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    requests: () => requests,
    close: () => server.shutdown(),
  };
}

Deno.test("data: a directory where a cache file should be is named, with what to do", async () => {
  const dir = await Deno.makeTempDir();
  const name = FASHION_MNIST.trainImages.name;
  await Deno.mkdir(join(dir, name));
  // The library names its own option; a caller (the CLI) names it its way.
  for (
    const [namer, said] of [[undefined, "dataDir"], [() => "--data-dir", "--data-dir"]] as const
  ) {
    await assert.rejects(
      loadFashionMnist({ dataDir: dir, sourceDirs: [], mirrors: [], quiet: true, name: namer }),
      (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.equal(
          e.message,
          `${join(dir, name)} is a directory where the cached file should be: remove it ` +
            `(rm -r ${join(dir, name)}) or give ${said} DIR`,
        );
        return true;
      },
    );
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "data: a full disk stops at the first write: no retries, no other mirror",
  ignore: noTmpfs,
  async fn() {
    const dir = await Deno.makeTempDir();
    const mirror = zerosMirror();
    try {
      const r = await onTmpfs(dir, "size=1m", [
        Deno.execPath(),
        "run",
        "-A",
        LOAD_INTO,
        dir,
        mirror.url,
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      // The library run alone names its own option (the CLI, below, its flag).
      assert.match(r.stderr, /^error: cannot write .*: No space left on device .*give dataDir DIR/);
      assert.doesNotMatch(r.stderr, /retry|attempts|apt-get/);
      assert.equal(mirror.requests(), 1, "one request: the disk, not the network, failed");
    } finally {
      await mirror.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "data: a read-only cache stops at the first write with one line (CLI, exit 1)",
  ignore: noTmpfs,
  async fn() {
    const dir = await Deno.makeTempDir();
    const mirror = zerosMirror();
    try {
      const args = ["run", "-A", MAIN, "data", "--data-dir", dir, "--mirror", mirror.url];
      const r = await onTmpfs(dir, "ro", [Deno.execPath(), ...args]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^error: cannot write .*: Read-only file system .*--data-dir DIR/);
      assert.ok(mirror.requests() <= 1, "no mirror after the first write failed");
    } finally {
      await mirror.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
