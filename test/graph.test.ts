import { expect } from 'chai';
import {
  GraphBuilder, graphFromJson, graphToJson, printGraph, toDot, validate, opSchemas, findAll, findOne, replaceNode,
  scopeMatches, ShapeError, DecodeError, GraphError, Graph,
} from '../src/index.js';

function smallGraph(): GraphBuilder {
  const b = new GraphBuilder();
  const x = b.input('x', [2, 3]);
  const w = b.within('layer', () => b.param('layer.w', [2, 3], { trainable: true, init: 'zeros' }));
  const y = b.within('layer', () => b.within('act', () => b.tanh(b.add(x, w))));
  b.output('y', b.scale(y, 2));
  return b;
}

describe('graph IR', () => {
  it('prints one line per node with types, attributes and scopes', () => {
    const text = printGraph(smallGraph().graph);
    expect(text).to.equal([
      'graph(%0:f32[2,3] x, %1:f32[2,3] layer.w trainable) {',
      '  %2:f32[2,3] = add %0 %1  @layer.act',
      '  %3:f32[2,3] = tanh %2  @layer.act',
      '  %4:f32[2,3] = scale %3 {factor=2}',
      '  return y=%4',
      '}',
    ].join('\n'));
  });

  it('round-trips through JSON, including attributes and outputs', () => {
    const g = smallGraph().graph;
    const json = JSON.parse(JSON.stringify(graphToJson(g)));
    const back = graphFromJson(json);
    validate(back, opSchemas);
    expect(printGraph(back)).to.equal(printGraph(g));
    expect(graphToJson(back)).to.deep.equal(json);
  });

  it('rejects malformed graph JSON naming the JSON path and the expected type', () => {
    const json = JSON.parse(JSON.stringify(graphToJson(smallGraph().graph)));
    json.nodes[2].op = 7;
    expect(() => graphFromJson(json)).to.throw(DecodeError, /\$\.nodes\[2\]\.op: expected string, got 7/);
    const json2 = JSON.parse(JSON.stringify(graphToJson(smallGraph().graph)));
    json2.nodes[0].type.shape = [2, -1];
    expect(() => graphFromJson(json2)).to.throw(DecodeError, /\$\.nodes\[0\]\.type\.shape\[1\]: expected non-negative integer, got -1/);
    expect(() => graphFromJson({ format: 'nope' })).to.throw(DecodeError, /\$\.format/);
  });

  it('reports a shape mismatch naming the node, its scope and both shapes', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3]);
    const y = b.input('y', [4, 3]);
    expect(() => b.within('h.0.attn', () => b.add(x, y))).to.throw(ShapeError, /add @h\.0\.attn.*f32\[2,3\].*f32\[4,3\].*\[2,3\] and \[4,3\]/);
  });

  it('validate catches a recorded type that disagrees, naming node and scope', () => {
    const g = smallGraph().graph.clone();
    const n = g.nodes.find((x) => x.op === 'tanh')!;
    n.type = { shape: [3, 2], dtype: 'f32' };
    expect(() => validate(g, opSchemas)).to.throw(ShapeError, /%3 tanh @layer\.act is recorded as f32\[3,2\] but its inputs give f32\[2,3\]/);
  });

  it('validate rejects two inputs of one name (they would read one feed)', () => {
    const b = smallGraph();
    b.output('z', b.input('x', [2, 3]));
    expect(() => validate(b.graph, opSchemas)).to.throw(GraphError, /two inputs are named 'x': %0 input @<root> and %\d+ input @<root>/);
  });

  it('rejects an unknown op and lists the known ones', () => {
    const g = new Graph();
    g.add({ op: 'frobnicate', inputs: [], attrs: {}, type: { shape: [], dtype: 'f32' }, scope: 'a' });
    expect(() => validate(g, opSchemas)).to.throw(GraphError, /unknown op 'frobnicate'.*known ops: .*add.*tanh/);
    expect(() => new GraphBuilder().op('frobnicate', [])).to.throw(GraphError, /unknown op 'frobnicate'; known ops:/);
  });

  it('rejects bad attributes naming the attribute', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2]);
    expect(() => b.op('scale', [x], { factor: 'two' })).to.throw(DecodeError, /\$\.factor: expected number, got "two"/);
  });

  it('matches scopes by pattern', () => {
    expect(scopeMatches('h.3.attn.c_attn', 'h.*.attn')).to.equal(true);
    expect(scopeMatches('h.3.mlp', 'h.*.attn')).to.equal(false);
    expect(scopeMatches('h.3.attn', 'h.{2,3}.attn', true)).to.equal(true);
    expect(scopeMatches('h.1.attn', 'h.{2,3}.attn')).to.equal(false);
    expect(scopeMatches('a.b.c', '**.c', true)).to.equal(true);
    expect(scopeMatches('a.b.c', 'a.b', true)).to.equal(false);
  });

  it('finds nodes by op and scope, inserts after a node and replaces uses', () => {
    const b = smallGraph();
    const g = b.graph;
    expect(findAll(g, { scope: 'layer' }).map((n) => n.op)).to.deep.equal(['param', 'add', 'tanh']);
    const add = findOne(g, { op: 'add', scope: 'layer.act' });
    // Wrap the add's result: add -> scale(0.5) -> tanh.
    const half = b.at({ after: add.id }, () => b.scale(b.ref(add.id), 0.5));
    replaceNode(g, add.id, half.id);
    validate(g, opSchemas);
    expect(g.users(add.id).map((n) => n.id)).to.deep.equal([half.id]);
    expect(g.users(half.id).map((n) => n.op)).to.deep.equal(['tanh']);
    expect(g.nodes.map((n) => n.op)).to.deep.equal(['input', 'param', 'add', 'scale', 'tanh', 'scale']);
  });

  it('exports DOT with trainable parameters highlighted', () => {
    const dot = toDot(smallGraph().graph);
    expect(dot).to.match(/^digraph promptgraph \{/);
    expect(dot).to.contain('n1 [label="%1 param layer.w');
    expect(dot).to.contain('fillcolor="#ffd27f"');
    expect(dot).to.contain('n3 -> n4;');
  });
});
