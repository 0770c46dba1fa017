/**
 * What the bundled suite runs before tfjs' spec files, as tfjs' backends' setup_test.ts do: jasmine's
 * globals, tfjs' gradients and chained ops, the backend named by the first argument, and the one
 * test environment the specs are declared for. Also a check, after every spec, that it left no
 * tensor and no backend data behind.
 * @module
 */
import { jasmineEnv } from "./jasmine_globals.ts";
import "@tensorflow/tfjs-core/dist/index.js";
import "@tensorflow/tfjs-core/dist/register_all_gradients.js";
import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js";
import "@tensorflow/tfjs-backend-cpu";
import { setTestEnvs } from "@tensorflow/tfjs-core/dist/jasmine_util.js";
import * as tf from "@tensorflow/tfjs-core";
import { registerPath } from "./paths.ts";
import { currentSpec, leaks } from "./report.ts";

const backend = Deno.args[0] ?? "cpu";
// After tfjs' gradients are registered: the native backend wraps some of them.
const skipped = await registerPath(backend);
if (skipped) {
  console.log(JSON.stringify({ skipped }));
  Deno.exit(0);
}
setTestEnvs([{ name: backend, backendName: backend, isDataSync: true }]);

// Root hooks run outside each describe's own (tfjs' jasmine_util: a scope per spec, reset per
// describe), so they see what a spec leaves once tfjs' own cleanup is done.
let before = { tensors: 0, data: 0 };
const count = () => ({ tensors: tf.memory().numTensors, data: tf.engine().backend.numDataIds() });
jasmineEnv.beforeEach(() => before = count());
jasmineEnv.afterEach(() => {
  const after = count();
  if (after.tensors > before.tensors || after.data > before.data) {
    leaks.push(`${currentSpec}: ${JSON.stringify({ before, after })}`);
  }
});
