/**
 * Chooses and initialises the tfjs backend every computing subcommand runs on.
 *
 * @example
 * ```ts
 * import { initBackend } from "./backend.ts";
 * const info = await initBackend("cpu");
 * console.log(info.summary); // "cpu (tfjs pure-JS kernels)"
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";

/** Backends a user can ask for. */
export const BACKENDS = ["auto", "cpu"] as const;
/** A backend a user can ask for. */
export type BackendName = typeof BACKENDS[number];

/** What runs, for the user and for run records. */
export interface BackendInfo {
  /** The tfjs backend name that is active. */
  name: string;
  /** One line: the backend and, for WebGPU, the adapter. */
  summary: string;
  /** Why `auto` chose it. */
  reason: string;
}

/** Initialises the requested backend and returns what runs. */
export async function initBackend(requested: BackendName = "auto"): Promise<BackendInfo> {
  tf.enableProdMode(); // no debug checks, no "running in Node.js" banner
  await tf.setBackend("cpu");
  await tf.ready();
  return {
    name: "cpu",
    summary: "cpu (tfjs pure-JS kernels)",
    reason: requested === "auto" ? "no faster backend is available" : "requested",
  };
}
