// Special tokens written literally in text (`<|endoftext|>`, `[MASK]`) are cut out before any
// normalization or pre-tokenization, as the Hugging Face tokenizers do: leftmost, then longest match.

export interface TextPiece {
  readonly text: string;
  readonly special: boolean;
}

export type SpecialSplitter = (text: string) => TextPiece[];

export function specialSplitter(specials: readonly string[]): SpecialSplitter {
  const nonEmpty = [...new Set(specials)].filter((s) => s.length > 0);
  if (nonEmpty.length === 0) return (text) => (text.length > 0 ? [{ text, special: false }] : []);
  // Longest first, so the alternation prefers the longest special starting at a position.
  const alternatives = nonEmpty.sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(alternatives.join('|'), 'gu');
  return (text) => {
    const pieces: TextPiece[] = [];
    let last = 0;
    for (const m of text.matchAll(pattern)) {
      const at = m.index ?? 0;
      if (at > last) pieces.push({ text: text.slice(last, at), special: false });
      pieces.push({ text: m[0], special: true });
      last = at + m[0].length;
    }
    if (last < text.length) pieces.push({ text: text.slice(last), special: false });
    return pieces;
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
