/**
 * bench/fma_peak.ts: the instruction set from /proc/cpuinfo's flags, the machine code against
 * what gcc assembles from the same source, the loop's result on this CPU, and the measuring
 * process.
 */
import assert from "node:assert/strict";
import {
  detectIsa,
  expectedSum,
  FLOPS_PER_ITERATION,
  FMA_CODE,
  type FmaIsa,
  measureFmaPeak,
  openFmaLoop,
} from "../../bench/fma_peak.ts";
import { runScript } from "../run_cli.ts";

const SCRIPT = new URL("../../bench/fma_peak.ts", import.meta.url).pathname;

function cpuinfo(): string | null {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    return null;
  }
}
const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo() ?? "")?.[1].trim().split(/\s+/) ?? []);
const onX86Linux = Deno.build.arch === "x86_64" && Deno.build.os === "linux";
const has: Record<FmaIsa, boolean> = {
  avx512: onX86Linux && flags.has("avx512f"),
  avx2: onX86Linux && flags.has("avx2") && flags.has("fma"),
};

Deno.test("detectIsa: the widest of avx512f and avx2+fma, else why not", () => {
  const f = (s: string) => `processor\t: 0\nflags\t\t: ${s}\nbugs\t\t: none\n`;
  assert.deepEqual(detectIsa(f("fpu sse2 avx avx2 fma avx512f avx512bw"), "x86_64"), {
    isa: "avx512",
  });
  assert.deepEqual(detectIsa(f("fpu sse2 avx avx2 fma"), "x86_64"), { isa: "avx2" });
  // avx2 without fma (some VIA/Zhaoxin) and fma without avx2 have no loop.
  assert.deepEqual(detectIsa(f("fpu avx avx2"), "x86_64"), {
    why: "the CPU has neither avx512f nor avx2 with fma",
  });
  assert.deepEqual(detectIsa(f("fpu avx fma"), "x86_64"), {
    why: "the CPU has neither avx512f nor avx2 with fma",
  });
  // A flag's name inside another's ("avx512fp16" is not "avx512f") does not count.
  assert.deepEqual(detectIsa(f("avx512fp16 avx2 fma"), "x86_64"), { isa: "avx2" });
  assert.deepEqual(detectIsa(f("avx512f"), "aarch64"), {
    why: "aarch64: the loop exists for x86-64 only",
  });
  assert.deepEqual(detectIsa(null, "x86_64"), {
    why: "no /proc/cpuinfo to read the CPU's flags from",
  });
  assert.deepEqual(detectIsa("processor\t: 0\n", "x86_64"), {
    why: "/proc/cpuinfo has no flags line",
  });
});

Deno.test("FLOPS_PER_ITERATION and expectedSum: 12 FMAs x lanes x 2; a float counts to 2^24", () => {
  assert.equal(FLOPS_PER_ITERATION.avx512, 384);
  assert.equal(FLOPS_PER_ITERATION.avx2, 192);
  assert.equal(expectedSum(1000), 12000);
  assert.equal(expectedSum(2 ** 24 + 5), 12 * 2 ** 24);
  // Above 2^24 / 3 iterations 12 n needs more than float32's 24 bits: the sum is rounded once.
  assert.equal(expectedSum(8_952_581), 107_430_976);
  assert.equal(expectedSum(5_592_405), 67_108_860); // 3 n < 2^24: still exact
});

