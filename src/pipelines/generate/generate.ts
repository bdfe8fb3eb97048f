// The convenient entry point: a Generator holds a model's compiled decode programs on one
// device ('webgpu' or 'cpu'), so repeated generations reuse them; `generate` is the one-shot form.

import { GpuContext } from '../../runtime/gpu.js';
import { beamSearch, type BeamOptions } from './beam.js';
import { CachedStepModel } from './cached-model.js';
import { FullStepModel } from './full-model.js';
import { gpt2Config, type LanguageModel } from './graphs.js';
import { greedy } from './greedy.js';
import { Programs, type Device, type ProgramStats } from './programs.js';
import { sample, type SampleOptions } from './sample.js';
import type { Generation, SearchOptions, StepModel } from './step-model.js';

export type Strategy =
  | { readonly strategy: 'greedy' }
  | ({ readonly strategy: 'beam' } & Omit<BeamOptions, keyof SearchOptions>)
  | ({ readonly strategy: 'sample' } & Omit<SampleOptions, keyof SearchOptions>);

export type GenerateOptions = Strategy & Omit<SearchOptions, 'eos'> & {
  /** End-of-sequence token; default the config's eosTokenId; null: none. */
  readonly eos?: number | null;
};

export interface GenerateResult {
  /** Per prompt, the generated tokens (the best beam for beam search). */
  readonly tokens: number[][];
  /** Per prompt, its score (sum of log-probs; beam search: length-penalized). */
  readonly scores: number[];
  /** Beam search: per prompt, every kept hypothesis, best first. */
  readonly beams?: Generation[][];
}

export interface GeneratorOptions {
  readonly device?: Device;
  /** A device to share (tests, several models); otherwise one is acquired and released. */
  readonly ctx?: GpuContext;
  /** Decode with the key/value cache (default) or re-run the whole sequence each step (at the capacity's length). */
  readonly cache?: boolean;
  /** Cache slots; default: longest prompt + maxNewTokens, rounded up to 16 (fewer distinct programs). */
  readonly capacity?: number;
  readonly prefill?: 'prompt' | 'tokens';
}

export class Generator {
  private constructor(readonly model: LanguageModel, private readonly programs: Programs, private readonly opts: GeneratorOptions, private readonly ownCtx?: GpuContext) {}

  static async create(model: LanguageModel, opts: GeneratorOptions = {}): Promise<Generator> {
    gpt2Config(model);
    const device = opts.device ?? 'webgpu';
    const ownCtx = device === 'webgpu' && !opts.ctx ? await GpuContext.acquire() : undefined;
    return new Generator(model, new Programs(device, model, opts.ctx ?? ownCtx), opts, ownCtx);
  }

  /** Compilations so far and their cost. */
  get stats(): Readonly<ProgramStats> {
    return this.programs.stats;
  }

  async generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateResult> {
    const { eos: given, ...rest } = opts;
    const eos = given === null ? undefined : given ?? gpt2Config(this.model).eosTokenId;
    const search: SearchOptions = { maxNewTokens: opts.maxNewTokens, ...(eos !== undefined ? { eos } : {}), ...(opts.pad !== undefined ? { pad: opts.pad } : {}) };
    const longest = Math.max(...prompts.map((p) => p.length));
    const capacity = this.opts.capacity ?? Math.ceil((longest + opts.maxNewTokens) / 16) * 16;
    return this.opts.cache === false
      ? run(new FullStepModel(this.programs, { length: capacity }), prompts, rest, search)
      : run(new CachedStepModel(this.programs, { capacity, ...(this.opts.prefill ? { prefill: this.opts.prefill } : {}) }), prompts, rest, search);
  }

  release(): void {
    this.programs.release();
    this.ownCtx?.release();
  }
}

/** One-shot generation: compiles, generates, releases. */
export async function generate(model: LanguageModel, prompts: readonly (readonly number[])[], opts: GenerateOptions & GeneratorOptions): Promise<GenerateResult> {
  const g = await Generator.create(model, opts);
  try {
    return await g.generate(prompts, opts);
  } finally {
    g.release();
  }
}

async function run<C>(model: StepModel<C>, prompts: readonly (readonly number[])[], opts: Strategy, search: SearchOptions): Promise<GenerateResult> {
  switch (opts.strategy) {
    case 'greedy': return single(await greedy(model, prompts, search));
    case 'sample': return single(await sample(model, prompts, { ...opts, ...search }));
    case 'beam': {
      const beams = await beamSearch(model, prompts, { ...opts, ...search });
      return { tokens: beams.map((b) => b[0].tokens), scores: beams.map((b) => b[0].score), beams };
    }
  }
}

function single(gens: readonly Generation[]): GenerateResult {
  return { tokens: gens.map((g) => g.tokens), scores: gens.map((g) => g.score) };
}
