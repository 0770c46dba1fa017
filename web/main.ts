/// <reference lib="dom" />
/**
 * The page (web/index.html): starts the backend, gets the data, and wires the form and buttons to
 * a {@linkcode Session}. Everything it computes with is the library; this module only shows it.
 * State for people and tests: `body[data-state]` is "loading", "ready" (no network yet), "idle"
 * (a network, not busy), "training", "evaluating" or "error".
 * @module
 */
import { type ResNetConfig, resolveConfig } from "../lib/model/resnet.ts";
import { chunkPlan, largestTensor, limitOf } from "../lib/backends/tensor_limit.ts";
import { CLASS_NAMES, type Split } from "../lib/data/idx_dataset.ts";
import { errorText, InputError } from "../lib/errors.ts";
import type { EpochRecord } from "../lib/run/metrics.ts";
import type { Evaluation } from "../lib/run/evaluate.ts";
import type { WarmupReport } from "../lib/backends/warmup.ts";
import { type DeviceInfo, formatBytes, limitProblem, startBackend } from "./device.ts";
import { type StepWork, StepWorkMeter } from "./gpu_work.ts";
import type { GpuCounts } from "../lib/backends/webgpu_counts.ts";
import { DatasetFiles, fetchServedFiles, identifyFile } from "./dataset.ts";
import { type FormValues, type PageSettings, parseSettings, recipeFields } from "./form.ts";
import type { RecipeName } from "../lib/run/recipe.ts";
import { PageCurves } from "./chart.ts";
import { type Progress, Session } from "./session.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Test images shown in the predictions grid. */
const GRID_IMAGES = 32;

const page = {
  device: null as DeviceInfo | null,
  data: new DatasetFiles(),
  splits: null as { train: Split; test: Split } | null,
  session: null as Session | null,
  curves: new PageCurves(),
  /** The GPU work per step (null on the CPU backend). */
  meter: null as StepWorkMeter | null,
};

type State = "loading" | "ready" | "idle" | "training" | "evaluating" | "error";

/** Sets the page state and which buttons work in it. */
function setState(state: State): void {
  document.body.dataset.state = state;
  const has = page.session !== null, data = page.splits !== null;
  const busy = state === "training" || state === "evaluating";
  const canResume = has && !busy && page.session!.epoch < formEpochs();
  $<HTMLButtonElement>("train").disabled = busy || !data;
  $<HTMLButtonElement>("stop").disabled = state !== "training";
  $<HTMLButtonElement>("resume").disabled = !canResume || !data;
  $<HTMLButtonElement>("evaluate").disabled = busy || !has || !data;
  $<HTMLButtonElement>("download").disabled = busy || !has;
  $<HTMLInputElement>("load").disabled = busy;
}

/** Shows a one-line message; errors in red. */
function say(text: string, error = false): void {
  const m = $("message");
  m.textContent = text;
  m.className = error ? "error" : "";
}

/** Runs a button's action; any error becomes the page's one-line message. */
function action(fn: () => Promise<void>): () => void {
  return () => {
    fn().catch((e) => {
      say(errorText(e), true);
      console.error(e);
      setState(page.session ? "idle" : page.splits ? "ready" : "error");
    });
  };
}

function formValues(): FormValues {
  const ids = [
    "depth",
    "stages",
    "width",
    "size",
    "batch",
    "lr",
    "epochs",
    "limit",
    "test-limit",
    "seed",
    "recipe",
    "read-every",
    "read-after",
    "block",
    "arch",
    "stem",
    "groups",
    "width-per-group",
  ] as const;
  return Object.fromEntries(ids.map((id) => [id, $<HTMLInputElement>(id).value])) as FormValues;
}

function readForm(): PageSettings {
  return parseSettings(formValues());
}

