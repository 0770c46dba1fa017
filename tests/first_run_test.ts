/**
 * A fresh clone's first command prints nothing of Deno's own: no "Ignored build scripts" box for
 * npm packages' lifecycle scripts (deno.json's allowScripts says which are not run).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("first run in a new directory: no lifecycle-script box", async () => {
  // A new path is a new project to Deno, which warns once per project: as a fresh clone.
  const dir = await Deno.makeTempDir();
  try {
    for (const f of ["deno.json", "deno.lock"]) await Deno.copyFile(`${ROOT}${f}`, `${dir}/${f}`);
    await Deno.writeTextFile(`${dir}/first.ts`, 'import "@tensorflow/tfjs";\nconsole.log("ok");\n');
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "first.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(new TextDecoder().decode(r.stdout), "ok\n", err);
    assert.doesNotMatch(err, /build scripts|lifecycle|nodeModulesDir/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
