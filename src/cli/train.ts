// `promptgraph train SPEC.json`: runs a declarative spec. Progress on stderr, one JSON line per
// event in RUN/metrics.jsonl, the loss curve in RUN/loss.svg, the trained parameters in
// RUN/trained.safetensors. SIGINT/SIGTERM save a checkpoint and stop; --resume continues.

import type * as t from 'io-ts';
import { writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSpecFile } from '../pipelines/spec.js';
import { saveTrained, startTraining } from '../pipelines/run.js';
import { evaluationEvents } from '../pipelines/evaluate.js';
import { lastValueFrom } from 'rxjs';
import { releaseSharedGpu } from '../pipelines/runner.js';
import { lineChartSvg } from '../pipelines/report/svg.js';
import type { TrainEvent } from '../pipelines/train/events.js';
import { EXIT, UsageError, type Command, type Io } from './command.js';
import { progress } from './progress.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a prompt (or any method) from a declarative spec',
  help: `Usage: promptgraph train SPEC.json [--resume] [--cpu] [--max-steps N]

Runs the spec (see docs/pipelines.md and examples/): loads the model, applies the methods,
streams the task's data through the compiled training step on the WebGPU adapter, and writes
into the spec's output dir (default runs/NAME):
  metrics.jsonl          one JSON event per line (step, loss, lr, tokens/s, checkpoints)
  loss.svg               the loss curve
  checkpoint/            the latest training state (atomic; kill -9 loses only later steps)
  trained.safetensors    the trained parameters
SIGINT/SIGTERM save a checkpoint and stop; run again with --resume to continue. A NaN or
infinite loss stops the run and keeps the last good checkpoint.

Options:
  --resume        continue from RUN/checkpoint (refused if the spec changed)
  --cpu           run on the CPU reference executor
  --max-steps N   stop after N steps (overrides the spec)
  --no-eval       skip the evaluation that follows a completed run of a task with an eval split
  -h, --help      show this help

Exit status: 0 done, 1 failure (bad spec, diverged loss...), 2 no WebGPU adapter, 64 usage error.`,
  options: { resume: { type: 'boolean' }, cpu: { type: 'boolean' }, 'max-steps': { type: 'string' }, 'no-eval': { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io: Io) {
    const file = args.positionals[0];
    let spec = await readSpecFile(file);
    if (args.values.cpu) spec = { ...spec, executor: 'cpu' };
    const maxSteps = args.values['max-steps'];
    if (typeof maxSteps === 'string') {
      const n = Number(maxSteps);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`train: --max-steps must be a positive integer, got ${maxSteps}`);
      spec = { ...spec, training: { ...spec.training, maxSteps: n as t.Int } };
    }
    const abort = new AbortController();
    const stop = (): void => { io.err('train: stopping after this step (saving a checkpoint)...'); abort.abort(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const run = await startTraining(spec, { resume: args.values.resume === true, signal: abort.signal });
      await writeFile(join(run.outDir, 'spec.json'), `${JSON.stringify(spec, null, 2)}\n`);
      const log = join(run.outDir, 'metrics.jsonl');
      if (!args.values.resume) await writeFile(log, '');
      const losses: [number, number][] = [];
      let last: TrainEvent | undefined;
      let total = spec.training.maxSteps ?? 0;
      const bar = progress(`train ${spec.name}`, (l) => io.err(l));
      await new Promise<void>((resolve, reject) => {
        let chain = Promise.resolve();
        run.events.subscribe({
          next: (e) => {
            last = e;
            chain = chain.then(() => appendFile(log, `${JSON.stringify(e)}\n`));
            if (e.type === 'start') {
              total = e.totalSteps;
              const mem = e.deviceBytes !== undefined ? `, ${(e.deviceBytes / 2 ** 20).toFixed(1)} MiB of device memory planned` : '';
              io.err(`train ${spec.name}: ${e.trainableCount} trainable parameters (${e.trainable.length} tensors) on ${e.device}${mem}${e.startStep ? `, resuming at step ${e.startStep}` : ''}`);
            }
            if (e.type === 'step' && e.loss !== null) {
              losses.push([e.step, e.loss]);
              bar.update(e.step, total, `epoch ${e.epoch + 1}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.tokensPerSecond.toFixed(0)} tok/s`);
            }
            if (e.type === 'checkpoint' && !process.stderr.isTTY) io.err(`  checkpoint at step ${e.step}: ${e.path}`);
            if (e.type === 'end') bar.done();
          },
          error: (e: unknown) => { chain.then(() => reject(e), () => reject(e)); },
          complete: () => { chain.then(resolve, reject); },
        });
      });
      await writeFile(join(run.outDir, 'loss.svg'), lineChartSvg(`${spec.name}: training loss`, [{ name: 'loss', points: losses }]));
      const params = await run.runner.runner.readParams(run.prepared.method.trainable);
      const trained = await saveTrained(run, params);
      run.runner.release();
      const end = last?.type === 'end' ? last : undefined;
      // Tasks with an eval split are evaluated after a completed run; the event joins the log.
      if ('eval' in spec.task && end?.reason === 'done' && !args.values['no-eval']) {
        const ev = await lastValueFrom(evaluationEvents(spec, params, end.step));
        await appendFile(log, `${JSON.stringify(ev)}\n`);
        if (ev.type === 'eval') io.out(`eval ${spec.name}: ${Object.entries(ev.metrics).map(([k, v]) => `${k} ${(100 * v).toFixed(1)}`).join('  ')}`);
      }
      io.out(`${end?.reason === 'interrupted' ? 'stopped' : 'trained'} ${spec.name}: ${end?.step ?? 0} steps in ${((end?.elapsedMs ?? 0) / 1000).toFixed(1)} s; ` +
        `final loss ${losses.length ? losses[losses.length - 1][1].toFixed(4) : 'n/a'}\n  ${trained}\n  ${join(run.outDir, 'loss.svg')}\n  ${log}`);
      return EXIT.ok;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await releaseSharedGpu();
    }
  },
};

