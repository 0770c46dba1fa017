/**
 * One network trained on the page by the library's own epoch (lib/run/epoch.ts: the code the
 * CLI's `train` runs, so every recipe and option the CLI has: momentum, weight decay, schedule,
 * label smoothing, augmentation), with the position, the epoch's sums and the optimizer's
 * momentum kept between calls, so training stops after any step and resumes there, as
 * `train --resume` does. Metrics are read back when the accumulator says so (every few steps),
 * never per step. Weights come in and go out as d2l's `state_dict()` in safetensors, the bytes
 * `export --format safetensors` writes. No DOM here: the tests run it in Deno.
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
import type { SGD } from "../lib/model/fused.ts";
import { batches } from "../lib/data/batches.ts";
import type { Split } from "../lib/data/idx_dataset.ts";
import { READ_DEFAULTS, type ReadPolicy } from "../lib/run/accumulator.ts";
import type { PartialEpoch } from "../lib/run/checkpoint.ts";
import { evaluate, type Evaluation } from "../lib/run/evaluate.ts";
import type { EpochRecord } from "../lib/run/metrics.ts";
import {
  checkSettings,
  type ResolvedSettings,
  resolveSettings,
  type TrainSettings,
} from "../lib/run/recipe.ts";
import { makeOptimizer } from "../lib/run/optimizer.ts";
import { testEpoch, trainEpoch, warmupTraining } from "../lib/run/epoch.ts";
import type { ProgressSink } from "../lib/run/progress.ts";
import type { WarmupReport } from "../lib/backends/warmup.ts";
import { evalBatchThatFits, type TensorLimit } from "../lib/backends/tensor_limit.ts";
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
  /** Training examples of the epoch done. */
  examples: number;
  /** Mean training loss and accuracy of the epoch so far (d2l's running averages). */
  loss: number;
  acc: number;
  /** Training examples per second over the epoch so far (d2l's `examples/sec`). */
  examplesPerSec: number;
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

/** The page's {@linkcode Progress} events as the library's progress display of an epoch. */
function progressOf(events: SessionEvents, s: ResolvedSettings): ProgressSink {
  let epoch = 0, steps = 0;
  return {
    start(e, _epochs, total) {
      epoch = e;
      steps = Math.ceil(total / s.batchSize);
    },
    // Every step but an epoch's last is a full batch: the images done say the steps done.
    update(done, stats) {
      const step = Math.ceil(done / s.batchSize);
      events.onProgress?.({
        epoch,
        step,
        steps,
        examples: done,
        loss: stats.loss,
        acc: stats.acc,
        examplesPerSec: stats.examplesPerSec,
      });
    },
    stop() {},
  };
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
  #optimizer: SGD | null = null;

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
    try {
      const s = resolveSettings(this.settings);
      checkSettings(s);
      const t = { net: this.net, optimizer: this.#optimizerFor(s), settings: s, data };
      // The step's pipelines compiled up front, so images/s measures training. No worker
      // threads: they fill a native driver's disk cache for Deno, while a browser compiles
      // in its own GPU process.
      const compiled = await warmupTraining(this.net, s, { workers: 0 });
      if (compiled.pipelines > 0) events.onWarmup?.(compiled);
      while (this.epoch < s.epochs) {
        const trained = await trainEpoch(t, {
          epoch: this.epoch,
          startBatch: this.batch,
          prior: this.#partial,
          read,
          progress: progressOf(events, s),
          stop: () => this.#stop,
          pause: yieldToPage,
        });
        if (trained.stopped) {
          this.batch = trained.step;
          this.#partial = trained.sums;
          return "stopped";
        }
        const opts = { tensorLimit: this.tensorLimit };
        const { record, evaluation } = await testEpoch(t, this.epoch, trained, opts);
        this.history.push(record);
        this.epoch++;
        this.batch = 0;
        this.#partial = null;
        events.onEpoch?.(record, evaluation);
        // Asked during an epoch's last step: that epoch ended; stop before the next.
        if (this.#stop && this.epoch < s.epochs) return "stopped";
      }
      return "finished";
    } finally {
      this.#running = false;
    }
  }

  /**
   * The session's optimizer, made at its first training: its momentum buffers carry over a stop
   * as a checkpoint's do (the options it is made from stay those of the first training).
   */
  #optimizerFor(s: ResolvedSettings): SGD {
    this.#optimizer ??= makeOptimizer(this.net, s, null);
    return this.#optimizer;
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
   * batch size (whose pipelines are compiled already) or smaller ones within the device's limit
   * (as evaluation's), read back once.
   */
  async predict(test: Split, count: number): Promise<number[]> {
    const parts: tf.Tensor[] = [];
    const { batchSize, size } = this.settings;
    for (
      const b of batches(test, {
        batchSize: evalBatchThatFits(this.net.config, size, batchSize, this.tensorLimit),
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

  /** Frees the network and the optimizer's state. */
  dispose(): void {
    this.#optimizer?.dispose();
    this.net.dispose();
  }
}