/** The form's epochs, or 0 while the form does not parse (Continue then waits for a fix). */
function formEpochs(): number {
  try {
    return readForm().settings.epochs;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Device and data

function showDevice(d: DeviceInfo): void {
  const a = d.adapter;
  $("device").textContent = d.backend === "webgpu"
    ? `WebGPU on ${a!.description || a!.architecture || "an unnamed adapter"} ` +
      `(vendor ${a!.vendor || "?"}${a!.architecture ? `, ${a!.architecture}` : ""})` +
      (a!.software ? ": a software adapter, the CPU emulating a GPU (slow)" : "")
    : `tfjs CPU backend (the fallback, slow): ${d.reason}`;
  const rows = Object.entries(d.limits ?? {}).map(([k, v]) =>
    `<tr><td>${k}</td><td>${/Size$/.test(k) ? formatBytes(v) : v}</td></tr>`
  );
  $("limits").innerHTML = rows.join("");
  $("gpu-warmup").textContent = d.counter
    ? "counted at the read-backs of a training's metrics: the first ones are its warm-up"
    : "none: the CPU backend";
  const other = d.backend === "webgpu" ? "cpu" : "webgpu";
  const link = $<HTMLAnchorElement>("switch-backend");
  link.href = `?backend=${other}`;
  link.textContent = other === "cpu" ? "Run on the CPU instead" : "Try WebGPU again";
}

function showFiles(problems: string[] = []): void {
  const items = page.data.status().map(({ spec, file }) =>
    file
      ? `<li class="ok">✓ ${spec.name} <span class="hint">sha256 ${spec.sha256.slice(0, 12)}… ` +
        `from ${escapeHtml(file.source)}</span></li>`
      : `<li class="missing">✗ ${spec.name}: missing</li>`
  );
  items.push(...problems.map((p) => `<li class="error">${escapeHtml(p)}</li>`));
  $("files").innerHTML = items.join("");
  $("drop").hidden = page.data.complete();
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Verifies files the user gave (drop or picker) and adds the ones that are in the table. */
async function addFiles(list: FileList | File[]): Promise<void> {
  const problems: string[] = [];
  for (const f of Array.from(list)) {
    try {
      page.data.add(await identifyFile(new Uint8Array(await f.arrayBuffer()), f.name));
    } catch (e) {
      problems.push(errorText(e));
    }
  }
  dataChanged(problems);
}

function dataChanged(problems: string[] = []): void {
  showFiles(problems);
  if (page.data.complete() && !page.splits) {
    page.splits = page.data.splits();
    say(
      `Fashion-MNIST ready: ${page.splits.train.count} training and ` +
        `${page.splits.test.count} test images`,
    );
  }
  setState(page.session ? "idle" : page.splits ? "ready" : "loading");
}

function wireDrop(): void {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer?.files) action(() => addFiles(e.dataTransfer!.files))();
  });
  const pick = $<HTMLInputElement>("pick-data");
  pick.addEventListener("change", action(() => addFiles(pick.files ?? [])));
}

// ---------------------------------------------------------------------------------------------
// Network summary and the device-limit check

/** The architecture in a few words: `ResNet-50 (bottleneck, torchvision), width 64`. */
function archName(c: ResNetConfig): string {
  const name = c.depth ? `ResNet-${c.depth}` : `stages ${c.stages.join(",")}`;
  const groups = c.groups === 1 && c.widthPerGroup === 64
    ? ""
    : `, ${c.groups}x${c.widthPerGroup} groups`;
  return `${name} (${c.block}, ${c.arch}${c.stem === "d2l" ? "" : ", cifar stem"}${groups}), ` +
    `width ${c.width}`;
}

/**
 * Says how large the step's largest tensor is, and in how many parts of the batch the step runs
 * on this device (the library's plan, lib/backends/tensor_limit.ts); returns why it cannot run
 * here even in parts, or null.
 */
