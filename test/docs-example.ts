// The example docs/architecture.md shows; test/docs.test.ts checks that the doc quotes this
// code and its printed graph exactly, so the doc cannot drift from the source.
import {
  CpuExecutor, createRuntime, GraphBuilder, initParams, opSchemas, randomTensor, validate, type Graph, type HostTensor,
} from '../src/index.js';

export function exampleGraph(): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [2, 4]);
  const y = b.within('layer', () => {
    const w = b.param('layer.w', [4], { init: 'normal:0.5' }); // frozen: trainable defaults to false
    const prompt = b.param('prompt', [1, 4], { trainable: true, init: 'zeros' });
    return b.gelu(b.add(b.mul(x, w), prompt)); // [2,4] * [4] + [1,4], broadcast
  });
  b.output('y', b.scale(y, 2));
  validate(b.graph, opSchemas); // throws, naming node and scope, if any type disagrees
  return b.graph;
}

export async function runExample(): Promise<{ device: HostTensor; reference: HostTensor }> {
  const graph = exampleGraph();
  const params = initParams(graph, 0); // values from each param's `init`, seeded by name
  const feeds = { x: randomTensor([2, 4], 1) };
  const runtime = createRuntime(); // executor from PROMPTGRAPH_EXECUTOR (default webgpu)
  try {
    const device = (await (await runtime.executor()).run(graph, feeds, params)).get('y')!;
    const reference = (await new CpuExecutor('f32').run(graph, feeds, params)).get('y')!;
    return { device, reference };
  } finally {
    runtime.dispose(); // releases the device, so node can exit
  }
}
