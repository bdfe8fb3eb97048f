// Queries and edits that transforms use to find and rewrite parts of a graph.

import type { Graph, Node } from './graph.js';
import { scopeMatches, type ScopePattern } from './scope.js';
import { GraphError } from './errors.js';

export interface NodeQuery {
  /** An op name or several. */
  op?: string | readonly string[];
  /** Scope pattern (see scope.ts); matches nodes inside the named module. */
  scope?: ScopePattern;
  /** Require the scope to match exactly rather than as a module prefix. */
  exact?: boolean;
  /** Attribute equality constraints, e.g. `{ name: 'wte.weight' }`. */
  attrs?: Record<string, unknown>;
  where?: (n: Node) => boolean;
}

export function findAll(graph: Graph, q: NodeQuery): Node[] {
  const ops = q.op === undefined ? undefined : typeof q.op === 'string' ? [q.op] : q.op;
  return graph.nodes.filter(
    (n) =>
      (!ops || ops.includes(n.op)) &&
      (q.scope === undefined || scopeMatches(n.scope, q.scope, q.exact ?? false)) &&
      (!q.attrs || Object.entries(q.attrs).every(([k, v]) => n.attrs[k] === v)) &&
      (!q.where || q.where(n)),
  );
}

/** Exactly one node matching the query, or an error that says what was looked for. */
export function findOne(graph: Graph, q: NodeQuery): Node {
  const found = findAll(graph, q);
  if (found.length !== 1) {
    throw new GraphError(`expected exactly one node matching ${describeQuery(q)}, found ${found.length}` +
      (found.length ? `: ${found.slice(0, 5).map((n) => `%${n.id} ${n.op}@${n.scope}`).join(', ')}` : ''));
  }
  return found[0];
}

/** The parameter with this name. */
export function findParam(graph: Graph, name: string): Node {
  return findOne(graph, { op: 'param', attrs: { name } });
}

/** The input with this name. */
export function findInput(graph: Graph, name: string): Node {
  return findOne(graph, { op: 'input', attrs: { name } });
}

/**
 * Replaces node `oldId` by `newId` everywhere, then removes `oldId` and whatever only it used.
 * `newId` may itself read `oldId` (e.g. a rewrite that wraps a value): those uses are kept.
 */
export function replaceNode(graph: Graph, oldId: number, newId: number): void {
  const keep = new Set(collectUpstream(graph, newId));
  graph.replaceAllUses(oldId, newId, keep);
  if (!keep.has(oldId) && graph.users(oldId).length === 0) graph.remove(oldId);
}

/** Ids of `id` and every node it depends on. */
export function collectUpstream(graph: Graph, id: number): number[] {
  const seen = new Set<number>();
  const stack = [id];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    stack.push(...graph.node(x).inputs);
  }
  return [...seen];
}

function describeQuery(q: NodeQuery): string {
  const parts: string[] = [];
  if (q.op) parts.push(`op=${Array.isArray(q.op) ? q.op.join('|') : q.op}`);
  if (q.scope !== undefined) parts.push(`scope=${String(q.scope)}`);
  if (q.attrs) parts.push(`attrs=${JSON.stringify(q.attrs)}`);
  return `{${parts.join(' ')}}`;
}