function checkFits(s: PageSettings): string | null {
  const config = resolveConfig(s.model), { batchSize, size } = s.settings;
  const largest = largestTensor(config, size, batchSize);
  const limits = page.device?.limits ?? null;
  const problem = limitProblem(config, size, batchSize, limits);
  const plan = limits && !problem ? chunkPlan(config, size, batchSize, limitOf(limits)) : null;
  const summary = $("net-summary");
  summary.dataset.chunks = String(plan?.chunks ?? 1);
  summary.textContent = `${archName(config)}: largest tensor of a step ` +
    `${largest.name} [${largest.shape.join(", ")}], ${formatBytes(largest.bytes)}` +
    (!limits
      ? " (no device limits on the CPU backend)"
      : plan
      ? `, over this device's ${formatBytes(limitOf(limits).bytes)}: the step runs b1` +
        (plan.blocks ? ` and the first ${plan.blocks} residual blocks` : "") +
        ` in ${plan.chunks} parts of the batch (the same result)`
      : "");
  return problem;
}

/** A recipe chosen in the form fills in its own epochs, batch, lr, size and network. */
function recipeChosen(): void {
  const fields = recipeFields($<HTMLSelectElement>("recipe").value as RecipeName);
  for (const [id, value] of Object.entries(fields)) $<HTMLInputElement>(id).value = value!;
  settingsChanged();
}

function settingsChanged(): void {
  try {
    const problem = checkFits(readForm());
    if (problem) say(`refused: ${problem}`, true);
    else if ($("message").className === "error") say("");
  } catch (e) {
    say(errorText(e), true);
  }
  if (!["training", "evaluating", "loading"].includes(document.body.dataset.state!)) {
    setState(page.session ? "idle" : "ready");
  }
}

// ---------------------------------------------------------------------------------------------
// Training and its display

function resetCurves(): void {
  page.curves = new PageCurves();
  $("curves").innerHTML = page.curves.svg(readForm().settings.epochs);
  $("epoch-table").querySelector("tbody")!.innerHTML = "";
  $("eval-result").textContent = "";
}

function onProgress(p: Progress): void {
  page.curves.progress(p);
  $("curves").innerHTML = page.curves.svg(page.session!.settings.epochs);
  $("progress").textContent = `epoch ${p.epoch}, step ${p.step}/${p.steps}: loss ` +
    `${p.loss.toFixed(4)}, train acc ${p.acc.toFixed(3)}, ${p.examplesPerSec.toFixed(1)} ` +
    "examples/sec";
  const work = page.meter?.mark(p.epoch, p.step, p.examples, page.session!.settings.batchSize);
  if (work) showWork(work);
}

/** The counts of {@linkcode GpuCounts}, as the diagnostics table names them. */
const WORK_ROWS: [keyof GpuCounts, string][] = [
  ["dispatches", "compute dispatches"],
  ["submits", "command buffers submitted"],
  ["buffersCreated", "buffers created"],
  ["bytesCreated", "bytes of buffers created"],
  ["uploads", "uploads (writeBuffer, mapped buffers)"],
  ["bytesUploaded", "bytes uploaded"],
  ["readbacks", "read-backs (mapAsync)"],
  ["pipelines", "pipelines compiled"],
];

/** Shows the GPU work of the steps since the last read-back: the warm-up, or per step after it. */
function showWork(w: StepWork): void {
  const steps = `epoch ${w.epoch}, step${w.first === w.last ? "" : "s"} ${w.first}` +
    (w.first === w.last ? "" : `-${w.last}`);
  const fmt = (k: keyof GpuCounts, v: number) =>
    /^bytes/.test(k) ? formatBytes(v) : Number.isInteger(v) ? String(v) : v.toFixed(2);
  if (w.warmup) {
    const t = w.total;
    $("gpu-warmup").textContent = `warm-up (${steps}, in all): ${t.pipelines} pipelines ` +
      `compiled, ${t.buffersCreated} buffers created (${formatBytes(t.bytesCreated)}), ` +
      `${t.readbacks} read-backs`;
    return;
  }
  const table = $("gpu-work");
  Object.assign(table.dataset, {
    epoch: String(w.epoch),
    first: String(w.first),
    last: String(w.last),
    examplesPerSec: String(w.examplesPerSec),
  });
  table.innerHTML = `<caption>per training step after warm-up (${steps}, ` +
    `${w.examplesPerSec.toFixed(1)} examples/sec)</caption>` +
    WORK_ROWS.map(([k, label]) =>
      `<tr data-key="${k}" data-value="${w.perStep[k]}"><td>${label}</td>` +
      `<td>${fmt(k, w.perStep[k])}</td></tr>`
    ).join("");
}

