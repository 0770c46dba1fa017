/**
 * The local HTTP servers of `train --serve` (lib/viz/live.ts) and `web --serve` (cli/web.ts): one
 * way to bind a port (a port in use is one {@linkcode InputError} naming it, thrown before anything
 * else happens), and files answered as 404 or 500 in one line when they cannot be read, never as a
 * stack trace on the server's stderr.
 *
 * @example
 * ```ts
 * import { fileResponse, serveLocal } from "./serve.ts";
 * import assert from "node:assert/strict";
 * const server = serveLocal({ port: 0 }, (req) => fileResponse("deno.json", req.method));
 * assert.ok(server.addr.port > 0);
 * await server.shutdown();
 * ```
 * @module
 */
import { errorText, InputError } from "../errors.ts";

/** Where {@linkcode serveLocal} listens. */
export interface ServeOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The interface to bind (default 127.0.0.1: the pages are for this machine only). */
  hostname?: string;
}

/**
 * Serves `handler` on `hostname:port` (127.0.0.1 by default). A port in use, or one that cannot
 * be bound, is a {@linkcode PortError} (the port, the host and why, as data; port 0 takes any
 * free one);
 * a handler that throws answers 500 with the error's first line.
 *
 * @example
 * ```ts
 * import { serveLocal } from "./serve.ts";
 * import assert from "node:assert/strict";
 * const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = (taken.addr as Deno.NetAddr).port;
 * try {
 *   serveLocal({ port }, () => new Response("hi"));
 * } catch (e) {
 *   assert.ok((e as Error).message.startsWith(`port ${port} on 127.0.0.1 is in use: `));
 * } finally {
 *   taken.close();
 * }
 * ```
 */
export function serveLocal(
  opts: ServeOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Deno.HttpServer<Deno.NetAddr> {
  const hostname = opts.hostname ?? "127.0.0.1", port = opts.port;
  try {
    return Deno.serve({ hostname, port, onListen() {}, onError: internalError }, handler);
  } catch (e) {
    const why = e instanceof Deno.errors.AddrInUse
      ? "is in use"
      : `cannot be opened (${errorText(e)})`;
    throw new PortError(port, hostname, why);
  }
}

/** A port that cannot be listened on: which, on which host, and why ("is in use"). */
export class PortError extends InputError {
  /** Always `"PortError"`. */
  override name = "PortError";
  /**
   * @param port The port asked for.
   * @param hostname The host it was asked on.
   * @param why What stands in the way: "is in use", or "cannot be opened (...)".
   */
  constructor(readonly port: number, readonly hostname: string, readonly why: string) {
    super(`port ${port} on ${hostname} ${why}: choose another port, or port 0 for any free one`);
  }
}

/** A handler's failure as a one-line 500 (Deno.serve's default prints a stack trace). */
function internalError(e: unknown): Response {
  return new Response(`internal error: ${errorText(e)}\n`, { status: 500 });
}

/**
 * The file at `path` as a response with `headers` (the body streamed; none for `HEAD`): 404 when
 * it is not there (removed since it was routed), 500 with one line when it cannot be read.
 *
 * @example
 * ```ts
 * import { fileResponse } from "./serve.ts";
 * (await fileResponse("/no/such/file", "GET")).status; // 404
 * ```
 */
export async function fileResponse(
  path: string,
  method: string,
  headers: HeadersInit = {},
): Promise<Response> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return new Response("not found\n", { status: 404 });
    return new Response(`cannot read the file: ${errorText(e)}\n`, { status: 500 });
  }
  if (method === "HEAD") {
    file.close();
    return new Response(null, { headers });
  }
  return new Response(file.readable, { headers });
}
