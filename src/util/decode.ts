// Decoding untrusted JSON with io-ts, with errors that name the JSON path, the value found and
// the form expected. Every boundary (graph files, specs, checkpoints, configs) goes through here.

import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';

export class DecodeError extends Error {
  override name = 'DecodeError';
}

export function decodeOrThrow<A, O>(codec: t.Type<A, O, unknown>, value: unknown, what: string): A {
  const result = codec.decode(value);
  if (isLeft(result)) throw new DecodeError(`${what}: ${describeErrors(result.left)}`);
  return result.right;
}

/** One line per distinct problem, the most specific first: `at $.nodes[3].op: expected string, got 7`. */
export function describeErrors(errors: t.Errors): string {
  const lines = new Set<string>();
  for (const e of errors) {
    const ctx = e.context;
    let path = '$';
    for (let i = 1; i < ctx.length; i++) {
      const key = ctx[i].key;
      const parentType = ctx[i - 1].type;
      // Union members are keyed by index too: skip them so the path names JSON, not codec structure.
      if (parentType instanceof t.UnionType || parentType instanceof t.IntersectionType) continue;
      path += /^\d+$/.test(key) && (parentType instanceof t.ArrayType || parentType instanceof t.TupleType || parentType instanceof t.ReadonlyArrayType) ? `[${key}]` : `.${key}`;
    }
    const expected = e.message ?? ctx[ctx.length - 1]?.type.name ?? 'unknown';
    lines.add(`at ${path}: expected ${expected}, got ${preview(e.value)}`);
  }
  const all = [...lines];
  return all.slice(0, 5).join('; ') + (all.length > 5 ? `; and ${all.length - 5} more` : '');
}

function preview(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}
