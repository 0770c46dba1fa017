/**
 * One network trained on the page: d2l's `train_ch6` loop over the library's own pieces (the
 * {@linkcode ResNet}, `batches`, `trainStep`, the fused `SGD`, the `EpochAccumulator` that
 * `train` uses too, `evaluate`), with the position kept between calls so training stops after any step and resumes
 * there, as `train --resume` does. Metrics are read back when the accumulator says so (every few
 * steps), never per step. Weights come in and go out as d2l's `state_dict()` in safetensors, the
 * bytes `export --format safetensors` writes. No DOM here: the tests run it in Deno.
 *
 * @example
 * ```ts ignore
 * import { Session } from "./session.ts";
 * const s = new Session({ stages: [1, 1, 1, 1], width: 8 }, settings);
 * await s.train({ train, test }, { onEpoch: (r) => console.log(r.test_acc) });
 * const bytes = await s.weights(); // d2l's state_dict as safetensors
 * s.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ResNet, type ResNetOptions } from "../lib/model/resnet.ts";
import { SGD } from "../lib/model/fused.ts";
import { trainStep } from "../lib/model/step.ts";
import { type Batch, batchCount, batches } from "../lib/data/batches.ts";
import type { Split } from "../lib/data/idx_dataset.ts";
import {
  EpochAccumulator,
  epochStats,
  READ_DEFAULTS,
  type ReadPolicy,
} from "../lib/run/accumulator.ts";
import type { PartialEpoch } from "../lib/run/checkpoint.ts";
import { evaluate, type Evaluation } from "../lib/run/evaluate.ts";
import type { EpochRecord } from "../lib/run/metrics.ts";
import type { TrainSettings } from "../lib/run/recipe.ts";
import { warmup, type WarmupReport } from "../lib/backends/warmup.ts";
import type { TensorLimit } from "../lib/backends/tensor_limit.ts";
import { decodeSafetensors } from "../lib/io/safetensors_codec.ts";
import {
  architectureOf,
  assignTorchStateDict,
  encodeTorchStateDict,
  recordedSize,
} from "../lib/io/torch_state_dict.ts";

/** A read-back of the running epoch, for the curves and the speed line. */
export interface Progress {
  /** 1-based epoch. */
  epoch: number;
  /** Steps done in the epoch, and its steps in all. */
  step: number;
  steps: number;
  /** Mean training loss and accuracy of the epoch so far (d2l's running averages). */
  loss: number;
  acc: number;
  /** Training images per second over the epoch so far. */
  imagesPerSec: number;
}

/** What the session reports while it trains. */
export interface SessionEvents {
  /** After each read-back. */
  onProgress?: (p: Progress) => void;
  /** Once the WebGPU pipelines of the step are compiled, before the first step. */
  onWarmup?: (r: WarmupReport) => void;
  /** After each finished epoch (with its test accuracy). */
  onEpoch?: (r: EpochRecord, evaluation: Evaluation) => void;
}

