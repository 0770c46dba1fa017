/**
 * The seeded random numbers of ../rng.ts, where they live now (the model's initialisation uses
 * them too); the data modules' imports keep working through this module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mulberry32 } from "./rng.ts";
 * assert.equal(mulberry32(42)(), mulberry32(42)());
 * ```
 * @module
 */
export { mixSeed, mulberry32 } from "../rng.ts";