function onEpoch(r: EpochRecord, ev: Evaluation): void {
  page.curves.epoch(r);
  $("curves").innerHTML = page.curves.svg(page.session!.settings.epochs);
  const row = document.createElement("tr");
  Object.assign(row.dataset, {
    epoch: String(r.epoch),
    trainLoss: String(r.train_loss),
    correct: String(ev.correct),
    n: String(ev.n),
  });
  row.innerHTML = [
    r.epoch,
    r.train_loss.toFixed(4),
    r.train_acc.toFixed(4),
    `${r.test_acc.toFixed(4)} (${ev.correct}/${ev.n})`,
    r.examples_per_sec.toFixed(1),
    r.epoch_seconds.toFixed(1),
  ].map((v) => `<td>${v}</td>`).join("");
  $("epoch-table").querySelector("tbody")!.append(row);
  showPredictions().catch((e) => say(`predictions: ${errorText(e)}`, true));
}

async function run(): Promise<void> {
  const s = page.session!, { readEvery, readAfterMs } = readForm();
  setState("training");
  say(`training on ${page.device?.backend}…`);
  const onWarmup = (r: WarmupReport) =>
    say(`compiled ${r.pipelines} WebGPU pipelines in ${(r.ms / 1000).toFixed(1)} s; training…`);
  page.meter?.restart(s.epoch + 1, s.batch);
  const read = { readEvery, readAfterMs };
  const status = await s.train(page.splits!, { onProgress, onEpoch, onWarmup }, read);
  say(
    status === "finished"
      ? `finished ${s.epoch} epoch${s.epoch === 1 ? "" : "s"}`
      : `stopped in epoch ${s.epoch + 1} after step ${s.batch}: Continue goes on from there`,
  );
  setState("idle");
}

/** The form's settings when the device can run them; else throws the refusal. */
function runnableSettings(): PageSettings {
  const s = readForm();
  const problem = checkFits(s);
  if (problem) throw new InputError(`refused: ${problem}`);
  if (!page.splits) throw new InputError("the data is not here yet: give the four .gz files");
  return s;
}

/** Makes `session` the page's, evaluating within the device's limits. */
function adopt(session: Session): void {
  page.session?.dispose();
  const limits = page.device?.limits;
  session.tensorLimit = limits ? limitOf(limits) : null;
  page.session = session;
}

async function trainNew(): Promise<void> {
  const s = runnableSettings();
  page.session?.dispose();
  page.session = null;
  adopt(new Session(s.model, s.settings));
  resetCurves();
  await run();
}

async function resume(): Promise<void> {
  const s = runnableSettings(), session = page.session!;
  // As `train --resume`: only the epochs and the learning rate may change.
  session.settings = { ...session.settings, epochs: s.settings.epochs, lr: s.settings.lr };
  await run();
}

async function evaluateNow(): Promise<void> {
  const s = page.session!, { size, batchSize, testLimit } = readForm().settings;
  setState("evaluating");
  const ev = await s.evaluate(page.splits!.test, { size, batchSize, testLimit });
  const out = $("eval-result");
  Object.assign(out.dataset, { correct: String(ev.correct), n: String(ev.n) });
  out.textContent = `test acc ${ev.accuracy.toFixed(4)} (${ev.correct}/${ev.n})`;
  await showPredictions();
  setState("idle");
}

