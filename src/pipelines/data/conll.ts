// fromConll: CoNLL-2003 style files — one `token ... tag` per line (token first, tag last, columns
// split on whitespace), blank lines between sentences, -DOCSTART- lines skipped. Tags must be BIO
// (IOB2): an I-X must continue a B-X or I-X. IOB1 files (I-X may open an entity) are rejected
// rather than guessed at: convert them first. The error names file:line of the first bad tag.

import type { Observable } from 'rxjs';
import { readLines, type ReadStats } from './lines.js';
import { pullable } from './pullable.js';

export interface ConllSentence {
  readonly tokens: string[];
  readonly tags: string[];
}

export interface ConllOptions {
  stats?: ReadStats;
  maxQueuedLines?: number;
}

export function fromConll(path: string, opts: ConllOptions = {}): Observable<ConllSentence> {
  return pullable(() => conllSentences(path, opts));
}

/** Why `tag` may not follow `prev` (null at a sentence start) in BIO, or null if it may. */
export function bioViolation(prev: string | null, tag: string): string | null {
  if (tag === 'O') return null;
  const m = /^([BI])-(\S+)$/.exec(tag);
  if (!m) return `${JSON.stringify(tag)} is not a BIO tag (O, B-TYPE or I-TYPE)`;
  if (m[1] === 'B') return null;
  if (prev === null) return `${tag} starts a sentence (BIO needs B-${m[2]} first; IOB1 files must be converted)`;
  if (prev === `B-${m[2]}` || prev === tag) return null;
  return `${tag} follows ${prev} (BIO needs B-${m[2]} to open an entity; IOB1 files must be converted)`;
}

async function* conllSentences(path: string, opts: ConllOptions): AsyncGenerator<ConllSentence, void, undefined> {
  let tokens: string[] = [];
  let tags: string[] = [];
  let lineNo = 0;
  for await (const raw of readLines(path, { maxQueued: opts.maxQueuedLines, stats: opts.stats })) {
    lineNo++;
    const line = raw.trim();
    if (line === '' || line.startsWith('-DOCSTART-')) {
      if (tokens.length > 0) yield { tokens, tags };
      tokens = [];
      tags = [];
      continue;
    }
    const cols = line.split(/\s+/);
    if (cols.length < 2) throw new Error(`${path}:${lineNo}: expected "token ... tag", got ${JSON.stringify(raw)}`);
    const tag = cols[cols.length - 1];
    const bad = bioViolation(tags.length > 0 ? tags[tags.length - 1] : null, tag);
    if (bad) throw new Error(`${path}:${lineNo}: ${bad}`);
    tokens.push(cols[0]);
    tags.push(tag);
  }
  if (tokens.length > 0) yield { tokens, tags };
}
