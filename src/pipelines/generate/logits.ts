// Host-side arithmetic on one row of logits: log-softmax, argmax, and the sampling filters
// (temperature, top-k, top-p) in Hugging Face's order.

export function logSoftmax(x: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of x) if (v > max) max = v;
  let sum = 0;
  for (const v of x) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return x.map((v) => v - lse);
}

/** Index of the largest value; the lowest index wins ties (so top-k 1 sampling agrees). */
export function argmax(x: Float64Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

export interface SamplingFilter {
  /** Logits are divided by it (> 0; default 1). */
  readonly temperature?: number;
  /** Keep the k most likely tokens (default: all). */
  readonly topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (default 1). */
  readonly topP?: number;
}

/** The tokens a filtered distribution keeps, most likely first, with renormalized probabilities. */
export function filteredDistribution(logits: Float64Array, f: SamplingFilter): { tokens: number[]; probs: number[] } {
  const temperature = f.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature} (use greedy for argmax decoding)`);
  // Stable sort: equal logits keep index order, as argmax does.
  let tokens = [...logits.keys()].sort((a, b) => logits[b] - logits[a] || a - b);
  if (f.topK !== undefined) {
    if (!Number.isInteger(f.topK) || f.topK < 1) throw new RangeError(`topK must be a positive integer, got ${f.topK}`);
    tokens = tokens.slice(0, f.topK);
  }
  const max = logits[tokens[0]] / temperature;
  let probs = tokens.map((t) => Math.exp(logits[t] / temperature - max));
  let total = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / total);
  const topP = f.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
  if (topP < 1) {
    let keep = 0, cum = 0;
    while (keep < probs.length && cum < topP) cum += probs[keep++];
    tokens = tokens.slice(0, keep);
    total = cum;
    probs = probs.slice(0, keep).map((p) => p / total);
  }
  return { tokens, probs };
}

/** The token at uniform draw `u` in [0, 1) from a filtered distribution. */
export function drawToken(d: { tokens: readonly number[]; probs: readonly number[] }, u: number): number {
  let cum = 0;
  for (let i = 0; i < d.tokens.length; i++) {
    cum += d.probs[i];
    if (u < cum) return d.tokens[i];
  }
  return d.tokens[d.tokens.length - 1]; // rounding left cum just under 1
}