async function download(): Promise<void> {
  const s = page.session!;
  const bytes = await s.weights();
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  const a = document.createElement("a");
  a.href = url;
  a.download = s.fileName();
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  say(`saved ${a.download} (${formatBytes(bytes.length)}): d2l's state_dict, as the CLI writes it`);
}

async function load(): Promise<void> {
  const input = $<HTMLInputElement>("load");
  const file = input.files?.[0];
  input.value = "";
  if (!file) return;
  const s = readForm();
  const bytes = new Uint8Array(await file.arrayBuffer());
  const session = Session.fromWeights(bytes, file.name, s.model, s.settings);
  adopt(session);
  const c = session.net.config;
  $<HTMLSelectElement>("depth").value = c.depth ? String(c.depth) : "stages";
  $<HTMLInputElement>("stages").value = c.stages.join(",");
  $<HTMLInputElement>("width").value = String(c.width);
  $<HTMLSelectElement>("block").value = c.block;
  $<HTMLSelectElement>("arch").value = c.arch;
  $<HTMLSelectElement>("stem").value = c.stem;
  $<HTMLInputElement>("groups").value = String(c.groups);
  $<HTMLInputElement>("width-per-group").value = String(c.widthPerGroup);
  const size = session.settings.size; // the file's, when it records one
  $<HTMLInputElement>("size").value = String(size);
  resetCurves();
  settingsChanged();
  say(
    `loaded ${file.name} (${archName(c)}, input ` +
      `${size}x${size}): Evaluate it, or Continue training from it`,
  );
  setState("idle");
}

/** Draws the first test images with the predicted class (and the true one when wrong). */
async function showPredictions(): Promise<void> {
  const test = page.splits!.test;
  const predicted = await page.session!.predict(test, GRID_IMAGES);
  const grid = $("grid");
  grid.innerHTML = "";
  predicted.forEach((p, i) => {
    const truth = test.labels[i];
    const fig = document.createElement("figure");
    fig.className = p === truth ? "right" : "wrong";
    const canvas = document.createElement("canvas");
    canvas.width = test.width;
    canvas.height = test.height;
    const img = canvas.getContext("2d")!.createImageData(test.width, test.height);
    const px = test.images.subarray(i * test.width * test.height);
    for (let k = 0; k < test.width * test.height; k++) {
      img.data.set([255 - px[k], 255 - px[k], 255 - px[k], 255], 4 * k);
    }
    canvas.getContext("2d")!.putImageData(img, 0, 0);
    const cap = document.createElement("figcaption");
    cap.innerHTML = p === truth
      ? CLASS_NAMES[p]
      : `<b>${CLASS_NAMES[p]}</b><br>(${CLASS_NAMES[truth]})`;
    fig.append(canvas, cap);
    grid.append(fig);
  });
}

// ---------------------------------------------------------------------------------------------
// Start

async function start(): Promise<void> {
  const prefer = new URLSearchParams(location.search).get("backend") === "cpu" ? "cpu" : "webgpu";
  page.device = await startBackend(prefer);
  page.meter = page.device.counter && new StepWorkMeter(page.device.counter);
  showDevice(page.device);
  wireDrop();
  $("settings").addEventListener("input", settingsChanged);
  $("recipe").addEventListener("change", recipeChosen);
  $("train").addEventListener("click", action(trainNew));
  $("stop").addEventListener("click", () => page.session?.stop());
  $("resume").addEventListener("click", action(resume));
  $("evaluate").addEventListener("click", action(evaluateNow));
  $("download").addEventListener("click", action(download));
  $("load").addEventListener("change", action(load));
  settingsChanged();
  showFiles();
  const served = await fetchServedFiles(new URL("data/", location.href));
  for (const f of served.files) page.data.add(f);
  // Files that are simply not served (a static copy of the page) are not errors: ask for them.
  dataChanged(served.problems);
  if (!page.splits) say("give the four Fashion-MNIST .gz files (drop them above)");
}

action(start)();
