// Data pipelines: RxJS sources and operators that feed training and evaluation.
//
// Backpressure design: pull through a context.
//   Sources are AsyncIterables (file readers pause their stream when their small queue is full)
//   exposed as Observables by pullable(), which takes one item at a time from its iterator and,
//   before each pull, awaits room from the pull context it was subscribed under. The pulling end
//   (toAsyncIterator, or prefetch(n) mid-pipeline) subscribes upstream inside a context
//   (AsyncLocalStorage) whose room is its buffer space: toAsyncIterator's is `highWaterMark` plus
//   the consumer's pending next() calls (default 0: pull only while the consumer waits); prefetch's
//   is n. Operators in between are ordinary synchronous RxJS operators, so every item a source
//   emits reaches the pulling end (or an operator's own bounded buffer) before the next pull:
//   memory is bounded by the buffers named (shuffle bufferSize, bucket sizes, n, highWaterMark,
//   a file reader's queue and one stream chunk), never by the data size.
//   A plain subscribe() has no context: sources then push as fast as they can read, which is fine
//   for synchronous consumers (toArray, metrics) but is not backpressured. Asynchronous operators
//   that buffer without bound (mergeMap with slow inner work, delay) defeat the bound: use prefetch.
//
// Resume: toAsyncIterator(...).position() gives a JSON DataPosition (items delivered, source
// pulls and shuffle RNG states when the last one was made); toAsyncIterator(rebuilt, {resumeFrom})
// replays the pipeline from the start and drops that many items (cost: re-reading and
// re-processing them on the host), checking the replay reaches the same source count and RNG.

export { detached, type PullContext } from './context.js';
export { pullable, fromArray, fromGenerator, type PullSource } from './pullable.js';
export { readLines, newReadStats, type ReadStats, type ReadLinesOptions } from './lines.js';
export { fromJsonl, newJsonlStats, type JsonlOptions, type JsonlStats } from './jsonl.js';
export { fromCsv, type CsvOptions, type CsvRecord } from './csv.js';
export { CsvParser, type CsvRow } from './csv-parser.js';
export { fromConll, bioViolation, type ConllSentence, type ConllOptions } from './conll.js';
export { tokenize, type TextEncoderLike, type Tokenized } from './tokenize.js';
export { seededShuffle } from './shuffle.js';
export { SeededRng } from './rng.js';
export { bucketByLength, bucketOf } from './bucket.js';
export { batch, type BatchOptions } from './batch.js';
export { padBatch, padExamples, type PadOptions, type PadInput, type PaddedBatch } from './pad.js';
export { prefetch } from './prefetch.js';
export { toAsyncIterator, type PullIterator, type PullOptions } from './sink.js';
export { DataPositionCodec, decodePosition, START_POSITION, type DataPosition, type Snapshot } from './position.js';
/** Plain RxJS filter: synchronous, so it keeps the pull bound. */
export { filter } from 'rxjs';
