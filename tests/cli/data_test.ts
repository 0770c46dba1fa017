import assert from "node:assert/strict";
import { FASHION_MNIST } from "../../lib/data/fashion_mnist.ts";
import { dataLoadOptions } from "../../cli/data.ts";

Deno.test("data: the CLI maps --source-dir, --mirror and --timeout onto load options", () => {
  const o = dataLoadOptions({ sourceDir: ["/a"], mirror: ["http://m/"], timeout: 2, retries: 0 });
  assert.deepEqual(o.sourceDirs, [...FASHION_MNIST.sourceDirs, "/a"]);
  assert.deepEqual(o.mirrors, ["http://m/"]);
  assert.equal(o.timeoutMs, 2000);
  assert.equal(o.retries, 0);
  assert.deepEqual(dataLoadOptions({}).mirrors, [...FASHION_MNIST.mirrors]);
});