/** The loop's source in GNU assembler syntax, as FMA_CODE's comment describes it. */
function source(isa: FmaIsa): string {
  const v = isa === "avx512" ? "zmm" : "ymm";
  const r = (i: number) => `${v}${i}`;
  const adds = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [0, 2], [4, 6], [8, 10], [0, 4], [
    0,
    8,
  ]];
  return [
    ".intel_syntax noprefix",
    ".text",
    "mov eax, 0x3f800000",
    "vmovd xmm12, eax",
    `vbroadcastss ${r(12)}, xmm12`,
    ...Array.from({ length: 12 }, (_, i) => `vxorps xmm${i}, xmm${i}, xmm${i}`),
    "test rdi, rdi",
    "jz 2f",
    "1:",
    ...Array.from({ length: 12 }, (_, i) => `vfmadd231ps ${r(i)}, ${r(12)}, ${r(12)}`),
    "dec rdi",
    "jnz 1b",
    "2:",
    ...adds.map(([d, s]) => `vaddps ${r(d)}, ${r(d)}, ${r(s)}`),
    "vzeroupper",
    "ret",
    "",
  ].join("\n");
}

async function tool(name: string): Promise<boolean> {
  try {
    return (await new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}
const assembler = Deno.build.arch === "x86_64" && await tool("gcc") && await tool("objcopy");

for (const isa of ["avx512", "avx2"] as const) {
  Deno.test({
    name: `FMA_CODE.${isa}: the bytes gcc assembles from the same source` +
      (assembler ? "" : " (ignored: needs gcc and objcopy on x86-64)"),
    ignore: !assembler,
    async fn() {
      const dir = await Deno.makeTempDir();
      try {
        await Deno.writeTextFile(`${dir}/l.s`, source(isa));
        const run = async (cmd: string, args: string[]) => {
          const o = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
          assert.ok(o.success, new TextDecoder().decode(o.stderr));
        };
        await run("gcc", ["-c", `${dir}/l.s`, "-o", `${dir}/l.o`]);
        await run("objcopy", ["-O", "binary", "-j", ".text", `${dir}/l.o`, `${dir}/l.bin`]);
        assert.deepEqual([...FMA_CODE[isa]], [...await Deno.readFile(`${dir}/l.bin`)]);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });

  Deno.test({
    name: `openFmaLoop(${isa}): every FMA runs, here and on another thread` +
      (has[isa] ? "" : ` (ignored: this CPU or OS has no ${isa} loop)`),
    ignore: !has[isa],
    async fn() {
      const f = openFmaLoop(isa);
      try {
        assert.equal(f.run(0), 0);
        assert.equal(f.run(1), 12);
        assert.equal(f.run(1000), 12000);
        assert.deepEqual(await Promise.all([f.runOnThread(777), f.runOnThread(5)]), [9324, 60]);
        // 12 n is not a float32 here: the loop's float32 sum is its nearest (expectedSum).
        assert.equal(f.run(8_952_581), 107_430_976);
      } finally {
        f.close();
      }
    },
  });
}

Deno.test({
  name: "measureFmaPeak: a process of its own, the widest loop, on the threads asked for" +
    (has.avx2 ? "" : " (ignored: no FMA loop for this CPU)"),
  ignore: !has.avx2,
  async fn() {
    const r = await measureFmaPeak({ threads: 2, repeats: 1, seconds: 0.01 });
    assert.ok("gflops" in r, JSON.stringify(r));
    assert.equal(r.isa, has.avx512 ? "AVX-512" : "AVX2+FMA3");
    assert.equal(r.threads, 2);
    assert.equal(r.accumulators, 12);
    assert.ok(r.gflops > 0 && r.gflops_1thread > 0, JSON.stringify(r));
  },
});

Deno.test("measureFmaPeak killed at its cap says so", async () => {
  const r = await measureFmaPeak({ threads: 1, repeats: 50, seconds: 5, cap: 0.2 });
  assert.deepEqual(r, { error: "did not finish in 0.2 s" });
});

for (
  const [args, pattern] of [
    [["--threads", "0"], /^error: --threads 0: give a positive integer/],
    [["--seconds", "0"], /^error: --seconds 0: /],
    [["--n", "2"], /^error: Unknown option '--n'/],
  ] as const
) {
  Deno.test(`bench/fma_peak.ts ${args.join(" ")}: one line, exit 2`, async () => {
    const r = await runScript(SCRIPT, [...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], pattern);
  });
}
