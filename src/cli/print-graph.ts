// `promptgraph print-graph FILE.json`: loads a saved graph, checks it, prints it as text or DOT.

import { readFile } from 'node:fs/promises';
import { graphFromJson, printGraph, toDot, validate, type Graph } from '../graph/index.js';
import { opSchemas } from '../ops/index.js';
import { EXIT, type Command } from './command.js';

/** Loads and validates a graph file; errors name the file and, for bad content, the JSON path. */
export async function loadGraphFile(path: string): Promise<Graph> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const graph = graphFromJson(value, path);
  try {
    validate(graph, opSchemas);
  } catch (e) {
    if (e instanceof Error) e.message = `${path}: ${e.message}`;
    throw e;
  }
  return graph;
}

export const printGraphCommand: Command = {
  name: 'print-graph',
  summary: 'print a graph JSON file (format promptgraph.graph/1) as text, or as DOT with --dot',
  help: `Usage: promptgraph print-graph FILE.json [--dot] [--no-scopes]

Reads a graph saved as JSON (format promptgraph.graph/1, see graphToJson), checks its
structure (errors name the JSON path, e.g. $.nodes[3].op) and its types against the op
registry, then prints it one node per line, or as Graphviz DOT.

Options:
  --dot        print Graphviz DOT instead of text (render with: dot -Tsvg)
  --no-scopes  leave out the @scope of each node in the text form
  -h, --help   show this help

Exit status: 0 printed, 1 the file is unreadable, malformed or does not type-check.`,
  options: { dot: { type: 'boolean' }, 'no-scopes': { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const graph = await loadGraphFile(args.positionals[0]);
    io.out(args.values.dot ? toDot(graph) : printGraph(graph, { showScopes: !args.values['no-scopes'] }));
    return EXIT.ok;
  },
};
