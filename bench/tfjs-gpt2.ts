// The prefix-tuning training step of src/methods/deep-prompt.ts (reparam: null, shifted positions)
// on GPT-2, written with TensorFlow.js ops: frozen backbone tensors, one trainable prefix variable
// in PEFT's layout [P, L*2*D] (rank 2: TF.js-webgpu emits invalid WGSL for rank-5 slice grads),
// Adam (= our AdamW at weight decay 0). Same math as our graph, so the first-step losses agree.

import { register } from 'node:module';
import type { Gpt2Config, HostTensor, ParamStore } from '../src/index.js';

type Tf = typeof import('@tensorflow/tfjs-core');
type T = import('@tensorflow/tfjs-core').Tensor;

/**
 * tf-core's Node bundle has no gradients; `register_all_gradients` exists only as extensionless
 * ESM. A resolve hook adds the '.js' Node needs; the gradients land in tf's global registry.
 */
export async function registerTfGradients(): Promise<void> {
  const hook = `export async function resolve(spec, ctx, next) {
    try { return await next(spec, ctx); } catch (e) {
      if (!spec.startsWith('.') || !ctx.parentURL?.includes('/@tensorflow/tfjs-core/dist/')) throw e;
      try { return await next(spec + '.js', ctx); } catch { return next(spec + '/index.js', ctx); }
    }
  }`;
  register('data:text/javascript,' + encodeURIComponent(hook));
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js' as string);
}

export interface TfStep {
  /** One step (forward, backward, update); returns the loss (computed before the update) when asked. */
  step(readLoss: boolean): Promise<number | null>;
  /** d loss / d prefix at the current values, without an update. */
  gradient(): Promise<Float32Array>;
  dispose(): void;
}

export function tfPrefixStep(tf: Tf, cfg: Gpt2Config, weights: ParamStore, prefix: HostTensor, batch: { ids: HostTensor; labels: HostTensor }, lr: number): TfStep {
  const { dim: D, heads: H, layers: L, vocabSize: V } = cfg;
  const dh = D / H;
  const [B, S] = batch.ids.shape;
  const P = prefix.shape[0];
  const c = (name: string): T => {
    const w = weights.get(name);
    if (!w) throw new Error(`no weight '${name}'`);
    return tf.tensor(Float32Array.from(w.data), [...w.shape]);
  };
  const frozen = new Map<string, T>();
  for (const name of weights.keys()) frozen.set(name, c(name));
  const w = (name: string): T => frozen.get(name)!;
  const kv = tf.variable(tf.tensor(Float32Array.from(prefix.data), [...prefix.shape]), true, 'prefix.embeddings');
  const ids = tf.tensor(Int32Array.from(batch.ids.data), [B, S], 'int32');
  // Next-token targets as one-hot rows [B*(S-1), V] (all labels valid: no -100).
  const lab = Int32Array.from(batch.labels.data);
  const next = new Int32Array(B * (S - 1));
  for (let b = 0; b < B; b++) for (let s = 1; s < S; s++) next[b * (S - 1) + s - 1] = lab[b * S + s];
  const targets = tf.oneHot(tf.tensor1d(next, 'int32'), V);
  // Additive mask [S, P+S]: prefix keys always visible, causal over the real ones (all tokens present).
  const m = new Float32Array(S * (P + S));
  for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) m[i * (P + S) + P + j] = j <= i ? 0 : -1e9;
  const mask = tf.tensor(m, [S, P + S]);
  const pos = tf.slice(w('wpe.weight'), [P, 0], [S, D]); // shifted: real tokens start after the prefix
  const scale = tf.scalar(1 / Math.sqrt(dh));

  const layernorm = (x: T, name: string): T => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, cfg.eps))), w(`${name}.weight`)), w(`${name}.bias`));
  };
  const linear = (x: T, name: string): T => tf.add(tf.matMul(x, w(`${name}.weight`)), w(`${name}.bias`));
  const gelu = (x: T): T => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), 0.7978845608028654))));
  const heads = (x: T): T => tf.transpose(tf.reshape(x, [B, S, H, dh]), [0, 2, 1, 3]);
  const block = (l: number, which: 0 | 1): T => {
    const cols = tf.slice(kv, [0, (2 * l + which) * D], [P, D]);
    return tf.broadcastTo(tf.reshape(tf.transpose(tf.reshape(cols, [P, H, dh]), [1, 0, 2]), [1, H, P, dh]), [B, H, P, dh]);
  };

  const loss = (): T => {
    let x = tf.add(tf.gather(w('wte.weight'), ids), pos) as T; // [B,S,D]
    for (let l = 0; l < L; l++) {
      const h = `h.${l}`;
      const qkv = linear(tf.reshape(layernorm(x, `${h}.ln_1`), [B * S, D]), `${h}.attn.c_attn`);
      const [q, k, v] = tf.split(tf.reshape(qkv, [B, S, 3 * D]), 3, 2);
      const kh = tf.concat([block(l, 0), heads(k)], 2);
      const vh = tf.concat([block(l, 1), heads(v)], 2);
      const probs = tf.softmax(tf.add(tf.mul(tf.matMul(heads(q), kh, false, true), scale), mask));
      const ctx = tf.reshape(tf.transpose(tf.matMul(probs, vh), [0, 2, 1, 3]), [B * S, D]);
      const x1 = tf.add(x, tf.reshape(linear(ctx, `${h}.attn.c_proj`), [B, S, D]));
      const mlp = linear(gelu(linear(tf.reshape(layernorm(x1, `${h}.ln_2`), [B * S, D]), `${h}.mlp.c_fc`)), `${h}.mlp.c_proj`);
      x = tf.add(x1, tf.reshape(mlp, [B, S, D]));
    }
    const hidden = tf.slice(layernorm(x, 'ln_f'), [0, 0, 0], [B, S - 1, D]);
    const logits = tf.matMul(tf.reshape(hidden, [B * (S - 1), D]), w('wte.weight'), false, true);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), targets), 1)));
  };

  const opt = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  return {
    async step(readLoss) {
      const cost = opt.minimize(loss as () => import('@tensorflow/tfjs-core').Scalar, readLoss, [kv]);
      if (!cost) return null;
      const v = (await cost.data())[0];
      cost.dispose();
      return v;
    },
    async gradient() {
      const { value, grads } = tf.variableGrads(loss as () => import('@tensorflow/tfjs-core').Scalar, [kv]);
      const g = (await grads[kv.name].data()) as Float32Array;
      value.dispose();
      grads[kv.name].dispose();
      return g;
    },
    dispose() {
      opt.dispose();
      for (const t of [...frozen.values(), kv, ids, targets, mask, pos, scale]) t.dispose();
    },
  };
}
