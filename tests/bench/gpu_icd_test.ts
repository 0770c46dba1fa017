/**
 * bench/gpu.sh finds NVIDIA's Vulkan driver the way GPU containers ship it: the ICD file, or only
 * the driver's libGLX_nvidia.so.0 (then it writes an ICD file pointing at it), or says in one
 * line which driver files it found. Driver directories are stand-ins made here.
 */
import assert from "node:assert/strict";

const GPU_SH = new URL("../../bench/gpu.sh", import.meta.url).pathname;

async function icd(icdDir: string, libDir: string) {
  const out = await new Deno.Command("bash", {
    args: [GPU_SH, "icd"],
    env: { GPU_ICD_DIRS: icdDir, GPU_LIB_DIRS: libDir, VK_ICD_FILENAMES: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout).trim(), stderr: dec.decode(out.stderr) };
}

Deno.test("gpu.sh: the driver's ICD file, else one written for libGLX_nvidia.so.0, else one line", async () => {
  const root = await Deno.makeTempDir();
  const [icdDir, libDir] = [`${root}/icd.d`, `${root}/lib`];
  await Deno.mkdir(icdDir);
  await Deno.mkdir(libDir);

  let r = await icd(icdDir, libDir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: no NVIDIA Vulkan driver: no NVIDIA driver files in .*\n$/);

  await Deno.writeTextFile(`${libDir}/libcuda.so.1`, "");
  r = await icd(icdDir, libDir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /found .*libcuda\.so\.1, but neither nvidia_icd\.json nor libGLX_nvidia/);

  await Deno.writeTextFile(`${libDir}/libGLX_nvidia.so.0`, "");
  r = await icd(icdDir, libDir);
  assert.equal(r.code, 0, r.stderr);
  const written = JSON.parse(await Deno.readTextFile(r.stdout));
  assert.equal(written.ICD.library_path, `${libDir}/libGLX_nvidia.so.0`);
  assert.equal(written.file_format_version, "1.0.0");
  await Deno.remove(r.stdout);

  await Deno.writeTextFile(`${icdDir}/nvidia_icd.json`, "{}");
  r = await icd(icdDir, libDir);
  assert.equal(r.stdout, `${icdDir}/nvidia_icd.json`, "the driver's own file comes first");
  await Deno.remove(root, { recursive: true });
});
