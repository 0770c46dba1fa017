/**
 * jasmine-core booted the way tfjs' op tests expect it: `describe`, `it`, `expect`... as globals,
 * specs in declaration order (as tfjs runs them), tfjs' 20 s timeout, and the one `require` that
 * tfjs-core's dist/jasmine_util.js makes (it loads jasmine-core that way). Imported first.
 * @module
 */
import jasmineRequire from "jasmine-core/lib/jasmine-core/jasmine.js";

const JASMINE_PATH = "jasmine-core/lib/jasmine-core/jasmine.js";

/** The jasmine instance the specs register with. */
export const jasmine = jasmineRequire.core(jasmineRequire);
/** Its environment: reporters are added and the run is started here. */
export const jasmineEnv = jasmine.getEnv();

jasmineEnv.configure({ random: false });
jasmine.DEFAULT_TIMEOUT_INTERVAL = 20_000;
Object.assign(globalThis, jasmineRequire.interface(jasmine, jasmineEnv));
Object.assign(globalThis, {
  require(id: string) {
    if (id === JASMINE_PATH) return jasmineRequire;
    throw new Error(`tfjs ops runner: no require(${JSON.stringify(id)}) here`);
  },
});
