/**
 * The backends tfjs' op tests run on, one process each: `native` on oneDNN, `native` forced to
 * OpenBLAS, and tfjs' own `cpu` as the control.
 * @module
 */
import { registerNativeBackend } from "../../../lib/backends/native/backend.ts";

/** One backend the suite runs on. */
export interface OpsPath {
  /** The tfjs backend name (and the runner's argument). */
  backend: string;
  /** How the summary line names it. */
  label: string;
}

/** Every path, in the order the summary prints them. */
export const OPS_PATHS: OpsPath[] = [
  { backend: "native-dnnl", label: "native/oneDNN" },
  { backend: "native-blas", label: "native/OpenBLAS" },
  { backend: "cpu", label: "cpu" },
];

/** Registers `backend` (cpu is registered on import); null, or why it cannot run here. */
export async function registerPath(backend: string): Promise<string | null> {
  if (backend === "cpu") return null;
  const choice = backend === "native-dnnl" ? "dnnl" : backend === "native-blas" ? "blas" : null;
  if (!choice) return `unknown backend ${backend}`;
  const r = await registerNativeBackend({ name: backend, choice });
  return r.ok ? null : r.reason ?? "did not register";
}
