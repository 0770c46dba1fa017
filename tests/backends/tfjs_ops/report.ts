/**
 * A jasmine reporter that counts specs and keeps each failure in one line, and the result line a
 * suite process prints last (`OPS_RESULT {...}`) for the runner to read.
 * @module
 */

/** What one path's run found. */
export interface OpsResult {
  /** Specs that ran (passed + failed). */
  specs: number;
  passed: number;
  failed: number;
  /** Specs jasmine did not run (pending or excluded): none are expected. */
  notRun: number;
  /** One line per failed spec or failed suite hook: name, then the first message. */
  failures: string[];
  /** Specs after which more tensors or backend data existed than before. */
  leaks: string[];
  /** Seconds the specs took. */
  seconds: number;
}

/** The marker before the result's JSON on the suite's standard output. */
export const RESULT_MARKER = "OPS_RESULT ";

/** A spec's name with its backend's replaced, to find the same spec on another path. */
export function specKey(line: string, backend: string): string {
  return line.split(": ")[0].replace(` ${backend} {`, " <backend> {");
}

/** Specs that leaked (`name: counts`), filled in by the prelude's hooks. */
export const leaks: string[] = [];

/** The spec now running, for the leak check's message. */
export let currentSpec = "";

interface JasmineResult {
  fullName: string;
  status: string;
  failedExpectations: { message: string }[];
}

const oneLine = (r: JasmineResult) =>
  `${r.fullName}: ${(r.failedExpectations[0]?.message ?? r.status).split("\n")[0]}`;

/** A reporter for `env.addReporter`, and the result it builds. */
export function opsReporter(): { reporter: object; result: () => OpsResult } {
  const start = performance.now();
  const r = { specs: 0, passed: 0, failed: 0, notRun: 0, failures: [] as string[] };
  const reporter = {
    specStarted: (s: JasmineResult) => currentSpec = s.fullName,
    specDone: (s: JasmineResult) => {
      if (s.status === "passed") r.passed++;
      else if (s.status === "failed") (r.failed++, r.failures.push(oneLine(s)));
      else r.notRun++;
    },
    // A failing beforeAll/afterAll fails the suite, not a spec: it counts as a failure too.
    suiteDone: (s: JasmineResult) => {
      if (s.failedExpectations.length) (r.failed++, r.failures.push(oneLine(s)));
    },
  };
  const result = () => ({
    ...r,
    specs: r.passed + r.failed,
    leaks,
    seconds: (performance.now() - start) / 1000,
  });
  return { reporter, result };
}
