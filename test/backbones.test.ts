import { expect } from 'chai';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadCheckpoint, saveCheckpoint, buildBackbone, CpuExecutor, GpuExecutor, hostTensor, validate, opSchemas, type Feeds, type HostTensor,
} from '../src/index.js';
import { gpu } from './setup.js';
import { expectClose } from './helpers.js';

const GOLDEN = new URL('../../test/fixtures/golden/', import.meta.url).pathname;

interface Expected {
  batch: Record<string, number[][]>;
  [model: string]: unknown;
}
const expected = JSON.parse(readFileSync(join(GOLDEN, 'expected.json'), 'utf8')) as Expected;

function feedsFor(kind: 'gpt2' | 'bert'): Feeds {
  const t = (name: string): HostTensor => hostTensor([2, 8], 'i32', expected.batch[name].flat());
  const f: Record<string, HostTensor> = { input_ids: t('input_ids'), attention_mask: t('attention_mask'), labels: t('labels') };
  if (kind === 'bert') f.token_type_ids = t('token_type_ids');
  return f;
}

describe('backbones: GPT-2 and BERT graphs from Hugging Face checkpoints', () => {
  for (const name of ['gpt2-tiny', 'bert-tiny']) {
    describe(name, () => {
      const gold = expected[name] as { logits_shape: number[]; logits: number[]; loss: number };

      it('matches the independent numpy implementation (golden logits and loss), on CPU and WebGPU', async () => {
        // Expected values: test/fixtures/golden/reference.py, a float64 numpy forward pass written
        // from the Hugging Face model definitions, over the committed checkpoint.
        const ckpt = await loadCheckpoint(join(GOLDEN, name));
        const graph = buildBackbone(ckpt.config, { batch: 2, seq: 8 });
        validate(graph, opSchemas);
        const feeds = feedsFor(ckpt.config.kind);
        const want = hostTensor(gold.logits_shape, 'f32', gold.logits);
        const cpu = new CpuExecutor('f32').runSync(graph, feeds, ckpt.tensors);
        expectClose(cpu.get('logits')!, want, { rel: 1e-4, abs: 1e-5 }, 'cpu logits vs numpy');
        expect(Math.abs(cpu.get('loss')!.data[0] - gold.loss)).to.be.below(1e-4 * Math.abs(gold.loss));
        const dev = await new GpuExecutor(await gpu()).run(graph, feeds, ckpt.tensors);
        expectClose(dev.get('logits')!, want, { rel: 1e-4, abs: 1e-5 }, 'webgpu logits vs numpy');
        expectClose(dev.get('logits')!, cpu.get('logits')!, { rel: 1e-4, abs: 1e-5 }, 'webgpu vs cpu');
        expect(Math.abs(dev.get('loss')!.data[0] - gold.loss)).to.be.below(1e-4 * Math.abs(gold.loss));
      });

      it('saves and reloads to identical logits', async () => {
        const ckpt = await loadCheckpoint(join(GOLDEN, name));
        const dir = mkdtempSync(join(tmpdir(), 'pg-ckpt-'));
        try {
          await saveCheckpoint(dir, ckpt.config, ckpt.tensors);
          const again = await loadCheckpoint(dir);
          expect(again.config).to.deep.equal(ckpt.config);
          const graph = buildBackbone(ckpt.config, { batch: 2, seq: 8 });
          const feeds = feedsFor(ckpt.config.kind);
          const a = new CpuExecutor().runSync(graph, feeds, ckpt.tensors).get('logits')!;
          const b = new CpuExecutor().runSync(graph, feeds, again.tensors).get('logits')!;
          expectClose(b, a, { rel: 0, abs: 0 }, 'reloaded logits');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });
  }
});
