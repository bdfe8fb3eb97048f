// ROUGE-L: F-measure (beta = 1) from the longest common subsequence of tokens, per sentence, then
// averaged — as Google's rouge_score computes it without stemming: lowercase, non-alphanumerics
// become spaces, split on whitespace. With several references a prediction takes its best one.
// Written here for the same reason as BLEU (see bleu.ts). Results are fractions in [0, 1].

export interface RougeLScore {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

export function tokenizeRouge(text: string): string[] {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, ' ').split(' ').filter((w) => w !== '');
}

export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Int32Array(b.length + 1);
  let cur = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

export function rougeLSentence(prediction: string, reference: string): RougeLScore {
  const p = tokenizeRouge(prediction), r = tokenizeRouge(reference);
  if (p.length === 0 || r.length === 0) return { precision: 0, recall: 0, f1: 0 };
  const lcs = lcsLength(p, r);
  const precision = lcs / p.length, recall = lcs / r.length;
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}

/** Mean per-sentence ROUGE-L; references[i] is one reference or several. */
export function rougeL(predictions: readonly string[], references: readonly (string | readonly string[])[]): RougeLScore {
  if (predictions.length !== references.length) throw new Error(`rougeL: ${predictions.length} predictions for ${references.length} references`);
  if (predictions.length === 0) return { precision: 0, recall: 0, f1: 0 };
  let precision = 0, recall = 0, f1 = 0;
  predictions.forEach((pred, i) => {
    const refs = typeof references[i] === 'string' ? [references[i] as string] : (references[i] as readonly string[]);
    let best: RougeLScore = { precision: 0, recall: 0, f1: 0 };
    for (const r of refs) {
      const s = rougeLSentence(pred, r);
      if (s.f1 > best.f1) best = s;
    }
    precision += best.precision;
    recall += best.recall;
    f1 += best.f1;
  });
  const n = predictions.length;
  return { precision: precision / n, recall: recall / n, f1: f1 / n };
}
