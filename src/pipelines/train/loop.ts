// The training loop: pulls batches (backpressured: one step in flight), runs the compiled step,
// reads the loss back every `logEvery` steps, saves checkpoints, and reports typed events.
// NaN/Inf loss stops the run and keeps the last good checkpoint; an abort signal (SIGINT/SIGTERM
// in the CLI) saves a checkpoint and ends the run cleanly.

import { Observable } from 'rxjs';
import { hostTensor, type Feeds, type HostTensor } from '../../ops/host.js';
import { DROPOUT_SEED_INPUT, stepSeed } from '../../ops/index.js';
import { numel } from '../../graph/index.js';
import type { StepRunner } from '../../runtime/program.js';
import { optimizerFeeds, type AdamWOptions } from '../../passes/optimizer.js';
import { learningRate, type Schedule } from '../../passes/schedule.js';
import { toAsyncIterator, START_POSITION, type DataPosition } from '../data/index.js';
import { saveTrainingState, type TrainingState } from './state.js';
import { TrainingDivergedError, type TrainEvent } from './events.js';

export interface LoopOptions {
  readonly runner: StepRunner;
  /** The batches of one epoch (the source must be deterministic given the epoch). */
  readonly batches: (epoch: number) => Observable<Feeds>;
  readonly epochs: number;
  /** Stop after this many steps in total (default: when the epochs run out). */
  readonly maxSteps?: number;
  /** Total steps, for schedules and progress (an estimate is fine). */
  readonly totalSteps: number;
  readonly lr: number;
  readonly schedule: Schedule;
  readonly optimizer: AdamWOptions;
  readonly trainable: readonly string[];
  /** Parameters saved in checkpoints: trainable ones and their optimizer state. */
  readonly stateNames: readonly string[];
  readonly logEvery: number;
  readonly checkpoint?: { readonly dir: string; readonly every: number; readonly specHash: string };
  readonly resume?: TrainingState;
  readonly signal?: AbortSignal;
  readonly device: string;
  /** Device memory the compiled step holds (its memory plan's peak), reported in `start`. */
  readonly deviceBytes?: number;
  /** Run seed: step k's dropout masks come from `stepSeed(seed, k)`, so a resumed run repeats them. */
  readonly seed?: number;
}

/** The per-step dropout seed (graphs without dropout have no such input and ignore it). */
function seedFeeds(seed: number, step: number): Feeds {
  return { [DROPOUT_SEED_INPUT]: hostTensor([], 'i32', [stepSeed(seed, step)]) };
}

export function trainLoop(o: LoopOptions): Observable<TrainEvent> {
  return new Observable<TrainEvent>((sub) => {
    let stopped = false;
    run(o, (e) => { if (!stopped) sub.next(e); }, () => stopped).then(() => sub.complete(), (e: unknown) => sub.error(e));
    return () => { stopped = true; };
  });
}

async function run(o: LoopOptions, emit: (e: TrainEvent) => void, unsubscribed: () => boolean): Promise<void> {
  const t0 = performance.now();
  let step = o.resume?.step ?? 0;
  let epoch = o.resume?.epoch ?? 0;
  let position: DataPosition = o.resume?.data ?? START_POSITION;
  let lastLoss: number | null = o.resume?.lastLoss ?? null;
  let verifiedStep = step;
  if (o.resume) for (const [name, value] of o.resume.params) o.runner.writeParam(name, value);
  const params = await o.runner.readParams(o.trainable);
  const trainableCount = [...params.values()].reduce((s, p) => s + numel(p.shape), 0);
  emit({ type: 'start', totalSteps: o.totalSteps, startStep: step, trainable: o.trainable, trainableCount, device: o.device, ...(o.deviceBytes !== undefined ? { deviceBytes: o.deviceBytes } : {}) });

  // A checkpoint is captured after step k's update but written only once step k+1's loss
  // (computed from exactly those parameters) is finite: what is on disk is always good.
  let savedStep = -1;
  let pending: TrainingState | null = null;
  const capture = async (): Promise<void> => {
    if (!o.checkpoint || savedStep === step) return;
    savedStep = step;
    pending = { step, epoch, data: position, specHash: o.checkpoint.specHash, lastLoss, params: await o.runner.readParams(o.stateNames) };
  };
  const flush = async (): Promise<void> => {
    if (!o.checkpoint || !pending) return;
    const s = pending;
    pending = null;
    emit({ type: 'checkpoint', step: s.step, path: await saveTrainingState(o.checkpoint.dir, s) });
  };
  const limit = o.maxSteps ?? Infinity;
  let windowStart = performance.now(), windowTokens = 0;
  let reason: 'done' | 'interrupted' = 'done';
  outer: for (; epoch < o.epochs && step < limit; epoch++) {
    const it = toAsyncIterator(o.batches(epoch), { resumeFrom: position.delivered ? position : undefined });
    try {
      for (;;) {
        if (o.signal?.aborted || unsubscribed()) { reason = 'interrupted'; break outer; }
        if (step >= limit) break outer;
        const next = await it.next();
        if (next.done) break;
        const batch = next.value;
        step++;
        const lr = learningRate(o.lr, o.schedule, step);
        const read = step % o.logEvery === 0 || step === limit || step === o.totalSteps || o.signal?.aborted === true ||
          (o.checkpoint !== undefined && (step % o.checkpoint.every === 0 || step % o.checkpoint.every === 1));
        const out = await o.runner.run({ ...batch, ...optimizerFeeds(step, lr, o.optimizer), ...seedFeeds(o.seed ?? 0, step) }, read ? ['loss'] : []);
        windowTokens += tokensIn(batch);
        position = it.position();
        let loss: number | null = null;
        if (read) {
          loss = out.get('loss')!.data[0];
          if (!Number.isFinite(loss)) {
            throw new TrainingDivergedError(`loss became ${loss} at step ${step} (epoch ${epoch + 1}); ` +
              (o.checkpoint ? `the last good checkpoint is kept in ${o.checkpoint.dir}` : 'no checkpoint was configured') +
              '. Lower the learning rate, clip gradients (optimizer.clipNorm) or check the data.');
          }
          lastLoss = loss;
          verifiedStep = step;
          await flush();
          const now = performance.now();
          emit({ type: 'step', step, epoch, loss, lr, tokensPerSecond: windowTokens / ((now - windowStart) / 1000), elapsedMs: now - t0 });
          windowStart = now; windowTokens = 0;
          if (o.checkpoint && step % o.checkpoint.every === 0) await capture();
        }
      }
    } finally {
      await it.return();
    }
    position = START_POSITION;
  }
  // The final (or interrupted) state is saved when the losses up to it were checked (its own
  // update has no later loss to check it; a diverging last update shows on resume).
  if (verifiedStep === step && step > (o.resume?.step ?? 0)) {
    await capture();
    await flush();
  }
  emit({ type: 'end', step, reason, elapsedMs: performance.now() - t0 });
}

function tokensIn(batch: Feeds): number {
  const mask: HostTensor | undefined = batch.attention_mask;
  if (!mask) return 0;
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i];
  return n;
}
