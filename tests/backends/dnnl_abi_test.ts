// lib/backends/native/dnnl/abi.ts against the installed oneDNN headers: every enum value and
// DNNL_ARG_* index by parsing dnnl_types.h, and struct sizes and offsets by compiling a C program
// with `cc`. Each test is ignored, with one line saying why, when its header or compiler is absent.

import assert from "node:assert/strict";
import { ARG, ENUM, OFFSET, SIZEOF } from "../../lib/backends/native/dnnl/abi.ts";

const INCLUDE = "/usr/include";
const HEADER = `${INCLUDE}/dnnl_types.h`;

/** The header's text with its `#include "oneapi/..."` lines replaced by the included files. */
function readHeader(path: string, depth = 0): string {
  const text = Deno.readTextFileSync(path);
  return text.replace(/^#include "([^"]+)"$/gm, (line, inc: string) => {
    const target = `${INCLUDE}/${inc}`;
    if (depth > 3 || !exists(target)) return line;
    return readHeader(target, depth + 1);
  });
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
}

function parseNumber(expr: string, known: Map<string, number>): number {
  const e = expr.trim().replace(/[uUlL]+$/, "");
  if (/^0x[0-9a-f]+$/i.test(e) || /^\d+$/.test(e)) return Number(e);
  const value = known.get(e);
  if (value === undefined) throw new Error(`cannot evaluate "${expr}"`);
  return value;
}

/** Every member of every `typedef enum { ... } name;`, numbered as C numbers them. */
function parseEnums(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const block of stripComments(text).matchAll(/typedef\s+enum\s*\{([^}]*)\}/g)) {
    let next = 0;
    for (const raw of block[1].split(",")) {
      const member = raw.trim();
      if (member === "") continue;
      const [name, expr] = member.split("=").map((s) => s.trim());
      const value = expr === undefined ? next : parseNumber(expr, values);
      values.set(name, value);
      next = value + 1;
    }
  }
  return values;
}

/** Every `#define NAME value` whose value is a number or an earlier such name. */
function parseDefines(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const m of stripComments(text).matchAll(/^#define\s+(\w+)\s+(\w+)\s*$/gm)) {
    try {
      values.set(m[1], parseNumber(m[2], values));
    } catch {
      // not a plain number (a string, a type name): not an ABI value
    }
  }
  return values;
}

const headerMissing = !exists(HEADER);
if (headerMissing) console.log(`dnnl ABI header tests skipped: ${HEADER} is absent`);

Deno.test({
  name: "dnnl abi: every ENUM value matches dnnl_types.h",
  ignore: headerMissing,
  fn() {
    const enums = parseEnums(readHeader(HEADER));
    assert.equal(enums.get("dnnl_nhwc"), enums.get("dnnl_acdb"), "alias resolution");
    for (const [name, value] of Object.entries(ENUM)) {
      assert.ok(enums.has(name), `${name} is not an enum member in the header`);
      assert.equal(value, enums.get(name), name);
    }
  },
});

Deno.test({
  name: "dnnl abi: every ARG index matches the DNNL_ARG_* defines",
  ignore: headerMissing,
  fn() {
    const defines = parseDefines(readHeader(HEADER));
    for (const [name, value] of Object.entries(ARG)) {
      assert.equal(value, defines.get(name), name);
    }
    assert.equal(defines.get("DNNL_MAX_NDIMS"), 12);
    assert.equal(defines.get("DNNL_RUNTIME_OMP"), 2);
  },
});

function cProgram(): string {
  const sizes = Object.keys(SIZEOF).map((t) => `printf("${t} %zu\\n", sizeof(${t}));`);
  const offsets = Object.keys(OFFSET).map((key) => {
    const [type, field] = splitOffsetKey(key);
    return `printf("${key} %zu\\n", offsetof(${type}, ${field}));`;
  });
  const body = [...sizes, ...offsets].join("\n  ");
  return `#include <stdio.h>\n#include <stddef.h>\n#include <dnnl_types.h>\n` +
    `int main(void) {\n  ${body}\n  return 0;\n}\n`;
}

/** "dnnl_exec_arg_t_memory" -> ["dnnl_exec_arg_t", "memory"]. */
function splitOffsetKey(key: string): [string, string] {
  const at = key.indexOf("_t_") + 2;
  return [key.slice(0, at), key.slice(at + 1)];
}

function compiler(): string | undefined {
  try {
    const out = new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return out.success ? "cc" : undefined;
  } catch {
    return undefined;
  }
}

const cc = headerMissing ? undefined : compiler();
if (!headerMissing && !cc) console.log("dnnl ABI struct-size test skipped: no C compiler `cc`");

Deno.test({
  name: "dnnl abi: SIZEOF and OFFSET match a compiled C program",
  ignore: cc === undefined,
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "dnnl_abi_" });
    try {
      Deno.writeTextFileSync(`${dir}/abi.c`, cProgram());
      const build = new Deno.Command(cc!, { args: [`${dir}/abi.c`, "-o", `${dir}/abi`] })
        .outputSync();
      assert.ok(build.success, new TextDecoder().decode(build.stderr));
      const run = new Deno.Command(`${dir}/abi`).outputSync();
      const lines = new TextDecoder().decode(run.stdout).trim().split("\n");
      const measured = Object.fromEntries(lines.map((l) => l.split(" ")).map(([k, v]) => [k, +v]));
      assert.deepEqual(measured, { ...SIZEOF, ...OFFSET });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
