// GPT-2's byte-level alphabet: every byte maps to one printable character, so BPE can work on
// strings while covering any input (no unknown token ever). Table and regex as in OpenAI's encoder.py.

/** GPT-2's pre-tokenization: contractions, letter runs, digit runs, other runs, whitespace. */
const PRE_TOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** bytes_to_unicode(): printable Latin-1 bytes map to themselves, the rest to 256, 257, ... in byte order. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const keep = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(keep(b) ? b : next++));
  return table;
})();

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const utf8 = new TextEncoder();
// fatal: false replaces invalid sequences by U+FFFD (maximal subparts, as Python's errors='replace');
// ignoreBOM keeps a leading U+FEFF, which Python's 'utf-8' codec keeps too.
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function isByteLevelString(s: string): boolean {
  for (const c of s) if (!CHAR_TO_BYTE.has(c)) return false;
  return true;
}

/** The UTF-8 bytes of `text`, each written as its byte-level character. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/** Inverse of toByteLevel; invalid UTF-8 (a token sequence cut inside a character) gives U+FFFD. */
export function fromByteLevel(symbols: string): string {
  const bytes = new Uint8Array(symbols.length);
  for (let i = 0; i < symbols.length; i++) {
    const b = CHAR_TO_BYTE.get(symbols[i]);
    if (b === undefined) throw new RangeError(`character ${JSON.stringify(symbols[i])} is not in the byte-level alphabet`);
    bytes[i] = b;
  }
  return utf8Decoder.decode(bytes);
}

/** Splits text (holding no special token) into GPT-2 pre-tokens, each as a byte-level string. */
export function preTokenizeByteLevel(text: string): string[] {
  return (text.match(PRE_TOKENIZE) ?? []).map(toByteLevel);
}
