// Corpus BLEU-4 (Papineni et al.) computed as sacrebleu does: clipped n-gram counts summed over the
// corpus, closest reference length per sentence (ties to the shorter), brevity penalty, geometric
// mean of the four precisions. Tokenization follows sacrebleu's '13a' rules (case kept).
// Smoothing: 'none' (default here; any order with no match gives 0) or 'exp' (sacrebleu's default:
// the k-th order with no match counts 1/2^k of a match). Scores are fractions in [0, 1]
// (sacrebleu prints x100).
//
// Written here rather than taken from npm: `bleu-score` and `rouge` exist but state neither their
// tokenization nor their smoothing and are barely maintained; these are a few exact formulas.

export type BleuSmoothing = 'none' | 'exp';

export interface BleuResult {
  readonly score: number;
  /** Modified n-gram precisions, orders 1..4 (after smoothing). */
  readonly precisions: readonly number[];
  readonly brevityPenalty: number;
  readonly sysLength: number;
  readonly refLength: number;
}

const MAX_ORDER = 4;

/** sacrebleu's 13a tokenizer: punctuation split off except apostrophes, and '.'/',' kept inside
 *  numbers, '-' split only after a digit. */
export function tokenize13a(line: string): string[] {
  let s = line.replace(/<skipped>/g, '').replace(/-\n/g, '').replace(/\n/g, ' ');
  if (s.includes('&')) s = s.replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  s = ` ${s} `
    .replace(/([{-~[-` -&(-+:-@/])/g, ' $1 ')
    .replace(/([^0-9])([.,])/g, '$1 $2 ')
    .replace(/([.,])([^0-9])/g, ' $1 $2')
    .replace(/([0-9])(-)/g, '$1 $2 ');
  return s.split(/\s+/).filter((w) => w !== '');
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** references[i] holds the reference translations of hypotheses[i] (one or more). */
export function corpusBleu(hypotheses: readonly string[], references: readonly (readonly string[])[], opts: { smoothing?: BleuSmoothing } = {}): BleuResult {
  if (hypotheses.length !== references.length) throw new Error(`corpusBleu: ${hypotheses.length} hypotheses for ${references.length} reference lists`);
  const correct = new Array<number>(MAX_ORDER).fill(0);
  const total = new Array<number>(MAX_ORDER).fill(0);
  let sysLength = 0, refLength = 0;
  hypotheses.forEach((hyp, i) => {
    const refs = references[i].map(tokenize13a);
    if (refs.length === 0) throw new Error(`corpusBleu: hypothesis ${i} has no reference`);
    const h = tokenize13a(hyp);
    sysLength += h.length;
    let closest = refs[0].length;
    for (const r of refs) {
      const d = Math.abs(r.length - h.length), best = Math.abs(closest - h.length);
      if (d < best || (d === best && r.length < closest)) closest = r.length;
    }
    refLength += closest;
    for (let n = 1; n <= MAX_ORDER; n++) {
      const maxRef = new Map<string, number>();
      for (const r of refs) for (const [g, c] of ngramCounts(r, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
      for (const [g, c] of ngramCounts(h, n)) correct[n - 1] += Math.min(c, maxRef.get(g) ?? 0);
      total[n - 1] += Math.max(h.length - n + 1, 0);
    }
  });
  const precisions = new Array<number>(MAX_ORDER).fill(0);
  let smooth = 1;
  for (let n = 0; n < MAX_ORDER; n++) {
    if (total[n] === 0) break; // hypotheses too short for this order: its precision stays 0
    if (correct[n] > 0) precisions[n] = correct[n] / total[n];
    else if (opts.smoothing === 'exp') {
      smooth *= 2;
      precisions[n] = 1 / (smooth * total[n]);
    }
  }
  const brevityPenalty = sysLength >= refLength ? 1 : sysLength > 0 ? Math.exp(1 - refLength / sysLength) : 0;
  const score = sysLength === 0 || precisions.some((p) => p === 0) ? 0 : brevityPenalty * Math.exp(precisions.reduce((a, p) => a + Math.log(p), 0) / MAX_ORDER);
  return { score, precisions, brevityPenalty, sysLength, refLength };
}
