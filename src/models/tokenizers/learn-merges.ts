// The merge loop shared by the BPE trainer and the WordPiece vocabulary builder: merge the most
// frequent adjacent pair everywhere, again and again. Pair counts are updated only in the words
// that hold the merged pair, so a step costs what those words cost, plus one scan of the counts.

export interface WordCount {
  symbols: string[];
  readonly count: number;
}

export interface LearnedMerges {
  readonly merges: [string, string][];
  /** Tokens the merges made that were not known before, in order. */
  readonly added: string[];
}

// Symbols never hold NUL (the byte alphabet maps byte 0 elsewhere; BERT's cleaning drops it), and
// NUL sorts first, so comparing keys compares (left, right) pairs lexicographically.
const SEP = '\u0000';

/**
 * Learns merges until `maxNew` new tokens exist or no pair is left. Ties go to the
 * lexicographically smallest (left, right), so the result depends on the counts only.
 * `words` is rewritten in place. `known` gains the new tokens.
 */
export function learnMerges(words: WordCount[], maxNew: number, join: (a: string, b: string) => string, known: Set<string>): LearnedMerges {
  const counts = new Map<string, number>();
  const where = new Map<string, Set<number>>();
  const tally = (w: number, sign: 1 | -1): void => {
    const { symbols, count } = words[w];
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i] + SEP + symbols[i + 1];
      const c = (counts.get(key) ?? 0) + sign * count;
      if (c > 0) counts.set(key, c); else counts.delete(key);
      if (sign > 0) {
        let set = where.get(key);
        if (!set) where.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  words.forEach((_, w) => tally(w, 1));

  const merges: [string, string][] = [];
  const added: string[] = [];
  while (added.length < maxNew) {
    let bestKey: string | undefined;
    let bestCount = 0;
    for (const [key, c] of counts) {
      if (c > bestCount || (c === bestCount && bestKey !== undefined && key < bestKey)) { bestKey = key; bestCount = c; }
    }
    if (bestKey === undefined) break;
    const [a, b] = bestKey.split(SEP) as [string, string];
    const merged = join(a, b);
    merges.push([a, b]);
    if (!known.has(merged)) { known.add(merged); added.push(merged); }
    for (const w of where.get(bestKey) ?? []) {
      const old = words[w].symbols;
      const next: string[] = [];
      for (let i = 0; i < old.length; i++) {
        if (i + 1 < old.length && old[i] === a && old[i + 1] === b) { next.push(merged); i++; } else next.push(old[i]);
      }
      if (next.length === old.length) continue; // stale index entry: the pair left this word earlier
      tally(w, -1);
      words[w].symbols = next;
      tally(w, 1);
    }
    where.delete(bestKey);
  }
  return { merges, added };
}
