/**
 * `web`: builds the training page (web/) into a static site, one HTML page, its stylesheet and one
 * bundle (`deno bundle --platform browser`) of the library with tfjs' WebGPU and CPU backends;
 * with `--serve` also serves it on 127.0.0.1 together with the verified Fashion-MNIST files of
 * the local cache (under `data/`), so a browser is all a user needs.
 *
 * @example
 * ```ts ignore
 * import { webCommand } from "./web.ts";
 * await webCommand().parseAsync(["--out", "dist/web", "--serve", "8000"], { from: "user" });
 * ```
 * @module
 */
import { Command } from "commander";
import { dirname, join, parse, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FASHION_MNIST, loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { tableFiles } from "../lib/data/idx_dataset.ts";
import { replaceDirAtomic, TEMP_NAME, writeFileAtomic } from "../lib/io/atomic.ts";
import { errorText, UserError } from "../lib/errors.ts";
import { fileResponse, serveLocal } from "../lib/io/serve.ts";
import { addFlags, DATA_FLAGS, type OptionsOf, UsageError } from "./options.ts";
import { dataLoadOptions } from "./data.ts";

/** The port `--serve` without a value listens on. */
export const DEFAULT_PORT = 8000;

const FLAGS = {
  out: "the site's directory; default dist/web; one holding other files needs --force",
  force: "",
  serve: `default port ${DEFAULT_PORT}; 0 picks a free one`,
  ...DATA_FLAGS,
} as const;

/** Parsed options of `web`. */
export type WebCliOptions = OptionsOf<typeof FLAGS>;

/** The page's sources, beside cli/ in the project. */
const WEB_DIR = fileURLToPath(new URL("../web/", import.meta.url));
/** The project's deno.json (its import map resolves the bundle's npm packages). */
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
/** The site's files: the page and its stylesheet are copied, app.js is the bundle. */
const SITE_FILES = ["index.html", "style.css", "app.js"] as const;

/** The `web` subcommand. */
export function webCommand(): Command {
  return addFlags(
    new Command("web").description(
      "build the in-browser training page (WebGPU) as a static site; --serve also serves it",
    ),
    FLAGS,
  ).action(runWeb);
}

/**
 * Runs `web`: builds the site; with `--serve`, binds the port first (a port in use fails at once,
 * before the build), builds, then serves until Ctrl-C.
 */
export async function runWeb(o: WebCliOptions): Promise<void> {
  const out = resolve(o.out ?? "dist/web");
  if (o.serve === undefined) return await build(out, o.force ?? false);
  const server = await listen(out, o.serve === true ? DEFAULT_PORT : o.serve, o);
  try {
    await build(out, o.force ?? false);
  } catch (e) {
    await server.shutdown();
    throw e;
  }
  console.log(`serving the page on http://127.0.0.1:${server.addr.port}/ (Ctrl-C stops)`);
  const stop = () => server.shutdown();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    await server.finished;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}

/** {@linkcode buildSite} with a line on stderr saying what was built. */
async function build(out: string, force: boolean): Promise<void> {
  const t0 = performance.now();
  await buildSite(out, force);
  const kb = (await Deno.stat(join(out, "app.js"))).size / 1024;
  console.error(
    `built ${out} (index.html, style.css, app.js ${kb.toFixed(0)} KiB) in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

/**
 * Bundles web/main.ts for browsers (minified) and writes the site into `out`: a new, empty or
 * earlier-built `out` is replaced by one rename (a failed build or a kill leaves the previous
 * site whole); a directory holding other files is refused unless `force`, which writes the three
 * files into it; the file system's root never.
 */
export async function buildSite(out: string, force = false): Promise<void> {
  const how = await siteTarget(out, force);
  const site: Record<string, Uint8Array> = { "app.js": await bundle() };
  for (const f of ["index.html", "style.css"]) site[f] = await Deno.readFile(join(WEB_DIR, f));
  try {
    await Deno.mkdir(dirname(out), { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create ${out}: ${errorText(e)}; choose another --out`);
  }
  if (how === "replace") return await replaceDirAtomic(out, site);
  for (const [f, bytes] of Object.entries(site)) await writeFileAtomic(join(out, f), bytes);
}

