// bucketByLength: batches of similar length, so padding wastes less. An item of length L goes to
// bucket i = the number of boundaries <= L (boundaries ascending: [16, 32] gives L<16, 16<=L<32,
// L>=32). A bucket is emitted when it holds its batch size; at the end the partial buckets are
// flushed in bucket order. Memory: at most sum(batch sizes) items.

import { Observable, type OperatorFunction } from 'rxjs';

export function bucketByLength<T>(boundaries: readonly number[], batchSize: number | readonly number[], lengthOf: (item: T) => number): OperatorFunction<T, T[]> {
  for (let i = 1; i < boundaries.length; i++) {
    if (!(boundaries[i] > boundaries[i - 1])) throw new Error(`bucketByLength: boundaries must be strictly ascending, got [${boundaries.join(', ')}]`);
  }
  const nBuckets = boundaries.length + 1;
  const sizes = typeof batchSize === 'number' ? new Array<number>(nBuckets).fill(batchSize) : [...batchSize];
  if (sizes.length !== nBuckets) throw new Error(`bucketByLength: ${sizes.length} batch sizes for ${nBuckets} buckets (boundaries + 1)`);
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`bucketByLength: batch sizes must be positive integers, got [${sizes.join(', ')}]`);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      const buckets: T[][] = Array.from({ length: nBuckets }, () => []);
      return source.subscribe({
        next: (item) => {
          const b = bucketOf(boundaries, lengthOf(item));
          buckets[b].push(item);
          if (buckets[b].length === sizes[b]) {
            const out = buckets[b];
            buckets[b] = [];
            subscriber.next(out);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          for (const b of buckets) if (b.length > 0) subscriber.next(b);
          subscriber.complete();
        },
      });
    });
}

export function bucketOf(boundaries: readonly number[], length: number): number {
  let i = 0;
  while (i < boundaries.length && length >= boundaries[i]) i++;
  return i;
}
