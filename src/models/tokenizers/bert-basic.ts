// BERT's BasicTokenizer (google-research/bert tokenization.py): clean text, space out CJK
// ideographs, split on whitespace, lower-case and strip accents, split off punctuation.

export interface BasicTokenizerOptions {
  readonly lowerCase: boolean;
  /** Default: the same as lowerCase (BERT's strip_accents=None). */
  readonly stripAccents?: boolean;
  readonly tokenizeChineseChars?: boolean;
}

// BERT counts all of ASCII's non-alphanumeric printables as punctuation, though some are Unicode S*.
const PUNCTUATION = /[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]/u;
const CONTROL = /\p{C}/u;
const SPACE_SEPARATOR = /\p{Zs}/u;
const COMBINING_MARKS = /\p{Mn}/gu;

export function basicTokenize(text: string, options: BasicTokenizerOptions): string[] {
  const stripAccents = options.stripAccents ?? options.lowerCase;
  let cleaned = cleanText(text);
  if (options.tokenizeChineseChars ?? true) cleaned = spaceOutCjk(cleaned);
  const out: string[] = [];
  for (let word of cleaned.split(/\s+/u)) {
    if (options.lowerCase) word = word.toLowerCase();
    if (stripAccents) word = word.normalize('NFD').replace(COMBINING_MARKS, '');
    for (const piece of splitPunctuation(word)) if (piece.length > 0) out.push(piece);
  }
  return out;
}

export function isPunctuation(ch: string): boolean {
  return PUNCTUATION.test(ch);
}

/** BERT's _is_chinese_char: the CJK Unified Ideographs blocks (not kana, not Hangul). */
export function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df)
    || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf)
    || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** Drops NUL, U+FFFD and control/format characters; every whitespace character becomes a space. */
function cleanText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const isSpace = ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch);
    if (isSpace) { out += ' '; continue; }
    if (cp === 0 || cp === 0xfffd || CONTROL.test(ch)) continue;
    out += ch;
  }
  return out;
}

function spaceOutCjk(text: string): string {
  let out = '';
  for (const ch of text) out += isCjk(ch.codePointAt(0)!) ? ` ${ch} ` : ch;
  return out;
}

function splitPunctuation(word: string): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const ch of word) {
    if (isPunctuation(ch)) {
      if (current) pieces.push(current);
      pieces.push(ch);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current) pieces.push(current);
  return pieces;
}