/** Whether `out` is replaced whole or written into (`--force`); refuses what is not ours. */
async function siteTarget(out: string, force: boolean): Promise<"replace" | "write"> {
  if (out === parse(out).root) {
    throw new UsageError(`--out ${out} is the file system's root: give a directory of its own`);
  }
  const entries = await Array.fromAsync(Deno.readDir(out)).catch(() => []);
  const names = entries.map((e) => e.name).filter((n) => !TEMP_NAME.test(n));
  const site: readonly string[] = SITE_FILES;
  const built = site.every((f) => names.includes(f)) && names.every((n) => site.includes(n));
  if (names.length === 0 || built) return "replace";
  if (force) return "write";
  throw new UsageError(
    `--out ${out} holds files web did not make (${names.slice(0, 3).join(", ")}` +
      `${names.length > 3 ? ", ..." : ""}): give a new or empty directory, or --force to write ` +
      "index.html, style.css and app.js into it",
  );
}

/** web/main.ts bundled for browsers, built in a temporary directory of its own. */
async function bundle(): Promise<Uint8Array> {
  const work = await Deno.makeTempDir({ prefix: "resnet-web-" });
  try {
    const tmp = join(work, "app.js");
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--config",
        CONFIG,
        "--platform",
        "browser",
        "--format",
        "iife",
        "--minify",
        "--output",
        tmp,
        join(WEB_DIR, "main.ts"),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) {
      const why = new TextDecoder().decode(r.stderr).split("\n").find((l) => /error/i.test(l));
      throw new UserError(`deno bundle failed: ${why?.trim() ?? `exit code ${r.code}`}`);
    }
    return await Deno.readFile(tmp);
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  gz: "application/gzip",
};

/**
 * The files the server answers for, by URL path: the site, and under `data/` the dataset's four
 * files from the verified cache (none when the data could not be got: the page then asks for
 * them). Nothing else on disk is reachable.
 */
async function routes(out: string, o: WebCliOptions): Promise<Map<string, string>> {
  const map = new Map<string, string>(SITE_FILES.map((f) => [`/${f}`, join(out, f)]));
  map.set("/", join(out, "index.html"));
  try {
    const { cache } = await loadFashionMnist(dataLoadOptions(o, true));
    for (const spec of tableFiles(FASHION_MNIST)) {
      map.set(`/data/${spec.name}`, join(cache, spec.name));
    }
    console.error(`serving Fashion-MNIST from ${cache}`);
  } catch (e) {
    console.error(
      `note: no Fashion-MNIST to serve (${errorText(e)}); the page asks for the four .gz files`,
    );
  }
  return map;
}

/**
 * Listens on 127.0.0.1:`port` and serves the site's files; a port in use is an InputError
 * (../lib/io/serve.ts).
 */
async function listen(
  out: string,
  port: number,
  o: WebCliOptions,
): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const files = new Map<string, string>();
  const server = serveLocal({ port }, (req) => serve(req, files));
  for (const [k, v] of await routes(out, o)) files.set(k, v);
  return server;
}

/**
 * Answers GET and HEAD for the routed files; everything else is 404, and so is a routed file that
 * is gone (a site rebuilt or removed meanwhile).
 */
function serve(req: Request, files: Map<string, string>): Promise<Response> | Response {
  const path = files.get(new URL(req.url).pathname);
  if (!path || (req.method !== "GET" && req.method !== "HEAD")) {
    return new Response("not found\n", { status: 404 });
  }
  const type = TYPES[path.slice(path.lastIndexOf(".") + 1)] ?? "application/octet-stream";
  return fileResponse(path, req.method, { "content-type": type, "cache-control": "no-cache" });
}
