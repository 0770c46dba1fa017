/**
 * Starts `deno task web --serve 0` (any free port) in a subprocess for the tests of the page,
 * and stops it.
 * @module
 */
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A running `web --serve` and how to stop it. */
export interface WebServer {
  /** The page's URL, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  /** The site's directory (a temporary one, removed by `stop`). */
  out: string;
  /** Sends SIGTERM, waits for the exit and returns its code. */
  stop(): Promise<number>;
  /** Everything the server wrote to stderr (complete once `stop` resolved). */
  stderr: Promise<string>;
}

/** Builds the site into a temporary directory and serves it; resolves once it listens. */
export async function startServer(): Promise<WebServer> {
  const out = await Deno.makeTempDir({ prefix: "resnet-web-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "web", "--out", out, "--serve", "0"],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(text);
    if (m) {
      const stop = async () => {
        child.kill("SIGTERM");
        const { code } = await child.status;
        await lines.cancel();
        await stderr;
        await Deno.remove(out, { recursive: true });
        return code;
      };
      return { url: m[0], out, stop, stderr };
    }
    const { value, done } = await lines.read();
    if (done) {
      const { code } = await child.status;
      await Deno.remove(out, { recursive: true });
      throw new Error(`web --serve exited with ${code} before serving: ${await stderr}`);
    }
    text += value;
  }
}
