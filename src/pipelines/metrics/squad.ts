// SQuAD exact match and token F1, with the official script's answer normalization (lowercase,
// drop ASCII punctuation, drop the articles a/an/the, collapse whitespace) and its v2 rule that an
// empty answer matches only an empty answer. Each prediction scores its best gold answer.
// Results are fractions in [0, 1] (the official script prints them x100).

const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
// Python's \b is Unicode-aware; JS's is ASCII-only, so the word boundary is spelled out.
const ARTICLES = /(?<![\p{L}\p{N}_])(a|an|the)(?![\p{L}\p{N}_])/gu;

export function normalizeAnswer(s: string): string {
  let out = '';
  for (const ch of s.toLowerCase()) if (!PUNCTUATION.has(ch)) out += ch;
  return out.replace(ARTICLES, ' ').split(/\s+/).filter((w) => w !== '').join(' ');
}

function tokens(s: string): string[] {
  const n = normalizeAnswer(s);
  return n === '' ? [] : n.split(' ');
}

export function exactMatch(prediction: string, golds: readonly string[]): number {
  const p = normalizeAnswer(prediction);
  return golds.some((g) => normalizeAnswer(g) === p) ? 1 : 0;
}

export function tokenF1(prediction: string, golds: readonly string[]): number {
  const pred = tokens(prediction);
  let best = 0;
  for (const g of golds) best = Math.max(best, f1Tokens(pred, tokens(g)));
  return best;
}

function f1Tokens(pred: readonly string[], gold: readonly string[]): number {
  if (pred.length === 0 || gold.length === 0) return pred.length === gold.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of gold) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of pred) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      same++;
      counts.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / pred.length, recall = same / gold.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Mean EM and F1 over examples: golds[i] are the accepted answers for predictions[i]. */
export function squadScores(predictions: readonly string[], golds: readonly (readonly string[])[]): { exactMatch: number; f1: number } {
  if (predictions.length !== golds.length) throw new Error(`squadScores: ${predictions.length} predictions for ${golds.length} gold answer lists`);
  if (predictions.length === 0) return { exactMatch: 0, f1: 0 };
  let em = 0, f1 = 0;
  predictions.forEach((p, i) => {
    em += exactMatch(p, golds[i]);
    f1 += tokenF1(p, golds[i]);
  });
  return { exactMatch: em / predictions.length, f1: f1 / predictions.length };
}
