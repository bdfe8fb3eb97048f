// Line reading with a bounded queue: node:readline over a read stream, paused when `maxQueued`
// lines wait unconsumed and resumed once the consumer has drained half. Read-ahead is therefore
// at most maxQueued lines plus one stream chunk (readline splits a chunk it has in hand), whatever
// the file size.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Signal } from './signal.js';

/** Read-ahead counters a caller can watch (e.g. to check a source does not run ahead). */
export interface ReadStats {
  /** Lines taken from the file so far, consumed or queued. */
  linesRead: number;
  /** Bytes read from the file so far. */
  bytesRead: number;
}

export interface ReadLinesOptions {
  maxQueued?: number;
  /** Stream chunk size in bytes (default 64 KiB). */
  chunkBytes?: number;
  stats?: ReadStats;
}

export function newReadStats(): ReadStats {
  return { linesRead: 0, bytesRead: 0 };
}

/** Yields the file's lines (without terminators: \n, \r\n). Closing the generator closes the file. */
export async function* readLines(path: string, opts: ReadLinesOptions = {}): AsyncGenerator<string, void, undefined> {
  const maxQueued = Math.max(1, opts.maxQueued ?? 256);
  const stats = opts.stats;
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: opts.chunkBytes ?? 65536 });
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  const queue: string[] = [];
  let head = 0; // queue[head..] are unconsumed; compacted lazily to avoid O(n) shifts
  let ended = false;
  let failure: Error | null = null;
  let paused = false;
  const changed = new Signal();
  rl.on('line', (line: string) => {
    queue.push(line);
    if (stats) {
      stats.linesRead++;
      stats.bytesRead = stream.bytesRead;
    }
    if (!paused && queue.length - head >= maxQueued) {
      paused = true;
      rl.pause();
    }
    changed.notify();
  });
  rl.on('close', () => {
    ended = true;
    changed.notify();
  });
  const onError = (err: Error): void => {
    failure ??= err;
    changed.notify();
  };
  // readline re-emits its input's errors: both need a listener or the error is uncaught.
  stream.on('error', onError);
  rl.on('error', onError);
  try {
    for (;;) {
      if (head < queue.length) {
        const line = queue[head++];
        if (head === queue.length) {
          queue.length = 0;
          head = 0;
        }
        if (paused && queue.length - head <= maxQueued / 2) {
          paused = false;
          rl.resume();
        }
        yield line;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await changed.wait();
    }
  } finally {
    rl.close();
    stream.destroy();
  }
}
