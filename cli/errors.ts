/**
 * How the CLI ends: every error the library throws becomes one line on stderr and an exit code
 * chosen by its type. Only unexpected errors (bugs) keep their stack trace.
 *
 * | error | exit |
 * | --- | --- |
 * | {@linkcode UsageError}, `InputError` (bad flag value, malformed input file) | 2 |
 * | {@linkcode AlreadyReported} (its lines are printed already: nothing more) | 2 |
 * | `UserError` (missing data, unwritable path, a diverged run) | 1 |
 * | {@linkcode Interrupted} (a stop signal, after saving) | 128 + n: 130 SIGINT, 143 SIGTERM, 129 SIGHUP |
 *
 * @example
 * ```ts
 * import { describeError } from "./errors.ts";
 * import { InputError } from "../lib/errors.ts";
 * describeError(new InputError("--size 0: give a positive integer"));
 * // { line: "error: --size 0: give a positive integer", code: 2 }
 * ```
 * @module
 */
import { ConfigError, errorText, InputError, UserError } from "../lib/errors.ts";
import { DivergedError } from "../lib/run/train.ts";
import { TensorLimitError } from "../lib/backends/tensor_limit.ts";
import { BackendUnavailableError } from "../lib/backends/choose.ts";
import { PortError } from "../lib/io/serve.ts";
import { FLAGS, UsageError } from "./options.ts";
import { exitCodeOf, type StopSignal } from "./stop_signals.ts";

/** Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/** A run stopped by a signal after saving; the message says how to resume. */
export class Interrupted extends UserError {
  /** Always `"Interrupted"`. */
  override name = "Interrupted";
  /**
   * @param message What was saved and the command that resumes.
   * @param signal The signal that stopped the run; the exit code is 128 + its number.
   */
  constructor(message: string, readonly signal: StopSignal = "SIGINT") {
    super(message);
  }
}

/**
 * Failures a command has already reported on stderr, one line each (e.g. `predict`'s unreadable
 * images, while the others were still predicted): nothing more is printed, the exit code is 2.
 */
export class AlreadyReported extends InputError {
  /** Always `"AlreadyReported"`. */
  override name = "AlreadyReported";
}

/** A WebGPU refusal in the flags that change it (the library words it in its own terms). */
function tensorLimitLine(e: TensorLimitError): string {
  const { tensor: t, limit, fits } = e.problem;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const over = `${t.name} [${t.shape.join(", ")}] (float32) is ${mib(t.bytes)}, over its ` +
    `${limit.name} of ${mib(limit.bytes)}`;
  return fits === 0
    ? `--size ${e.size} does not fit this WebGPU adapter even at --batch-size 1: ${over}: use a ` +
      "smaller --size, or --backend native"
    : `--batch-size ${e.batch} at --size ${e.size} does not fit this WebGPU adapter even in ` +
      `parts: ${over}: use --batch-size ${fits} or less, or --backend native`;
}

/** A model option as the CLI spells it: its flag (`--width-per-group`), else its field. */
function flagOrField(field: string): string {
  const spec = (FLAGS as Record<string, { flags: string } | undefined>)[field];
  return spec ? spec.flags.split(" ")[0] : field;
}

/**
 * The line to print (empty: nothing to print) and the exit code for an error the user can act
 * on; null for anything else (a bug, which should surface with its stack trace).
 */
export function describeError(e: unknown): { line: string; code: number } | null {
  if (e instanceof Interrupted) {
    return { line: `error: ${errorText(e)}`, code: exitCodeOf(e.signal) };
  }
  if (e instanceof DivergedError && e.dir !== null) {
    // The library says what happened; the CLI adds the command that resumes.
    const line = `error: the loss became ${e.loss} in epoch ${e.epoch} (by step ${e.step}) with ` +
      `--lr ${e.lr}: resume from the last good checkpoint (epoch ${e.lastGoodEpoch}) with a ` +
      `lower learning rate: deno task train --resume ${e.dir} --lr ${e.baseLr / 10}`;
    return { line, code: 1 };
  }
  if (e instanceof AlreadyReported) return { line: "", code: 2 };
  // The library names model options by their fields; the CLI by the flags that set them.
  if (e instanceof ConfigError) {
    return { line: `error: ${e.problem.wording(flagOrField)}`, code: 2 };
  }
  if (e instanceof PortError) {
    // Every server of the CLI (train --serve, report --serve, web) takes its port from --serve.
    const line = `error: --serve ${e.port}: port ${e.port} on ${e.hostname} ${e.why}: choose ` +
      "another port, or --serve 0 for any free one";
    return { line, code: 2 };
  }
  if (e instanceof TensorLimitError) return { line: `error: ${tensorLimitLine(e)}`, code: 2 };
  if (e instanceof BackendUnavailableError) {
    // The library's fix names backends; the CLI names the flag that picks one.
    const fix = e.fix.replace(/\bthe (cpu|native|webgpu) backend\b/g, "--backend $1");
    return { line: `error: --backend ${e.backend} cannot run here: ${e.reason}; ${fix}`, code: 2 };
  }
  if (e instanceof UsageError || e instanceof InputError) {
    return { line: `error: ${errorText(e)}`, code: 2 };
  }
  if (e instanceof UserError) return { line: `error: ${errorText(e)}`, code: 1 };
  return null;
}
