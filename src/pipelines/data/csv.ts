// fromCsv: RFC-4180 CSV (or TSV with delimiter '\t') streamed into records keyed by the header row.
// Reading is pulled chunk by chunk from the file stream's async iterator, so the file is read only
// as fast as records are taken. With `codec`, each record is decoded with io-ts (errors name file:line).

import { createReadStream } from 'node:fs';
import type * as t from 'io-ts';
import type { Observable } from 'rxjs';
import { decodeOrThrow } from '../../util/decode.js';
import { CsvParser, type CsvRow } from './csv-parser.js';
import { pullable } from './pullable.js';

export type CsvRecord = Record<string, string>;

export interface CsvOptions {
  /** Field delimiter, one character (default ','). */
  delimiter?: string;
  /** Column names for a file without a header row; by default the first row is the header. */
  columns?: readonly string[];
  /** Stream chunk size in bytes (default 64 KiB); bounds the read-ahead. */
  chunkBytes?: number;
}

export function fromCsv(path: string, opts?: CsvOptions): Observable<CsvRecord>;
export function fromCsv<A, O>(path: string, opts: CsvOptions & { codec: t.Type<A, O, unknown> }): Observable<A>;
export function fromCsv<A, O>(path: string, opts: CsvOptions & { codec?: t.Type<A, O, unknown> } = {}): Observable<A | CsvRecord> {
  return pullable(() => csvRecords(path, opts));
}

async function* csvRecords<A, O>(path: string, opts: CsvOptions & { codec?: t.Type<A, O, unknown> }): AsyncGenerator<A | CsvRecord, void, undefined> {
  const parser = new CsvParser(opts.delimiter ?? ',', path);
  let columns: readonly string[] | null = opts.columns ?? null;
  if (columns) checkColumns(columns, path, 1);
  const rows: CsvRow[] = [];
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: opts.chunkBytes ?? 65536 });
  try {
    let done = false;
    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<string>;
    while (!done) {
      const next = await chunks.next();
      if (next.done) {
        parser.finish(rows);
        done = true;
      } else parser.push(next.value, rows);
      // rows holds at most one chunk's worth; hand them out before reading on.
      for (const row of rows.splice(0)) {
        if (!columns) {
          columns = row.fields;
          checkColumns(columns, path, row.line);
          continue;
        }
        if (row.fields.length !== columns.length) throw new Error(`${path}:${row.line}: ${row.fields.length} fields, the header has ${columns.length}`);
        // fromEntries defines own properties, so a column named __proto__ is just a column.
        const record: CsvRecord = Object.fromEntries(columns.map((name, i) => [name, row.fields[i]]));
        yield opts.codec ? decodeOrThrow(opts.codec, record, `${path}:${row.line}`) : record;
      }
    }
  } finally {
    stream.destroy();
  }
}

function checkColumns(columns: readonly string[], path: string, line: number): void {
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw new Error(`${path}:${line}: column ${JSON.stringify(c)} appears twice in the header`);
    seen.add(c);
  }
}
