import assert from "node:assert/strict";
import { lockRunDir } from "../../lib/run/lock.ts";
import { UserError } from "../../lib/errors.ts";

Deno.test("a run directory's lock: one holder, a one-line refusal naming it, released at the end", async () => {
  const dir = await Deno.makeTempDir();
  const lock = await lockRunDir(dir);
  assert.equal(lock.previous, null);
  assert.match(await Deno.readTextFile(`${dir}/train.lock`), new RegExp(`^pid ${Deno.pid} on `));
  await assert.rejects(lockRunDir(dir), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, new RegExp(`is in use by another train run \\(pid ${Deno.pid} on `));
    assert.ok(!e.message.includes("\n"));
    return true;
  });
  await lock.release();
  await assert.rejects(Deno.stat(`${dir}/train.lock`), Deno.errors.NotFound);
  const again = await lockRunDir(dir);
  await again.release();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a lock file left by a killed run is taken over, and says whose it was", async () => {
  const dir = await Deno.makeTempDir();
  // What kill -9 leaves: the file with the dead owner's line; the OS dropped its lock.
  await Deno.writeTextFile(`${dir}/train.lock`, "pid 999999 on elsewhere since then\n");
  const lock = await lockRunDir(dir);
  assert.equal(lock.previous, "pid 999999 on elsewhere since then");
  await lock.release();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a lock file that cannot be written: one line, and the lock is not kept", async () => {
  const dir = await Deno.makeTempDir();
  const write = Deno.FsFile.prototype.write;
  // A full disk, as the owner's line is written into the file just locked.
  Deno.FsFile.prototype.write = () =>
    Promise.reject(new Deno.errors.WriteZero("No space left on device (os error 28)\nmore"));
  try {
    await assert.rejects(lockRunDir(dir), (e: unknown) => {
      assert.ok(e instanceof UserError, String(e));
      assert.equal(
        e.message,
        `cannot write ${dir}/train.lock: No space left on device (os error 28); free some ` +
          "space or choose another directory",
      );
      return true;
    });
  } finally {
    Deno.FsFile.prototype.write = write;
  }
  // The failed attempt holds nothing: the next run takes the lock.
  const lock = await lockRunDir(dir);
  assert.equal(lock.previous, null);
  await lock.release();
  await Deno.remove(dir, { recursive: true });
});