/** A yield to the event loop without timer clamping, so clicks (Stop) are seen between steps. */
function yieldToPage(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

/** A network, its settings and where its training stands. */
export class Session {
  /** The network (owned: {@linkcode Session.dispose} frees it). */
  readonly net: ResNet;
  /** The settings; `epochs` and `lr` may change between calls of {@linkcode Session.train}. */
  settings: TrainSettings;
  /** The next step: 0-based epoch and batch within it. */
  epoch = 0;
  batch = 0;
  /** One record per finished epoch. */
  readonly history: EpochRecord[] = [];
  /**
   * The size no tensor may exceed on the page's device (`limitOf` its WebGPU limits; null: none,
   * the CPU backend). Evaluation splits its batches to fit it: tfjs' own device is not the one
   * the library's `tensorLimit()` knows in a browser, and over the limit WebGPU computes garbage.
   */
  tensorLimit: TensorLimit | null = null;
  /** The sums of the epoch's part trained so far, when training stopped part-way. */
  #partial: PartialEpoch | null = null;
  #stop = false;
  #running = false;

  /** A new network from `settings.seed` (d2l's Xavier initialisation). */
  constructor(model: Omit<ResNetOptions, "seed">, settings: TrainSettings, net?: ResNet) {
    this.net = net ?? new ResNet({ ...model, seed: settings.seed });
    this.settings = { ...settings };
  }

  /**
   * A session whose network is loaded from d2l weights (safetensors bytes); the architecture
   * and input size come from the file, else `fallback` and `settings`. Throws a one-line error naming `source` when the file
   * is malformed or does not fit.
   */
  static fromWeights(
    bytes: Uint8Array,
    source: string,
    fallback: Omit<ResNetOptions, "seed">,
    settings: TrainSettings,
  ): Session {
    const file = decodeSafetensors(bytes, source);
    const size = recordedSize(file, source); // the file's training size wins over the form's
    const net = new ResNet(architectureOf(file) ?? fallback);
    try {
      assignTorchStateDict(net, file, source);
    } catch (e) {
      net.dispose();
      throw e;
    }
    return new Session({}, size === null ? settings : { ...settings, size }, net);
  }

  /** Whether {@linkcode Session.train} is running. */
  get running(): boolean {
    return this.#running;
  }

  /** Asks a running {@linkcode Session.train} to stop after its current step. */
  stop(): void {
    this.#stop = true;
  }

  /**
   * Trains from the current position to `settings.epochs`; "stopped" when {@linkcode Session.stop}
   * was called (the position and the epoch's sums are kept, so calling again resumes). `read`:
   * how often the metrics are read back (every few steps, or sooner when steps are slow).
   */
  async train(
    data: { train: Split; test: Split },
    events: SessionEvents = {},
    read: ReadPolicy = READ_DEFAULTS,
  ): Promise<"finished" | "stopped"> {
    if (this.#running) throw new Error("the session is already training");
    this.#running = true;
    this.#stop = false;
    const optimizer = new SGD(this.settings.lr);
    try {
      const s = this.settings;
      // The step's pipelines compiled up front, so images/s measures training. No worker
      // threads: they fill a native driver's disk cache for Deno, while a browser compiles
      // in its own GPU process.
      const compiled = await warmup(this.net, {
        batch: s.batchSize,
        size: s.size,
        evalBatch: s.batchSize,
        workers: 0,
      });
      if (compiled.pipelines > 0) events.onWarmup?.(compiled);
      while (this.epoch < s.epochs) {
        if (await this.#trainEpoch(data, optimizer, events, read)) return "stopped";
        // Asked during an epoch's last step: that epoch ended; stop before the next.
        if (this.#stop && this.epoch < s.epochs) return "stopped";
      }
      return "finished";
    } finally {
      optimizer.dispose();
      this.#running = false;
    }
  }

  /** Steps through the rest of the current epoch; true when stopped part-way. */
  async #trainEpoch(
    data: { train: Split; test: Split },
    optimizer: SGD,
    events: SessionEvents,
    policy: ReadPolicy,
  ): Promise<boolean> {
    const s = this.settings, limit = s.limit ?? undefined;
    const steps = batchCount(data.train.count, { batchSize: s.batchSize, limit });
    const it = batches(data.train, {
      batchSize: s.batchSize,
      shuffle: true,
      seed: s.seed,
      epoch: this.epoch,
      size: s.size,
      limit,
      startBatch: this.batch,
    });
    // No run directory here: a diverged loss says to train a new network with a lower rate.
    const context = { epoch: this.epoch + 1, lr: s.lr };
    const sums = new EpochAccumulator(this.#partial, context, policy);
    const read = async () => {
      const p = await sums.read(this.batch); // a sync; throws DivergedError on a NaN loss
      events.onProgress?.({ epoch: this.epoch + 1, step: this.batch, steps, ...epochStats(p) });
      return p;
    };
    let next: IteratorResult<Batch> | null = null;
    try {
      next = it.next();
      while (!next.done) {
        const b = next.value;
        sums.add(trainStep(this.net, optimizer, b.x, b.y), b.n);
        tf.dispose([b.x, b.y]);
        this.batch++;
        // The next batch is gathered and queued while the device works on this step.
        next = it.next();
        if (sums.due()) await read();
        await yieldToPage();
        if (this.#stop && this.batch < steps) {
          this.#partial = await read();
          return true;
        }
      }
      await this.#endEpoch(data.test, await read(), events);
      return false;
    } finally {
      if (next && !next.done) tf.dispose([next.value.x, next.value.y]);
      it.return(undefined);
      sums.dispose();
    }
  }

  /** Test accuracy, the epoch's record, and the position moved to the next epoch. */
  async #endEpoch(test: Split, sums: PartialEpoch, events: SessionEvents): Promise<void> {
    const t0 = performance.now();
    const ev = await this.evaluate(test);
    const record: EpochRecord = {
      epoch: this.epoch + 1,
      train_loss: sums.lossSum / sums.examples,
      train_acc: sums.correct / sums.examples,
      test_acc: ev.accuracy,
      examples_per_sec: Math.round((sums.examples / sums.trainSeconds) * 100) / 100,
      epoch_seconds: Math.round((sums.wallSeconds + (performance.now() - t0) / 1000) * 1000) /
        1000,
      lr: this.settings.lr,
    };
    this.history.push(record);
    this.epoch++;
    this.batch = 0;
    this.#partial = null;
    events.onEpoch?.(record, ev);
  }

  /**
   * Accuracy on the first `testLimit` test images at `size` (the CLI's `evaluate`); the session's
   * settings unless others are given (as `eval --size --limit --batch-size` may differ from the run).
   */
  evaluate(
    test: Split,
    opts: Partial<Pick<TrainSettings, "size" | "batchSize" | "testLimit">> = {},
  ): Promise<Evaluation> {
    const s = { ...this.settings, ...opts };
    return evaluate(this.net, test, {
      size: s.size,
      batchSize: s.batchSize,
      limit: s.testLimit,
      tensorLimit: this.tensorLimit,
    });
  }

  /**
   * The predicted class of each of the first `count` test images, in batches of the training
   * batch size (whose pipelines are compiled already), read back once.
   */
  async predict(test: Split, count: number): Promise<number[]> {
    const parts: tf.Tensor[] = [];
    for (
      const b of batches(test, {
        batchSize: this.settings.batchSize,
        size: this.settings.size,
        limit: count,
      })
    ) {
      parts.push(tf.tidy(() => tf.argMax(this.net.apply(b.x, { training: false }), 1)));
      tf.dispose([b.x, b.y]);
    }
    if (parts.length === 0) return [];
    const all = parts.length === 1 ? parts[0] : tf.concat(parts);
    try {
      return Array.from(await all.data());
    } finally {
      tf.dispose(parts.length === 1 ? parts : [all, ...parts]);
    }
  }

  /** The weights as d2l's `state_dict()` in safetensors: the bytes the CLI writes. */
  weights(): Promise<Uint8Array> {
    return encodeTorchStateDict(this.net, { size: this.settings.size });
  }

  /** A file name that says what the weights are, e.g. `resnet-stages1111-w8-epoch2.safetensors`. */
  fileName(): string {
    const c = this.net.config;
    const arch = c.depth ? `resnet${c.depth}` : `resnet-stages${c.stages.join("")}`;
    return `${arch}-w${c.width}-epoch${this.epoch}.safetensors`;
  }

  /** Frees the network. */
  dispose(): void {
    this.net.dispose();
  }
}
