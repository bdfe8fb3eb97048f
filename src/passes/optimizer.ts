// optimizer: appends the parameter update to the graph, so one compiled step runs forward,
// backward and update on the device. AdamW with bias correction and decoupled weight decay,
// optional clipping by global gradient norm. The learning rate and the bias-correction terms
// are inputs fed each step (the schedule lives on the host; nothing else crosses per step).

import { GraphBuilder, hostScalar, type HostTensor, type Ref, refOf } from '../ops/index.js';
import type { Graph } from '../graph/index.js';
import { gradOutput } from './autodiff.js';
import type { Pass } from './pass.js';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip gradients to this global L2 norm (off when absent). */
  clipNorm?: number;
}

export const OPTIM_SCOPE = 'optim';
export const LR_INPUT = 'optim.lr';
/** 1 - beta1^t and 1 - beta2^t for step t (1-based), fed by the host. */
export const BC1_INPUT = 'optim.bc1';
export const BC2_INPUT = 'optim.bc2';
export const nextOutput = (param: string): string => `next:${param}`;
export const adamState = (param: string, which: 'm' | 'v'): string => `optim.${which}.${param}`;

export function adamwPass(opts: AdamWOptions = {}): Pass {
  const beta1 = opts.beta1 ?? 0.9, beta2 = opts.beta2 ?? 0.999, eps = opts.eps ?? 1e-8, wd = opts.weightDecay ?? 0;
  return {
    name: 'adamw',
    description: 'append AdamW updates (and gradient clipping) for every trainable parameter',
    requires: ['gradients'],
    ensures: ['optimizer'],
    run(graph: Graph) {
      const g = graph.clone();
      const b = new GraphBuilder(g);
      const trainable = g.params().filter((p) => p.attrs.trainable === true);
      b.inScope(OPTIM_SCOPE, () => {
        const lr = b.input(LR_INPUT, []);
        const bc1 = b.input(BC1_INPUT, []);
        const bc2 = b.input(BC2_INPUT, []);
        let grads = trainable.map((p) => b.ref(g.outputs.get(gradOutput(String(p.attrs.name)))!));
        if (opts.clipNorm !== undefined) {
          const { clipped, norm } = clipByGlobalNorm(b, grads, opts.clipNorm);
          grads = clipped;
          b.output('grad_norm', norm);
        }
        trainable.forEach((p, k) => {
          const name = String(p.attrs.name);
          const param = refOf(p);
          const grad = grads[k];
          const m = b.param(adamState(name, 'm'), p.type.shape, { init: 'zeros' });
          const v = b.param(adamState(name, 'v'), p.type.shape, { init: 'zeros' });
          const m2 = b.add(b.scale(m, beta1), b.scale(grad, 1 - beta1));
          const v2 = b.add(b.scale(v, beta2), b.scale(b.mul(grad, grad), 1 - beta2));
          const mhat = b.div(m2, bc1);
          const vhat = b.div(v2, bc2);
          let step = b.div(mhat, b.add(b.sqrt(vhat), b.constant(eps)));
          if (wd !== 0) step = b.add(step, b.scale(param, wd));
          const next = b.sub(param, b.mul(lr, step));
          b.output(nextOutput(name), next);
          b.output(nextOutput(adamState(name, 'm')), m2);
          b.output(nextOutput(adamState(name, 'v')), v2);
        });
      });
      return { graph: g, changed: true };
    },
  };
}

/** Scales all gradients by min(1, maxNorm / ||g||) where ||g|| is the norm of all of them together. */
export function clipByGlobalNorm(b: GraphBuilder, grads: readonly Ref[], maxNorm: number): { clipped: Ref[]; norm: Ref } {
  let total: Ref | null = null;
  for (const gr of grads) {
    const sq = b.sum(b.mul(gr, gr), [...gr.type.shape.keys()]);
    total = total ? b.add(total, sq) : sq;
  }
  const norm = b.sqrt(total!);
  const limit = b.constant(maxNorm);
  const factor = b.where(b.greater(norm, limit), b.div(limit, b.add(norm, b.constant(1e-6))), b.constant(1));
  return { clipped: grads.map((gr) => b.mul(gr, factor)), norm };
}

/** The optimizer's per-step inputs for 1-based step t at learning rate lr. */
export function optimizerFeeds(t: number, lr: number, opts: AdamWOptions = {}): Record<string, HostTensor> {
  return {
    [LR_INPUT]: hostScalar(lr),
    [BC1_INPUT]: hostScalar(1 - Math.pow(opts.beta1 ?? 0.9, t)),
    [BC2_INPUT]: hostScalar(1 - Math.pow(opts.beta2 ?? 0.999, t)),
  };
}
