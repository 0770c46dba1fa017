/**
 * Training runs (`@resnet-d2l/run`, lib/run/): `train` and its plan, one epoch (the CLI's and the
 * page's), the recipes and every training option, schedules, the optimizer, checkpoints, the run
 * directory and its lock, metrics and history, evaluation, predictions and time-to-accuracy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lrAt, RECIPES, resolveSettings } from "./mod.ts";
 * const s = resolveSettings({ recipe: "d2l", epochs: 10 });
 * assert.equal(s.lr, RECIPES.d2l.lr);
 * assert.equal(lrAt(s, 0), s.lr); // d2l's recipe: one rate throughout
 * ```
 * @module
 */
export { DivergedError, train } from "./train.ts";
export type { TrainData, TrainOptions, TrainResult } from "./train.ts";
export type { EpochEnd } from "./train.ts";
export { checkFits, planRun } from "./plan.ts";
export type { RunPlan, RunRequest } from "./plan.ts";
export { testEpoch, trainEpoch, warmupTraining } from "./epoch.ts";
export type { EpochOptions, EpochTrained, TestEpochOptions, Trainee } from "./epoch.ts";
export {
  checkSettings,
  D2L_DEFAULTS,
  RECIPE_NAMES,
  RECIPES,
  resolveSettings,
  RESUMABLE,
  resumeSettings,
  SETTING_CHECKS,
  SETTING_NAMES,
  SettingError,
  TRAIN_OPTIONS,
} from "./recipe.ts";
export type {
  Namer,
  OptionSpec,
  Recipe,
  RecipeName,
  ResolvedSettings,
  SettingName,
  TrainSettings,
} from "./recipe.ts";
export { lrAt, scheduleProblem, SCHEDULES, warmupOf } from "./schedule.ts";
export type { Schedule, ScheduleSettings } from "./schedule.ts";
export { makeOptimizer, momentumState } from "./optimizer.ts";
export type { OptimizerSettings } from "./optimizer.ts";
export { loadCheckpoint, pruneCheckpoints, readCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export type { Checkpoint, CheckpointPosition, OptimizerState, PartialEpoch } from "./checkpoint.ts";
export { lockRunDir } from "./lock.ts";
export type { RunLock } from "./lock.ts";
export { Accumulator, EpochAccumulator, epochStats, READ_DEFAULTS } from "./accumulator.ts";
export type { AccumulatedSums, EpochContext, ReadPolicy } from "./accumulator.ts";
export {
  backendRecord,
  formatEpoch,
  METRICS_COLUMNS,
  metricsCsv,
  readHistory,
  readRunHistory,
  writeHistory,
} from "./metrics.ts";
export type { BackendRecord, EpochRecord, History } from "./metrics.ts";
export { evaluate, formatEvaluation } from "./evaluate.ts";
export type { ClassAccuracy, EvaluateOptions, Evaluation } from "./evaluate.ts";
export { confusionCsv } from "./confusion_csv.ts";
export { elapsedSeconds, TIME_TO_COLUMNS, timeTo, timeToCsv } from "./time_to.ts";
export type { RunTimeTo, TimeToLevel } from "./time_to.ts";
export { readEpochs } from "./recorded.ts";
export {
  defaultRunDir,
  ensureNewRunDir,
  ensureWritableDir,
  readJsonFile,
  requireRunDir,
  RUN_FILES,
  RunDirError,
  runPath,
} from "./run_dir.ts";
export type { RunDirProblem } from "./run_dir.ts";
export { SILENT_PROGRESS } from "./progress.ts";
export type { PassProgress, ProgressSink, ProgressStats } from "./progress.ts";
export { argMax, findMistakes, pickImages, predict, topClasses } from "./predict.ts";
export type { ClassProbability, Mistake, PredictOptions } from "./predict.ts";
