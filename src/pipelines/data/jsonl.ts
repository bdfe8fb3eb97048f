// fromJsonl: one io-ts-decoded record per line, streamed (never the whole file in memory).
// Blank lines are ignored. A line that is not JSON or fails the codec is an error naming
// file:line and the JSON path, or with onInvalid: 'skip' is dropped and counted in `stats`.

import type * as t from 'io-ts';
import type { Observable } from 'rxjs';
import { DecodeError, decodeOrThrow } from '../../util/decode.js';
import { readLines, type ReadStats } from './lines.js';
import { pullable } from './pullable.js';

export interface JsonlStats extends ReadStats {
  /** Records decoded and emitted. */
  decoded: number;
  /** Invalid lines dropped (onInvalid: 'skip'). */
  skipped: number;
  /** The first dropped line's error, to show the user what was wrong. */
  firstSkipped: string | null;
}

export function newJsonlStats(): JsonlStats {
  return { linesRead: 0, bytesRead: 0, decoded: 0, skipped: 0, firstSkipped: null };
}

export interface JsonlOptions {
  onInvalid?: 'error' | 'skip';
  /** Filled in as the file is read; pass newJsonlStats() and read it whenever you like. */
  stats?: JsonlStats;
  /** Lines read ahead at most before the file stream is paused (default 256). */
  maxQueuedLines?: number;
}

export function fromJsonl<A, O>(path: string, codec: t.Type<A, O, unknown>, opts: JsonlOptions = {}): Observable<A> {
  return pullable(() => jsonlRecords(path, codec, opts));
}

async function* jsonlRecords<A, O>(path: string, codec: t.Type<A, O, unknown>, opts: JsonlOptions): AsyncGenerator<A, void, undefined> {
  const stats = opts.stats;
  let lineNo = 0;
  for await (const line of readLines(path, { maxQueued: opts.maxQueuedLines, stats })) {
    lineNo++;
    if (line.trim() === '') continue;
    let record: A;
    try {
      record = decodeOrThrow(codec, parseJson(line), `${path}:${lineNo}`);
    } catch (err) {
      if (opts.onInvalid !== 'skip' || !(err instanceof DecodeError)) throw err;
      if (stats) {
        stats.skipped++;
        stats.firstSkipped ??= err.message;
      }
      continue;
    }
    if (stats) stats.decoded++;
    yield record;
  }

  function parseJson(line: string): unknown {
    try {
      return JSON.parse(line) as unknown;
    } catch (err) {
      throw new DecodeError(`${path}:${lineNo}: not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
  }
}
