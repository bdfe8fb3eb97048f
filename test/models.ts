// Small models built with the builder, shared by compiler tests.
import { GraphBuilder, type Ref } from '../src/index.js';

export interface BlockConfig { batch: number; seq: number; dim: number; heads: number; layers: number; vocab: number; prompt?: number }

/** A 2-layer MLP classifier: loss = CE(gelu(x W1 + b1) W2 + b2, labels). */
export function mlp(b: GraphBuilder, n = 8, d = 6, h = 16, c = 4, trainable = true): Ref {
  const x = b.input('x', [n, d]);
  const labels = b.input('labels', [n], 'i32');
  const l1 = b.within('fc1', () => b.gelu(b.add(b.matmul(x, b.param('fc1.w', [d, h], { trainable, init: 'normal:0.5' })), b.param('fc1.b', [h], { trainable, init: 'zeros' }))));
  const logits = b.within('fc2', () => b.add(b.matmul(l1, b.param('fc2.w', [h, c], { trainable, init: 'normal:0.5' })), b.param('fc2.b', [c], { trainable, init: 'zeros' })));
  const loss = b.crossEntropy(logits, labels);
  b.output('loss', loss);
  return loss;
}

/**
 * A causal pre-LN transformer (GPT-2 shaped) over token embeddings, with an optional trainable
 * input prompt of `prompt` vectors prepended to the sequence (prompt tuning).
 */
export function transformer(b: GraphBuilder, cfg: BlockConfig, opts: { trainableBackbone: boolean }): Ref {
  const { batch: B, seq: S, dim: D, heads: H, vocab: V } = cfg;
  const P = cfg.prompt ?? 0;
  const T = S + P;
  const dh = D / H;
  const tb = opts.trainableBackbone;
  const ids = b.input('input_ids', [B, S], 'i32');
  const labels = b.input('labels', [B, T], 'i32');
  const wte = b.param('wte', [V, D], { trainable: tb, init: 'normal:0.3' });
  let x = b.within('wte', () => b.gather(wte, ids));
  if (P) {
    const prompt = b.within('prompt', () => b.param('prompt.embeddings', [P, D], { trainable: true, init: 'normal:0.3' }));
    x = b.within('prompt', () => b.concat([b.broadcastTo(b.reshape(prompt, [1, P, D]), [B, P, D]), x], 1));
  }
  const mask = b.causalMask(T, T);
  for (let l = 0; l < cfg.layers; l++) {
    x = b.within(`h.${l}`, () => {
      const p = (name: string, shape: number[], init = 'normal:0.2') => b.param(`h.${l}.${name}`, shape, { trainable: tb, init });
      const ln1 = b.within('ln_1', () => b.layernorm(x, p('ln_1.weight', [D], 'ones'), p('ln_1.bias', [D], 'zeros'), 1e-5));
      const attn = b.within('attn', () => {
        const qkv = b.within('c_attn', () => b.add(b.matmul(ln1, p('attn.c_attn.weight', [D, 3 * D])), p('attn.c_attn.bias', [3 * D], 'zeros')));
        const heads = (k: number) => b.permute(b.reshape(b.slice(qkv, 2, k * D, (k + 1) * D), [B, T, H, dh]), [0, 2, 1, 3]);
        const q = heads(0), kk = heads(1), v = heads(2);
        const scores = b.scale(b.matmul(q, kk, { transB: true }), 1 / Math.sqrt(dh));
        const probs = b.softmax(scores, mask);
        const ctx = b.reshape(b.permute(b.matmul(probs, v), [0, 2, 1, 3]), [B, T, D]);
        return b.within('c_proj', () => b.add(b.matmul(ctx, p('attn.c_proj.weight', [D, D])), p('attn.c_proj.bias', [D], 'zeros')));
      });
      const x1 = b.add(x, attn);
      const ln2 = b.within('ln_2', () => b.layernorm(x1, p('ln_2.weight', [D], 'ones'), p('ln_2.bias', [D], 'zeros'), 1e-5));
      const mlpOut = b.within('mlp', () => {
        const hgelu = b.within('c_fc', () => b.gelu(b.add(b.matmul(ln2, p('mlp.c_fc.weight', [D, 4 * D])), p('mlp.c_fc.bias', [4 * D], 'zeros'))));
        return b.within('c_proj', () => b.add(b.matmul(hgelu, p('mlp.c_proj.weight', [4 * D, D])), p('mlp.c_proj.bias', [D], 'zeros')));
      });
      return b.add(x1, mlpOut);
    });
  }
  const hf = b.within('ln_f', () => b.layernorm(x, b.param('ln_f.weight', [D], { trainable: tb, init: 'ones' }), b.param('ln_f.bias', [D], { trainable: tb, init: 'zeros' }), 1e-5));
  const logits = b.within('lm_head', () => b.matmul(hf, wte, { transB: true }));
  const loss = b.crossEntropy(logits, labels);
  b.output('loss', loss);
  return loss;
}
