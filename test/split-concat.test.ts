// split-concat: a concat wider than the storage-buffer limit becomes nested concats, exactly.
import { expect } from 'chai';
import { compile, CpuExecutor, GraphBuilder, Program, randomTensor, type HostTensor } from '../src/index.js';
import { expectClose } from './helpers.js';
import { gpu } from './setup.js';

describe('split-concat pass', () => {
  it('a concat of 20 inputs runs on the device (limit 16 buffers) with exactly the reference values', async () => {
    const ctx = await gpu();
    const b = new GraphBuilder();
    const parts = Array.from({ length: 20 }, (_, i) => b.input(`x${i}`, [2, 1 + (i % 3)]));
    b.output('y', b.concat(parts, 1)); // pure data movement: exact
    const c = compile(b.graph, { target: ctx.target });
    const maxInputs = ctx.target.maxStorageBuffers - 1;
    const concats = c.graph.nodes.filter((n) => n.op === 'concat');
    expect(concats.length, 'nested').to.be.greaterThan(1);
    for (const n of concats) expect(n.inputs.length).to.be.at.most(maxInputs);
    const feeds: Record<string, HostTensor> = Object.fromEntries(parts.map((p, i) => [`x${i}`, randomTensor(p.type.shape, i)]));
    const want = new CpuExecutor('f32').runSync(b.graph, feeds, new Map(), ['y']).get('y')!;
    const program = await Program.create(ctx, c, new Map());
    try {
      expectClose((await program.run(feeds, ['y'])).get('y')!, want, { rel: 0, abs: 0 }, 'nested concat');
    } finally {
      program.release();
    }
  });

  it('leaves concats within the limit alone', () => {
    const b = new GraphBuilder();
    b.output('y', b.concat([b.input('a', [2]), b.input('b', [3])], 0));
    const c = compile(b.graph);
    expect(c.stages.find((s) => s.pass === 'split-concat')!.changed).to.equal(false);
  });
});
