/**
 * The last module of the bundled suite: runs the specs that tfjs' files declared, prints the
 * result line, and exits (1 when a spec failed).
 * @module
 */
import { jasmineEnv } from "./jasmine_globals.ts";
import { opsReporter, RESULT_MARKER } from "./report.ts";

const { reporter, result } = opsReporter();
jasmineEnv.addReporter(reporter);
await new Promise<void>((resolve) => jasmineEnv.execute(undefined, resolve));
const r = result();
console.log(RESULT_MARKER + JSON.stringify(r));
Deno.exit(r.failed === 0 && r.specs > 0 ? 0 : 1);
